// The embedded default configuration. It is also the schema: a key that is
// not here is an unknown key, and a value must have the type written here.
// Keep every key present (with its default) and commented.
#include "appliance/config/config.h"

namespace appliance {

std::string_view embedded_default_config() {
  static constexpr std::string_view text = R"toml(# ringmail configuration. Every key is optional: what a file leaves out
# keeps the value shown here. This default runs on a laptop as a normal user:
# loopback only, high ports, a self-signed certificate in DATA/tls.

[server]
hostname = "localhost"            # the name in greetings, Received: headers, certificates
cores = 0                         # reactor threads; 0 = one per online CPU
worker_threads = 1                # threads for Argon2id and other CPU-heavy work
receive_buffers = 1024            # receive buffers per core (a power of two): every connection's
receive_buffer_bytes = 16384      # reads share them, so they bound receive memory per core
receive_buffers_window_min = 16   # how many at least wait in the kernel's ring; more join under
                                  # load, up to receive_buffers. Few = reads reuse warm memory
user = "nobody"                   # when started as root: drop to this user after binding
shutdown_grace_ms = 10000         # SIGTERM: how long a command in progress may finish
listen_wait_ms = 3000             # start-up: how long a listen address in use is waited for (a daemon
                                  # killed a moment ago holds its ports until the kernel tears it down)
create_demo = true                # first start: domain, account, password in DATA/demo-password
demo_domain = "example.test"

[tls]
certificate = ""                  # PEM chain; empty (with key) = self-signed in DATA/tls
key = ""                          # PEM private key
self_signed_names = ["localhost"] # subjectAltNames of the generated certificate
self_signed_valid_days = 825

# One table per listener. tls = "none" | "starttls" | "implicit".
[listeners.smtp]                  # inbound mail from the Internet (production: 0.0.0.0:25)
enabled = true
address = "127.0.0.1:2525"
tls = "starttls"
connections_per_core_max = 10000
connections_per_ip_max = 50
idle_timeout_ms = 300000

[listeners.submission]            # mail from your users' clients (production: 587)
enabled = true
address = "127.0.0.1:5870"
tls = "starttls"
connections_per_core_max = 10000
connections_per_ip_max = 50
idle_timeout_ms = 300000

[listeners.submissions]           # submission over implicit TLS (production: 465)
enabled = true
address = "127.0.0.1:4650"
tls = "implicit"
connections_per_core_max = 10000
connections_per_ip_max = 50
idle_timeout_ms = 300000

[listeners.imap]                  # production: 143
enabled = true
address = "127.0.0.1:1143"
tls = "starttls"
connections_per_core_max = 10000
connections_per_ip_max = 50
idle_timeout_ms = 60000            # before login; after login: [imap] idle_timeout_ms

[listeners.imaps]                 # production: 993
enabled = true
address = "127.0.0.1:9930"
tls = "implicit"
connections_per_core_max = 10000
connections_per_ip_max = 50
idle_timeout_ms = 60000            # before login; after login: [imap] idle_timeout_ms

[listeners.pop3]                  # production: 110
enabled = true
address = "127.0.0.1:1110"
tls = "starttls"
connections_per_core_max = 10000
connections_per_ip_max = 50
idle_timeout_ms = 600000

[listeners.pop3s]                 # production: 995
enabled = true
address = "127.0.0.1:9950"
tls = "implicit"
connections_per_core_max = 10000
connections_per_ip_max = 50
idle_timeout_ms = 600000

[listeners.http]                  # autoconfig, metrics, admin API (production: 443)
enabled = true
address = "127.0.0.1:8080"
tls = "none"
connections_per_core_max = 10000
connections_per_ip_max = 50
idle_timeout_ms = 60000

[smtp]
message_size_max_bytes = 104857600  # SIZE (RFC 1870), enforced while the message streams in
recipients_max = 100
line_length_max = 512             # command lines (RFC 5321: 512 with CRLF; raise it for long ORCPT=/AUTH= parameters)
errors_max = 20                   # protocol errors before 421 and close
error_delay_ms = 1000             # tarpit: each error after the third waits this long
commands_max = 10000              # commands per connection, then 421
greeting_pause_ms = 300           # MX only: a client that talks before the greeting is refused (554)
quota_full_permanent = false      # full mailbox: false = 452 4.2.2 (retry later), true = 552 5.2.2
postmaster = ""                   # where <postmaster> goes; empty = the first account
data_timeout_ms = 180000          # per read while a message streams in
reject_nul = true                 # refuse messages containing NUL bytes (554 5.6.0)

[smtp.domain_message_size_max_bytes]  # per recipient domain, overrides message_size_max_bytes:
                                  # "example.org" = 10485760

[store]                           # backup_directory and segment_size_max_bytes apply at start (not on SIGHUP)
backup_directory = ""             # every durable record is copied here as soon as it is durable
                                  # (put it on another disk); empty = no backup. `ringmail restore` reads it.
segment_size_max_bytes = 67108864 # a core's segment file rolls over at this size
compaction_interval_ms = 600000   # each core looks for segments to compact this often; 0 = never.
                                  # A pass is stepped on the reactor (store/README.md "Compaction")
compaction_live_percent_max = 50  # a sealed segment is rewritten when at most this much of it is live
compaction_grace_ms = 60000       # a blob committed this recently counts as live

[spam]                           # the inline spam filter (bench/spam tunes the defaults)
enabled = true                   # score mail on the smtp (MX) listener
token_store = ""                 # a token store file; empty: the store's (ringmail spam train --data DIR, daemon stopped)
tag_threshold = 0.995            # spam probability for X-Spam-Status: Yes (FP 0.07% on bench/spam)
junk_threshold = 0.999           # file into Junk from here (FP 0.05% on bench/spam)
reject_threshold = 1.1           # 550 5.7.1 at DATA from here; above 1 = never
subject_prefix = ""              # e.g. "[SPAM] ": tagged mail gets it on a new first Subject line
text_bytes_max = 262144          # body text tokenized per message
training_batch_messages = 64     # IMAP Junk training: messages per delta record and group commit
training_queue_max = 4096       # Junk training: messages per durable intent, and the most a core holds in memory
training_delay_ms = 0            # Junk training: the worker waits this long after a move before its first batch
training_keep_intents = false    # tests only: applied training intents are kept (and replayed at the next start)
snapshot_every_bytes = 8388608   # training deltas kept before they are folded into a snapshot
training_message_bytes_max = 4194304  # a bigger message moved to/from Junk is not read (a stall) nor trained
per_account = []                 # "ADDRESS tag=0.8 junk=0.95 reject=0.999": all recipients alike

[imap]
line_length_max = 65536           # one command line (RFC 7162 asks for at least 8192)
literal_size_max_bytes = 52428800 # APPEND size limit (APPENDLIMIT); bigger is refused before it is sent
idle_timeout_ms = 1800000         # after login; at least 30 minutes (RFC 9051 5.4)
nesting_depth_max = 32            # parentheses / NOT / OR in SEARCH
sequence_ranges_max = 65536       # ranges in one command's sequence sets (1,3,5:9,...)
unauthenticated_literal_max_bytes = 8192  # literals before login (LOGIN, AUTHENTICATE only)
compress_piece_bytes = 16384      # COMPRESS=DEFLATE buffers; with zlib's state ~300 KiB a session
errors_max = 20                   # BAD responses before the session is dropped

[pop3]
line_length_max = 512             # command line incl. CRLF (RFC 2449: at least 255)
errors_max = 20                   # bad commands before the connection is closed
login_timeout_ms = 60000          # idle before login (after it: the listener's idle_timeout_ms)

[auth]
require_tls = true                # no login over plaintext unless an account says otherwise

[auth.password]
length_min = 12
length_max = 1024
entropy_bits_min = 40             # strength estimate; rejects common and repetitive passwords

[auth.argon2]                     # Argon2id; changing these rehashes nothing, new hashes use them
memory_kib = 65536
iterations = 3
parallelism = 1

[auth.throttle]                   # brute-force protection, all protocols together
account_failures_before_block = 5
ip_failures_before_block = 20
delay_base_ms = 250               # delay after the first failure, doubled for each next one
delay_max_ms = 8000
block_ms = 900000
failure_window_ms = 3600000
tracked_keys_max = 65536

[limits]
send_messages_per_hour = 200      # per account unless the account sets its own
send_recipients_per_hour = 1000
quota_warning_percent = 70

[dns]                             # resolver for SPF/DKIM/DMARC and `domain check`
servers = []                      # ["IP:PORT", ...]; empty = /etc/resolv.conf
timeout_ms = 2000                 # per try
tries = 2

[msgauth]                         # SPF, DKIM, DMARC on the MX listener (port 25)
verify_inbound = false            # production: true (needs a working resolver)
authserv_id = ""                  # Authentication-Results id; empty = server.hostname
dmarc_reject_action = "reject"    # a DMARC fail under p=reject: reject (550 5.7.1) | quarantine (Junk) | tag
dmarc_quarantine_action = "quarantine"  # under p=quarantine: quarantine (Junk) | tag
header_bytes_max = 262144         # header section kept for DKIM verification
dkim_signatures_max = 5           # signatures verified per message
rsa_bits_min = 1024               # weaker RSA keys give dkim=policy (RFC 8301)
spf_dns_lookups_max = 10          # RFC 7208 4.6.4
spf_void_lookups_max = 2
public_suffix_list = "/usr/share/publicsuffix/public_suffix_list.dat"  # Debian package publicsuffix

[outbound]                        # delivery of submitted mail to other domains' MX hosts
enabled = true
helo_name = ""                    # empty = server.hostname
port = 25                         # port of the remote MX hosts
source_address = ""               # bind outbound connections to this IP ("" = any)
smarthost = ""                    # "host:port": relay all outbound mail there instead of MX lookups
smarthost_auth_file = ""          # AUTH PLAIN (over TLS only) to the smarthost: user on line 1, password on line 2
tls_required = false              # false: STARTTLS whenever offered (opportunistic)
tls_required_domains = []         # domains that must be reached over TLS
queue_lifetime_ms = 432000000     # 5 days, then a bounce (RFC 3464 DSN) to the sender
delay_warning_ms = 14400000       # 4 hours: one "delayed" DSN
retry_initial_ms = 300000         # first retry after 5 minutes, doubled each time
retry_max_ms = 4000000            # backoff cap
connections_per_destination_max = 4
deliveries_max = 64               # messages being delivered at once
messages_per_connection_max = 50  # one connection carries this many messages to one host
connect_timeout_ms = 30000
greeting_timeout_ms = 300000      # RFC 5321 4.5.3.2 timeouts
command_timeout_ms = 300000
data_init_timeout_ms = 120000
data_block_timeout_ms = 180000
data_end_timeout_ms = 600000
rate_limit_strikes_before_suspend = 10  # send-limit refusals in an hour before sending is suspended
)toml";
  return text;
}

}  // namespace appliance
