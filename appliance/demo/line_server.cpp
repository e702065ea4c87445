#include "appliance/demo/line_server.h"

#include <unistd.h>

#include <cstdio>

#include "kernel_io/net/listener.h"
#include "protocols/stream/session_stream.h"

namespace appliance::demo {

namespace {

kio::task<void> session(std::unique_ptr<kio::connection> conn, line_server_shared& shared, bool implicit_tls) {
  proto::stream_options options;
  options.line_length_max = shared.config.line_length_max;
  proto::session_stream stream(*conn, options);
  bool ok = true;
  if (implicit_tls) ok = (co_await stream.start_tls(shared.tls)).has_value();
  if (ok) ok = (co_await stream.write("* ringmail demo ready\r\n")) && (co_await stream.flush());
  while (ok) {
    stream.set_between_commands(!stream.has_buffered_input());
    auto line = co_await stream.read_line();
    if (!line) {
      if (line.error().what == proto::stream_error::kind::shutdown) {
        (void)co_await stream.write("BYE server shutting down\r\n");
        (void)co_await stream.flush();
      }
      break;
    }
    stream.set_between_commands(false);
    std::string reply;
    if (line->too_long) {
      reply = "ERR line too long\r\n";
    } else if (line->text == "STARTTLS" && !stream.secure()) {
      if (!(co_await stream.write("OK begin TLS\r\n")) || !(co_await stream.flush())) break;
      if (!(co_await stream.start_tls(shared.tls))) break;
      continue;
    } else if (line->text == "TLS?") {
      reply = stream.secure() ? "TLS " + stream.tls_summary() + "\r\n" : "TLS none\r\n";
    } else if (line->text == "QUIT") {
      (void)co_await stream.write("BYE\r\n");
      (void)co_await stream.flush();
      break;
    } else {
      reply = "ECHO " + std::string(line->text) + "\r\n";
    }
    ok = (co_await stream.write(reply)).has_value();
    // Answer a pipelined batch with one send: flush only when no more input waits.
    if (ok && !stream.has_buffered_input()) ok = (co_await stream.flush()).has_value();
  }
  co_await stream.close();
}

kio::task<void> counted_session(std::unique_ptr<kio::connection> conn, line_server_shared& shared, bool implicit_tls) {
  kio::socket_address peer = conn->peer();
  co_await session(std::move(conn), shared, implicit_tls);
  shared.per_ip.release(peer);
}

kio::task<void> accept_loop(kio::reactor& r, line_server_shared& shared, kio::socket_address address, bool implicit_tls) {
  auto bound = kio::listener::bind(r, address);
  if (!bound) {
    std::fprintf(stderr, "ringmail: core %u: cannot listen on %s: %s\n", r.id(), address.to_string().c_str(),
                 bound.error().message().c_str());
    co_return;
  }
  kio::listener& l = **bound;
  r.on_stop([&l] { l.close(); });
  for (;;) {
    auto a = co_await l.accept();
    if (!a) break;
    if (r.connection_count() >= shared.config.connections_per_core_max ||
        !shared.per_ip.try_acquire(a->peer, shared.config.connections_per_ip_max)) {
      // Over a limit: a one-line refusal, best effort, and no session.
      static constexpr char refusal[] = "ERR too many connections\r\n";
      (void)::write(a->fd, refusal, sizeof refusal - 1);
      ::close(a->fd);
      continue;
    }
    r.spawn(counted_session(std::make_unique<kio::connection>(r, a->fd, a->peer, shared.config.connection), shared,
                            implicit_tls));
  }
}

}  // namespace

kio::task<void> run_line_server(kio::reactor& r, line_server_shared& shared) {
  if (shared.config.plain_address) r.spawn(accept_loop(r, shared, *shared.config.plain_address, false));
  if (shared.config.tls_address) r.spawn(accept_loop(r, shared, *shared.config.tls_address, true));
  co_return;
}

}  // namespace appliance::demo
