#pragma once
// smtp::client: one outbound SMTP connection, read top to bottom as a
// coroutine. open() connects (with a timeout), reads the greeting, says
// EHLO (HELO if the server refuses it), upgrades with STARTTLS whenever the
// server offers it (opportunistic; `require_tls` makes its absence or
// failure a deferral), and says EHLO again inside TLS. send() delivers one
// message: MAIL, every RCPT and DATA pipelined when the server offers
// PIPELINING, then the body with dot-stuffing. One client sends several
// messages in turn (RSET between them); close() says QUIT.
//
// Timeouts are RFC 5321 §4.5.3.2's: greeting 5 min, MAIL 5, RCPT 5, DATA
// 2, each data block 3, final dot 10 (configurable; tests shorten them).
//
// Lifecycle: lives in the delivering coroutine's frame on one core; owns its
// connection, which close() ends.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernel_io/base/result.h"
#include "kernel_io/net/connection.h"
#include "kernel_io/net/socket_address.h"
#include "kernel_io/ring/task.h"
#include "protocols/smtp/parser/client_reply.h"
#include "protocols/stream/session_stream.h"
#include "protocols/tls/context.h"

namespace smtp {

struct client_options {
  std::string helo_name = "localhost";
  uint64_t connect_timeout_ms = 30'000;
  uint64_t greeting_timeout_ms = 300'000;
  uint64_t command_timeout_ms = 300'000;   // EHLO, MAIL, RCPT, RSET, QUIT
  uint64_t data_init_timeout_ms = 120'000; // the 354 after DATA
  uint64_t data_block_timeout_ms = 180'000;
  uint64_t data_end_timeout_ms = 600'000;  // the reply after the final dot
  bool require_tls = false;
  std::shared_ptr<const tls::client_context> tls;  // null: never STARTTLS
  const kio::socket_address* source = nullptr;      // bind before connecting
  // AUTH PLAIN (RFC 4954) after the TLS EHLO, for a smarthost; empty user:
  // no AUTH. Never sent over a connection without TLS.
  std::string auth_user;
  std::string auth_password;
};

// Why a connection could not be used at all. `reply` is the server's answer
// when it gave one (a 554 greeting); otherwise code 0 and `text` says what
// happened (refused, timeout, TLS failure). Transient unless the server
// answered 5xx.
struct client_failure {
  server_reply reply;
  std::string text;
  bool permanent() const { return reply.code >= 500; }
};

struct outbound_message {
  std::string sender;                    // reverse-path without <>; "" is the null sender
  std::vector<std::string> recipients;   // forward-paths without <>
  std::vector<std::string> rcpt_parameters;  // per recipient, " NOTIFY=..." (sent only to DSN servers)
  std::string mail_parameters;           // " RET=HDRS ENVID=..." (sent only to DSN servers)
  bool eight_bit = false;                // BODY=8BITMIME when the server offers it
  bool needs_smtputf8 = false;           // a UTF-8 address: the server must offer SMTPUTF8
  std::string_view content;              // the message, CRLF line ends, not dot-stuffed
};

struct send_result {
  // The reply that ended the transaction for everyone (MAIL refused, DATA
  // refused, connection lost), if any.
  std::optional<server_reply> transaction_failure;
  bool connection_lost = false;
  std::vector<server_reply> rcpt;   // one per recipient
  server_reply data;                // the final reply for the accepted recipients
  bool chunked = false;             // the content went as BDAT (RFC 3030), not DATA
};

class client {
 public:
  static kio::task<kio::result<std::unique_ptr<client>, client_failure>> open(kio::socket_address address,
                                                                              std::string server_name,
                                                                              client_options options);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  kio::task<send_result> send(const outbound_message& message);
  // QUIT and close; always call before destruction.
  kio::task<void> close();

  const server_capabilities& capabilities() const { return _caps; }
  bool secure() const { return _stream->secure(); }
  std::string tls_summary() const { return _stream->tls_summary(); }
  bool usable() const { return !_broken; }
  const std::string& server_name() const { return _server_name; }
  const kio::socket_address& address() const { return _address; }

 private:
  client(std::unique_ptr<kio::connection> conn, client_options options);
  kio::task<kio::result<server_reply, std::string>> read_reply(uint64_t timeout_ms);
  kio::task<kio::result<server_reply, std::string>> command(std::string line, uint64_t timeout_ms);
  kio::task<std::optional<client_failure>> hello();

  std::unique_ptr<kio::connection> _conn;
  std::unique_ptr<proto::session_stream> _stream;
  client_options _options;
  server_capabilities _caps;
  std::string _server_name;
  kio::socket_address _address;
  bool _broken = false;
  bool _used = false;  // a transaction ran: RSET before the next
};

// The body as SMTP DATA wants it: dot-stuffed, ending in CRLF . CRLF. A
// final line without CRLF gets one.
std::string dot_stuff(std::string_view content);

}  // namespace smtp
