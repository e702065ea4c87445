#include "appliance/daemon/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace appliance {

bool notify_systemd(std::string_view state) {
  const char* name = std::getenv("NOTIFY_SOCKET");
  return name != nullptr && notify_systemd_at(name, state);
}

bool notify_systemd_at(std::string_view socket_name, std::string_view state) {
  // A path is absolute; '@' names an abstract socket (its first byte 0 in
  // sun_path). Anything else (e.g. systemd's "vsock:" for VMs) is not ours.
  if (socket_name.size() < 2 || (socket_name[0] != '/' && socket_name[0] != '@')) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_name.size() > sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, socket_name.data(), socket_name.size());
  socklen_t length = socklen_t(offsetof(sockaddr_un, sun_path) + socket_name.size());
  if (socket_name[0] == '@') addr.sun_path[0] = '\0';
  else if (socket_name.size() < sizeof addr.sun_path) ++length;  // the path's terminating NUL

  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), length);
  ::close(fd);
  return sent == ssize_t(state.size());
}

}  // namespace appliance
