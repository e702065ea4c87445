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
#include <memory>
#include <string>

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

// Opens (recovering) the store with `shards` shards, recording the count on
// first use. Every recovery report line goes to `report`.
kio::result<std::unique_ptr<store::message_store>, std::string> open_store(
    const std::string& data_dir, uint32_t shards, std::function<void(const std::string&)> report);

// One line saying what recovery did, for the log and the console.
std::string recovery_summary(const store::recovery_report& r);

}  // namespace appliance
