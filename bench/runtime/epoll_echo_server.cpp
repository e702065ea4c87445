#include "bench/runtime/epoll_echo_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <future>
#include <unordered_set>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace echo_bench {

namespace {

struct handle {
  enum class kind { listener, connection, wake };
  kind what;
};

struct listener_handle : handle {
  int fd = -1;
  echo_mode mode = echo_mode::line;
  bool tls = false;
};

struct connection_handle : handle {
  int fd = -1;
  SSL* ssl = nullptr;
  echo_mode mode = echo_mode::line;
  bool handshake_done = false;
  std::string out;       // echo bytes the socket has not taken yet
  size_t out_offset = 0;
  std::string partial;   // line mode: a line split across reads
};

// One read or write on either transport. > 0: bytes moved; 0: would block;
// < 0: the stream ended (EOF, close_notify, or an error).
ssize_t transport_read(connection_handle& c, char* into, size_t length) {
  if (c.ssl) {
    int rc = SSL_read(c.ssl, into, int(length));
    if (rc > 0) return rc;
    int e = SSL_get_error(c.ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    ERR_clear_error();
    return -1;
  }
  ssize_t n = ::recv(c.fd, into, length, 0);
  if (n > 0) return n;
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  return -1;
}

ssize_t transport_write(connection_handle& c, const char* bytes, size_t length) {
  if (c.ssl) {
    int rc = SSL_write(c.ssl, bytes, int(length));
    if (rc > 0) return rc;
    int e = SSL_get_error(c.ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    ERR_clear_error();
    return -1;
  }
  ssize_t n = ::send(c.fd, bytes, length, MSG_NOSIGNAL);
  if (n > 0) return n;
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  return -1;
}

int open_listener(uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) < 0 || ::listen(fd, 4096) < 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) < 0) {
    ::close(fd);
    return -1;
  }
  port = ntohs(address.sin_port);
  return fd;
}


// Single writer (the loop), readers elsewhere: relaxed load+store keeps the
// increment a plain add, so counting does not slow the baseline down.
void bump(std::atomic<uint64_t>& counter) { counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }

}  // namespace

struct epoll_echo_server::state {
  std::atomic<uint64_t> waits{0}, reads{0}, writes{0};
  int epoll_fd = -1;
  int wake_fd = -1;
  SSL_CTX* tls = nullptr;
  std::shared_ptr<const tls::server_context> tls_owner;  // keeps `tls` alive
  std::vector<char> buffer;
  handle wake{handle::kind::wake};
  std::vector<std::unique_ptr<listener_handle>> listeners;
  std::unordered_set<connection_handle*> connections;

  void run();
  void accept_all(listener_handle& l);
  bool service(connection_handle& c);
  bool flush(connection_handle& c);
  void close_connection(connection_handle* c);
  ssize_t read(connection_handle& c, char* into, size_t length) {
    bump(reads);
    return transport_read(c, into, length);
  }
  ssize_t write(connection_handle& c, const char* bytes, size_t length) {
    bump(writes);
    return transport_write(c, bytes, length);
  }
};

void epoll_echo_server::state::run() {
  epoll_event events[256];
  for (;;) {
    int n = ::epoll_wait(epoll_fd, events, 256, -1);
    bump(waits);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    bool stop = false;
    for (int i = 0; i < n; ++i) {
      auto* h = static_cast<handle*>(events[i].data.ptr);
      switch (h->what) {
        case handle::kind::wake: stop = true; break;
        case handle::kind::listener: accept_all(*static_cast<listener_handle*>(h)); break;
        case handle::kind::connection: {
          auto* c = static_cast<connection_handle*>(h);
          if (!service(*c)) close_connection(c);
          break;
        }
      }
    }
    if (stop) break;
  }
  for (connection_handle* c : std::vector<connection_handle*>(connections.begin(), connections.end()))
    close_connection(c);
  for (auto& l : listeners) ::close(l->fd);
}

void epoll_echo_server::state::accept_all(listener_handle& l) {
  for (;;) {
    int fd = ::accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: drained (edge-triggered); anything else: try at the next edge
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto* c = new connection_handle{{handle::kind::connection}};
    c->fd = fd;
    c->mode = l.mode;
    if (l.tls) {
      c->ssl = SSL_new(tls);
      SSL_set_fd(c->ssl, fd);
      SSL_set_accept_state(c->ssl);
      // Partial writes so a full socket returns what was sent; the retry
      // after EPOLLOUT passes the unsent tail from our own buffer.
      SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    } else {
      c->handshake_done = true;
    }
    connections.insert(c);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = static_cast<handle*>(c);
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    // The client's first bytes (a ClientHello) may already be queued, and an
    // edge-triggered registration reports them only as an edge we might have
    // missed: look now.
    if (!service(*c)) close_connection(c);
  }
}

bool epoll_echo_server::state::flush(connection_handle& c) {
  while (c.out_offset < c.out.size()) {
    ssize_t n = write(c, c.out.data() + c.out_offset, c.out.size() - c.out_offset);
    if (n < 0) return false;
    if (n == 0) return true;
    c.out_offset += size_t(n);
  }
  c.out.clear();
  c.out_offset = 0;
  return true;
}

// Runs the connection until its socket would block (edge-triggered: every
// readable byte must be taken now, or no new edge will announce it).
bool epoll_echo_server::state::service(connection_handle& c) {
  if (!c.handshake_done) {
    int rc = SSL_do_handshake(c.ssl);
    if (rc != 1) {
      int e = SSL_get_error(c.ssl, rc);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return true;
      ERR_clear_error();
      return false;
    }
    c.handshake_done = true;
  }
  for (;;) {
    if (!flush(c)) return false;
    // Back-pressure: read nothing more until the peer has taken our echo.
    if (c.out_offset < c.out.size()) return true;
    ssize_t n = read(c, buffer.data(), buffer.size());
    if (n == 0) return true;
    if (n < 0) return false;
    const char* p = buffer.data();
    const char* end = p + n;
    if (c.mode == echo_mode::block) {
      // Send straight from the read buffer; keep only what the socket refused.
      while (p < end) {
        ssize_t w = write(c, p, size_t(end - p));
        if (w < 0) return false;
        if (w == 0) break;
        p += w;
      }
      c.out.append(p, end);
      continue;
    }
    while (p < end) {
      const char* newline = static_cast<const char*>(std::memchr(p, '\n', size_t(end - p)));
      if (!newline) {
        c.partial.append(p, end);
        if (c.partial.size() > line_length_max) return false;
        break;
      }
      if (!c.partial.empty()) {
        c.out += c.partial;
        c.partial.clear();
      }
      c.out.append(p, newline + 1);
      p = newline + 1;
    }
  }
}

void epoll_echo_server::state::close_connection(connection_handle* c) {
  if (c->ssl) {
    if (c->handshake_done) (void)SSL_shutdown(c->ssl);  // close_notify, as ringmail's stream sends
    SSL_free(c->ssl);
    ERR_clear_error();
  }
  ::close(c->fd);  // also leaves the epoll set
  connections.erase(c);
  delete c;
}

std::unique_ptr<epoll_echo_server> epoll_echo_server::start(std::shared_ptr<const tls::server_context> tls,
                                                            int cpu, size_t read_buffer_bytes, std::string& error) {
  std::unique_ptr<epoll_echo_server> server(new epoll_echo_server());
  auto st = std::make_unique<state>();
  st->tls = tls->native_handle();
  st->tls_owner = std::move(tls);
  st->buffer.resize(read_buffer_bytes);
  st->epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  st->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (st->epoll_fd < 0 || st->wake_fd < 0) {
    error = std::string("epoll/eventfd: ") + std::strerror(errno);
    return nullptr;
  }
  epoll_event wake_event{};
  wake_event.events = EPOLLIN;
  wake_event.data.ptr = &st->wake;
  ::epoll_ctl(st->epoll_fd, EPOLL_CTL_ADD, st->wake_fd, &wake_event);

  struct endpoint {
    echo_mode mode;
    bool tls;
    uint16_t* port;
  };
  const endpoint endpoints[] = {
      {echo_mode::line, false, &server->_ports.line_plain},
      {echo_mode::line, true, &server->_ports.line_tls},
      {echo_mode::block, false, &server->_ports.block_plain},
      {echo_mode::block, true, &server->_ports.block_tls},
  };
  for (const endpoint& e : endpoints) {
    auto l = std::make_unique<listener_handle>();
    l->what = handle::kind::listener;
    l->mode = e.mode;
    l->tls = e.tls;
    l->fd = open_listener(*e.port);
    if (l->fd < 0) {
      error = std::string("epoll listener: ") + std::strerror(errno);
      return nullptr;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = static_cast<handle*>(l.get());
    ::epoll_ctl(st->epoll_fd, EPOLL_CTL_ADD, l->fd, &ev);
    st->listeners.push_back(std::move(l));
  }
  server->_wake_fd = st->wake_fd;
  server->_state = std::move(st);

  std::promise<clockid_t> clock;
  auto clock_future = clock.get_future();
  server->_thread = std::thread([s = server->_state.get(), cpu, &clock] {
    pin_to_cpu(cpu);
    pthread_setname_np(pthread_self(), "epoll-server");
    clockid_t id{};
    pthread_getcpuclockid(pthread_self(), &id);
    clock.set_value(id);
    s->run();
  });
  server->_cpu_clock = clock_future.get();
  return server;
}

epoll_echo_server::~epoll_echo_server() { stop(); }

epoll_echo_server::counters epoll_echo_server::stats() const {
  return {_state->waits.load(std::memory_order_relaxed), _state->reads.load(std::memory_order_relaxed),
          _state->writes.load(std::memory_order_relaxed)};
}

void epoll_echo_server::stop() {
  if (_stopped || !_state) return;
  _stopped = true;
  uint64_t one = 1;
  (void)::write(_wake_fd, &one, sizeof one);
  _thread.join();
  ::close(_state->wake_fd);
  ::close(_state->epoll_fd);
}

}  // namespace echo_bench
