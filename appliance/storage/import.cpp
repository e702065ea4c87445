#include "appliance/storage/import.h"

#include "appliance/storage/store_setup.h"
#include "store/port/port.h"

namespace appliance {

kio::result<import_outcome, std::string> import_mailbox(const import_request& r, const config& cfg) {
  if (r.format != "mbox" && r.format != "maildir") return kio::fail("--format must be mbox or maildir");
  auto opened = open_offline_store(r.data_dir, cfg, "import");
  if (!opened) return kio::fail(opened.error());
  const account* acc = opened->dir->find_account(r.account);
  if (!acc) return kio::fail("no account " + r.account);
  if (!opened->store)
    return kio::fail("the store in " + store_directory(r.data_dir) +
                     " was never created: start `ringmail serve` once (it records the shard count), then import");
  store::message_store& st = *opened->store;
  store::account_id id{acc->id.get()};
  if (!st.account(id)) {
    if (auto c = st.create_account(id, acc->address, 0, 0); !c)
      return kio::fail(std::string("cannot create the account in the store: ") + store::to_string(c.error()));
    if (auto f = st.flush_all(); !f) return kio::fail(std::string("cannot create the account in the store: ") + store::to_string(f.error()));
  }
  const auto* box = st.find_mailbox(id, r.mailbox);
  store::mailbox_id into{};
  if (box) {
    into = box->id;
  } else {
    auto made = st.create_mailbox(id, r.mailbox);
    if (!made) return kio::fail("cannot create mailbox \"" + r.mailbox + "\": " + store::to_string(made.error()));
    if (auto f = st.flush_all(); !f) return kio::fail(std::string("cannot create mailbox: ") + store::to_string(f.error()));
    into = made->mailbox;
  }
  auto report = r.format == "mbox" ? store::port::import_mbox(st, id, into, r.source)
                                   : store::port::import_maildir(st, id, into, r.source);
  if (!report) return kio::fail("import from " + r.source + " failed: " + store::to_string(report.error()));
  return import_outcome{report->messages, report->bytes, report->skipped, report->problems};
}

}  // namespace appliance
