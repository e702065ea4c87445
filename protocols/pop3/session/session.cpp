#include "protocols/pop3/session/session.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string_view>
#include <vector>

#include "protocols/common/sasl.h"
#include "protocols/pop3/parser/parser.h"
#include "protocols/stream/session_stream.h"

namespace pop3 {

std::string unique_id(std::uint32_t uid_validity, std::uint32_t uid) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", uid_validity, uid);
  return buf;
}

namespace session_detail {

// Message bodies are stuffed and sent in pieces of this size, so RETR of a
// large message never holds a second, stuffed copy of all of it.
constexpr std::size_t body_piece_bytes = 64 * 1024;

// One POP3 session. Lives in run_session's frame; every member coroutine is
// awaited by run(), so `this` outlives them all. Owned by the connection's
// core.
class session {
 public:
  session(kio::connection& conn, const session_config& config, authenticator& auth, std::string id)
      : _conn(conn), _config(config), _auth(auth), _stream(conn, stream_options(config)), _id(std::move(id)) {
    _limits.command_line_length_max = config.limits.line_length_max;
    _limits.argument_length_max = config.limits.line_length_max;
    _limits.sasl_line_length_max = config.limits.sasl_line_length_max;
  }

  kio::task<void> run();

 private:
  enum class state : std::uint8_t { authorization, transaction };
  enum class next : std::uint8_t { go_on, close };

  static proto::stream_options stream_options(const session_config& config) {
    proto::stream_options o;
    // The stream's bound is the longest line we ever read (an AUTH
    // response); command lines are checked against their own limit.
    o.line_length_max = std::max(config.limits.line_length_max, config.limits.sasl_line_length_max);
    return o;
  }
  bool login_allowed() const { return _stream.secure() || _config.login_over_plaintext; }

  kio::task<bool> send(std::string_view text, bool flush_now = false);
  kio::task<next> ok(std::string_view text);
  kio::task<next> err(std::string_view text);
  kio::task<next> protocol_error(std::string_view text);

  kio::task<next> dispatch(const command& cmd);
  kio::task<next> on_capa();
  kio::task<next> on_stls();
  kio::task<next> on_user(const command& cmd);
  kio::task<next> on_pass(const command& cmd);
  kio::task<next> on_auth(const command& cmd);
  kio::task<next> login(std::string_view user, std::string_view password);
  kio::task<next> on_quit();
  kio::task<next> on_list(const command& cmd, bool uidl);
  kio::task<next> on_retr(const command& cmd, bool top);
  struct sasl_line {
    std::string text;
    bool too_long = false;
  };
  kio::task<std::optional<sasl_line>> read_sasl_line();

  // Message number n (1-based) to a live (not deleted) index; nullopt after
  // the -ERR has been queued.
  std::optional<std::size_t> live_index(std::uint32_t number, std::string& refusal) const;
  std::uint64_t live_octets() const;
  std::size_t live_count() const;

  kio::connection& _conn;
  const session_config& _config;
  authenticator& _auth;
  proto::session_stream _stream;
  std::string _id;
  parser_limits _limits;
  state _state = state::authorization;
  std::string _user;  // from USER, waiting for PASS
  std::unique_ptr<maildrop> _maildrop;
  maildrop_snapshot _snapshot;
  std::vector<bool> _deleted;  // by message index
  std::size_t _errors = 0;
  bool _quit = false;
};

kio::task<bool> session::send(std::string_view text, bool flush_now) {
  if (!co_await _stream.write(text)) co_return false;
  // PIPELINING (RFC 2449): a batch of commands gets its responses in one
  // send; flush when the client is waiting for us.
  if (flush_now || !_stream.has_buffered_input()) {
    bool flushed = (co_await _stream.flush()).has_value();
    co_return flushed;
  }
  co_return true;
}

kio::task<session::next> session::ok(std::string_view text) {
  std::string line = "+OK";
  if (!text.empty()) line += ' ';
  line += text;
  line += "\r\n";
  bool sent = co_await send(line);
  co_return sent ? next::go_on : next::close;
}

kio::task<session::next> session::err(std::string_view text) {
  std::string line = "-ERR ";
  line += text;
  line += "\r\n";
  bool sent = co_await send(line);
  co_return sent ? next::go_on : next::close;
}

// A command the client should not have sent: counts towards errors_max.
kio::task<session::next> session::protocol_error(std::string_view text) {
  if (++_errors > _config.limits.errors_max) {
    co_await send("-ERR Too many invalid commands, closing the connection\r\n", true);
    co_return next::close;
  }
  auto awaited = co_await err(text);
  co_return awaited;
}

kio::task<void> session::run() {
  if (_config.implicit_tls) {
    if (!co_await _stream.start_tls(_config.tls)) {
      co_await _stream.close();
      co_return;
    }
  }
  bool alive = co_await send("+OK " + _config.hostname + " ringmail POP3 ready\r\n", true);
  while (alive && !_quit) {
    _conn.options().idle_timeout_ms =
        _state == state::authorization ? _config.limits.login_timeout_ms : _config.limits.idle_timeout_ms;
    _stream.set_between_commands(!_stream.has_buffered_input());
    auto line = co_await _stream.read_line();
    _stream.set_between_commands(false);
    if (!line) {
      // Any end but QUIT: no UPDATE state, nothing is removed (RFC 1939 6).
      auto what = line.error().what;
      if (what == proto::stream_error::kind::timeout)
        co_await send("-ERR Autologout: idle for too long\r\n", true);
      else if (what == proto::stream_error::kind::shutdown)
        co_await send("-ERR [SYS/TEMP] Server shutting down; nothing was deleted\r\n", true);
      break;
    }
    if (line->too_long || line->text.size() + 2 > _config.limits.line_length_max) {
      alive = (co_await protocol_error("Line too long")) == next::go_on;
      continue;
    }
    auto parsed = parse_command(line->text, _limits);
    if (!parsed) {
      std::string text = "Bad command: ";
      text += to_string(parsed.error());
      alive = (co_await protocol_error(text)) == next::go_on;
      continue;
    }
    alive = (co_await dispatch(*parsed)) == next::go_on;
  }
  co_await _stream.flush();
  _maildrop.reset();  // releases the maildrop lock before the socket closes
  co_await _stream.close();
}

kio::task<session::next> session::dispatch(const command& cmd) {
  switch (cmd.kind) {
    case command_kind::capa: {
      auto awaited = co_await on_capa();
      co_return awaited;
    }
    case command_kind::quit: {
      auto awaited = co_await on_quit();
      co_return awaited;
    }
    default: break;
  }

  if (_state == state::authorization) {
    switch (cmd.kind) {
      case command_kind::stls: {
        auto awaited = co_await on_stls();
        co_return awaited;
      }
      case command_kind::user: {
        auto awaited = co_await on_user(cmd);
        co_return awaited;
      }
      case command_kind::pass: {
        auto awaited = co_await on_pass(cmd);
        co_return awaited;
      }
      case command_kind::auth: {
        auto awaited = co_await on_auth(cmd);
        co_return awaited;
      }
      default: {
        auto awaited = co_await protocol_error("Log in first (USER/PASS or AUTH)");
        co_return awaited;
      }
    }
  }

  switch (cmd.kind) {
    case command_kind::stat: {
      std::string text = std::to_string(live_count()) + " " + std::to_string(live_octets());
      auto awaited = co_await ok(text);
      co_return awaited;
    }
    case command_kind::list: {
      auto awaited = co_await on_list(cmd, false);
      co_return awaited;
    }
    case command_kind::uidl: {
      auto awaited = co_await on_list(cmd, true);
      co_return awaited;
    }
    case command_kind::retr: {
      auto awaited = co_await on_retr(cmd, false);
      co_return awaited;
    }
    case command_kind::top: {
      auto awaited = co_await on_retr(cmd, true);
      co_return awaited;
    }
    case command_kind::dele: {
      std::string refusal;
      auto index = live_index(*cmd.message, refusal);
      if (!index) {
        auto awaited = co_await err(refusal);
        co_return awaited;
      }
      _deleted[*index] = true;
      std::string text = "Message " + std::to_string(*cmd.message) + " deleted";
      auto awaited = co_await ok(text);
      co_return awaited;
    }
    case command_kind::rset: {
      std::fill(_deleted.begin(), _deleted.end(), false);
      std::string text =
          "Maildrop has " + std::to_string(live_count()) + " messages (" + std::to_string(live_octets()) + " octets)";
      auto awaited = co_await ok(text);
      co_return awaited;
    }
    case command_kind::noop: {
      auto awaited = co_await ok("");
      co_return awaited;
    }
    case command_kind::user:
    case command_kind::pass:
    case command_kind::auth:
    case command_kind::stls: {
      auto awaited = co_await protocol_error("Already logged in");
      co_return awaited;
    }
    default: {
      auto awaited = co_await protocol_error("Command not valid here");
      co_return awaited;
    }
  }
}

kio::task<session::next> session::on_capa() {
  std::string out = "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n";
  if (_state == state::authorization) {
    // RFC 2595 section 4 / RFC 2449: no USER or SASL mechanisms when a
    // login would be refused for want of TLS.
    if (login_allowed()) out += "USER\r\nSASL PLAIN\r\n";
    if (_config.tls && !_stream.secure()) out += "STLS\r\n";
  }
  out += "IMPLEMENTATION ringmail\r\n.\r\n";
  bool sent = co_await send(out);
  co_return sent ? next::go_on : next::close;
}

kio::task<session::next> session::on_stls() {
  if (_stream.secure()) {
    auto awaited = co_await protocol_error("Already using TLS");
    co_return awaited;
  }
  if (!_config.tls) {
    auto awaited = co_await protocol_error("STLS not available");
    co_return awaited;
  }
  if (!co_await send("+OK Begin TLS negotiation\r\n", true)) co_return next::close;
  // STARTTLS injection (RFC 2595 section 4 / CVE-2011-0411 class): the
  // stream throws away every plaintext byte it still holds, so nothing
  // pipelined after STLS runs inside TLS. The USER given before TLS is
  // forgotten too: the exchange starts over.
  _user.clear();
  if (!co_await _stream.start_tls(_config.tls)) co_return next::close;
  co_return next::go_on;
}

kio::task<session::next> session::on_user(const command& cmd) {
  if (!login_allowed()) {
    auto awaited = co_await err("Plaintext login is disabled: use STLS or the TLS port first");
    co_return awaited;
  }
  _user = cmd.argument;
  // Always +OK: whether the mailbox exists is not said before the password.
  auto awaited = co_await ok("Send your password");
  co_return awaited;
}

kio::task<session::next> session::on_pass(const command& cmd) {
  if (_user.empty()) {
    auto awaited = co_await protocol_error("USER first");
    co_return awaited;
  }
  std::string user = std::move(_user);
  _user.clear();
  auto awaited = co_await login(user, cmd.argument);
  co_return awaited;
}

kio::task<std::optional<session::sasl_line>> session::read_sasl_line() {
  auto line = co_await _stream.read_line();
  if (!line) co_return std::nullopt;
  sasl_line out;
  out.too_long = line->too_long || line->text.size() + 2 > _config.limits.sasl_line_length_max;
  if (!out.too_long) out.text = std::string(line->text);
  co_return out;
}

kio::task<session::next> session::on_auth(const command& cmd) {
  if (cmd.argument.empty()) {
    // "AUTH" alone: the mechanism list (RFC 1734 usage; Outlook sends it).
    std::string_view list = login_allowed() ? "+OK Mechanisms follow\r\nPLAIN\r\n.\r\n" : "+OK Mechanisms follow\r\n.\r\n";
    bool sent = co_await send(list);
    co_return sent ? next::go_on : next::close;
  }
  if (cmd.argument != "PLAIN") {
    auto awaited = co_await protocol_error("Unsupported authentication mechanism");
    co_return awaited;
  }
  if (!login_allowed()) {
    auto awaited = co_await err("Plaintext login is disabled: use STLS or the TLS port first");
    co_return awaited;
  }
  std::string response;
  if (cmd.initial_response) {
    response = *cmd.initial_response;
  } else {
    if (!co_await send("+ \r\n", true)) co_return next::close;
    auto line = co_await read_sasl_line();
    if (!line) co_return next::close;
    if (line->too_long) {
      auto awaited = co_await protocol_error("Authentication response too long");
      co_return awaited;
    }
    response = std::move(line->text);
  }
  if (response == "*") {
    auto awaited = co_await protocol_error("Authentication cancelled");
    co_return awaited;
  }
  auto credentials = proto::decode_sasl_plain_response(response);
  if (!credentials) {
    auto awaited = co_await protocol_error("Cannot decode the authentication response");
    co_return awaited;
  }
  if (!credentials->authzid.empty() && credentials->authzid != credentials->authcid) {
    auto awaited = co_await err("[AUTH] Proxy authorization is not supported");
    co_return awaited;
  }
  auto awaited = co_await login(credentials->authcid, credentials->password);
  co_return awaited;
}

kio::task<session::next> session::login(std::string_view user, std::string_view password) {
  auth_request request{user, password, _conn.peer().ip_string(), _stream.secure()};
  auto result = co_await _auth.authenticate(request);
  auto said = [&](std::string_view fallback) { return result.text.empty() ? std::string(fallback) : result.text; };
  std::string text;
  switch (result.outcome) {
    case auth_outcome::ok: break;
    case auth_outcome::bad_credentials: {
      text = "[AUTH] " + said("Authentication failed");
      auto awaited = co_await err(text);
      co_return awaited;
    }
    case auth_outcome::blocked:
      text = "-ERR [SYS/TEMP] " + said("Too many failed logins") + "\r\n";
      co_await send(text, true);
      co_return next::close;
    case auth_outcome::tls_required: {
      text = "[AUTH] " + said("This account needs TLS: use STLS or the TLS port");
      auto awaited = co_await err(text);
      co_return awaited;
    }
    case auth_outcome::protocol_not_allowed: {
      text = "[SYS/PERM] " + said("POP3 is not enabled for this account");
      auto awaited = co_await err(text);
      co_return awaited;
    }
    case auth_outcome::in_use: {
      text = "[IN-USE] " + said("Another POP3 session holds this maildrop");
      auto awaited = co_await err(text);
      co_return awaited;
    }
    case auth_outcome::temporary_failure: {
      text = "[SYS/TEMP] " + said("Try again later");
      auto awaited = co_await err(text);
      co_return awaited;
    }
  }
  if (!result.account) {
    auto awaited = co_await err("[SYS/TEMP] No maildrop for this account");
    co_return awaited;
  }
  auto opened = co_await result.account->open();
  if (!opened) {
    text = "[SYS/TEMP] " + (opened.error().text.empty() ? std::string("Maildrop not available") : opened.error().text);
    auto awaited = co_await err(text);
    co_return awaited;
  }
  _maildrop = std::move(result.account);
  _snapshot = std::move(*opened);
  _deleted.assign(_snapshot.messages.size(), false);
  _state = state::transaction;
  text = "Logged in; maildrop has " + std::to_string(live_count()) + " messages (" + std::to_string(live_octets()) +
         " octets)";
  auto awaited = co_await ok(text);
  co_return awaited;
}

kio::task<session::next> session::on_quit() {
  _quit = true;
  if (_state == state::authorization) {
    co_await send("+OK " + _config.hostname + " ringmail POP3 signing off\r\n", true);
    co_return next::close;
  }
  // The UPDATE state (RFC 1939 section 6).
  std::vector<std::uint32_t> uids;
  for (std::size_t i = 0; i < _deleted.size(); ++i)
    if (_deleted[i]) uids.push_back(_snapshot.messages[i].uid);
  if (!uids.empty()) {
    auto removed = co_await _maildrop->remove(uids);
    if (!removed) {
      std::string text = "-ERR [SYS/TEMP] Deleted messages were not removed (" +
                         (removed.error().text.empty() ? std::string("store error") : removed.error().text) + ")\r\n";
      co_await send(text, true);
      co_return next::close;
    }
  }
  // The lock goes before the +OK, so a client that logs in again right
  // after QUIT finds the maildrop free.
  _maildrop.reset();
  std::string text = "+OK " + _config.hostname + " ringmail POP3 signing off (" + std::to_string(live_count()) +
                     " messages left)\r\n";
  co_await send(text, true);
  co_return next::close;
}

std::optional<std::size_t> session::live_index(std::uint32_t number, std::string& refusal) const {
  if (number == 0 || number > _snapshot.messages.size()) {
    refusal = "No such message";
    return std::nullopt;
  }
  std::size_t index = number - 1;
  if (_deleted[index]) {
    refusal = "Message " + std::to_string(number) + " already deleted";
    return std::nullopt;
  }
  return index;
}

std::uint64_t session::live_octets() const {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < _snapshot.messages.size(); ++i)
    if (!_deleted[i]) total += _snapshot.messages[i].size_bytes;
  return total;
}

std::size_t session::live_count() const {
  return static_cast<std::size_t>(std::count(_deleted.begin(), _deleted.end(), false));
}

kio::task<session::next> session::on_list(const command& cmd, bool uidl) {
  auto item = [&](std::size_t index) {
    std::string line = std::to_string(index + 1) + " ";
    const auto& m = _snapshot.messages[index];
    line += uidl ? unique_id(_snapshot.uid_validity, m.uid) : std::to_string(m.size_bytes);
    return line;
  };
  if (cmd.message) {
    std::string refusal;
    auto index = live_index(*cmd.message, refusal);
    if (!index) {
      auto awaited = co_await err(refusal);
      co_return awaited;
    }
    auto awaited = co_await ok(item(*index));
    co_return awaited;
  }
  std::string out = uidl ? "+OK Unique-id listing follows\r\n"
                         : "+OK " + std::to_string(live_count()) + " messages (" + std::to_string(live_octets()) +
                               " octets)\r\n";
  for (std::size_t i = 0; i < _snapshot.messages.size(); ++i) {
    if (_deleted[i]) continue;
    out += item(i);
    out += "\r\n";
    // Bounded memory however large the maildrop: hand the text over as it grows.
    if (out.size() >= body_piece_bytes) {
      if (!co_await _stream.write(out)) co_return next::close;
      out.clear();
    }
  }
  out += ".\r\n";
  bool sent = co_await send(out);
  co_return sent ? next::go_on : next::close;
}

kio::task<session::next> session::on_retr(const command& cmd, bool top) {
  std::string refusal;
  auto index = live_index(*cmd.message, refusal);
  if (!index) {
    auto awaited = co_await err(refusal);
    co_return awaited;
  }
  const message_entry& entry = _snapshot.messages[*index];
  auto message = co_await _maildrop->read_message(entry.uid);
  if (!message) {
    std::string text = message.error().code == service_errc::gone ? std::string() : std::string("[SYS/TEMP] ");
    text += message.error().text.empty() ? std::string("Message cannot be read") : message.error().text;
    auto awaited = co_await err(text);
    co_return awaited;
  }
  std::string_view body = *message;
  if (top) {
    top_filter filter(cmd.lines);
    body = body.substr(0, filter.keep(body));
  }
  std::string out = top ? std::string("+OK Top of message follows\r\n")
                        : "+OK " + std::to_string(entry.size_bytes) + " octets\r\n";
  dot_stuffer stuffer;
  while (!body.empty()) {
    std::string_view piece = body.substr(0, body_piece_bytes);
    body.remove_prefix(piece.size());
    stuffer.append(piece, out);
    if (out.size() >= body_piece_bytes) {
      if (!co_await _stream.write(out)) co_return next::close;
      out.clear();
    }
  }
  stuffer.finish(out);
  bool sent = co_await send(out);
  co_return sent ? next::go_on : next::close;
}

}  // namespace session_detail

kio::task<void> run_session(std::unique_ptr<kio::connection> conn, const session_config& config, authenticator& auth,
                            std::string session_id) {
  session_detail::session s(*conn, config, auth, std::move(session_id));
  co_await s.run();
}

}  // namespace pop3
