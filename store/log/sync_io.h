#pragma once
// Blocking I/O for a commit_batch: pwrite each segment's bytes, fdatasync
// each file, fsync the directory when a segment file is new. Used by tests,
// the crash test's child, the benchmark, and tools (import, restore) that run
// outside a reactor. On a reactor the kernel_io driver does the same with a
// linked io_uring write+fdatasync, so the reactor never blocks.

#include "kernel_io/base/result.h"
#include "store/errc.h"
#include "store/log/core_log.h"

namespace store::log {

kio::result<void, errc> write_batch_blocking(const commit_batch& batch, const std::string& directory);

// Takes whatever is pending, writes and syncs it, completes it. Returns the
// batch's outcome (ok when nothing was pending).
kio::result<void, errc> flush_blocking(core_log& log);

// Writes `bytes` at `offset` in full (retrying short writes and EINTR).
kio::result<void, errc> pwrite_all(int fd, std::string_view bytes, std::uint64_t offset);
kio::result<void, errc> fsync_directory(const std::string& directory);

}  // namespace store::log
