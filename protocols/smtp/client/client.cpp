#include "protocols/smtp/client/client.h"

#include <sys/socket.h>

#include <strings.h>

#include <algorithm>

#include "kernel_io/net/connect.h"
#include "protocols/common/base64.h"
#include "kernel_io/ring/reactor.h"
#include "kernel_io/ring/timer.h"

namespace smtp {

namespace {

// A deadline on one reply: when it passes, the socket is shut down, which
// ends the read in progress; the client then reports the timeout. (The
// connection's own idle timeout is one value for its life; RFC 5321 wants a
// different one per command.)
struct reply_deadline : kio::timer {
  explicit reply_deadline(int fd) : kio::timer(&fire), fd(fd) {}
  ~reply_deadline() { kio::reactor::current()->disarm(*this); }
  static void fire(kio::timer* t) {
    auto* self = static_cast<reply_deadline*>(t);
    self->expired = true;
    ::shutdown(self->fd, SHUT_RDWR);
  }
  int fd;
  bool expired = false;
};

}  // namespace

std::string dot_stuff(std::string_view content) {
  std::string out;
  out.reserve(content.size() + content.size() / 64 + 8);
  bool line_start = true;
  for (char c : content) {
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = c == '\n';
  }
  if (!out.empty() && !(out.size() >= 2 && out[out.size() - 2] == '\r' && out.back() == '\n')) out += "\r\n";
  out += ".\r\n";
  return out;
}

client::client(std::unique_ptr<kio::connection> conn, client_options options)
    : _conn(std::move(conn)), _options(std::move(options)) {
  proto::stream_options so;
  so.line_length_max = 4096;
  so.handshake_timeout_ms = _options.command_timeout_ms;
  _stream = std::make_unique<proto::session_stream>(*_conn, so);
}

client::~client() = default;

kio::task<kio::result<std::unique_ptr<client>, client_failure>> client::open(kio::socket_address address,
                                                                             std::string server_name,
                                                                             client_options options) {
  auto fd = co_await kio::connect_to(address, options.connect_timeout_ms, options.source);
  if (!fd) {
    client_failure f;
    f.text = "connect to " + server_name + "[" + address.to_string() + "] failed: " + fd.error().message();
    co_return kio::fail(std::move(f));
  }
  kio::connection_options co;
  co.idle_timeout_ms = options.data_end_timeout_ms;  // the longest; per-reply deadlines are shorter
  auto conn = std::make_unique<kio::connection>(*kio::reactor::current(), *fd, address, co);
  std::unique_ptr<client> c(new client(std::move(conn), std::move(options)));
  c->_server_name = server_name;
  c->_address = address;
  auto failed = co_await c->hello();
  if (failed) {
    co_await c->close();
    co_return kio::fail(std::move(*failed));
  }
  co_return std::move(c);
}

kio::task<kio::result<server_reply, std::string>> client::read_reply(uint64_t timeout_ms) {
  reply_deadline deadline(_conn->fd());
  kio::reactor::current()->arm(deadline, kio::monotonic_ns() + timeout_ms * 1'000'000u);
  reply_assembler assembler;
  for (;;) {
    auto line = co_await _stream->read_line();
    if (!line) {
      _broken = true;
      if (deadline.expired) co_return kio::fail(std::string("timeout waiting for the server's reply"));
      co_return kio::fail("connection lost: " + line.error().describe());
    }
    if (line->too_long) {
      _broken = true;
      co_return kio::fail(std::string("reply line too long"));
    }
    auto s = assembler.feed(line->text);
    if (s == reply_assembler::status::complete) co_return assembler.take();
    if (s == reply_assembler::status::error) {
      _broken = true;
      co_return kio::fail("malformed reply line: " + std::string(line->text.substr(0, 80)));
    }
  }
}

kio::task<kio::result<server_reply, std::string>> client::command(std::string line, uint64_t timeout_ms) {
  line += "\r\n";
  auto w = co_await _stream->write(line);
  if (w) w = co_await _stream->flush();
  if (!w) {
    _broken = true;
    co_return kio::fail("connection lost: " + w.error().describe());
  }
  auto r = co_await read_reply(timeout_ms);
  co_return r;
}

kio::task<std::optional<client_failure>> client::hello() {
  auto greeting = co_await read_reply(_options.greeting_timeout_ms);
  if (!greeting) co_return client_failure{{}, "greeting: " + greeting.error()};
  if (greeting->code != 220) co_return client_failure{*greeting, "greeting refused"};
  auto ehlo = co_await command("EHLO " + _options.helo_name, _options.command_timeout_ms);
  if (!ehlo) co_return client_failure{{}, "EHLO: " + ehlo.error()};
  if (ehlo->code != 250) {
    auto helo = co_await command("HELO " + _options.helo_name, _options.command_timeout_ms);
    if (!helo) co_return client_failure{{}, "HELO: " + helo.error()};
    if (helo->code != 250) co_return client_failure{*helo, "HELO refused"};
    _caps = {};
  } else {
    _caps = parse_ehlo(*ehlo);
  }
  if (_caps.starttls && _options.tls) {
    auto ready = co_await command("STARTTLS", _options.command_timeout_ms);
    if (!ready) co_return client_failure{{}, "STARTTLS: " + ready.error()};
    if (ready->code == 220) {
      auto shaken = co_await _stream->start_tls_client(_options.tls, _server_name);
      if (!shaken) {
        _broken = true;
        co_return client_failure{{}, "TLS handshake with " + _server_name + " failed: " + shaken.error().describe()};
      }
      auto again = co_await command("EHLO " + _options.helo_name, _options.command_timeout_ms);
      if (!again) co_return client_failure{{}, "EHLO after STARTTLS: " + again.error()};
      if (again->code != 250) co_return client_failure{*again, "EHLO after STARTTLS refused"};
      _caps = parse_ehlo(*again);
    } else if (_options.require_tls) {
      co_return client_failure{{}, "STARTTLS refused: " + ready->summary()};
    }
  }
  if (_options.require_tls && !_stream->secure())
    co_return client_failure{{}, "TLS is required for " + _server_name + " and it does not offer STARTTLS"};
  if (!_options.auth_user.empty()) {
    // Credentials never cross a connection without TLS.
    if (!_stream->secure())
      co_return client_failure{{}, "AUTH to " + _server_name + " needs TLS and it does not offer STARTTLS"};
    bool plain = std::any_of(_caps.auth_mechanisms.begin(), _caps.auth_mechanisms.end(),
                             [](const std::string& m) { return strcasecmp(m.c_str(), "PLAIN") == 0; });
    if (!plain) co_return client_failure{{}, _server_name + " does not offer AUTH PLAIN"};
    std::string token;
    token.push_back('\0');
    token += _options.auth_user;
    token.push_back('\0');
    token += _options.auth_password;
    std::string line = "AUTH PLAIN " + proto::base64_encode(token);
    std::fill(token.begin(), token.end(), '\0');
    auto authed = co_await command(line, _options.command_timeout_ms);
    std::fill(line.begin(), line.end(), '\0');
    if (!authed) co_return client_failure{{}, "AUTH: " + authed.error()};
    if (authed->code != 235) co_return client_failure{*authed, "AUTH refused"};
  }
  co_return std::nullopt;
}

kio::task<send_result> client::send(const outbound_message& m) {
  send_result out;
  auto lost = [&](std::string why) {
    out.connection_lost = true;
    server_reply r;
    r.code = 451;
    r.enhanced = "4.4.2";
    r.lines = {std::move(why)};
    out.transaction_failure = r;
    out.rcpt.assign(m.recipients.size(), r);
  };
  if (_used) {
    auto rset = co_await command("RSET", _options.command_timeout_ms);
    if (!rset || rset->code != 250) {
      _broken = true;
      lost(rset ? "RSET refused: " + rset->summary() : rset.error());
      co_return out;
    }
  }
  _used = true;
  if (m.needs_smtputf8 && !_caps.smtputf8) {
    server_reply r;
    r.code = 553;
    r.enhanced = "5.6.7";
    r.lines = {"the receiving server " + _server_name + " does not support SMTPUTF8, required by a UTF-8 address"};
    out.transaction_failure = r;
    out.rcpt.assign(m.recipients.size(), r);
    co_return out;
  }
  if (_caps.size_max && *_caps.size_max > 0 && m.content.size() > *_caps.size_max) {
    server_reply r;
    r.code = 552;
    r.enhanced = "5.3.4";
    r.lines = {"message size " + std::to_string(m.content.size()) + " exceeds " + _server_name + "'s limit of " +
               std::to_string(*_caps.size_max)};
    out.transaction_failure = r;
    out.rcpt.assign(m.recipients.size(), r);
    co_return out;
  }
  std::string mail = "MAIL FROM:<" + m.sender + ">";
  if (_caps.size_max) mail += " SIZE=" + std::to_string(m.content.size());
  if (m.eight_bit && _caps.eightbitmime) mail += " BODY=8BITMIME";
  if (m.needs_smtputf8) mail += " SMTPUTF8";
  if (_caps.dsn) mail += m.mail_parameters;
  std::vector<std::string> commands;
  commands.push_back(mail);
  for (size_t i = 0; i < m.recipients.size(); ++i) {
    std::string rcpt = "RCPT TO:<" + m.recipients[i] + ">";
    if (_caps.dsn && i < m.rcpt_parameters.size()) rcpt += m.rcpt_parameters[i];
    commands.push_back(std::move(rcpt));
  }
  // RFC 2920: with PIPELINING, MAIL, every RCPT and DATA go in one write
  // and the replies are read in order. Without it, one at a time.
  // RFC 3030 CHUNKING: the content goes as one "BDAT n LAST" after the RCPT
  // replies instead of DATA (no 354 round trip, no dot-stuffing); it is not
  // pipelined behind the RCPTs, so a message no recipient took is not sent.
  const bool bdat = _caps.chunking;
  if (!bdat) commands.push_back("DATA");
  std::vector<server_reply> replies;
  if (_caps.pipelining) {
    for (const auto& c : commands) {
      auto w = co_await _stream->write(c + "\r\n");
      if (!w) {
        _broken = true;
        lost("connection lost: " + w.error().describe());
        co_return out;
      }
    }
    auto f = co_await _stream->flush();
    if (!f) {
      _broken = true;
      lost("connection lost: " + f.error().describe());
      co_return out;
    }
    for (size_t i = 0; i < commands.size(); ++i) {
      uint64_t timeout =
          i + 1 == commands.size() && !bdat ? _options.data_init_timeout_ms : _options.command_timeout_ms;
      auto r = co_await read_reply(timeout);
      if (!r) {
        lost(r.error());
        co_return out;
      }
      replies.push_back(std::move(*r));
    }
  } else {
    for (size_t i = 0; i < commands.size(); ++i) {
      uint64_t timeout =
          i + 1 == commands.size() && !bdat ? _options.data_init_timeout_ms : _options.command_timeout_ms;
      auto r = co_await command(commands[i], timeout);
      if (!r) {
        lost(r.error());
        co_return out;
      }
      replies.push_back(std::move(*r));
      // Without pipelining, stop at a refused MAIL or when no RCPT passed.
      if (i == 0 && !replies[0].positive()) break;
      if (!bdat && i + 2 == commands.size()) {
        bool any = false;
        for (size_t k = 1; k < replies.size(); ++k) any = any || replies[k].positive();
        if (!any) break;
      }
    }
  }
  if (!replies[0].positive()) {
    out.transaction_failure = replies[0];
    out.rcpt.assign(m.recipients.size(), replies[0]);
    if (!bdat && replies.size() == commands.size() && replies.back().code == 354) _broken = true;  // expects data
    co_return out;
  }
  bool any_accepted = false;
  for (size_t i = 0; i < m.recipients.size(); ++i) {
    if (i + 1 < replies.size()) {
      out.rcpt.push_back(replies[i + 1]);
      any_accepted = any_accepted || replies[i + 1].positive();
    } else {
      out.rcpt.push_back(replies.back());
    }
  }
  if (replies.size() < commands.size()) co_return out;  // stopped before DATA (no recipient)
  if (bdat) {
    if (!any_accepted) co_return out;
    std::string chunk = "BDAT " + std::to_string(m.content.size()) + " LAST\r\n";
    auto w = co_await _stream->write(chunk);
    if (w) w = co_await _stream->flush();
    if (!w) {
      _broken = true;
      lost("connection lost: " + w.error().describe());
      co_return out;
    }
    reply_deadline deadline(_conn->fd());
    kio::reactor::current()->arm(deadline, kio::monotonic_ns() + _options.data_block_timeout_ms * 1'000'000u *
                                                                      (1 + m.content.size() / (1u << 20)));
    auto sent = co_await _stream->write_direct(std::as_bytes(std::span<const char>(m.content.data(), m.content.size())));
    kio::reactor::current()->disarm(deadline);
    if (!sent) {
      _broken = true;
      lost(deadline.expired ? std::string("timeout sending the message")
                            : "connection lost: " + sent.error().describe());
      co_return out;
    }
    auto done = co_await read_reply(_options.data_end_timeout_ms);
    if (!done) {
      lost(done.error());  // as after the final dot: retried, never lost
      co_return out;
    }
    out.data = *done;
    out.chunked = true;
    if (!done->positive()) out.transaction_failure = *done;
    co_return out;
  }
  const server_reply& data_go = replies.back();
  if (data_go.code != 354) {
    if (any_accepted) out.transaction_failure = data_go;
    out.data = data_go;
    co_return out;
  }
  if (!any_accepted) {
    // A pipelining server said 354 though every RCPT failed: end the data
    // with an empty message it must refuse, and leave the connection be.
    auto r = co_await command(".", _options.data_end_timeout_ms);
    (void)r;
    co_return out;
  }
  std::string body = dot_stuff(m.content);
  reply_deadline deadline(_conn->fd());
  kio::reactor::current()->arm(deadline, kio::monotonic_ns() + _options.data_block_timeout_ms * 1'000'000u *
                                                                    (1 + body.size() / (1u << 20)));
  auto w = co_await _stream->write_direct(std::as_bytes(std::span<const char>(body.data(), body.size())));
  kio::reactor::current()->disarm(deadline);
  if (!w) {
    _broken = true;
    lost(deadline.expired ? std::string("timeout sending the message") : "connection lost: " + w.error().describe());
    co_return out;
  }
  auto done = co_await read_reply(_options.data_end_timeout_ms);
  if (!done) {
    // RFC 5321 §4.1.1.4 / RFC 1047: no reply to the final dot may still
    // mean delivered; the recipients are retried (a duplicate, never a loss).
    lost(done.error());
    co_return out;
  }
  out.data = *done;
  if (!done->positive()) out.transaction_failure = *done;
  co_return out;
}

kio::task<void> client::close() {
  if (!_broken) {
    auto q = co_await command("QUIT", 10'000);
    (void)q;
  }
  co_await _stream->close();  // closes the connection too
}

}  // namespace smtp
