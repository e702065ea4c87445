#include "protocols/smtp/session/session.h"

#include <algorithm>
#include <ctime>
#include <string_view>

#include "kernel_io/ring/ops.h"
#include "protocols/common/sasl.h"
#include "protocols/smtp/parser/reply.h"
#include "protocols/stream/session_stream.h"

namespace smtp {

std::string_view listener_name(listener_kind k) {
  switch (k) {
    case listener_kind::mx: return "mx";
    case listener_kind::submission: return "submission";
    case listener_kind::submissions: return "submissions";
  }
  return "?";
}

namespace {
std::string rfc5322_date(time_t now) {
  char buf[64];
  tm t;
  gmtime_r(&now, &t);
  strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &t);
  return buf;
}

}  // namespace

namespace session_detail {

// One SMTP session. Lives in run_session's frame; every member coroutine is
// awaited by run(), so `this` outlives them all.
class session {
 public:
  session(kio::connection& conn, const session_config& config, session_services& services, std::string id)
      : _conn(conn),
        _config(config),
        _services(services),
        _stream(conn, stream_options(config)) {
    _info.listener = config.listener;
    _info.peer = conn.peer();
    _info.session_id = std::move(id);
  }

  kio::task<void> run();

 private:
  enum class next { go_on, close };

  static proto::stream_options stream_options(const session_config& config) {
    proto::stream_options o;
    o.line_length_max = config.limits.line_length_max;
    return o;
  }
  bool submission() const { return _config.listener != listener_kind::mx; }
  bool auth_offered() const { return submission() && (_stream.secure() || _config.auth_over_plaintext); }

  kio::task<bool> respond(uint16_t code, std::string_view enhanced, std::string_view text, bool flush_now = false);
  kio::task<bool> send_reply(const reply& r) { return respond(r.code, r.enhanced, r.text); }
  kio::task<bool> send_verdict(const verdict& v) { return respond(v.code, v.enhanced, v.text); }
  kio::task<bool> flush() { co_return (co_await _stream.flush()).has_value(); }
  kio::task<next> protocol_error(const reply& r);
  kio::task<next> protocol_error(uint16_t code, std::string_view enhanced, std::string_view text) {
    auto awaited = co_await protocol_error(reply{code, enhanced, text});
    co_return awaited;
  }

  kio::task<next> dispatch(command& cmd);
  kio::task<next> on_ehlo(command& cmd);
  kio::task<next> on_starttls();
  kio::task<next> on_auth(command& cmd);
  kio::task<next> on_mail(command& cmd);
  kio::task<next> on_rcpt(command& cmd);
  kio::task<next> on_data();
  kio::task<next> on_bdat(command& cmd);
  kio::task<next> finish_message();
  kio::task<std::optional<std::string>> read_auth_line();

  void reset_transaction() {
    if (_sink) _sink->abort();
    _sink.reset();
    _filter.reset();
    _env.reset();
    _bdat.reset();
    _bdat_active = false;
    _bdat_failed.reset();
  }
  void open_message() {
    _sink = _services.open_message(_info, *_env);
    _filter = _services.open_filter(_info, *_env);
  }
  std::string trace_headers() const;
  // The listener's SIZE, lowered by any recipient whose domain takes less.
  uint64_t transaction_size_max() const {
    uint64_t out = _config.limits.message_size_max;
    if (_env)
      for (const auto& r : _env->recipients)
        if (r.message_size_max) out = std::min(out, r.message_size_max);
    return out;
  }
  command_options parse_options() const {
    command_options o;
    o.line_size_max = _config.limits.line_length_max;
    o.auth = submission();
    o.binary_mime = false;
    o.transaction_smtputf8 = _env && _env->parameters.smtputf8;
    return o;
  }

  kio::connection& _conn;
  const session_config& _config;
  session_services& _services;
  proto::session_stream _stream;
  session_info _info;
  std::optional<envelope> _env;
  std::unique_ptr<message_sink> _sink;
  std::unique_ptr<inbound_filter> _filter;
  bdat_counter _bdat{0};
  bool _bdat_active = false;
  std::optional<verdict> _bdat_failed;  // a write failed: keep reading chunks, refuse at LAST
  size_t _errors = 0;
  size_t _commands = 0;
  std::string _out;
};

kio::task<bool> session::respond(uint16_t code, std::string_view enhanced, std::string_view text, bool flush_now) {
  _out.clear();
  format_reply(_out, reply{code, enhanced, text});
  if (!co_await _stream.write(_out)) co_return false;
  // PIPELINING: a batch of commands gets its replies in one send, so flush
  // only when the client is waiting for us.
  if (flush_now || !_stream.has_buffered_input()) {
    auto awaited = co_await flush();
    co_return awaited;
  }
  co_return true;
}

kio::task<session::next> session::protocol_error(const reply& r) {
  ++_errors;
  if (_errors >= _config.limits.errors_max) {
    co_await respond(421, "4.7.0", _config.hostname + " Error: too many errors", true);
    co_return next::close;
  }
  // Tarpit: after a few mistakes each further one costs the client time.
  if (_errors > 3) co_await kio::sleep_for(_config.limits.error_delay_ms);
  co_return (co_await send_reply(r)) ? next::go_on : next::close;
}

std::string session::trace_headers() const {
  std::string h = "Return-Path: <";
  if (!_env->sender.null) format_mailbox(_env->sender.address, h);
  h += ">\r\nReceived: from ";
  h += _info.helo.empty() ? "unknown" : _info.helo;
  h += " ([" + _info.peer.ip_string() + "])\r\n\tby " + _config.hostname + " (ringmail) with ";
  h += _info.esmtp ? "ESMTP" : "SMTP";
  if (_info.tls) h += "S";
  if (!_info.authenticated.empty()) h += "A";
  h += " id " + _info.session_id;
  if (_env->recipients.size() == 1) {
    h += "\r\n\tfor <";
    format_mailbox(_env->recipients.front().address.address, h);
    h += ">";
  }
  h += ";";
  if (_info.tls) h += "\r\n\t(using " + _info.tls_summary + ")";
  if (!_info.authenticated.empty()) h += "\r\n\t(authenticated as " + _info.authenticated + ")";
  h += "\r\n\t" + rfc5322_date(time(nullptr)) + "\r\n";
  return h;
}

kio::task<void> session::run() {
  if (_config.implicit_tls) {
    if (!co_await _stream.start_tls(_config.tls)) {
      co_await _stream.close();
      co_return;
    }
    _info.tls = true;
    _info.tls_summary = _stream.tls_summary();
  }
  if (_config.listener == listener_kind::mx && _config.limits.greeting_pause_ms > 0) {
    // A client that speaks before the greeting is a bot not waiting for us.
    co_await kio::sleep_for(_config.limits.greeting_pause_ms);
    if (_conn.has_unread()) {
      co_await respond(554, "5.5.1", "Protocol error: you talked before the greeting", true);
      co_await _stream.close();
      co_return;
    }
  }
  std::string greeting = _config.hostname + " ESMTP ringmail";
  bool alive = co_await respond(220, "", greeting, true);
  while (alive) {
    _stream.set_between_commands(!_stream.has_buffered_input() && !_env);
    _conn.options().idle_timeout_ms = _config.limits.command_timeout_ms;
    auto line = co_await _stream.read_line();
    _stream.set_between_commands(false);
    if (!line) {
      auto what = line.error().what;
      if (what == proto::stream_error::kind::timeout)
        co_await respond(421, "4.4.2", _config.hostname + " Error: timeout exceeded", true);
      else if (what == proto::stream_error::kind::shutdown)
        co_await respond(421, "4.3.2", _config.hostname + " Service shutting down", true);
      break;
    }
    if (++_commands > _config.limits.commands_max) {
      co_await respond(421, "4.7.0", _config.hostname + " Error: too many commands", true);
      break;
    }
    if (line->too_long) {
      alive = (co_await protocol_error(replies::line_too_long)) == next::go_on;
      continue;
    }
    auto parsed = parse_command(line->text, parse_options());
    if (!parsed) {
      if (parsed.error().close_connection) {
        co_await send_reply(parsed.error().response);
        co_await flush();
        break;
      }
      alive = (co_await protocol_error(parsed.error().response)) == next::go_on;
      continue;
    }
    alive = (co_await dispatch(*parsed)) == next::go_on;
  }
  reset_transaction();
  co_await _stream.flush();
  co_await _stream.close();
}

kio::task<session::next> session::dispatch(command& cmd) {
  // BDAT chunks must be read even when the command is refused, or their
  // bytes would be taken for commands.
  if (cmd.kind != verb::bdat && _bdat_active && cmd.kind != verb::rset && cmd.kind != verb::quit &&
      cmd.kind != verb::noop) {
    reset_transaction();
    {
      auto awaited = co_await protocol_error(503, "5.5.1", "Error: BDAT transaction in progress; send BDAT or RSET");
      co_return awaited;
    }
  }
  switch (cmd.kind) {
    case verb::ehlo:
    case verb::helo: {
      auto awaited = co_await on_ehlo(cmd);
      co_return awaited;
    }
    case verb::starttls: {
      auto awaited = co_await on_starttls();
      co_return awaited;
    }
    case verb::auth: {
      auto awaited = co_await on_auth(cmd);
      co_return awaited;
    }
    case verb::mail: {
      auto awaited = co_await on_mail(cmd);
      co_return awaited;
    }
    case verb::rcpt: {
      auto awaited = co_await on_rcpt(cmd);
      co_return awaited;
    }
    case verb::data: {
      auto awaited = co_await on_data();
      co_return awaited;
    }
    case verb::bdat: {
      auto awaited = co_await on_bdat(cmd);
      co_return awaited;
    }
    case verb::rset:
      reset_transaction();
      co_return (co_await respond(250, "2.0.0", "Ok")) ? next::go_on : next::close;
    case verb::noop: co_return (co_await respond(250, "2.0.0", "Ok")) ? next::go_on : next::close;
    case verb::quit:
      co_await respond(221, "2.0.0", "Bye", true);
      co_return next::close;
    case verb::vrfy:
    case verb::expn:
      // Never tell who exists (RFC 5321 7.3).
      co_return (co_await respond(252, "2.5.2", "Cannot verify the user, but will accept mail and attempt delivery"))
                    ? next::go_on
                    : next::close;
    case verb::help:
      co_return (co_await respond(214, "2.0.0", "See RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT STARTTLS AUTH"))
                    ? next::go_on
                    : next::close;
  }
  co_return next::close;
}

kio::task<session::next> session::on_ehlo(command& cmd) {
  reset_transaction();
  _info.helo = cmd.domain;
  _info.esmtp = cmd.kind == verb::ehlo;
  if (cmd.kind == verb::helo) co_return (co_await respond(250, "", _config.hostname)) ? next::go_on : next::close;
  std::vector<std::string> lines = {_config.hostname, "PIPELINING",
                                    "SIZE " + std::to_string(_config.limits.message_size_max), "8BITMIME",
                                    "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "DSN"};
  if (_config.tls && !_stream.secure()) lines.push_back("STARTTLS");
  if (auth_offered()) lines.push_back("AUTH PLAIN LOGIN");
  std::vector<std::string_view> views(lines.begin(), lines.end());
  _out.clear();
  format_reply(_out, 250, "", views);
  if (!co_await _stream.write(_out)) co_return next::close;
  if (!_stream.has_buffered_input() && !co_await flush()) co_return next::close;
  co_return next::go_on;
}

kio::task<session::next> session::on_starttls() {
  if (_stream.secure()) {
    auto awaited = co_await protocol_error(503, "5.5.1", "Error: TLS already active");
    co_return awaited;
  }
  if (!_config.tls) {
    auto awaited = co_await protocol_error(502, "5.5.1", "Error: STARTTLS not available");
    co_return awaited;
  }
  if (!co_await respond(220, "2.0.0", "Ready to start TLS", true)) co_return next::close;
  // Whatever the client pipelined after STARTTLS is thrown away unread by
  // start_tls() (the STARTTLS injection class of bugs).
  if (!co_await _stream.start_tls(_config.tls)) co_return next::close;
  // RFC 3207 4.2: forget everything learnt before TLS.
  reset_transaction();
  _info.helo.clear();
  _info.esmtp = false;
  _info.tls = true;
  _info.tls_summary = _stream.tls_summary();
  co_return next::go_on;
}

kio::task<std::optional<std::string>> session::read_auth_line() {
  if (!co_await flush()) co_return std::nullopt;
  auto line = co_await _stream.read_line();
  if (!line || line->too_long) co_return std::nullopt;
  co_return std::string(line->text);
}

kio::task<session::next> session::on_auth(command& cmd) {
  if (!submission()) {
    auto awaited = co_await protocol_error(503, "5.5.1", "Error: authentication not enabled on this port");
    co_return awaited;
  }
  if (!_info.authenticated.empty()) {
    auto awaited = co_await protocol_error(503, "5.5.1", "Error: already authenticated");
    co_return awaited;
  }
  if (_env) {
    auto awaited = co_await protocol_error(503, "5.5.1", "Error: MAIL transaction in progress");
    co_return awaited;
  }
  if (!auth_offered())
    {
      auto awaited = co_await protocol_error(538, "5.7.11", "Encryption required for requested authentication mechanism");
      co_return awaited;
    }

  proto::sasl_credentials credentials;
  if (cmd.mechanism == "PLAIN") {
    std::string response;
    if (cmd.initial_response) {
      response = *cmd.initial_response == "=" ? "" : *cmd.initial_response;
    } else {
      if (!co_await respond(334, "", "", true)) co_return next::close;
      auto line = co_await read_auth_line();
      if (!line) co_return next::close;
      response = *line;
    }
    if (response == "*") {
      auto awaited = co_await protocol_error(501, "5.0.0", "Authentication cancelled");
      co_return awaited;
    }
    auto decoded = proto::decode_sasl_plain_response(response);
    if (!decoded) {
      auto awaited = co_await protocol_error(501, "5.5.2", "Cannot decode the authentication response");
      co_return awaited;
    }
    credentials = std::move(*decoded);
  } else if (cmd.mechanism == "LOGIN") {
    std::string user_line;
    if (cmd.initial_response) {
      user_line = *cmd.initial_response;
    } else {
      if (!co_await respond(334, "", proto::sasl_login_username_prompt, true)) co_return next::close;
      auto line = co_await read_auth_line();
      if (!line) co_return next::close;
      user_line = *line;
    }
    if (user_line == "*") {
      auto awaited = co_await protocol_error(501, "5.0.0", "Authentication cancelled");
      co_return awaited;
    }
    auto user = proto::decode_sasl_login_response(user_line, proto::sasl_login_field::username);
    if (!user) {
      auto awaited = co_await protocol_error(501, "5.5.2", "Cannot decode the authentication response");
      co_return awaited;
    }
    if (!co_await respond(334, "", proto::sasl_login_password_prompt, true)) co_return next::close;
    auto pass_line = co_await read_auth_line();
    if (!pass_line) co_return next::close;
    if (*pass_line == "*") {
      auto awaited = co_await protocol_error(501, "5.0.0", "Authentication cancelled");
      co_return awaited;
    }
    auto pass = proto::decode_sasl_login_response(*pass_line, proto::sasl_login_field::password);
    if (!pass) {
      auto awaited = co_await protocol_error(501, "5.5.2", "Cannot decode the authentication response");
      co_return awaited;
    }
    credentials.authcid = std::move(*user);
    credentials.password = std::move(*pass);
  } else {
    auto awaited = co_await protocol_error(504, "5.5.4", "Unrecognized authentication mechanism");
    co_return awaited;
  }
  if (!credentials.authzid.empty() && credentials.authzid != credentials.authcid)
    {
      auto awaited = co_await protocol_error(535, "5.7.8", "Authentication credentials invalid (no proxy authorization)");
      co_return awaited;
    }

  auto result = co_await _services.authenticate(_info, credentials.authcid, credentials.password);
  switch (result.outcome) {
    case auth_outcome::ok:
      _info.authenticated = result.login;
      co_return (co_await respond(235, "2.7.0", "Authentication successful")) ? next::go_on : next::close;
    case auth_outcome::bad_credentials:
      {
        auto awaited = co_await protocol_error(535, "5.7.8", "Authentication credentials invalid");
        co_return awaited;
      }
    case auth_outcome::temporary_failure: {
      // The text is a local first: a `?:` temporary inside co_await's
      // arguments is destroyed twice by GCC 12 (docs/ARCHITECTURE.md).
      std::string text = result.text.empty() ? "Temporary authentication failure" : result.text;
      co_return (co_await respond(454, "4.7.0", text)) ? next::go_on : next::close;
    }
    case auth_outcome::blocked: {
      std::string text = result.text.empty() ? "Too many failed logins; try again later" : result.text;
      co_await respond(421, "4.7.0", text, true);
      co_return next::close;
    }
    case auth_outcome::tls_required:
      {
        auto awaited = co_await protocol_error(538, "5.7.11", "This account may only log in over TLS");
        co_return awaited;
      }
    case auth_outcome::protocol_not_allowed:
      {
        auto awaited = co_await protocol_error(535, "5.7.8", "This account may not send mail through submission");
        co_return awaited;
      }
    case auth_outcome::disabled:
      {
        auto awaited = co_await protocol_error(535, "5.7.8", "Account disabled");
        co_return awaited;
      }
  }
  co_return next::close;
}

kio::task<session::next> session::on_mail(command& cmd) {
  if (_info.helo.empty()) {
    auto awaited = co_await protocol_error(503, "5.5.1", "Error: send HELO/EHLO first");
    co_return awaited;
  }
  if (_env) {
    auto awaited = co_await protocol_error(503, "5.5.1", "Error: nested MAIL command");
    co_return awaited;
  }
  if (submission() && _info.authenticated.empty())
    {
      auto awaited = co_await protocol_error(530, "5.7.0", "Authentication required");
      co_return awaited;
    }
  if (cmd.mail.size && *cmd.mail.size > _config.limits.message_size_max)
    co_return (co_await respond(552, "5.3.4", "Message size exceeds fixed maximum message size")) ? next::go_on
                                                                                                   : next::close;
  if (cmd.mail.smtputf8 && !_info.esmtp)
    {
      auto awaited = co_await protocol_error(503, "5.5.1", "Error: SMTPUTF8 needs EHLO");
      co_return awaited;
    }
  auto v = co_await _services.check_sender(_info, cmd.address, cmd.mail);
  if (!v.ok) co_return (co_await send_verdict(v)) ? next::go_on : next::close;
  _env.emplace();
  _env->sender = std::move(cmd.address);
  _env->parameters = std::move(cmd.mail);
  co_return (co_await respond(250, "2.1.0", "Ok")) ? next::go_on : next::close;
}

kio::task<session::next> session::on_rcpt(command& cmd) {
  if (!_env) {
    auto awaited = co_await protocol_error(503, "5.5.1", "Error: need MAIL command");
    co_return awaited;
  }
  if (_env->recipients.size() >= _config.limits.recipients_max)
    co_return (co_await respond(452, "4.5.3", "Error: too many recipients")) ? next::go_on : next::close;
  recipient r{std::move(cmd.address), std::move(cmd.rcpt), {}, 0};
  auto v = co_await _services.check_recipient(_info, *_env, r);
  if (v.ok && r.message_size_max && _env->parameters.size && *_env->parameters.size > r.message_size_max)
    v = verdict::refuse(552, "5.3.4", "Message size exceeds fixed maximum message size for this recipient (" +
                                          std::to_string(r.message_size_max) + " bytes)");
  if (!v.ok) {
    // An unknown user counts as an error: address harvesting gets tarpitted.
    if (v.code == 550) {
      auto awaited = co_await protocol_error(reply{v.code, v.enhanced, v.text});
      co_return awaited;
    }
    co_return (co_await send_verdict(v)) ? next::go_on : next::close;
  }
  _env->recipients.push_back(std::move(r));
  co_return (co_await respond(250, "2.1.5", "Ok")) ? next::go_on : next::close;
}

kio::task<session::next> session::on_data() {
  if (!_env) {
    auto awaited = co_await protocol_error(503, "5.5.1", "Error: need MAIL command");
    co_return awaited;
  }
  if (_env->recipients.empty()) {
    auto awaited = co_await protocol_error(554, "5.5.1", "Error: no valid recipients");
    co_return awaited;
  }
  if (!co_await respond(354, "", "End data with <CR><LF>.<CR><LF>", true)) co_return next::close;
  open_message();

  data_limits limits;
  limits.message_size_max = transaction_size_max();
  limits.bare_line_endings = _config.bare_line_endings;
  data_decoder decoder(limits);
  std::optional<verdict> sink_failure;
  _conn.options().idle_timeout_ms = _config.limits.data_timeout_ms;
  while (!decoder.done()) {
    auto chunk = co_await _stream.read_some();
    if (!chunk) {
      // The client went away mid-DATA: nothing of it is kept.
      reset_transaction();
      co_return next::close;
    }
    auto step = decoder.feed(*chunk);
    _stream.consume(step.consumed);
    if (decoder.rejection() != data_rejection::none || sink_failure) continue;
    for (auto part : {step.prefix, std::span<const std::byte>(chunk->data(), step.content_size)}) {
      if (part.empty()) continue;
      if (_filter) _filter->feed(part);
      auto w = co_await _sink->write(part);
      if (!w.ok) {
        sink_failure = w;
        break;
      }
    }
  }
  if (auto refusal = decoder.verdict()) {
    reset_transaction();
    co_return (co_await send_reply(*refusal)) ? next::go_on : next::close;
  }
  if (sink_failure) {
    reset_transaction();
    co_return (co_await send_verdict(*sink_failure)) ? next::go_on : next::close;
  }
  {
    auto awaited = co_await finish_message();
    co_return awaited;
  }
}

kio::task<session::next> session::finish_message() {
  std::optional<inbound_filter::outcome> filtered;
  if (_filter) {
    filtered = co_await _filter->finish(*_env, _info);
    if (!filtered->decision.ok) {
      verdict refusal = filtered->decision;
      reset_transaction();
      co_return (co_await send_verdict(refusal)) ? next::go_on : next::close;
    }
  }
  std::string trace = trace_headers();
  const inbound_filter::outcome* filter_outcome = filtered ? &*filtered : nullptr;
  auto v = co_await _sink->commit({*_env, _info, trace, filter_outcome});
  _sink.reset();  // committed (or failed inside commit): nothing to abort
  reset_transaction();
  co_return (co_await respond(v.code, v.enhanced, v.text, true)) ? next::go_on : next::close;
}

kio::task<session::next> session::on_bdat(command& cmd) {
  // The chunk's bytes follow the command whatever we answer: read them all.
  std::optional<reply> refusal;
  if (!_env) refusal = reply{503, "5.5.1", "Error: need MAIL command"};
  else if (_env->recipients.empty()) refusal = reply{554, "5.5.1", "Error: no valid recipients"};
  if (!refusal && !_bdat_active) {
    open_message();
    _bdat = bdat_counter(transaction_size_max());
    _bdat_active = true;
  }
  bdat_counter discard(0);
  bdat_counter& counter = refusal ? discard : _bdat;
  counter.start_chunk(cmd.chunk_size, cmd.last_chunk);
  _conn.options().idle_timeout_ms = _config.limits.data_timeout_ms;
  while (!counter.chunk_complete()) {
    auto chunk = co_await _stream.read_some();
    if (!chunk) {
      reset_transaction();
      co_return next::close;
    }
    size_t take = counter.take(chunk->size());
    auto bytes = chunk->first(take);
    if (!refusal && !counter.oversize() && !_bdat_failed) {
      if (_filter) _filter->feed(bytes);
      auto w = co_await _sink->write(bytes);
      if (!w.ok) _bdat_failed = w;
    }
    _stream.consume(take);
  }
  if (refusal) {
    if (_env) reset_transaction();
    {
      auto awaited = co_await protocol_error(*refusal);
      co_return awaited;
    }
  }
  if (counter.oversize()) {
    reset_transaction();
    co_return (co_await send_reply(replies::message_too_big)) ? next::go_on : next::close;
  }
  if (!cmd.last_chunk) {
    co_return (co_await respond(250, "2.0.0", std::to_string(cmd.chunk_size) + " octets received")) ? next::go_on
                                                                                                   : next::close;
  }
  if (_bdat_failed) {
    verdict failed = *_bdat_failed;
    reset_transaction();
    co_return (co_await send_verdict(failed)) ? next::go_on : next::close;
  }
  _bdat_active = false;
  {
    auto awaited = co_await finish_message();
    co_return awaited;
  }
}

}  // namespace session_detail

kio::task<void> run_session(std::unique_ptr<kio::connection> conn, const session_config& config,
                            session_services& services, std::string session_id) {
  session_detail::session s(*conn, config, services, std::move(session_id));
  co_await s.run();
}

}  // namespace smtp
