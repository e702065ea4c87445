#pragma once
// Opening the message store on a data directory, the same way for the daemon
// and for the offline CLI (export).
//
// The store lives in DATA/store. Its shard count is a property of the data,
// not of the process: accounts are placed on shard hash(account) mod shards,
// and segments are named by shard, so opening the same data with another
// count would put accounts on the wrong shard. The count chosen at the first
// start is written to DATA/store/shards and every later open uses it; the
// daemon refuses to run with a different number of cores (one shard per
// core, each shard touched only by its core) and says how to fix it.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "appliance/accounts/directory.h"
#include "appliance/config/config.h"
#include "kernel_io/base/result.h"
#include "store/message_store.h"

namespace appliance {

inline constexpr const char* store_directory_name = "store";
inline constexpr const char* store_shards_file_name = "shards";

// DATA/store
std::string store_directory(const std::string& data_dir);

// The shard count recorded in DATA/store/shards; 0 when the store was never
// created (no file), an error when the file is unreadable.
kio::result<uint32_t, std::string> recorded_store_shards(const std::string& data_dir);

// How the store is laid out beyond the shard count (from [store]).
struct store_setup_options {
  std::string backup_directory;      // empty: no backup
  uint64_t segment_size_max_bytes = 64ull << 20;
};

// Opens (recovering) the store with `shards` shards, recording the count on
// first use. Every recovery report line goes to `report`.
kio::result<std::unique_ptr<store::message_store>, std::string> open_store(
    const std::string& data_dir, uint32_t shards, std::function<void(const std::string&)> report,
    const store_setup_options& options = {});

// The store opened by a CLI command while no daemon runs: the data-dir lock
// (released on destruction), the directory and the store (recovered). The
// daemon owns the store's shards, so a second process must never open it
// beside a running daemon (recovery would cut a tail the daemon is writing).
struct offline_store {
  offline_store() = default;
  // The lock moves with the object (a moved-from one must not release it).
  offline_store(offline_store&& o) noexcept
      : lock_fd(std::exchange(o.lock_fd, -1)), dir(std::move(o.dir)), store(std::move(o.store)) {}
  offline_store& operator=(offline_store&&) = delete;
  ~offline_store();
  int lock_fd = -1;
  std::unique_ptr<directory> dir;
  std::unique_ptr<store::message_store> store;  // null when the store was never created
};
kio::result<offline_store, std::string> open_offline_store(const std::string& data_dir, const config& cfg,
                                                           std::string_view command);

// One line saying what recovery did, for the log and the console.
std::string recovery_summary(const store::recovery_report& r);

}  // namespace appliance
