#include "appliance/storage/export.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "appliance/accounts/directory.h"
#include "appliance/admin/client.h"
#include "appliance/storage/store_setup.h"
#include "store/port/port.h"

namespace appliance {

namespace fs = std::filesystem;

namespace {

// An account that never received mail has no mailboxes in the store yet:
// its export is an empty mbox file or an empty Maildir, not an error.
kio::result<uint64_t, std::string> write_empty(const export_request& r) {
  if (r.format == "mbox") {
    int fd = ::open(r.target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) return kio::fail("cannot create " + r.target + ": " + std::strerror(errno));
    ::close(fd);
    return uint64_t(0);
  }
  for (const char* sub : {"", "/cur", "/new", "/tmp"}) {
    std::string d = r.target + sub;
    if (::mkdir(d.c_str(), 0750) != 0 && errno != EEXIST) return kio::fail("cannot create " + d + ": " + std::strerror(errno));
  }
  return uint64_t(0);
}

}  // namespace

kio::result<uint64_t, std::string> export_mailbox(const export_request& r) {
  if (r.format != "mbox" && r.format != "maildir") return kio::fail("--format must be mbox or maildir");
  std::string lock_error;
  int lock = lock_data_dir(r.data_dir, lock_error);
  if (lock < 0)
    return kio::fail(lock_error + ": a daemon runs on " + r.data_dir +
                     "; stop it first (export reads the store directly and cannot run beside the daemon yet)");
  struct unlock_at_exit {
    int fd;
    ~unlock_at_exit() { ::close(fd); }
  } unlock{lock};

  auto data = load_directory((fs::path(r.data_dir) / directory_file_name).string());
  if (!data) return kio::fail(data.error());
  directory dir(std::move(*data));
  const account* acc = dir.find_account(r.account);
  if (!acc) return kio::fail("no account " + r.account);

  auto shards = recorded_store_shards(r.data_dir);
  if (!shards) return kio::fail(shards.error());
  if (*shards == 0) return write_empty(r);
  auto opened = open_store(r.data_dir, *shards, [](const std::string& line) {
    std::fprintf(stderr, "ringmail: store recovery: %s\n", line.c_str());
  });
  if (!opened) return kio::fail(opened.error());
  store::message_store& st = **opened;
  store::account_id id{acc->id.get()};
  if (!st.account(id)) return write_empty(r);
  const auto* box = st.find_mailbox(id, r.mailbox);
  if (!box) return kio::fail("account " + acc->address + " has no mailbox \"" + r.mailbox + "\"");
  auto n = r.format == "mbox" ? store::port::export_mbox(st, id, box->id, r.target)
                              : store::port::export_maildir(st, id, box->id, r.target);
  if (!n) return kio::fail("export to " + r.target + " failed: " + store::to_string(n.error()));
  return *n;
}

}  // namespace appliance
