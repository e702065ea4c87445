#include "appliance/admin/client.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace appliance {

admin_connect send_admin_request(const std::string& data_dir, const admin_request& request, admin_response& response,
                                 std::string& error) {
  std::string path = (std::filesystem::path(data_dir) / admin_socket_name).string();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    error = "admin socket path too long: " + path;
    return admin_connect::failed;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return admin_connect::failed;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    ::close(fd);
    if (e == ENOENT || e == ECONNREFUSED) return admin_connect::no_daemon;
    error = "cannot connect to " + path + ": " + std::strerror(e);
    return admin_connect::failed;
  }
  timeval tv{admin_client_timeout_ms / 1000, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string wire = encode_request(request);
  for (size_t done = 0; done < wire.size();) {
    ssize_t n = ::send(fd, wire.data() + done, wire.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = std::string("admin socket send: ") + std::strerror(errno);
      ::close(fd);
      return admin_connect::failed;
    }
    done += size_t(n);
  }
  std::string reply;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::string("admin socket receive: ") + std::strerror(errno);
      ::close(fd);
      return admin_connect::failed;
    }
    if (n == 0) break;
    reply.append(buf, size_t(n));
    if (reply.size() > admin_response_size_max) {
      error = "admin response too large";
      ::close(fd);
      return admin_connect::failed;
    }
  }
  ::close(fd);
  auto decoded = decode_response(reply);
  if (!decoded) {
    error = "the daemon's answer is malformed (is it the same ringmail version?)";
    return admin_connect::failed;
  }
  response = std::move(*decoded);
  return admin_connect::answered;
}

int lock_data_dir(const std::string& data_dir, std::string& error) {
  std::string path = (std::filesystem::path(data_dir) / lock_file_name).string();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = "cannot open " + path + ": " + std::strerror(errno);
    return -1;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    error = errno == EWOULDBLOCK ? "another ringmail process holds " + path
                                 : "cannot lock " + path + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace appliance
