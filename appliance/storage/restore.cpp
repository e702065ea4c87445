#include "appliance/storage/restore.h"

#include <ctime>

#include "appliance/storage/store_setup.h"

namespace appliance {

kio::result<std::optional<uint64_t>, std::string> parse_point_in_time(const std::string& text) {
  if (text.empty()) return std::optional<uint64_t>();
  if (text.find_first_not_of("0123456789") == std::string::npos && text.size() <= 15)
    return std::optional<uint64_t>(std::stoull(text));
  std::tm tm{};
  const char* end = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end || std::string_view(end) != "Z")
    return kio::fail("--as-of \"" + text + "\": want milliseconds since the epoch or YYYY-MM-DDTHH:MM:SSZ (UTC)");
  time_t t = ::timegm(&tm);
  if (t < 0) return kio::fail("--as-of \"" + text + "\": before 1970");
  return std::optional<uint64_t>(uint64_t(t) * 1000 + 999);  // the whole second counts
}

kio::result<restore_outcome, std::string> restore_account(const restore_request& r, const config& cfg) {
  auto as_of = parse_point_in_time(r.as_of);
  if (!as_of) return kio::fail(as_of.error());
  std::string backup = r.backup_directory.empty() ? cfg.store.backup_directory : r.backup_directory;
  if (backup.empty()) return kio::fail("no backup directory: set store.backup_directory in the config, or give --from");
  auto opened = open_offline_store(r.data_dir, cfg, "restore");
  if (!opened) return kio::fail(opened.error());
  const account* acc = opened->dir->find_account(r.account);
  if (!acc) return kio::fail("no account " + r.account + " (add it again first: restore brings back mail, not logins)");
  if (!opened->store)
    return kio::fail("the store in " + store_directory(r.data_dir) + " was never created: start `ringmail serve` once");
  std::optional<std::string> mailbox;
  if (!r.mailbox.empty()) mailbox = r.mailbox;
  auto report = store::restore(*opened->store, backup, store::account_id{acc->id.get()}, mailbox, *as_of);
  if (!report) {
    if (report.error() == store::errc::not_found) return kio::fail("no backup in " + backup);
    if (report.error() == store::errc::unknown_account)
      return kio::fail("the backup in " + backup + " has no mail of " + acc->address +
                       (as_of->has_value() ? " at that time" : ""));
    return kio::fail(std::string("restore failed: ") + store::to_string(report.error()));
  }
  if (auto f = opened->store->flush_all(); !f) return kio::fail(std::string("restore not durable: ") + store::to_string(f.error()));
  return restore_outcome{report->mailboxes, report->messages_restored, report->messages_present};
}

}  // namespace appliance
