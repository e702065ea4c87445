#include "bench/runtime/ringmail_echo_server.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <vector>

#include "kernel_io/net/connection.h"
#include "kernel_io/net/listener.h"
#include "kernel_io/ring/reactor.h"
#include "protocols/stream/session_stream.h"

namespace echo_bench {

namespace {

// Line echo, written the way a protocol session is: read_line(), queue the
// reply, flush only when no more input is buffered (a pipelined batch goes
// out in one send).
kio::task<void> line_echo(proto::session_stream& stream) {
  for (;;) {
    auto line = co_await stream.read_line();
    if (!line || line->too_long) break;
    if (!(co_await stream.write(line->text)) || !(co_await stream.write("\n"))) break;
    if (!stream.has_buffered_input() && !(co_await stream.flush())) break;
  }
}

// Block echo: whatever arrived goes straight back from the buffer it arrived
// in (the connection's provided buffer in plaintext, the stream's record
// buffer inside TLS), with no copy of our own.
kio::task<void> block_echo(proto::session_stream& stream) {
  for (;;) {
    auto data = co_await stream.read_some();
    if (!data) break;
    size_t length = data->size();
    auto sent = co_await stream.write_direct(*data);
    stream.consume(length);
    if (!sent) break;
  }
}

kio::task<void> echo_session(std::unique_ptr<kio::connection> conn, echo_mode mode,
                             std::shared_ptr<const tls::server_context> tls) {
  proto::stream_options options;
  options.line_length_max = line_length_max;
  proto::session_stream stream(*conn, options);
  bool ok = true;
  if (tls) ok = (co_await stream.start_tls(std::move(tls))).has_value();
  if (ok) {
    if (mode == echo_mode::line) co_await line_echo(stream);
    else co_await block_echo(stream);
  }
  co_await stream.close();
}

kio::task<void> accept_loop(kio::reactor& r, kio::listener& l, echo_mode mode,
                            std::shared_ptr<const tls::server_context> tls) {
  for (;;) {
    auto a = co_await l.accept();
    if (!a) break;
    r.spawn(echo_session(std::make_unique<kio::connection>(r, a->fd, a->peer), mode, tls));
  }
}

}  // namespace

std::unique_ptr<ringmail_echo_server> ringmail_echo_server::start(std::shared_ptr<const tls::server_context> tls,
                                                                  int cpu, std::string& error) {
  std::unique_ptr<ringmail_echo_server> server(new ringmail_echo_server());
  std::promise<std::string> started;
  auto started_future = started.get_future();
  server->_thread = std::thread(&ringmail_echo_server::thread_main, server.get(), std::move(tls), cpu, &started);
  // Bounded: a reactor that cannot bind within 10 s is a broken machine.
  if (started_future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    error = "ringmail reactor did not start within 10 s";
    std::abort();  // the thread still references `started`; nothing sane to unwind
  }
  error = started_future.get();
  if (!error.empty()) {
    server->_thread.join();
    server->_stopped = true;
    return nullptr;
  }
  return server;
}

void ringmail_echo_server::thread_main(std::shared_ptr<const tls::server_context> tls, int cpu,
                                       std::promise<std::string>* started) {
  kio::reactor_config config;
  config.cpu = cpu;
  auto created = kio::reactor::create(config);
  if (!created) {
    started->set_value("ringmail reactor: " + created.error());
    return;
  }
  kio::reactor& r = **created;
  pthread_setname_np(pthread_self(), "rm-reactor");  // for perf and top
  pthread_getcpuclockid(pthread_self(), &_cpu_clock);

  struct endpoint {
    echo_mode mode;
    bool tls;
    uint16_t* port;
  };
  const endpoint endpoints[] = {
      {echo_mode::line, false, &_ports.line_plain},
      {echo_mode::line, true, &_ports.line_tls},
      {echo_mode::block, false, &_ports.block_plain},
      {echo_mode::block, true, &_ports.block_tls},
  };
  // The listeners outlive run(): each accept loop awaits its final CQE
  // (after close() on stop) before the loop, and then run(), can end.
  std::vector<std::unique_ptr<kio::listener>> listeners;
  auto address = *kio::socket_address::parse("127.0.0.1:0");
  for (const endpoint& e : endpoints) {
    auto bound = kio::listener::bind(r, address);
    if (!bound) {
      started->set_value("ringmail listener: " + bound.error().message());
      // Nothing was spawned yet; cancel the armed accepts and drain them.
      for (auto& l : listeners) l->close();
      r.request_stop(0);
      r.run();
      return;
    }
    *e.port = (*bound)->address().port();
    kio::listener& l = **bound;
    r.on_stop([&l] { l.close(); });
    r.spawn(accept_loop(r, l, e.mode, e.tls ? tls : nullptr));
    listeners.push_back(std::move(*bound));
  }
  _reactor = &r;
  started->set_value("");
  r.run();
}

ringmail_echo_server::~ringmail_echo_server() { stop(); }

kio::reactor_stats ringmail_echo_server::stats() {
  // Shared, so a reply that comes after we gave up waiting has somewhere to go.
  auto reply = std::make_shared<std::promise<kio::reactor_stats>>();
  auto future = reply->get_future();
  kio::reactor* r = _reactor;
  kio::post(*r, [r, reply] { reply->set_value(r->stats()); });
  if (future.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return {};
  return future.get();
}

void ringmail_echo_server::stop() {
  if (_stopped) return;
  _stopped = true;
  kio::reactor* r = _reactor;
  // Every client has closed by now; the grace only bounds a straggler.
  kio::post(*r, [r] { r->request_stop(500); });
  _thread.join();
}

}  // namespace echo_bench
