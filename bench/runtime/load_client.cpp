#include "bench/runtime/load_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench/runtime/echo_common.h"

namespace echo_bench {

namespace {

struct client_connection {
  enum class phase { connecting, handshaking, echo, done };
  int fd = -1;
  SSL* ssl = nullptr;
  phase state = phase::connecting;
  size_t sent = 0;
  size_t received = 0;
  std::vector<char> echo;  // what came back, compared with the message
};

std::string tls_error_text() {
  char text[256];
  unsigned long e = ERR_get_error();
  ERR_error_string_n(e, text, sizeof text);
  ERR_clear_error();
  return text;
}

class load_runner {
 public:
  load_runner(const load_spec& spec, load_result& out) : _spec(spec), _out(out) {}
  void run();

 private:
  bool open_ready(client_connection& c);       // blocking connect + handshake, then non-blocking
  bool open_async(client_connection& c);       // non-blocking connect; the handshake runs in step()
  bool step(client_connection& c);
  bool watch(client_connection& c);
  void close_connection(client_connection& c);
  ssize_t transport_read(client_connection& c, char* into, size_t length);
  ssize_t transport_write(client_connection& c, const char* bytes, size_t length);
  bool failed(std::string why) {
    if (_out.error.empty()) _out.error = std::move(why);
    return false;
  }

  const load_spec& _spec;
  load_result& _out;
  int _epoll_fd = -1;
  std::vector<char> _message;
  std::vector<client_connection> _connections;
  double _deadline = 0;
  unsigned _finished = 0;
  sockaddr_in _server{};
};

ssize_t load_runner::transport_read(client_connection& c, char* into, size_t length) {
  if (c.ssl) {
    int rc = SSL_read(c.ssl, into, int(length));
    if (rc > 0) return rc;
    int e = SSL_get_error(c.ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    failed(e == SSL_ERROR_ZERO_RETURN ? "server sent close_notify mid-echo" : "SSL_read: " + tls_error_text());
    return -1;
  }
  ssize_t n = ::recv(c.fd, into, length, 0);
  if (n > 0) return n;
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  failed(n == 0 ? "server closed mid-echo" : std::string("recv: ") + std::strerror(errno));
  return -1;
}

ssize_t load_runner::transport_write(client_connection& c, const char* bytes, size_t length) {
  if (c.ssl) {
    int rc = SSL_write(c.ssl, bytes, int(length));
    if (rc > 0) return rc;
    int e = SSL_get_error(c.ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    failed("SSL_write: " + tls_error_text());
    return -1;
  }
  ssize_t n = ::send(c.fd, bytes, length, MSG_NOSIGNAL);
  if (n > 0) return n;
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  failed(std::string("send: ") + std::strerror(errno));
  return -1;
}

bool load_runner::watch(client_connection& c) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = &c;
  if (::epoll_ctl(_epoll_fd, EPOLL_CTL_ADD, c.fd, &ev) < 0) return failed(std::string("epoll_ctl: ") + std::strerror(errno));
  return true;
}

bool load_runner::open_ready(client_connection& c) {
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c.fd < 0) return failed(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(c.fd, reinterpret_cast<sockaddr*>(&_server), sizeof _server) < 0)
    return failed(std::string("connect: ") + std::strerror(errno));
  if (_spec.tls) {
    c.ssl = SSL_new(_spec.client_tls);
    SSL_set_fd(c.ssl, c.fd);
    if (SSL_connect(c.ssl) != 1) return failed("SSL_connect: " + tls_error_text());
    SSL_set_mode(c.ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    _out.cipher = std::string(SSL_get_version(c.ssl)) + " " + SSL_CIPHER_get_name(SSL_get_current_cipher(c.ssl));
  }
  ::fcntl(c.fd, F_SETFL, ::fcntl(c.fd, F_GETFL) | O_NONBLOCK);
  c.state = client_connection::phase::echo;
  return watch(c);
}

bool load_runner::open_async(client_connection& c) {
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) return failed(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rc = ::connect(c.fd, reinterpret_cast<sockaddr*>(&_server), sizeof _server);
  if (rc < 0 && errno != EINPROGRESS) return failed(std::string("connect: ") + std::strerror(errno));
  c.ssl = SSL_new(_spec.client_tls);
  SSL_set_fd(c.ssl, c.fd);
  SSL_set_connect_state(c.ssl);
  SSL_set_mode(c.ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  c.state = rc == 0 ? client_connection::phase::handshaking : client_connection::phase::connecting;
  c.sent = c.received = 0;
  if (!watch(c)) return false;
  // The registration reports the socket's current readiness once (an edge),
  // so a connect that already completed is not missed; stepping now saves a
  // round through epoll.
  return c.state == client_connection::phase::connecting || step(c);
}

void load_runner::close_connection(client_connection& c) {
  if (c.fd < 0) return;
  if (c.ssl) {
    (void)SSL_shutdown(c.ssl);  // close_notify, like a polite mail client
    SSL_free(c.ssl);
    c.ssl = nullptr;
    ERR_clear_error();
  }
  // Abortive close: the client would otherwise keep every closed connection
  // in TIME_WAIT and run out of ephemeral ports in the handshake case.
  linger hard{1, 0};
  ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  ::close(c.fd);
  c.fd = -1;
}

// Advances one connection until its socket would block. Edge-triggered: all
// readable bytes must be taken now.
bool load_runner::step(client_connection& c) {
  using phase = client_connection::phase;
  if (c.state == phase::connecting) {
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error) return failed(std::string("connect: ") + std::strerror(error));
    sockaddr_in peer{};
    socklen_t peer_length = sizeof peer;
    if (::getpeername(c.fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) < 0) return true;  // still connecting
    c.state = phase::handshaking;
  }
  if (c.state == phase::handshaking) {
    int rc = SSL_do_handshake(c.ssl);
    if (rc != 1) {
      int e = SSL_get_error(c.ssl, rc);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return true;
      return failed("handshake: " + tls_error_text());
    }
    if (_out.cipher.empty())
      _out.cipher = std::string(SSL_get_version(c.ssl)) + " " + SSL_CIPHER_get_name(SSL_get_current_cipher(c.ssl));
    c.state = phase::echo;
  }
  if (c.state != phase::echo) return true;
  const size_t size = _message.size();
  for (;;) {
    bool progress = false;
    while (c.sent < size) {
      ssize_t n = transport_write(c, _message.data() + c.sent, size - c.sent);
      if (n < 0) return false;
      if (n == 0) break;
      c.sent += size_t(n);
      progress = true;
    }
    while (c.received < size) {
      ssize_t n = transport_read(c, c.echo.data() + c.received, size - c.received);
      if (n < 0) return false;
      if (n == 0) break;
      c.received += size_t(n);
      progress = true;
    }
    if (c.received == size) {
      if (std::memcmp(c.echo.data(), _message.data(), size) != 0) return failed("echo differs from what was sent");
      ++_out.operations;
      _out.echoed_bytes += size;
      c.sent = c.received = 0;
      bool more = wall_seconds() < _deadline;
      if (_spec.kind == workload::handshake) {
        close_connection(c);
        if (more) return open_async(c);
      }
      if (!more) {
        c.state = phase::done;
        ++_finished;
        return true;
      }
      continue;
    }
    if (!progress) return true;
  }
}

void load_runner::run() {
  _server.sin_family = AF_INET;
  _server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  _server.sin_port = htons(_spec.port);
  _epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  _message.resize(_spec.message_bytes);
  // Printable, varying content (and a line end for the line protocol), so a
  // server that reorders or drops bytes fails the comparison.
  for (size_t i = 0; i < _message.size(); ++i) _message[i] = char('a' + (i * 7 + i / 26) % 26);
  _message.back() = '\n';
  _connections.resize(_spec.connections);
  for (auto& c : _connections) c.echo.resize(_message.size());

  bool ok = true;
  if (_spec.kind == workload::echo)
    for (auto& c : _connections) ok = ok && open_ready(c);

  const double process_start = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
  const double client_start = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
  const double server_start = clock_seconds(_spec.server_clock);
  const double wall_start = wall_seconds();
  _deadline = wall_start + _spec.seconds;

  for (auto& c : _connections) {
    if (!ok) break;
    ok = _spec.kind == workload::echo ? step(c) : open_async(c);
  }
  epoll_event events[256];
  while (ok && _finished < _connections.size()) {
    if (wall_seconds() > _deadline + _spec.drain_limit_seconds) {
      ok = failed("messages still in flight " + std::to_string(_spec.drain_limit_seconds) +
                  " s after the end: a server stalled");
      break;
    }
    int n = ::epoll_wait(_epoll_fd, events, 256, 100);
    for (int i = 0; ok && i < n; ++i) {
      auto* c = static_cast<client_connection*>(events[i].data.ptr);
      if (c->state != client_connection::phase::done) ok = step(*c);
    }
  }

  _out.wall_seconds = wall_seconds() - wall_start;
  _out.client_cpu_seconds = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - client_start;
  _out.server_thread_cpu_seconds = clock_seconds(_spec.server_clock) - server_start;
  _out.process_cpu_seconds = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - process_start;
  _out.ok = ok;
  for (auto& c : _connections) close_connection(c);
  ::close(_epoll_fd);
}

}  // namespace

load_result run_load(const load_spec& spec) {
  load_result result;
  std::thread client([&] {
    pin_to_cpu(spec.cpu);
    pthread_setname_np(pthread_self(), "load-client");
    load_runner(spec, result).run();
  });
  client.join();
  return result;
}

SSL_CTX* make_client_tls_context() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set1_curves_list(ctx, "X25519");
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  return ctx;
}

}  // namespace echo_bench
