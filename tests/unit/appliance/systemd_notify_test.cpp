// The systemd notify datagram (appliance/daemon/systemd_notify.h): what a
// socket bound where $NOTIFY_SOCKET points receives. The daemon's use of it
// (READY=1 after binding, RELOADING=1/READY=1 around SIGHUP, STOPPING=1) is
// tests/e2e/appliance/test_appliance.py's Systemd test.
#include "appliance/daemon/systemd_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct receiver {
  int fd = -1;
  std::string name;  // as $NOTIFY_SOCKET spells it
  explicit receiver(std::string n) : name(std::move(n)) {
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    socklen_t length = socklen_t(offsetof(sockaddr_un, sun_path) + name.size() + (name[0] == '@' ? 0 : 1));
    if (name[0] == '/') ::unlink(name.c_str());
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), length), 0) << std::strerror(errno);
  }
  ~receiver() {
    ::close(fd);
    if (name[0] == '/') ::unlink(name.c_str());
  }
  std::string next() {
    char buf[512];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    return n < 0 ? std::string("(nothing)") : std::string(buf, size_t(n));
  }
};

std::string temp_socket_path() {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/ringmail-notify-" + std::to_string(::getpid()) + ".sock";
}

TEST(systemd_notify, a_path_socket_receives_the_state_as_one_datagram) {
  receiver r(temp_socket_path());
  EXPECT_TRUE(appliance::notify_systemd_at(r.name, "READY=1\nSTATUS=serving"));
  EXPECT_TRUE(appliance::notify_systemd_at(r.name, "STOPPING=1"));
  EXPECT_EQ(r.next(), "READY=1\nSTATUS=serving");
  EXPECT_EQ(r.next(), "STOPPING=1");
  EXPECT_EQ(r.next(), "(nothing)");
}

TEST(systemd_notify, an_at_sign_names_an_abstract_socket) {
  receiver r("@ringmail-notify-test-" + std::to_string(::getpid()));
  EXPECT_TRUE(appliance::notify_systemd_at(r.name, "RELOADING=1"));
  EXPECT_EQ(r.next(), "RELOADING=1");
}

TEST(systemd_notify, the_environment_variable_picks_the_socket) {
  receiver r(temp_socket_path());
  ASSERT_EQ(::setenv("NOTIFY_SOCKET", r.name.c_str(), 1), 0);
  EXPECT_TRUE(appliance::notify_systemd("READY=1"));
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(appliance::notify_systemd("READY=1"));  // not under systemd: nothing sent
  EXPECT_EQ(r.next(), "READY=1");
  EXPECT_EQ(r.next(), "(nothing)");
}

TEST(systemd_notify, unusable_addresses_send_nothing) {
  EXPECT_FALSE(appliance::notify_systemd_at("", "READY=1"));
  EXPECT_FALSE(appliance::notify_systemd_at("relative/path", "READY=1"));
  EXPECT_FALSE(appliance::notify_systemd_at("vsock:2:1234", "READY=1"));
  EXPECT_FALSE(appliance::notify_systemd_at("/" + std::string(200, 'x'), "READY=1"));  // longer than sun_path
  EXPECT_FALSE(appliance::notify_systemd_at(temp_socket_path() + ".absent", "READY=1"));  // nobody listening
}

}  // namespace
