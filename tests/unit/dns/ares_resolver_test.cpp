// ares_resolver against a real DNS server: a private dnsmasq (Debian) that
// the fixture starts on 127.0.0.1 and a free port with a small test zone,
// and stops by PID. Every lookup goes through c-ares and the reactor's ring.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../kernel_io/test_support.h"
#include "kernel_io/ring/ops.h"
#include "protocols/dns/ares_resolver.h"

namespace {

// A port free for UDP and TCP (dnsmasq binds both), below the kernel's
// ephemeral range: a port from bind(0) can become some client's local TCP
// port a moment later, and dnsmasq's bind then fails on a loaded machine.
uint16_t free_port() {
  static std::mt19937 random(std::random_device{}());
  for (int attempt = 0; attempt < 200; ++attempt) {
    uint16_t port = uint16_t(20000 + random() % 12000);
    bool free = true;
    for (int type : {SOCK_STREAM, SOCK_DGRAM}) {
      int fd = socket(AF_INET, type, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(port);
      free = free && bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      close(fd);
    }
    if (free) return port;
  }
  return 0;
}

class AresResolver : public ::testing::Test {
 protected:
  void SetUp() override {
    port = free_port();
    std::vector<std::string> args = {
        "/usr/sbin/dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
        "--bind-interfaces", "--listen-address=127.0.0.1", "--port=" + std::to_string(port), "--pid-file=",
        "--user=" + std::string(getuid() == 0 ? "nobody" : ""), "--local=/test/",
        "--mx-host=mail.test,mx1.mail.test,10", "--mx-host=mail.test,mx2.mail.test,20",
        "--host-record=mx1.mail.test,192.0.2.10", "--host-record=mx2.mail.test,192.0.2.20,2001:db8::20",
        "--host-record=plain.test,192.0.2.30", "--host-record=xn--bcher-kva.test,192.0.2.40",
        "--txt-record=mail.test,v=spf1 ip4:192.0.2.0/24, -all",
        "--txt-record=mail.test,second record"};
    if (getuid() != 0) args.erase(args.begin() + 9);
    pid = fork();
    if (pid == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    ASSERT_GT(pid, 0);
    // Ready when dnsmasq accepts on its TCP port. (Probing by binding the
    // UDP port would hold it for a moment and make dnsmasq's own bind fail.)
    for (int i = 0; i < 200; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(port);
      bool listening = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      close(fd);
      if (listening) return;
      int status = 0;
      ASSERT_EQ(waitpid(pid, &status, WNOHANG), 0) << "dnsmasq exited (is it installed? .ci/install-deps)";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "dnsmasq did not start";
  }
  void TearDown() override {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
  }
  dns::resolver_options options() const {
    dns::resolver_options o;
    o.servers = {"127.0.0.1:" + std::to_string(port)};
    o.timeout_ms = 500;
    return o;
  }
  uint16_t port = 0;
  pid_t pid = -1;
};

TEST_F(AresResolver, AnswersEveryTypeThroughTheRing) {
  auto r = kio::test_support::make_reactor();
  kio::test_support::run(*r, [](dns::resolver_options o) -> kio::task<void> {
    auto created = dns::ares_resolver::create(o);
    EXPECT_TRUE(created) << (created ? "" : created.error());
    if (!created) co_return;
    dns::resolver& res = **created;
    auto mx = co_await res.mx("Mail.Test.");
    EXPECT_TRUE(mx) << dns::to_string(mx.error());
    if (mx) {
      EXPECT_EQ(mx->size(), 2u);
    }
    if (mx && mx->size() == 2) {
      std::vector<dns::mx_record> sorted = *mx;
      std::ranges::sort(sorted, {}, &dns::mx_record::preference);
      EXPECT_EQ(sorted[0], (dns::mx_record{10, "mx1.mail.test"}));
      EXPECT_EQ(sorted[1], (dns::mx_record{20, "mx2.mail.test"}));
    }
    auto a = co_await res.a("mx2.mail.test");
    EXPECT_TRUE(a && a->size() == 1 && a->at(0).to_string() == "192.0.2.20");
    auto aaaa = co_await res.aaaa("mx2.mail.test");
    EXPECT_TRUE(aaaa && aaaa->size() == 1 && aaaa->at(0).to_string() == "2001:db8::20");
    auto txt = co_await res.txt("mail.test");
    EXPECT_TRUE(txt);
    if (txt) {
      std::vector<std::string> got = *txt;
      std::sort(got.begin(), got.end());
      EXPECT_EQ(got.size(), 2u);
    }
    if (txt && txt->size() == 2) {
      std::vector<std::string> got = *txt;
      std::sort(got.begin(), got.end());
      EXPECT_EQ(got[0], "second record");
      EXPECT_EQ(got[1], "v=spf1 ip4:192.0.2.0/24 -all");  // two strings, joined
    }
    auto ptr = co_await res.ptr(*dns::ip_address::parse("192.0.2.30"));
    EXPECT_TRUE(ptr && ptr->at(0) == "plain.test");
    auto idn = co_await res.a("bücher.test");
    EXPECT_TRUE(idn && idn->at(0).to_string() == "192.0.2.40");
    auto missing = co_await res.a("nowhere.test");
    EXPECT_EQ(missing.error(), dns::errc::not_found);
    auto nodata = co_await res.mx("plain.test");
    EXPECT_EQ(nodata.error(), dns::errc::no_data);
    auto bad = co_await res.mx("a..b");
    EXPECT_EQ(bad.error(), dns::errc::bad_name);
  }(options()));
}

TEST_F(AresResolver, ConcurrentLookupsAllComplete) {
  auto r = kio::test_support::make_reactor();
  kio::test_support::run(*r, [](dns::resolver_options o) -> kio::task<void> {
    auto created = dns::ares_resolver::create(o);
    if (!created) co_return;
    dns::resolver& res = **created;
    int done = 0;
    auto one = [](dns::resolver& res, int& done) -> kio::task<void> {
      auto a = co_await res.a("mx1.mail.test");
      EXPECT_TRUE(a);
      ++done;
    };
    for (int i = 0; i < 50; ++i) kio::reactor::current()->spawn(one(res, done));
    while (done < 50) co_await kio::sleep_for(5);
    EXPECT_EQ(done, 50);
  }(options()));
}

TEST_F(AresResolver, SilentServerIsATemporaryFailureAfterTheTimeout) {
  // A UDP socket that never answers: c-ares must time out through the
  // reactor timer (no poll ever fires) and report temporary.
  int silent = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(silent, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(silent, reinterpret_cast<sockaddr*>(&a), &len);
  dns::resolver_options o;
  o.servers = {"127.0.0.1:" + std::to_string(ntohs(a.sin_port))};
  o.timeout_ms = 100;
  o.attempts = 2;
  auto r = kio::test_support::make_reactor();
  auto start = std::chrono::steady_clock::now();
  kio::test_support::run(*r, [](dns::resolver_options o) -> kio::task<void> {
    auto created = dns::ares_resolver::create(o);
    if (!created) co_return;
    auto mx = co_await (*created)->mx("mail.test");
    EXPECT_EQ(mx.error(), dns::errc::temporary);
    // Destroying the resolver takes its socket's poll out of the ring; one
    // round trip through the ring reaps that completion, which frees the
    // watch (LeakSanitizer saw it when the reactor ended first).
    created->reset();
    (void)co_await kio::nop();
  }(o));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
  close(silent);
}

TEST_F(AresResolver, DestroyingTheResolverCompletesLookupsInFlight) {
  int silent = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(silent, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(silent, reinterpret_cast<sockaddr*>(&a), &len);
  dns::resolver_options o;
  o.servers = {"127.0.0.1:" + std::to_string(ntohs(a.sin_port))};
  o.timeout_ms = 5000;
  auto r = kio::test_support::make_reactor();
  kio::test_support::run(*r, [](dns::resolver_options o) -> kio::task<void> {
    auto created = dns::ares_resolver::create(o);
    if (!created) co_return;
    std::unique_ptr<dns::ares_resolver> res = std::move(*created);
    bool finished = false;
    auto wait = [](dns::resolver& res, bool& finished) -> kio::task<void> {
      auto mx = co_await res.mx("mail.test");
      EXPECT_EQ(mx.error(), dns::errc::shutting_down);
      finished = true;
    };
    kio::reactor::current()->spawn(wait(*res, finished));
    co_await kio::sleep_for(20);
    res.reset();
    while (!finished) co_await kio::sleep_for(1);
  }(o));
  close(silent);
}

}  // namespace
