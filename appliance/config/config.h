#pragma once
// The daemon's configuration: one TOML file (toml++) over an embedded
// default. With no file at all, `ringmail serve` runs on a laptop: loopback,
// high ports, a self-signed certificate, data in ./var.
//
// Loading is strict on purpose: an unknown key is an error (a typo such as
// `require_tsl` must not silently leave a security default in place), and
// every error names the file, the line and the dotted key, all of them at
// once so `ringmail check-config` fixes a file in one pass.
//
// A `config` is immutable once loaded; SIGHUP loads a new one and hands it to
// the cores as a shared_ptr<const config> (see appliance/README.md).

#include <cstdint>
#include <memory>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "appliance/accounts/protocols.h"
#include "kernel_io/net/socket_address.h"

namespace appliance {

enum class tls_mode { none, starttls, implicit };
std::string_view to_string(tls_mode m);

// One listening port. Every protocol listener has the same shape so the
// wiring code is a loop over config.listeners.
struct listener_config {
  std::string name;                  // "smtp", "submission", "imaps"...
  bool enabled = true;
  kio::socket_address address;
  std::string address_text;          // as written, for messages
  tls_mode tls = tls_mode::none;
  uint32_t connections_per_core_max = 10'000;
  uint32_t connections_per_ip_max = 50;
  uint64_t idle_timeout_ms = 300'000;
};

struct tls_config {
  // Both empty: a self-signed certificate in DATA/tls, made at first start.
  std::string certificate_file;
  std::string key_file;
  std::vector<std::string> self_signed_names = {"localhost"};
  uint32_t self_signed_valid_days = 825;
};

struct server_section {
  std::string hostname = "localhost";
  unsigned cores = 0;               // 0 = one per online CPU
  unsigned worker_threads = 1;      // Argon2id and other CPU-heavy work
  unsigned receive_buffers = 1024;            // per core, a power of two (kernel_io/ring/buffer_ring.h)
  unsigned receive_buffer_bytes = 16384;      // each
  unsigned receive_buffers_window_min = 16;   // at least this many in the kernel's ring at once
  std::string user = "nobody";      // only used when started as root
  uint64_t shutdown_grace_ms = 10'000;
  uint64_t listen_wait_ms = 3'000;  // start-up: an address still in use is probed again this long
  bool create_demo = true;          // demo domain + account on first start
  std::string demo_domain = "example.test";
};

struct smtp_section {
  uint64_t message_size_max_bytes = 100ull * 1024 * 1024;
  // Per recipient domain (lower case, as written in the directory); the
  // listener advertises the largest of all, each RCPT gets its domain's.
  std::map<std::string, uint64_t> domain_message_size_max_bytes;
  uint32_t recipients_max = 100;
  uint32_t line_length_max = 1000;
  uint32_t errors_max = 20;          // bad commands before the session is dropped
  uint64_t error_delay_ms = 1'000;   // tarpit per error after the third
  uint32_t commands_max = 10'000;    // per connection
  uint64_t greeting_pause_ms = 300;  // MX: wait, then refuse a client that already talked
  // A full mailbox: 452 4.2.2 (the sender retries; the user may delete
  // mail) or, when true, 552 5.2.2 (bounce now).
  bool quota_full_permanent = false;
  // Where "<postmaster>" and unknown postmaster@<local domain> go; empty:
  // the first account (lowest id). Must be a local address.
  std::string postmaster;
  uint64_t data_timeout_ms = 180'000;  // per read while receiving a message
  bool reject_nul = true;            // a message with a NUL byte: 554 5.6.0

  // The SIZE limit for mail to `domain` (its override, else the global one).
  uint64_t message_size_max_for(std::string_view domain) const;
  // What the listeners advertise: the largest limit any domain has.
  uint64_t message_size_max_advertised() const;
};

struct store_section {
  std::string backup_directory;       // empty: no backup
  uint64_t segment_size_max_bytes = 64ull << 20;
  uint64_t compaction_interval_ms = 600'000;  // 0: never
  uint32_t compaction_live_percent_max = 50;
  uint64_t compaction_grace_ms = 60'000;
};

// The inline spam filter (filter/, appliance/spam). Thresholds are spam
// probabilities (0..1); a threshold above 1 never fires. Defaults are
// tuned on bench/spam (false positives below 1 in 1,000 there).
struct spam_account_thresholds {
  std::string address;  // a recipient address, lowercased
  double tag = 0, junk = 0, reject = 0;
};
struct spam_section {
  bool enabled = true;               // score mail arriving on the smtp (MX) listener
  std::string token_store;           // empty: the global store in the message store (ringmail spam train --data)
  double tag_threshold = 0.995;      // X-Spam-Status: Yes
  double junk_threshold = 0.999;     // file into Junk
  double reject_threshold = 1.1;     // 550 5.7.1 at DATA (off by default)
  std::string subject_prefix;        // e.g. "[SPAM] ": tagged mail gets a new first Subject line
  uint64_t text_bytes_max = 262'144; // body text tokenized per message
  // IMAP Junk training (appliance/spam/spam_training.h).
  uint32_t training_batch_messages = 64;       // messages per delta record (and per group commit)
  uint64_t training_queue_max = 4096;          // Junk training blob keys a core holds in memory (one intent's worth)
  uint64_t training_delay_ms = 0;              // the worker waits this long before its first batch
  bool training_keep_intents = false;          // tests: applied intents are not removed (replayed at start)
  uint64_t snapshot_every_bytes = 8ull << 20;  // deltas since the last snapshot before a new one
  uint64_t training_message_bytes_max = 4ull << 20;  // bigger messages are not read for training (logged)
  // "ADDRESS tag=0.8 junk=0.95 reject=0.999" (keys optional): when every
  // recipient of a message has the same entry, its thresholds apply.
  std::vector<spam_account_thresholds> per_account;
};

struct imap_section {
  uint32_t line_length_max = 65'536;
  uint64_t literal_size_max_bytes = 50ull * 1024 * 1024;
  uint64_t idle_timeout_ms = 1'800'000;  // after login; RFC 9051: at least 30 minutes
  uint32_t nesting_depth_max = 32;
  uint32_t sequence_ranges_max = 65'536;           // ranges across one command's sequence sets
  uint64_t unauthenticated_literal_max_bytes = 8'192;  // literals before login (LOGIN, AUTHENTICATE)
  uint32_t compress_piece_bytes = 16'384;          // COMPRESS=DEFLATE buffers per session
  uint32_t errors_max = 20;
};

struct pop3_section {
  uint32_t line_length_max = 512;          // a command line, CRLF included (RFC 2449: at least 255)
  uint32_t errors_max = 20;                // bad commands before the session is dropped
  uint64_t login_timeout_ms = 60'000;      // idle before login; after login the listener's idle_timeout_ms
};

struct password_policy_config {
  uint32_t length_min = 12;
  uint32_t length_max = 1024;       // Argon2 input bound
  // Rejects passwords whose estimated guessing entropy is below this.
  uint32_t entropy_bits_min = 40;
};

struct argon2_config {
  uint32_t memory_kib = 65'536;     // RFC 9106 second recommendation: 64 MiB
  uint32_t iterations = 3;
  uint32_t parallelism = 1;
};

struct login_throttle_config {
  uint32_t account_failures_before_block = 5;
  uint32_t ip_failures_before_block = 20;
  uint64_t delay_base_ms = 250;      // first failure's delay, doubled each time
  uint64_t delay_max_ms = 8'000;
  uint64_t block_ms = 900'000;       // 15 minutes
  uint64_t failure_window_ms = 3'600'000;  // failures older than this are forgotten
  uint32_t tracked_keys_max = 65'536;      // memory bound on the table
};

struct auth_section {
  bool require_tls = true;           // default for accounts that say nothing
  password_policy_config password;
  argon2_config argon2;
  login_throttle_config throttle;
};

struct limits_section {
  uint32_t send_messages_per_hour = 200;    // per account, default
  uint32_t send_recipients_per_hour = 1'000;
  uint32_t quota_warning_percent = 70;
};

// DNS for outbound delivery, message authentication and `domain check`.
struct dns_section {
  std::vector<std::string> servers;  // "IP:PORT"; empty = /etc/resolv.conf
  uint32_t timeout_ms = 2000;        // per try
  uint32_t tries = 2;
};

// Outbound delivery (the queue, the SMTP client). Times follow RFC 5321
// §4.5.3.2 and §4.5.4.1 by default.
struct outbound_section {
  bool enabled = true;
  std::string helo_name;             // empty: server.hostname
  uint16_t port = 25;                // the port of remote MX hosts (tests use another)
  std::string source_address;        // bind outbound connections here ("" = any)
  std::string smarthost;             // "host:port": relay everything there instead of MX
  std::string smarthost_auth_file;   // user on line 1, password on line 2 ("" = no AUTH)
  bool tls_required = false;         // refuse to deliver without STARTTLS
  std::vector<std::string> tls_required_domains;
  uint64_t queue_lifetime_ms = 5ull * 86'400'000;  // then bounce
  uint64_t delay_warning_ms = 4ull * 3'600'000;    // a "delayed" DSN once, after this
  uint64_t retry_initial_ms = 300'000;             // first retry; doubled each time
  uint64_t retry_max_ms = 4'000'000;               // cap of the backoff
  uint32_t connections_per_destination_max = 4;
  uint32_t deliveries_max = 64;                    // messages in delivery at once
  uint32_t messages_per_connection_max = 50;       // reuse one connection for this many
  uint64_t connect_timeout_ms = 30'000;
  uint64_t greeting_timeout_ms = 300'000;
  uint64_t command_timeout_ms = 300'000;
  uint64_t data_init_timeout_ms = 120'000;
  uint64_t data_block_timeout_ms = 180'000;
  uint64_t data_end_timeout_ms = 600'000;
  // Per-account send limits (limits.send_*): this many refusals within an
  // hour suspend the account's sending until an admin lifts it.
  uint32_t rate_limit_strikes_before_suspend = 10;
};

// What to do with a message whose DMARC check fails under a policy.
enum class dmarc_action : uint8_t {
  reject,      // 550 5.7.1 at the end of DATA
  quarantine,  // deliver into the recipient's Junk folder
  tag,         // deliver normally; Authentication-Results says dmarc=fail
};

// SPF, DKIM and DMARC on the MX listener (protocols/msgauth).
struct msgauth_section {
  bool verify_inbound = false;       // off in the embedded default: lookups need a resolver
  std::string authserv_id;           // Authentication-Results id; empty = server.hostname
  dmarc_action on_reject_policy = dmarc_action::reject;          // p=reject
  dmarc_action on_quarantine_policy = dmarc_action::quarantine;  // p=quarantine
  uint32_t header_bytes_max = 262'144;   // header section kept for DKIM
  uint32_t dkim_signatures_max = 5;      // verified per message
  uint32_t rsa_bits_min = 1024;          // RFC 8301
  uint32_t spf_dns_lookups_max = 10;     // RFC 7208 §4.6.4
  uint32_t spf_void_lookups_max = 2;
  std::string public_suffix_list = "/usr/share/publicsuffix/public_suffix_list.dat";
};

struct config {
  std::string source;                // file name, or "(embedded default)"
  server_section server;
  tls_config tls;
  std::vector<listener_config> listeners;  // fixed order: see listener_names
  smtp_section smtp;
  store_section store;
  spam_section spam;
  imap_section imap;
  pop3_section pop3;
  auth_section auth;
  limits_section limits;
  dns_section dns;
  msgauth_section msgauth;
  outbound_section outbound;

  const listener_config* listener(std::string_view name) const;
};

// The listeners a config always has (each may be disabled).
inline constexpr std::string_view listener_names[] = {"smtp",  "submission", "submissions", "imap",
                                                      "imaps", "pop3",       "pop3s",       "http"};

struct config_error {
  std::string file;
  uint32_t line = 0;   // 0 when the error has no place (a missing key's table)
  uint32_t column = 0;
  std::string key;     // dotted path, e.g. "listeners.smtp.address"
  std::string message;
  std::string to_string() const;  // "file:line:column: key: message"
};

// The embedded default as TOML text (also what `ringmail check-config
// --print-default` shows).
std::string_view embedded_default_config();

// Parses `text` (named `file_name` in messages) over the embedded default:
// keys the file leaves out keep their default.
std::optional<config> parse_config(std::string_view text, std::string_view file_name,
                                   std::vector<config_error>& errors);
// Reads and parses a file (at most config_file_size_max bytes).
inline constexpr size_t config_file_size_max = 1024 * 1024;
std::optional<config> load_config_file(const std::string& path, std::vector<config_error>& errors);
// The embedded default alone.
config default_config();

}  // namespace appliance
