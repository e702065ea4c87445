#include "appliance/storage/store_setup.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "appliance/accounts/directory.h"
#include "appliance/admin/client.h"

namespace appliance {

namespace fs = std::filesystem;

std::string store_directory(const std::string& data_dir) { return (fs::path(data_dir) / store_directory_name).string(); }

kio::result<uint32_t, std::string> recorded_store_shards(const std::string& data_dir) {
  fs::path p = fs::path(store_directory(data_dir)) / store_shards_file_name;
  std::error_code ec;
  if (!fs::exists(p, ec)) return uint32_t(0);
  std::ifstream in(p);
  uint64_t n = 0;
  if (!(in >> n) || n == 0 || n > 4096) return kio::fail(p.string() + ": not a shard count (expected a number 1..4096)");
  return uint32_t(n);
}

kio::result<std::unique_ptr<store::message_store>, std::string> open_store(
    const std::string& data_dir, uint32_t shards, std::function<void(const std::string&)> report,
    const store_setup_options& options) {
  auto recorded = recorded_store_shards(data_dir);
  if (!recorded) return kio::fail(recorded.error());
  std::string dir = store_directory(data_dir);
  if (*recorded != 0 && *recorded != shards)
    return kio::fail("the store in " + dir + " has " + std::to_string(*recorded) + " shards but " +
                     std::to_string(shards) + " cores are configured; run with --cores " +
                     std::to_string(*recorded) + " (or server.cores = " + std::to_string(*recorded) + ")");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return kio::fail("cannot create " + dir + ": " + ec.message());
  if (*recorded == 0) {
    // Recorded before the first segment exists, so a crash cannot leave
    // segments whose shard count nobody knows.
    auto w = write_file_atomically((fs::path(dir) / store_shards_file_name).string(), std::to_string(shards) + "\n", 0600);
    if (!w) return kio::fail(w.error());
  }
  store::store_options o;
  o.data_directory = dir;
  o.cores = shards;
  o.report = std::move(report);
  o.segment_size_max = options.segment_size_max_bytes;
  if (!options.backup_directory.empty()) {
    fs::create_directories(fs::path(options.backup_directory) / "segments", ec);
    if (ec) return kio::fail("cannot create the backup directory " + options.backup_directory + ": " + ec.message());
    o.backup_directory = options.backup_directory;
  }
  auto opened = store::message_store::open(std::move(o));
  if (!opened) return kio::fail("cannot open the store in " + dir + ": " + store::to_string(opened.error()));
  return std::move(*opened);
}

offline_store::~offline_store() {
  store.reset();  // before the lock goes
  if (lock_fd >= 0) ::close(lock_fd);
}

kio::result<offline_store, std::string> open_offline_store(const std::string& data_dir, const config& cfg,
                                                           std::string_view command) {
  offline_store out;
  std::string lock_error;
  out.lock_fd = lock_data_dir(data_dir, lock_error);
  if (out.lock_fd < 0)
    return kio::fail(lock_error + ": a daemon runs on " + data_dir + "; stop it first (" + std::string(command) +
                     " works on the store directly and cannot run beside the daemon yet)");
  auto data = load_directory((fs::path(data_dir) / directory_file_name).string());
  if (!data) return kio::fail(data.error());
  out.dir = std::make_unique<directory>(std::move(*data));
  auto shards = recorded_store_shards(data_dir);
  if (!shards) return kio::fail(shards.error());
  if (*shards == 0) return out;
  store_setup_options options;
  options.backup_directory = cfg.store.backup_directory;
  options.segment_size_max_bytes = cfg.store.segment_size_max_bytes;
  auto opened = open_store(
      data_dir, *shards, [](const std::string& line) { std::fprintf(stderr, "ringmail: store recovery: %s\n", line.c_str()); },
      options);
  if (!opened) return kio::fail(opened.error());
  out.store = std::move(*opened);
  return out;
}

std::string recovery_summary(const store::recovery_report& r) {
  return "segments=" + std::to_string(r.segments) + " records=" + std::to_string(r.records) +
         " truncated_bytes=" + std::to_string(r.truncated_bytes) + " corrupt_ranges=" + std::to_string(r.corrupt_ranges) +
         " records_dropped=" + std::to_string(r.records_dropped) + " checkpoint=" + (r.checkpoint_used ? "yes" : "no");
}

}  // namespace appliance
