#pragma once
// What the SMTP session needs from the rest of the daemon, as small
// interfaces. The appliance implements them (accounts, aliases, the store,
// the spam filter); tests implement them with doubles. The session never
// includes the store or the filter: this is the whole contract.
//
// Every call is made on the session's core. Calls that may wait (a password
// hash on the worker pool, a group commit) are coroutines.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernel_io/net/socket_address.h"
#include "kernel_io/ring/task.h"
#include "protocols/smtp/parser/command.h"

namespace smtp {

enum class listener_kind : uint8_t {
  mx,           // port 25: mail for local domains only, no AUTH
  submission,   // 587: STARTTLS, AUTH required
  submissions,  // 465: implicit TLS, AUTH required
};
std::string_view listener_name(listener_kind k);

// What the session knows about its client, for policy and trace headers.
struct session_info {
  listener_kind listener = listener_kind::mx;
  kio::socket_address peer;
  std::string helo;              // as given in EHLO/HELO
  bool esmtp = false;
  bool tls = false;
  std::string tls_summary;       // "TLSv1.3 with cipher ... (128/128 bits)"
  std::string authenticated;     // the account's login, empty if none
  std::string session_id;        // for logs and the Received: id
};

// An answer that is either "go on" or the reply to send instead.
struct verdict {
  bool ok = true;
  uint16_t code = 250;
  std::string enhanced;  // "5.1.1"
  std::string text;      // one line, human readable
  static verdict accept() { return {}; }
  static verdict refuse(uint16_t code, std::string enhanced, std::string text) {
    return {false, code, std::move(enhanced), std::move(text)};
  }
};

struct recipient {
  path address;             // as the client gave it
  rcpt_parameters dsn;      // NOTIFY / ORCPT, kept for DSNs
  std::string destination;  // the appliance's resolution (account, or "remote")
  // The largest message this recipient takes (its domain's SIZE override);
  // 0 = the listener's limit. The transaction's limit is the smallest.
  std::uint64_t message_size_max = 0;
};

struct envelope {
  path sender;
  mail_parameters parameters;
  std::vector<recipient> recipients;
};

enum class auth_outcome : uint8_t {
  ok,
  bad_credentials,      // 535 5.7.8
  temporary_failure,    // 454 4.7.0
  blocked,              // too many failures: 421/454 with the delay in the text
  protocol_not_allowed, // the account may not use submission
  tls_required,         // the account forbids logins over plaintext
  disabled,
};
struct auth_result {
  auth_outcome outcome = auth_outcome::bad_credentials;
  std::string login;    // canonical account name on success
  std::string text;     // for refusals: a human-readable reason
};

// A streaming consumer of the message, fed the same buffers the store gets.
class inbound_filter {
 public:
  virtual ~inbound_filter() = default;
  virtual void feed(std::span<const std::byte> content) = 0;
  // Before finish(): the Authentication-Results field (SPF, DKIM, DMARC)
  // of the message, for filters that score on it. Port 25 only.
  virtual void set_authentication(std::string_view authentication_results) {}
  // What to do with the message: accept (maybe with headers to add and a
  // folder to file into), or reject with a 5xx reply before the 250.
  struct outcome {
    verdict decision;              // ok = deliver
    std::string added_headers;     // "X-Spam-Level: ...\r\n..." (per delivery)
    std::string folder;            // "" = Inbox
    // Appended to the message's acceptance log line ("key=value ...",
    // formatted by the filter): the verdict costs no log line of its own.
    std::string log_fields;
  };
  virtual kio::task<outcome> finish(const envelope& env, const session_info& info) = 0;
};

// One message being received. write() gets the message bytes chunk by chunk
// (after dot-unstuffing), commit() makes it durable and delivers it to every
// recipient in one step. The reply to DATA is the verdict of commit(): 250
// only after the store's group commit covers the message.
class message_sink {
 public:
  virtual ~message_sink() = default;
  virtual kio::task<verdict> write(std::span<const std::byte> content) = 0;
  struct commit_request {
    const envelope& env;
    const session_info& info;
    std::string_view trace_headers;       // Return-Path + Received, per delivery
    const inbound_filter::outcome* filter;  // may be null
  };
  // On success the verdict's text carries the queue id.
  virtual kio::task<verdict> commit(const commit_request& request) = 0;
  // The transaction ended without commit: drop what was written.
  virtual void abort() = 0;
};

class session_services {
 public:
  virtual ~session_services() = default;
  virtual kio::task<auth_result> authenticate(const session_info& info, std::string_view login,
                                              std::string_view password) = 0;
  // MAIL FROM: on submission the sender must belong to the account; rate limits.
  virtual kio::task<verdict> check_sender(const session_info& info, const path& sender,
                                          const mail_parameters& parameters) = 0;
  // RCPT TO: local user, alias, catch-all, relay rules, quota. On success
  // fills `destination` in the recipient.
  virtual kio::task<verdict> check_recipient(const session_info& info, const envelope& env, recipient& rcpt) = 0;
  virtual std::unique_ptr<message_sink> open_message(const session_info& info, const envelope& env) = 0;
  // Null when filtering is off for this listener.
  virtual std::unique_ptr<inbound_filter> open_filter(const session_info& info, const envelope& env) = 0;
};

}  // namespace smtp
