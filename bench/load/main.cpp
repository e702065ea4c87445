// ringmail-load: load generators for SMTP, IMAP and POP3 on kernel_io, and
// the physical-limits probe. Prints one JSON object per run on stdout (the
// format bench/compare reads); exit status 0 only when nothing failed.
//
//   ringmail-load smtp --port 2525 --connections 16 --messages 100 --sizes 4k --rcpt demo@example.test
//   ringmail-load imap --port 1143 --workload fetch-bodies --user U --password P --manifest M
//   ringmail-load pop3 --port 1110 --user U --password P
//   ringmail-load limits --dir /var/tmp
#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>

#include "bench/load/mailbox_load.h"
#include "bench/load/smtp_load.h"

namespace bench_load {
int run_limits(const std::string& dir, double seconds);
}

namespace {

void add_common(CLI::App* app, bench_load::common_options& o, std::string& tls) {
  app->add_option("--server", o.server, "Server IP")->capture_default_str();
  app->add_option("--port", o.port, "Server port")->required();
  app->add_option("--tls", tls, "none | starttls | implicit")->capture_default_str();
  app->add_option("--connections,-c", o.connections, "Concurrent connections")->capture_default_str();
  app->add_option("--threads", o.threads, "Client threads (one io_uring each)")->capture_default_str();
  app->add_option("--duration", o.duration_seconds, "Stop starting operations after this many seconds (0 = count only)");
  app->add_option("--time-limit", o.time_limit_seconds, "Hard cap on the run, seconds")->capture_default_str();
  app->add_option("--timeout-ms", o.timeout_ms, "Per read / connect timeout")->capture_default_str();
  app->add_option("--connecting-max", o.connecting_max,
                  "Connects + TLS handshakes under way at once per thread (0 = all at once)")->capture_default_str();
  app->add_option("--source", o.sources, "Local address(es) to connect from, round robin (127.0.0.2 ...)");
  app->add_option("--user", o.user, "Account to log in as (SMTP: AUTH PLAIN)");
  app->add_option("--password", o.password, "Its password");
  app->add_option("--json", o.json_path, "Also write the report here");
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  // Thousands of idle connections need as many descriptors as the hard limit allows.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  CLI::App app{"ringmail-load: SMTP/IMAP/POP3 load generators and physical limits"};
  app.require_subcommand(1);

  bench_load::smtp_options smtp;
  std::string smtp_tls = "none";
  auto* smtp_cmd = app.add_subcommand("smtp", "Send N x M messages (N sessions at once, M each)");
  add_common(smtp_cmd, smtp.common, smtp_tls);
  smtp_cmd->add_option("--messages,-m", smtp.messages, "Messages per session")->capture_default_str();
  smtp_cmd->add_option("--per-connection", smtp.per_connection,
                       "Messages per connection: a session reconnects after this many (0 = one connection)")
      ->capture_default_str();
  smtp_cmd->add_option("--pipelining", smtp.pipelining, "Use PIPELINING when offered (1/0)")->capture_default_str();
  smtp_cmd->add_option("--bdat", smtp.bdat, "Send with BDAT instead of DATA (1/0)")->capture_default_str();
  smtp_cmd->add_option("--bdat-chunk", smtp.bdat_chunk_bytes, "BDAT chunk size (0 = one chunk)")->capture_default_str();
  smtp_cmd->add_option("--from", smtp.mail_from, "Envelope sender")->capture_default_str();
  smtp_cmd->add_option("--rcpt", smtp.recipients, "Recipient(s), round robin")->required();
  smtp_cmd->add_option("--sizes", smtp.sizes, "Message size or distribution: 4k | 1k:50,64k:10,1m:1")->capture_default_str();
  smtp_cmd->add_option("--corpus", smtp.corpus_dir, "Send the files of this directory instead");
  smtp_cmd->add_option("--manifest", smtp.manifest_path, "Write accepted messages (id hash size rcpt) here");
  smtp_cmd->add_option("--run-id", smtp.run_id, "Prefix of the X-Bench-Id of every message")->capture_default_str();
  smtp_cmd->add_option("--seed", smtp.seed, "Random seed (sizes, body slices)")->capture_default_str();

  bench_load::mailbox_options imap;
  std::string imap_tls = "none";
  auto* imap_cmd = app.add_subcommand("imap", "IMAP workloads");
  add_common(imap_cmd, imap.common, imap_tls);
  imap_cmd->add_option("--workload,-w", imap.workload, "login | fetch-headers | fetch-bodies | search | flags | idle")
      ->capture_default_str();
  imap_cmd->add_option("--rounds", imap.rounds, "Passes per connection")->capture_default_str();
  imap_cmd->add_option("--mailbox", imap.mailbox, "Mailbox to SELECT")->capture_default_str();
  imap_cmd->add_option("--search-word", imap.search_word, "SEARCH BODY argument")->capture_default_str();
  imap_cmd->add_option("--hold", imap.hold_seconds, "idle: seconds to stay in IDLE once every connection is in IDLE (storm: at most)")->capture_default_str();
  imap_cmd->add_option("--ready-file", imap.ready_file, "idle: written when every connection is in IDLE");
  imap_cmd->add_option("--manifest", imap.manifest_path, "Verify fetched bodies against this SMTP manifest");
  imap_cmd->add_option("--storm-messages", imap.storm_messages, "idle: then send this many messages (IDLE storm)")
      ->capture_default_str();
  imap_cmd->add_option("--storm-smtp-port", imap.storm_smtp_port, "idle storm: plain SMTP port to send them to");
  imap_cmd->add_option("--storm-rcpt", imap.storm_rcpt, "idle storm: recipient (the IDLEing account)");
  imap_cmd->add_option("--storm-interval-ms", imap.storm_interval_ms, "idle storm: pause between messages")
      ->capture_default_str();

  bench_load::mailbox_options pop3;
  std::string pop3_tls = "none";
  auto* pop3_cmd = app.add_subcommand("pop3", "POP3: RETR every message");
  add_common(pop3_cmd, pop3.common, pop3_tls);
  pop3_cmd->add_option("--rounds", pop3.rounds, "Passes per connection")->capture_default_str();
  pop3_cmd->add_option("--manifest", pop3.manifest_path, "Verify retrieved messages against this SMTP manifest");

  std::string limits_dir = "/var/tmp";
  double limits_seconds = 1.0;
  auto* limits_cmd = app.add_subcommand("limits", "Physical limits: fdatasync rate, AES-GCM per core, loopback");
  limits_cmd->add_option("--dir", limits_dir, "Directory for the fdatasync probe (the servers' disk)")
      ->capture_default_str();
  limits_cmd->add_option("--seconds", limits_seconds, "Seconds per probe")->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  auto mode = [](const std::string& text, bench_load::common_options& o) {
    auto m = bench_load::parse_tls_mode(text);
    if (!m) throw CLI::ValidationError("--tls", "none | starttls | implicit");
    o.tls = *m;
  };
  try {
    if (*smtp_cmd) {
      mode(smtp_tls, smtp.common);
      return bench_load::run_smtp(smtp);
    }
    if (*imap_cmd) {
      mode(imap_tls, imap.common);
      return bench_load::run_imap(imap);
    }
    if (*pop3_cmd) {
      mode(pop3_tls, pop3.common);
      return bench_load::run_pop3(pop3);
    }
  } catch (const CLI::Error& e) {
    return app.exit(e);
  }
  return bench_load::run_limits(limits_dir, limits_seconds);
}
