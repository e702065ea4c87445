#include "store/log/sync_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace store::log {

kio::result<void, errc> pwrite_all(int fd, std::string_view bytes, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return kio::fail(errc_from_errno(errno));
    if (n == 0) return kio::fail(errc::no_space);
    done += static_cast<std::size_t>(n);
  }
  return {};
}

kio::result<void, errc> fsync_directory(const std::string& directory) {
  const int dfd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return kio::fail(errc_from_errno(errno));
  const int rc = ::fsync(dfd);
  const int e = errno;
  ::close(dfd);
  if (rc != 0) return kio::fail(errc_from_errno(e));
  return {};
}

kio::result<void, errc> write_batch_blocking(const commit_batch& batch, const std::string& directory) {
  bool new_file = false;
  for (const auto& w : batch.writes) {
    auto r = pwrite_all(w.fd, w.bytes, w.offset);
    if (!r) return r;
    new_file = new_file || w.new_file;
  }
  std::vector<int> synced;
  for (const auto& w : batch.writes) {
    if (std::find(synced.begin(), synced.end(), w.fd) != synced.end()) continue;
    if (::fdatasync(w.fd) != 0) return kio::fail(errc_from_errno(errno));
    synced.push_back(w.fd);
  }
  // A new segment's name must be durable before its records are.
  if (new_file) return fsync_directory(directory);
  return {};
}

kio::result<void, errc> flush_blocking(core_log& log) {
  if (!log.has_pending()) return {};
  commit_batch batch;
  log.take_batch(batch);
  auto r = write_batch_blocking(batch, log.options().directory);
  log.complete(batch, r);
  return r;
}

}  // namespace store::log
