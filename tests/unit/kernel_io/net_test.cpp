// Network operations of the runtime against real loopback sockets. The server
// side runs on a reactor on the test thread; clients are plain blocking
// sockets on another thread, so the two sides never share a ring.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "kernel_io/net/connect.h"
#include "kernel_io/net/connection.h"
#include "kernel_io/net/line_reader.h"
#include "kernel_io/net/listener.h"
#include "kernel_io/ring/ops.h"
#include "test_support.h"

using namespace kio;

namespace {

struct server_log {
  int sessions_done = 0;
  int eof_with_partial = 0;
  std::vector<int> read_errors;   // errno of the error that ended each session (0 = end of stream)
  std::vector<int> write_errors;
  size_t peak_connections = 0;
  std::vector<const std::byte*> chunks;  // where each read's bytes were (a receive buffer)
  unsigned window_peak = 0;              // the most receive buffers the kernel's ring was given to hold
};

struct server_options {
  connection_options conn;
  size_t line_max = 1000;
  size_t blast_bytes = 0;  // on "BLAST": send this many bytes
};

task<void> line_session(std::unique_ptr<connection> c, server_log& log, const server_options& opt) {
  line_reader lines(opt.line_max);
  c->set_between_commands(true);
  bool done = false;
  while (!done) {
    auto chunk = co_await c->read_some();
    if (!chunk) {
      log.read_errors.push_back(chunk.error().code);
      if (chunk.error().code == 0 && lines.has_partial()) ++log.eof_with_partial;
      if (chunk.error().code == ETIMEDOUT) (void)co_await c->write_all(std::as_bytes(std::span("TIMEOUT\n", 8)));
      break;
    }
    log.chunks.push_back(chunk->data());
    log.window_peak = std::max(log.window_peak, reactor::current()->buffers().window());
    std::span<const std::byte> rest = *chunk;
    while (!rest.empty() && !done) {
      auto step = lines.feed(rest);
      rest = rest.subspan(step.consumed);
      std::string reply;
      if (step.state == line_reader::status::too_long) reply = "ERR too long\n";
      else if (step.state == line_reader::status::line && step.line == "QUIT") reply = "BYE\n", done = true;
      else if (step.state == line_reader::status::line && step.line == "BLAST") {
        std::string big(opt.blast_bytes, 'b');
        auto w = co_await c->write_all(std::as_bytes(std::span(big)));
        if (!w) {
          log.write_errors.push_back(w.error().code);
          done = true;
        }
        continue;
      } else if (step.state == line_reader::status::line) reply = std::string(step.line) + "\n";
      else continue;
      auto w = co_await c->write_all(std::as_bytes(std::span(reply)));
      if (!w) {
        log.write_errors.push_back(w.error().code);
        done = true;
      }
    }
  }
  co_await c->close();
  ++log.sessions_done;
}

// Accepts until `sessions` sessions have finished, then closes the listener.
task<void> serve(listener& l, server_log& log, const server_options& opt, int sessions) {
  reactor& r = *reactor::current();
  int accepted_count = 0;
  while (accepted_count < sessions) {
    auto a = co_await l.accept();
    if (!a) break;
    ++accepted_count;
    r.spawn(line_session(std::make_unique<connection>(r, a->fd, a->peer, opt.conn), log, opt));
    log.peak_connections = std::max(log.peak_connections, r.connection_count());
  }
  l.close();
  for (;;) {  // drain until the final accept CQE says the listener is done
    auto late = co_await l.accept();
    if (!late) break;
    ::close(late->fd);
  }
  while (log.sessions_done < sessions) co_await sleep_for(5);
}

int client_connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string read_line(int fd) {
  std::string s;
  char ch;
  while (read(fd, &ch, 1) == 1) {
    if (ch == '\n') return s;
    s += ch;
  }
  return s + "<eof>";
}

void send_text(int fd, const std::string& s) { ASSERT_EQ(write(fd, s.data(), s.size()), ssize_t(s.size())); }

struct fixture {
  std::unique_ptr<reactor> r = test_support::make_reactor();
  std::unique_ptr<listener> l;
  uint16_t port = 0;
  fixture() {
    auto bound = listener::bind(*r, *socket_address::parse("127.0.0.1:0"));
    EXPECT_TRUE(bound);
    l = std::move(*bound);
    port = l->address().port();
  }
};

}  // namespace

TEST(net, echo_lines_pipelined_and_split) {
  fixture f;
  server_log log;
  server_options opt;
  std::thread client([&] {
    int fd = client_connect(f.port);
    send_text(fd, "one\r\ntw");
    usleep(20'000);
    send_text(fd, "o\r\nthree\r\n");
    EXPECT_EQ(read_line(fd), "one");
    EXPECT_EQ(read_line(fd), "two");
    EXPECT_EQ(read_line(fd), "three");
    send_text(fd, "QUIT\r\n");
    EXPECT_EQ(read_line(fd), "BYE");
    EXPECT_EQ(read_line(fd), "<eof>");
    close(fd);
  });
  test_support::run(*f.r, serve(*f.l, log, opt, 1));
  client.join();
  EXPECT_EQ(log.sessions_done, 1);
}

TEST(net, peer_disconnects_mid_receive) {
  fixture f;
  server_log log;
  server_options opt;
  std::thread client([&] {
    int fd = client_connect(f.port);
    send_text(fd, "partial command without end");
    usleep(20'000);
    close(fd);
  });
  test_support::run(*f.r, serve(*f.l, log, opt, 1));
  client.join();
  ASSERT_EQ(log.read_errors.size(), 1u);
  EXPECT_EQ(log.read_errors[0], 0);  // end of stream, not a crash or a hang
  EXPECT_EQ(log.eof_with_partial, 1);
}

TEST(net, peer_disconnects_mid_send) {
  fixture f;
  server_log log;
  server_options opt;
  opt.blast_bytes = 64 << 20;
  std::thread client([&] {
    int fd = client_connect(f.port);
    send_text(fd, "BLAST\n");
    char buf[1024];
    EXPECT_GT(read(fd, buf, sizeof buf), 0);
    linger lg{1, 0};  // reset, so the server's send fails at once
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
  });
  test_support::run(*f.r, serve(*f.l, log, opt, 1));
  client.join();
  ASSERT_EQ(log.write_errors.size(), 1u);
  EXPECT_TRUE(log.write_errors[0] == ECONNRESET || log.write_errors[0] == EPIPE) << log.write_errors[0];
}

TEST(net, idle_timeout_fires) {
  fixture f;
  server_log log;
  server_options opt;
  opt.conn.idle_timeout_ms = 100;
  std::thread client([&] {
    int fd = client_connect(f.port);
    EXPECT_EQ(read_line(fd), "TIMEOUT");
    EXPECT_EQ(read_line(fd), "<eof>");
    close(fd);
  });
  test_support::run(*f.r, serve(*f.l, log, opt, 1));
  client.join();
  ASSERT_EQ(log.read_errors.size(), 1u);
  EXPECT_EQ(log.read_errors[0], ETIMEDOUT);
}

TEST(net, send_timeout_cancels_a_send_to_a_client_that_never_reads) {
  fixture f;
  server_log log;
  server_options opt;
  opt.conn.send_timeout_ms = 200;
  opt.blast_bytes = 256 << 20;
  std::atomic<bool> server_done{false};
  std::thread client([&] {
    int fd = client_connect(f.port);
    send_text(fd, "BLAST\n");
    while (!server_done) usleep(10'000);
    close(fd);
  });
  auto body = [&]() -> task<void> {
    co_await serve(*f.l, log, opt, 1);
    server_done = true;
  };
  test_support::run(*f.r, body());
  server_done = true;
  client.join();
  ASSERT_EQ(log.write_errors.size(), 1u);
  EXPECT_EQ(log.write_errors[0], ETIMEDOUT);
}

TEST(net, line_longer_than_limit_gets_an_error_and_the_session_goes_on) {
  fixture f;
  server_log log;
  server_options opt;
  opt.line_max = 100;
  std::thread client([&] {
    int fd = client_connect(f.port);
    send_text(fd, std::string(50000, 'x') + "\r\nok\r\nQUIT\r\n");
    EXPECT_EQ(read_line(fd), "ERR too long");
    EXPECT_EQ(read_line(fd), "ok");
    EXPECT_EQ(read_line(fd), "BYE");
    close(fd);
  });
  test_support::run(*f.r, serve(*f.l, log, opt, 1));
  client.join();
}

// The client runs in a forked child: each side then needs about 10,000
// descriptors, under a hard limit that may be as low as 20,000 here.
TEST(net, ten_thousand_concurrent_connections) {
  constexpr int count = 10000;
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_max < count + 500) GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << lim.rlim_max << " is too low";
  lim.rlim_cur = lim.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);

  // Few, small buffers: 10,000 simultaneous lines must run the core out of
  // receive buffers, so the -ENOBUFS re-arm path is exercised too.
  auto r = test_support::make_reactor(128, 1024);
  auto bound = listener::bind(*r, *socket_address::parse("127.0.0.1:0"));
  ASSERT_TRUE(bound);
  auto& l = *bound;
  uint16_t port = l->address().port();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::vector<int> fds;
    for (int i = 0; i < count; ++i) {
      int fd = client_connect(port);
      if (fd < 0) _exit(2);
      fds.push_back(fd);
    }
    for (int i = 0; i < count; ++i) {
      std::string line = "c" + std::to_string(i) + "\r\n";
      if (write(fds[i], line.data(), line.size()) != ssize_t(line.size())) _exit(3);
    }
    int answered = 0;
    for (int i = 0; i < count; ++i)
      if (read_line(fds[i]) == "c" + std::to_string(i)) ++answered;
    for (int fd : fds) close(fd);
    _exit(answered == count ? 0 : 4);
  }
  server_log log;
  server_options opt;
  test_support::run(*r, serve(*l, log, opt, count));
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "client exit " << WEXITSTATUS(status);
  EXPECT_EQ(log.sessions_done, count);
  EXPECT_GE(log.peak_connections, size_t(count) * 9 / 10);
  EXPECT_EQ(r->buffers().free_count(), r->buffers().count());  // every buffer came back
  // How far the window grew is printed, not asserted: it depends on how far
  // the client's 10,000 writes outran the sessions (all 128 usually, 64 in 2
  // of 10 runs on a loaded machine; a server on a free core keeping pace
  // with a preempted client would not need to grow it at all). That it
  // grows under a burst, and shrinks, is proved where the burst is made
  // certain: receive_buffers_are_reused_warm_and_the_window_follows_the_load
  // and the_window_shrinks_while_connections_hold_buffers_and_nothing_is_lost.
  std::printf("window peak %u of 128 buffers\n", log.window_peak);
}

namespace {
// `n` connections accepted, returned once the client says their bytes are
// all sent (empty if an accept failed): their sessions are then started in
// one loop with no suspension, so their receives reach the kernel in one
// submit and find the bytes already there (a burst, whatever the scheduling).
task<std::vector<accepted>> accept_all_then_wait(listener& l, int n, const std::atomic<bool>& sent) {
  std::vector<accepted> held;
  for (int i = 0; i < n; ++i) {
    auto a = co_await l.accept();
    if (!a) co_return std::vector<accepted>{};
    held.push_back(*a);
  }
  while (!sent) co_await sleep_for(2);
  co_return held;
}
}  // namespace

// The receive buffers are reused warm: a session trading lines with its
// client keeps reading into the same few buffers (the kernel's ring holds only
// a small window, topped up with the most recently freed), where a ring
// holding all 256 would cycle through every one. A burst of 200 connections
// sending at once grows the window; calm brings it back down.
//
// The burst is made certain (as in the window-shrink test below): the 200
// lines are all queued in their sockets before any session starts, and the
// 200 receives go to the kernel in one submit, so the window of 16 runs out
// in that one batch. Spawned as they were accepted, the sessions could keep
// up with a client that was slowed down (a CPU hog on one of two cores: the
// window stayed at 16 in 1 of 80 runs).
TEST(net, receive_buffers_are_reused_warm_and_the_window_follows_the_load) {
  auto r = test_support::make_reactor(256, 4096);
  ASSERT_EQ(r->buffers().window(), 16u);  // reactor_config's recv_buffer_window_min
  auto bound = listener::bind(*r, *socket_address::parse("127.0.0.1:0"));
  ASSERT_TRUE(bound);
  auto& l = *bound;
  constexpr int burst = 200;
  constexpr int exchanges = 6000;
  std::atomic<int> answered{0};
  std::atomic<bool> burst_sent{false};
  std::thread client([&, port = l->address().port()] {
    std::vector<int> fds;
    for (int i = 0; i < burst; ++i) fds.push_back(client_connect(port));
    for (int i = 0; i < burst; ++i) send_text(fds[i], "b" + std::to_string(i) + "\r\n");
    burst_sent = true;  // on loopback, sent means queued at the server's socket
    for (int i = 0; i < burst; ++i) {
      if (read_line(fds[i]) == "b" + std::to_string(i)) ++answered;
      send_text(fds[i], "QUIT\r\n");
      read_line(fds[i]);
      close(fds[i]);
    }
    int fd = client_connect(port);
    for (int i = 0; i < exchanges; ++i) {
      send_text(fd, "p" + std::to_string(i) + "\r\n");
      if (read_line(fd) == "p" + std::to_string(i)) ++answered;
    }
    send_text(fd, "QUIT\r\n");
    read_line(fd);
    close(fd);
  });
  server_log log;
  server_options opt;
  auto body = [&]() -> task<void> {
    reactor& rr = *reactor::current();
    std::vector<accepted> held = co_await accept_all_then_wait(*l, burst, burst_sent);
    if (held.empty()) co_return;
    // No suspension in this loop: the 200 receives are submitted together.
    for (auto& a : held) rr.spawn(line_session(std::make_unique<connection>(rr, a.fd, a.peer, opt.conn), log, opt));
    co_await serve(*l, log, opt, 1);  // the calm one
    while (log.sessions_done < burst + 1) co_await sleep_for(5);
  };
  test_support::run(*r, body());
  client.join();
  EXPECT_EQ(answered.load(), burst + exchanges);
  EXPECT_GT(log.window_peak, 16u) << "the burst did not grow the window";
  EXPECT_EQ(r->buffers().window(), 16u) << "calm did not bring the window back";
  std::printf("window: 16, after the burst %u, after the calm %u\n", log.window_peak, r->buffers().window());
  ASSERT_GE(log.chunks.size(), 1000u);
  std::vector<const std::byte*> last(log.chunks.end() - 1000, log.chunks.end());
  std::sort(last.begin(), last.end());
  const auto distinct = std::unique(last.begin(), last.end()) - last.begin();
  EXPECT_LE(distinct, 18) << "the last 1000 reads went to " << distinct << " different buffers";
  EXPECT_EQ(r->buffers().free_count(), r->buffers().count());
}

// A ring smaller than the smallest window is all window: 8 buffers with the
// default window of 16 serve, and a 2 KB line crosses two 1 KB buffers.
TEST(net, a_ring_smaller_than_the_window_is_all_window) {
  auto r = test_support::make_reactor(8, 1024);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->buffers().window(), 8u);
  auto bound = listener::bind(*r, *socket_address::parse("127.0.0.1:0"));
  ASSERT_TRUE(bound);
  auto& l = *bound;
  const std::string long_line(2000, 'w');
  std::thread client([&, port = l->address().port()] {
    int fd = client_connect(port);
    send_text(fd, long_line + "\r\nshort\r\n");
    EXPECT_EQ(read_line(fd), long_line);
    EXPECT_EQ(read_line(fd), "short");
    send_text(fd, "QUIT\r\n");
    EXPECT_EQ(read_line(fd), "BYE");
    close(fd);
  });
  server_log log;
  server_options opt;
  opt.line_max = 4000;
  test_support::run(*r, serve(*l, log, opt, 1));
  client.join();
  EXPECT_EQ(log.sessions_done, 1);
  EXPECT_EQ(r->buffers().free_count(), r->buffers().count());
}

TEST(net, cancel_fd_cancels_a_pending_operation) {
  auto r = test_support::make_reactor();
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  int read_error = 0;
  auto reader = [&]() -> task<void> {
    char buf[16];
    auto n = co_await read_at(p[0], std::as_writable_bytes(std::span(buf)), uint64_t(-1));
    if (!n) read_error = n.error().code;
  };
  auto body = [&]() -> task<void> {
    reactor::current()->spawn(reader());
    co_await sleep_for(20);
    auto c = co_await cancel_fd(p[0]);
    EXPECT_TRUE(c);
  };
  test_support::run(*r, body());
  EXPECT_EQ(read_error, ECANCELED);
  close(p[0]);
  close(p[1]);
}

TEST(net, connect_to_succeeds_and_reports_refusal) {
  fixture f;
  server_log log;
  server_options opt;
  int refused = 0;
  std::string reply;
  auto body = [&]() -> task<void> {
    reactor& r = *reactor::current();
    r.spawn(serve(*f.l, log, opt, 1));
    auto fd = co_await connect_to(*socket_address::parse("127.0.0.1:" + std::to_string(f.port)), 1000);
    EXPECT_TRUE(fd);
    if (!fd) co_return;
    connection c(r, *fd, f.l->address());
    (void)co_await c.write_all(std::as_bytes(std::span("QUIT\r\n", 6)));
    auto got = co_await c.read_some();
    if (got) reply.assign(reinterpret_cast<const char*>(got->data()), got->size());
    co_await c.close();
    // A port nobody listens on: the listener's port + 1 is very likely free;
    // bind a socket to reserve a port and close it to be sure.
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len);
    close(probe);
    auto bad = co_await connect_to(*socket_address::parse("127.0.0.1:" + std::to_string(ntohs(a.sin_port))), 1000);
    if (!bad) refused = bad.error().code;
  };
  test_support::run(*f.r, body());
  EXPECT_EQ(reply, "BYE\n");
  EXPECT_EQ(refused, ECONNREFUSED);
}

// Regression: a session that stalls while its client sends megabytes used to
// have its connection reset. With DEFER_TASKRUN one io_uring_enter can run
// the multishot receive dozens of times before the pausing cancel lands, and
// the old fixed 64-entry receive queue overflowed into an ENOBUFS error (the
// SMTP e2e tests found it with messages over about 1.5 MB). Every byte must
// arrive, and every buffer must go back to the ring.
TEST(net, a_stalled_reader_loses_nothing_when_the_client_floods) {
  auto r = test_support::make_reactor(512, 4096);
  auto bound = listener::bind(*r, *socket_address::parse("127.0.0.1:0"));
  ASSERT_TRUE(bound);
  auto& l = *bound;
  constexpr size_t total = 8 << 20;
  size_t received = 0;
  uint64_t checksum = 0, expected = 0;
  std::string payload(total, '\0');
  for (size_t i = 0; i < total; ++i) payload[i] = char((i * 131) >> 3);
  for (unsigned char ch : payload) expected = expected * 31 + ch;
  std::thread client([&, port = l->address().port()] {
    int fd = client_connect(port);
    size_t off = 0;
    while (off < total) {
      ssize_t n = write(fd, payload.data() + off, total - off);
      if (n <= 0) break;
      off += size_t(n);
    }
    shutdown(fd, SHUT_WR);
    char b;
    (void)read(fd, &b, 1);  // wait for the server to finish
    close(fd);
  });
  int error = -1;
  auto body = [&]() -> task<void> {
    auto a = co_await l->accept();
    l->close();
    (void)co_await l->accept();
    if (!a) co_return;
    connection c(*reactor::current(), a->fd, a->peer);
    co_await sleep_for(300);  // stalled: the client fills the socket meanwhile
    for (;;) {
      auto chunk = co_await c.read_some();
      if (!chunk) {
        error = chunk.error().code;
        break;
      }
      for (std::byte b : *chunk) checksum = checksum * 31 + uint8_t(b);
      received += chunk->size();
      if (received % (1 << 20) < chunk->size()) co_await sleep_for(20);  // stall again now and then
    }
    co_await c.close();
  };
  test_support::run(*r, body());
  client.join();
  EXPECT_EQ(error, 0);  // end of stream, not a reset
  EXPECT_EQ(received, total);
  EXPECT_EQ(checksum, expected);
  EXPECT_EQ(r->buffers().free_count(), r->buffers().count());
}

namespace {

// A session that waits for bytes while an "event" (a task on the same core)
// interrupts its read: the read returns EINTR, nothing is lost, and the
// bytes the client sends afterwards are read normally.
struct interrupt_log {
  std::vector<int> errors;    // errno of each failed read, in order
  std::string received;
  bool interrupted_idle = false;  // interrupt_read() with no reader waiting
};

task<void> interrupt_later(connection& c, int& reads_started) {
  while (reads_started == 0) co_await sleep_for(5);
  co_await sleep_for(30);  // the session is inside read_some() now
  EXPECT_TRUE(c.interrupt_read());
}

task<void> interruptible_session(std::unique_ptr<connection> c, interrupt_log& log) {
  reactor& r = *reactor::current();
  // Nobody reads yet: the interrupt is not remembered.
  log.interrupted_idle = c->interrupt_read();
  int reads_started = 0;
  r.spawn(interrupt_later(*c, reads_started));
  while (log.received.size() < 5) {
    ++reads_started;
    auto chunk = co_await c->read_some(5'000);
    if (!chunk) {
      log.errors.push_back(chunk.error().code);
      if (chunk.error().code != EINTR) break;
      auto w = co_await c->write_all(std::as_bytes(std::span("WOKEN\n", 6)));
      EXPECT_TRUE(w);
      continue;
    }
    log.received.append(reinterpret_cast<const char*>(chunk->data()), chunk->size());
  }
  co_await c->close();
}

task<void> serve_one_interruptible(listener& l, interrupt_log& log) {
  auto a = co_await l.accept();
  EXPECT_TRUE(a);
  if (!a) co_return;
  reactor& r = *reactor::current();
  co_await interruptible_session(std::make_unique<connection>(r, a->fd, a->peer), log);
  l.close();
  for (;;) {
    auto late = co_await l.accept();
    if (!late) break;
    ::close(late->fd);
  }
}

}  // namespace

TEST(net, interrupt_read_wakes_a_waiting_reader_without_losing_data) {
  fixture f;
  interrupt_log log;
  std::thread client([&] {
    int fd = client_connect(f.port);
    EXPECT_EQ(read_line(fd), "WOKEN");  // woken by the event, not by bytes
    send_text(fd, "hello");
    close(fd);
  });
  test_support::run(*f.r, serve_one_interruptible(*f.l, log));
  client.join();
  EXPECT_FALSE(log.interrupted_idle);
  ASSERT_EQ(log.errors.size(), 1u);
  EXPECT_EQ(log.errors[0], EINTR);
  EXPECT_EQ(log.received, "hello");
}

// A client that sends one byte per segment while its session is not reading
// (busy, tarpitted, blocked on a send) gets one whole receive buffer per
// byte. Counted in bytes, receive_limit_bytes let such a connection queue
// up to that many buffers: every buffer of the core, so every other
// connection on it waited for ENOBUFS to clear. The limit counts each queued
// buffer as full: the connection pauses at limit / buffer size buffers and
// the rest waits in the socket (coalesced when the receive is re-armed).
TEST(net, a_client_trickling_single_bytes_holds_at_most_its_share_of_buffers) {
  auto r = test_support::make_reactor(64, 4096);
  auto bound = listener::bind(*r, *socket_address::parse("127.0.0.1:0"));
  ASSERT_TRUE(bound);
  auto& l = *bound;
  constexpr int total = 200;
  std::atomic<bool> sent{false};
  std::thread client([&, port = l->address().port()] {
    int fd = client_connect(port);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (int i = 0; i < total; ++i) {
      char ch = char('a' + i % 26);
      if (write(fd, &ch, 1) != 1) break;
      usleep(1000);
    }
    sent = true;
    shutdown(fd, SHUT_WR);
    char b;
    (void)read(fd, &b, 1);
    close(fd);
  });
  unsigned most_held = 0;
  std::string received;
  int error = -1;
  auto body = [&]() -> task<void> {
    auto a = co_await l->accept();
    l->close();
    (void)co_await l->accept();
    if (!a) co_return;
    connection_options o;
    o.receive_limit_bytes = 16384;  // four 4 KB buffers
    connection c(*reactor::current(), a->fd, a->peer, o);
    while (!sent) {  // not reading: the bytes pile up
      co_await sleep_for(2);
      most_held = std::max(most_held, r->buffers().count() - r->buffers().free_count());
    }
    for (;;) {
      auto chunk = co_await c.read_some();
      if (!chunk) {
        error = chunk.error().code;
        break;
      }
      received.append(reinterpret_cast<const char*>(chunk->data()), chunk->size());
    }
    co_await c.close();
  };
  test_support::run(*r, body());
  client.join();
  std::string expected;
  for (int i = 0; i < total; ++i) expected += char('a' + i % 26);
  EXPECT_EQ(error, 0);
  EXPECT_EQ(received, expected);  // nothing lost while paused
  EXPECT_LE(most_held, 8u) << "one connection held " << most_held << " of 64 buffers";
  EXPECT_EQ(r->buffers().free_count(), r->buffers().count());
}

namespace {
struct hold_log {
  std::atomic<bool> release{false};
  int holders_done = 0;
  int holders_intact = 0;
  unsigned most_held = 0;          // buffers held by connections, at most
  unsigned window_while_held = 0;  // the window when the busy phase ended, holders still holding
  int busy_reads = 0;
  unsigned window_peak = 0;
};

// Reads nothing until released, then checks its client's bytes arrived whole.
task<void> holder_session(std::unique_ptr<connection> c, hold_log& log, int index) {
  while (!log.release) co_await sleep_for(2);
  std::string got;
  while (got.size() < 500) {
    auto chunk = co_await c->read_some();
    if (!chunk) break;
    got.append(reinterpret_cast<const char*>(chunk->data()), chunk->size());
  }
  std::string want(500, char('A' + index % 26));
  if (got == want) ++log.holders_intact;
  (void)co_await c->write_all(std::as_bytes(std::span("OK\n", 3)));
  co_await c->close();
  ++log.holders_done;
}

task<void> busy_session(std::unique_ptr<connection> c, hold_log& log, int exchanges) {
  reactor& r = *reactor::current();
  line_reader lines(100);
  int answered = 0;
  while (answered < exchanges) {
    auto chunk = co_await c->read_some();
    if (!chunk) break;
    ++log.busy_reads;
    log.most_held = std::max(log.most_held, r.buffers().count() - r.buffers().free_count());
    log.window_peak = std::max(log.window_peak, r.buffers().window());
    std::span<const std::byte> rest = *chunk;
    while (!rest.empty()) {
      auto step = lines.feed(rest);
      rest = rest.subspan(step.consumed);
      if (step.state != line_reader::status::line) continue;
      std::string reply = std::string(step.line) + "\n";
      (void)co_await c->write_all(std::as_bytes(std::span(reply)));
      ++answered;
    }
  }
  log.window_while_held = r.buffers().window();
  log.release = true;
  co_await c->close();
}
}  // namespace

// The window grows while 40 connections each hold a buffer they have not
// read, then shrinks under a long single-connection load with those 40 still
// held; released afterwards, every holder's bytes are intact and every
// buffer is back (no buffer lost or handed out twice across the shrink).
//
// The growth is made certain: the holders' bytes are all queued in their
// sockets before any of their receives is armed, and the 40 receives go to
// the kernel in one submit, so the first window of 16 runs out (ENOBUFS) in
// that one batch. Arriving one at a time instead, each holder's buffer would
// be replaced at the next top-up and the window need never grow (which is
// how this test failed on a loaded CI machine). With 128 buffers the window
// can shrink from any size the burst gives it (32 or 64).
TEST(net, the_window_shrinks_while_connections_hold_buffers_and_nothing_is_lost) {
  auto r = test_support::make_reactor(128, 1024);
  auto bound = listener::bind(*r, *socket_address::parse("127.0.0.1:0"));
  ASSERT_TRUE(bound);
  auto& l = *bound;
  constexpr int holders = 40;
  constexpr int exchanges = 4000;
  std::atomic<int> answered{0}, oks{0};
  std::atomic<bool> holders_sent{false}, holders_served{false};
  std::thread client([&, port = l->address().port()] {
    std::vector<int> fds;
    for (int i = 0; i < holders; ++i) {
      fds.push_back(client_connect(port));
      send_text(fds.back(), std::string(500, char('A' + i % 26)));
    }
    holders_sent = true;  // on loopback, sent means queued at the server's socket
    // The busy connection comes once every holder holds its buffer (after a
    // fixed 100 ms, a server stalled that long would reap its accept in the
    // holders' batch, before the top-up that grows the window).
    for (int waited = 0; !holders_served && waited < 60'000; ++waited) usleep(1000);
    int fd = client_connect(port);
    for (int i = 0; i < exchanges; ++i) {
      send_text(fd, "p" + std::to_string(i) + "\r\n");
      if (read_line(fd) == "p" + std::to_string(i)) ++answered;
    }
    close(fd);
    for (int f : fds) {
      if (read_line(f) == "OK") ++oks;
      close(f);
    }
  });
  hold_log log;
  unsigned window_before_holders = 0;
  auto body = [&]() -> task<void> {
    reactor& rr = *reactor::current();
    std::vector<accepted> held = co_await accept_all_then_wait(*l, holders, holders_sent);
    if (held.empty()) co_return;
    window_before_holders = rr.buffers().window();
    // No suspension in this loop: the 40 receives are submitted together.
    for (int i = 0; i < holders; ++i)
      rr.spawn(holder_session(std::make_unique<connection>(rr, held[i].fd, held[i].peer), log, i));
    for (int waited = 0; rr.buffers().count() - rr.buffers().free_count() < unsigned(holders) && waited < 30'000;
         waited += 2)
      co_await sleep_for(2);
    log.window_peak = rr.buffers().window();  // what the holders' burst grew it to
    holders_served = true;
    auto a = co_await l->accept();
    if (!a) co_return;
    rr.spawn(busy_session(std::make_unique<connection>(rr, a->fd, a->peer), log, exchanges));
    l->close();
    (void)co_await l->accept();
    while (log.holders_done < holders) co_await sleep_for(5);
  };
  test_support::run(*r, body());
  client.join();
  EXPECT_EQ(answered.load(), exchanges);
  EXPECT_EQ(oks.load(), holders);
  EXPECT_EQ(log.holders_intact, holders);
  EXPECT_GE(log.most_held, unsigned(holders)) << "the holders did not hold their buffers";
  EXPECT_GT(log.window_peak, window_before_holders) << "the holders' burst did not grow the window";
  EXPECT_GT(log.window_peak, log.window_while_held) << "the window never shrank while buffers were held";
  std::printf("window: %u, after the holders' burst %u, after the busy phase %u (holders still holding)\n",
              window_before_holders, log.window_peak, log.window_while_held);
  EXPECT_GE(r->buffers().window(), 16u);
  EXPECT_EQ(r->buffers().free_count(), r->buffers().count());
}
