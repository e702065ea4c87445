#include "protocols/tls/detail/pem_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tls::detail {
namespace {

error errno_error(errc code, const std::string& what) {
  return error{code, what + ": " + std::strerror(errno)};
}

// Closes on scope exit; errors of close on a read-only fd carry no data loss.
struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

result<std::string> read_file_bounded(const std::string& path, std::size_t size_max_bytes) {
  fd_guard file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) return kio::fail(errno_error(errc::file_unreadable, path));
  std::string contents;
  char buffer[16 * 1024];
  for (;;) {
    ssize_t got = ::read(file.fd, buffer, sizeof(buffer));
    if (got < 0) {
      if (errno == EINTR) continue;
      return kio::fail(errno_error(errc::file_unreadable, path));
    }
    if (got == 0) break;
    if (contents.size() + static_cast<std::size_t>(got) > size_max_bytes) {
      return kio::fail(error{errc::file_unreadable, path + ": larger than " + std::to_string(size_max_bytes) + " bytes"});
    }
    contents.append(buffer, static_cast<std::size_t>(got));
  }
  return contents;
}

result<void> write_file_atomic(const std::string& path, const std::string& contents, unsigned mode) {
  const std::string temporary = path + ".tmp";
  ::unlink(temporary.c_str());  // a leftover from a crash; O_EXCL below needs it gone
  // O_EXCL + the mode at creation: a key is never readable by others, not
  // even for the instant before a chmod.
  fd_guard file{::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)};
  if (file.fd < 0) return kio::fail(errno_error(errc::file_unwritable, temporary));
  // The umask may have removed bits from `mode`; it never adds any, but make
  // the result exact so 0644 certificates are readable by other daemons.
  if (::fchmod(file.fd, mode) != 0) return kio::fail(errno_error(errc::file_unwritable, temporary));
  std::size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = ::write(file.fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return kio::fail(errno_error(errc::file_unwritable, temporary));
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(file.fd) != 0) return kio::fail(errno_error(errc::file_unwritable, temporary));
  if (::close(file.fd) != 0) {
    file.fd = -1;
    return kio::fail(errno_error(errc::file_unwritable, temporary));
  }
  file.fd = -1;
  if (::rename(temporary.c_str(), path.c_str()) != 0) return kio::fail(errno_error(errc::file_unwritable, path));
  // Make the rename itself durable.
  const std::size_t slash = path.find_last_of('/');
  const std::string directory = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  fd_guard dir{::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dir.fd >= 0) ::fsync(dir.fd);
  return {};
}

}  // namespace tls::detail
