// ringmail: the one binary. `serve` runs the daemon; every other subcommand
// administers it — through the daemon's admin socket when one runs on the
// data directory, on the data directory itself when none does.
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "appliance/accounts/authenticator.h"
#include "appliance/accounts/directory.h"
#include "appliance/accounts/password.h"
#include "appliance/admin/client.h"
#include "appliance/admin/commands.h"
#include "appliance/config/config.h"
#include "appliance/daemon/serve.h"
#include "appliance/dns/cares_lookup.h"
#include "appliance/msgauth/domain_cli.h"
#include "appliance/spam/spam_cli.h"
#include "appliance/storage/export.h"
#include "appliance/storage/import.h"
#include "appliance/storage/restore.h"

namespace {

using namespace appliance;

constexpr size_t password_input_max = 4096;

struct global_options {
  std::string data_dir = "./var";
  std::string config_path;
  bool json = false;
};

// A password from a file or stdin (first line), never from argv, where
// every user on the machine could read it in /proc.
std::optional<std::string> read_password(const std::string& file, bool confirm, std::string& error) {
  std::string line;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) {
      error = "cannot read password file " + file;
      return std::nullopt;
    }
    std::getline(in, line);
  } else if (::isatty(0)) {
    termios old{};
    ::tcgetattr(0, &old);
    termios quiet = old;
    quiet.c_lflag &= ~tcflag_t(ECHO);
    auto ask = [&](const char* prompt) {
      std::fprintf(stderr, "%s", prompt);
      ::tcsetattr(0, TCSANOW, &quiet);
      std::string s;
      std::getline(std::cin, s);
      ::tcsetattr(0, TCSANOW, &old);
      std::fprintf(stderr, "\n");
      return s;
    };
    line = ask("Password: ");
    if (confirm && ask("Again: ") != line) {
      error = "the passwords differ";
      return std::nullopt;
    }
  } else {
    std::getline(std::cin, line);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) {
    error = "no password given (on stdin or with --password-file)";
    return std::nullopt;
  }
  if (line.size() > password_input_max) {
    error = "password longer than " + std::to_string(password_input_max) + " characters";
    return std::nullopt;
  }
  return line;
}

int print(const admin_response& r) {
  std::fwrite(r.out.data(), 1, r.out.size(), stdout);
  std::fwrite(r.err.data(), 1, r.err.size(), stderr);
  return r.exit_code;
}

std::optional<config> load_cli_config(const global_options& g) {
  std::string path = config_path_for(g.data_dir, g.config_path);
  if (path.empty()) return default_config();
  std::vector<config_error> errors;
  auto c = load_config_file(path, errors);
  for (const auto& e : errors) std::fprintf(stderr, "ringmail: %s\n", e.to_string().c_str());
  return c;
}

// No daemon: the CLI is the directory's owner for the length of the command.
int run_offline(const global_options& g, admin_request req) {
  if (req.verb == "status" || req.verb == "metrics") {
    admin_response r;
    r.exit_code = 3;
    if (req.json) r.out = "{\"running\":false}\n";
    else r.out = "ringmail: no daemon running on " + g.data_dir + "\n";
    return print(r);
  }
  std::error_code ec;
  std::filesystem::create_directories(g.data_dir, ec);
  if (ec) return print(admin_failure(req, "cannot create " + g.data_dir + ": " + ec.message()));
  std::string lock_error;
  int lock = lock_data_dir(g.data_dir, lock_error);
  if (lock < 0)
    return print(admin_failure(req, lock_error + ": a daemon seems to run but its admin socket does not answer"));
  auto cfg = load_cli_config(g);
  if (!cfg) return print(admin_failure(req, "fix the config first (ringmail check-config)"));
  std::string path = (std::filesystem::path(g.data_dir) / directory_file_name).string();
  auto data = load_directory(path);
  if (!data) return print(admin_failure(req, data.error()));

  if (req.verb == "auth.test") {
    // Offline there is no throttle state: the password and the account's
    // policy are checked, nothing else.
    directory snapshot(*data);
    const account* acc = snapshot.find_account(req.arg("address"));
    auth_request a;
    a.login = req.arg("address");
    auto p = parse_protocol(req.arg("protocol"));
    if (!p) return print(admin_failure(req, "unknown protocol \"" + req.arg("protocol") + "\""));
    a.proto = *p;
    a.tls = req.arg("tls") == "yes";
    bool ok = acc && verify_password(req.arg("password"), acc->password_hash);
    auth_result res;
    res.status = decide_login(acc, ok, a, cfg->auth);
    admin_response r;
    r.exit_code = res.status == auth_status::ok ? 0 : 1;
    r.out = req.json ? "{\"status\":" + json_quote(to_string(res.status)) + ",\"message\":" + json_quote(res.message()) + "}\n"
                     : std::string(to_string(res.status)) + ": " + res.message() + "\n";
    return print(r);
  }
  if (carries_new_password(req)) {
    if (auto refused = check_new_password(req, *cfg)) return print(*refused);
    hash_outcome h = hash_password(req.arg("password"), cfg->auth.argon2);
    if (h.encoded.empty()) return print(admin_failure(req, h.error));
    req.args.erase("password");
    req.args["password_hash"] = h.encoded;
  }
  bool changed = false;
  admin_response r = execute(req, *data, *cfg, changed);
  if (changed) {
    if (auto saved = save_directory(*data, path); !saved) return print(admin_failure(req, "not saved: " + saved.error()));
  }
  ::close(lock);
  return print(r);
}

int run_admin(const global_options& g, admin_request req) {
  req.json = g.json;
  admin_response response;
  std::string error;
  switch (send_admin_request(g.data_dir, req, response, error)) {
    case admin_connect::answered: return print(response);
    case admin_connect::failed: return print(admin_failure(req, error));
    case admin_connect::no_daemon: break;
  }
  if (req.verb.rfind("queue.", 0) == 0 || req.verb == "account.unsuspend")
    return print(admin_failure(req, "the daemon is not running: the queue is managed by `ringmail serve`"));
  if (req.verb.rfind("quarantine.", 0) == 0)
    return print(admin_failure(req, "the daemon is not running: quarantine commands work through `ringmail serve` "
                                    "(use an IMAP client or `ringmail export --mailbox Junk` meanwhile)"));
  return run_offline(g, std::move(req));
}

int check_config(const global_options& g, std::string file, bool print_default) {
  if (print_default) {
    std::fwrite(embedded_default_config().data(), 1, embedded_default_config().size(), stdout);
    return 0;
  }
  if (file.empty()) file = config_path_for(g.data_dir, g.config_path);
  if (file.empty()) {
    std::printf("ringmail: no config file (%s/ringmail.toml absent, no --config): the embedded default is used, "
                "and it is valid\n", g.data_dir.c_str());
    return 0;
  }
  std::vector<config_error> errors;
  auto c = load_config_file(file, errors);
  if (!c) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    std::fprintf(stderr, "ringmail: %s: %zu error(s)\n", file.c_str(), errors.size());
    return 1;
  }
  std::printf("ringmail: %s is valid\n", file.c_str());
  return 0;
}

// `ringmail spam score` in its plain form (`--token-store FILE` once or
// twice, `--threads N` at most once, message files), read without CLI11:
// building the whole command tree (~30 subcommands, ~100 options) and
// tearing it down was ~2 M of the ~8.4 M instructions of a scoring run's
// start, run once per batch of files (bench/spam/evaluate.py scores 2000
// files a process). Anything else (another option, a global one, --help,
// `--token-store=FILE`, an argument starting with '-', a count CLI11 would
// read otherwise, such as 010 in octal) is left to CLI11 as before.
std::optional<spam_score_request> plain_spam_score(int argc, char** argv) {
  if (argc < 3 || std::string_view(argv[1]) != "spam" || std::string_view(argv[2]) != "score") return std::nullopt;
  spam_score_request request;
  bool threads_given = false;
  for (int i = 3; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--token-store" || arg == "--threads") {
      if (i + 1 == argc) return std::nullopt;
      std::string_view value = argv[++i];
      if (value.empty() || value[0] == '-') return std::nullopt;
      if (arg == "--token-store") {
        request.token_stores.emplace_back(value);
        continue;
      }
      // A decimal count: digits, no leading zero (CLI11 reads 010 as 8).
      if (threads_given || value.size() > 9 || (value.size() > 1 && value[0] == '0')) return std::nullopt;
      unsigned threads = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return std::nullopt;
        threads = threads * 10 + static_cast<unsigned>(c - '0');
      }
      request.threads = threads;
      threads_given = true;
    } else if (arg.empty() || arg[0] == '-') {
      return std::nullopt;
    } else {
      request.files.emplace_back(arg);
    }
  }
  if (request.token_stores.empty() || request.files.empty()) return std::nullopt;
  return request;
}

}  // namespace

int main(int argc, char** argv) {
  if (auto plain = plain_spam_score(argc, argv)) return spam_score(*plain);
  CLI::App app{"ringmail: one fast, secure mail appliance"};
  app.require_subcommand(1);
  // Global options are accepted anywhere on the command line: subcommands
  // hand options they do not know back to their parent.
  app.fallthrough();
  global_options g;
  app.add_option("--data-dir", g.data_dir, "Data directory")->capture_default_str();
  app.add_option("--config", g.config_path, "Config file (default: DATA/ringmail.toml if present, else built in)");
  app.add_flag("--json", g.json, "Machine-readable output");

  serve_options so;
  auto* serve_cmd = app.add_subcommand("serve", "Run the daemon");
  serve_cmd->add_option("--cores", so.cores, "Reactor threads (0 = from config)")->capture_default_str();
  serve_cmd->add_option("--listen-plain", so.demo_plain, "Demo line server: plaintext + STARTTLS address")->capture_default_str();
  serve_cmd->add_option("--listen-tls", so.demo_tls, "Demo line server: implicit TLS address")->capture_default_str();
  serve_cmd->add_option("--line-length-max", so.line_length_max, "Demo line server: longest line")->capture_default_str();
  serve_cmd->add_option("--idle-timeout-ms", so.idle_timeout_ms, "Demo line server: idle timeout per read")->capture_default_str();
  serve_cmd->add_option("--shutdown-grace-ms", so.shutdown_grace_ms, "Grace period on SIGTERM (default: from config)");

  std::string config_file;
  bool print_default = false;
  auto* check_cmd = app.add_subcommand("check-config", "Check a config file; explain every error with file, line and key");
  check_cmd->add_option("file", config_file, "Config file (default: --config, or DATA/ringmail.toml)");
  check_cmd->add_flag("--print-default", print_default, "Print the embedded default config");

  auto* status_cmd = app.add_subcommand("status", "Is the daemon running; its config, certificate, counts");
  auto* metrics_cmd = app.add_subcommand("metrics", "The daemon's counters and histograms (Prometheus text)");

  admin_request req;
  std::string password_file;
  std::vector<std::string> targets;
  std::string s1, s2;
  auto positional = [&](CLI::App* c, const char* name, std::string& into, const char* what, bool required = true) {
    auto* o = c->add_option(name, into, what);
    if (required) o->required();
  };

  auto* domain_cmd = app.add_subcommand("domain", "Local domains and alias domains");
  domain_cmd->require_subcommand(1);
  auto* domain_add = domain_cmd->add_subcommand("add", "Add a local domain");
  positional(domain_add, "name", s1, "Domain");
  auto* domain_remove = domain_cmd->add_subcommand("remove", "Remove a domain (it must be empty)");
  positional(domain_remove, "name", s1, "Domain");
  auto* domain_list = domain_cmd->add_subcommand("list", "List domains and alias domains");
  auto* domain_alias = domain_cmd->add_subcommand("alias", "Alias domains: every address reaches the target domain's mailboxes");
  domain_alias->require_subcommand(1);
  auto* domain_alias_add = domain_alias->add_subcommand("add", "Add an alias domain");
  positional(domain_alias_add, "alias", s1, "Alias domain");
  positional(domain_alias_add, "target", s2, "Local domain it points at");
  auto* domain_alias_remove = domain_alias->add_subcommand("remove", "Remove an alias domain");
  positional(domain_alias_remove, "alias", s1, "Alias domain");
  auto* domain_dkim = domain_cmd->add_subcommand("dkim", "DKIM signing keys (DATA/dkim/DOMAIN/)");
  domain_dkim->require_subcommand(1);
  auto* dkim_generate = domain_dkim->add_subcommand(
      "generate", "Create a signing key for a domain and print the DNS records to publish");
  positional(dkim_generate, "domain", s1, "Domain");
  std::string dkim_algorithm = "ed25519", dkim_selector;
  dkim_generate->add_option("--algorithm", dkim_algorithm, "ed25519 | rsa (RSA-2048)")->capture_default_str();
  dkim_generate->add_option("--selector", dkim_selector, "Selector (default: rm<date>e|r)");
  auto* dkim_sign = domain_dkim->add_subcommand("sign", "Sign a message read on stdin with the domain's active key");
  positional(dkim_sign, "domain", s1, "Domain");
  auto* domain_check = domain_cmd->add_subcommand("check", "Look up a domain's DNS records and say which are missing or wrong");
  positional(domain_check, "domain", s1, "Domain");
  auto* domain_records = domain_cmd->add_subcommand("records", "Print the DNS records a domain needs (MX, SPF, DKIM, DMARC, SRV)");
  positional(domain_records, "domain", s1, "Domain");

  auto* account_cmd = app.add_subcommand("account", "Accounts (the login is the e-mail address)");
  account_cmd->require_subcommand(1);
  auto* account_add = account_cmd->add_subcommand("add", "Add an account; the password comes from stdin or --password-file");
  positional(account_add, "address", s1, "E-mail address");
  account_add->add_option("--password-file", password_file, "Read the password from this file");
  auto* account_remove = account_cmd->add_subcommand("remove", "Remove an account");
  positional(account_remove, "address", s1, "E-mail address");
  auto* account_list = account_cmd->add_subcommand("list", "List accounts");
  account_list->add_option("--domain", s2, "Only this domain");
  auto* account_show = account_cmd->add_subcommand("show", "Show one account");
  positional(account_show, "address", s1, "E-mail address");
  auto* account_passwd = account_cmd->add_subcommand("passwd", "Set a new password (stdin or --password-file)");
  positional(account_passwd, "address", s1, "E-mail address");
  account_passwd->add_option("--password-file", password_file, "Read the password from this file");
  auto* account_unsuspend =
      account_cmd->add_subcommand("unsuspend", "Let an account send again after its sending was suspended");
  positional(account_unsuspend, "address", s1, "Account address");
  auto* account_set = account_cmd->add_subcommand("set", "Change an account's settings");
  positional(account_set, "address", s1, "E-mail address");
  std::map<std::string, std::string> set_values;
  for (auto [flag, key, help] : std::initializer_list<std::tuple<const char*, const char*, const char*>>{
           {"--protocols", "protocols", "Allowed logins: imap,pop3,submission | all | none"},
           {"--mailbox-access", "mailbox_access", "imap | pop3 | both | none (POP3 or IMAP, not both)"},
           {"--require-tls", "require_tls", "yes | no | default"},
           {"--send-messages-per-hour", "send_messages_per_hour", "0 = the configured default"},
           {"--send-recipients-per-hour", "send_recipients_per_hour", "0 = the configured default"},
           {"--disabled", "disabled", "yes | no"}}) {
    account_set->add_option_function<std::string>(
        flag, [&set_values, key = std::string(key)](const std::string& v) { set_values[key] = v; }, help);
  }

  auto* alias_cmd = app.add_subcommand("alias", "Aliases: addresses delivered to other mailboxes; @domain is the catch-all");
  alias_cmd->require_subcommand(1);
  auto* alias_add = alias_cmd->add_subcommand("add", "Add an alias (or targets to one)");
  positional(alias_add, "source", s1, "Address, or @domain for the catch-all");
  alias_add->add_option("targets", targets, "Local addresses")->required();
  auto* alias_remove = alias_cmd->add_subcommand("remove", "Remove an alias, or one target of it");
  positional(alias_remove, "source", s1, "Address or @domain");
  positional(alias_remove, "target", s2, "Only this target", false);
  auto* alias_list = alias_cmd->add_subcommand("list", "List aliases");

  auto* quota_cmd = app.add_subcommand("quota", "Mailbox quotas");
  quota_cmd->require_subcommand(1);
  auto* quota_set = quota_cmd->add_subcommand("set", "Set an account's quota (500M, 2G, unlimited)");
  positional(quota_set, "address", s1, "E-mail address");
  positional(quota_set, "size", s2, "Size");
  std::string quota_messages;
  quota_set->add_option("--messages", quota_messages, "Message count limit (a number, or unlimited)");

  auto* resolve_cmd = app.add_subcommand("resolve", "Where mail to an address goes (aliases, catch-all, alias domains)");
  positional(resolve_cmd, "address", s1, "E-mail address");

  auto* auth_cmd = app.add_subcommand("auth", "Authentication");
  auth_cmd->require_subcommand(1);
  auto* auth_test = auth_cmd->add_subcommand(
      "test", "Check a login as a protocol server would (password on stdin); with a daemon, counts toward brute-force blocking");
  positional(auth_test, "address", s1, "Login");
  std::string protocol_name = "imap", remote_ip = "127.0.0.1", tls_flag = "yes";
  auth_test->add_option("--protocol", protocol_name, "imap | pop3 | submission")->capture_default_str();
  auth_test->add_option("--remote-ip", remote_ip, "Client address to account the attempt to")->capture_default_str();
  auth_test->add_option("--tls", tls_flag, "yes | no: whether the connection is encrypted")->capture_default_str();
  auth_test->add_option("--password-file", password_file, "Read the password from this file");

  export_request ex;
  auto* queue_cmd = app.add_subcommand("queue", "The outbound queue (needs the running daemon)");
  queue_cmd->require_subcommand(1);
  auto* queue_list = queue_cmd->add_subcommand("list", "Queued messages: id, state, attempts, sender, pending recipients");
  auto* queue_show = queue_cmd->add_subcommand("show", "One queued message: recipients and their last answers");
  positional(queue_show, "id", s1, "Queue id");
  auto* queue_retry = queue_cmd->add_subcommand("retry", "Try a message again now");
  positional(queue_retry, "id", s1, "Queue id");
  auto* queue_flush = queue_cmd->add_subcommand("flush", "Try every waiting message now (held ones stay held)");
  auto* queue_remove = queue_cmd->add_subcommand("remove", "Drop a message from the queue (no bounce)");
  positional(queue_remove, "id", s1, "Queue id");
  auto* queue_hold = queue_cmd->add_subcommand("hold", "Stop delivering a message until released");
  positional(queue_hold, "id", s1, "Queue id");
  auto* queue_release = queue_cmd->add_subcommand("release", "Deliver a held message again");
  positional(queue_release, "id", s1, "Queue id");

  std::string quarantine_account, quarantine_mailbox, quarantine_limit = "100";
  auto* quarantine_cmd =
      app.add_subcommand("quarantine", "Mail the spam filter filed into Junk folders (needs the running daemon)");
  quarantine_cmd->require_subcommand(1);
  auto* quarantine_list =
      quarantine_cmd->add_subcommand("list", "Newest first: account, folder, UID, date, size, From, Subject, verdict");
  quarantine_list->add_option("--account", quarantine_account, "Only this account (default: every account)");
  quarantine_list->add_option("--limit", quarantine_limit, "At most this many messages")->capture_default_str();
  auto* quarantine_release =
      quarantine_cmd->add_subcommand("release", "Move a message into INBOX (the account's filter learns it is ham)");
  auto* quarantine_delete = quarantine_cmd->add_subcommand("delete", "Delete a message for good");
  for (auto* c : {quarantine_release, quarantine_delete}) {
    c->add_option("--account", quarantine_account, "Account address")->required();
    positional(c, "uid", s1, "The message's UID (from quarantine list)");
    c->add_option("--mailbox", quarantine_mailbox, "Junk folder (default: the account's Junk)");
  }

  auto* export_cmd = app.add_subcommand("export", "Write one mailbox out as mbox or Maildir (daemon stopped)");
  export_cmd->add_option("--account", ex.account, "Account address")->required();
  export_cmd->add_option("--mailbox", ex.mailbox, "Mailbox")->capture_default_str();
  export_cmd->add_option("--format", ex.format, "mbox | maildir")->required();
  export_cmd->add_option("--to", ex.target, "Target file (mbox) or directory (Maildir)")->required();

  import_request im;
  auto* import_cmd = app.add_subcommand("import", "Read a Maildir or an mbox file into a mailbox (daemon stopped)");
  import_cmd->add_option("--account", im.account, "Account address")->required();
  import_cmd->add_option("--mailbox", im.mailbox, "Mailbox (created if missing)")->capture_default_str();
  import_cmd->add_option("--format", im.format, "mbox | maildir")->required();
  import_cmd->add_option("--from", im.source, "Source file (mbox) or directory (Maildir)")->required();

  restore_request rs;
  auto* restore_cmd = app.add_subcommand(
      "restore", "Bring an account's mail back from the backup directory, optionally as of a time (daemon stopped)");
  restore_cmd->add_option("--account", rs.account, "Account address")->required();
  restore_cmd->add_option("--mailbox", rs.mailbox, "Only this mailbox (default: all)");
  restore_cmd->add_option("--as-of", rs.as_of, "Point in time: YYYY-MM-DDTHH:MM:SSZ or ms since the epoch");
  restore_cmd->add_option("--from", rs.backup_directory, "Backup directory (default: store.backup_directory)");

  spam_train_request train;
  spam_score_request score;
  spam_stats_request stats;
  spam_explain_request explain;
  auto* spam_cmd = app.add_subcommand("spam", "The spam filter: train, score, explain, stats (a token store file, or the daemon's store while it is stopped)");
  spam_cmd->require_subcommand(1);
  auto* spam_train_cmd = spam_cmd->add_subcommand(
      "train", "Train a token store on ham and spam (Maildir, mbox or directory); without --token-store the daemon's store");
  spam_train_cmd->add_option("--token-store", train.token_store, "Token store file (created when missing)");
  spam_train_cmd->add_option("--account", train.account, "Train this account's store in the daemon's store (default: global)");
  spam_train_cmd->add_option("--ham", train.ham, "Ham: Maildir, mbox or directory of message files (repeatable)");
  spam_train_cmd->add_option("--spam", train.spam, "Spam: Maildir, mbox or directory of message files (repeatable)");
  spam_train_cmd->add_flag("--bigrams", train.bigrams, "Also learn body word pairs (set when the store is created)");
  spam_train_cmd->add_flag("--case-tokens", train.case_tokens,
                           "Also learn words with capitals as written (set when the store is created)");
  spam_train_cmd->add_option("--threads", train.threads, "Threads (default: one per core)");
  spam_train_cmd->add_option("--model", train.model, "bayes | ftrl: the model a new --token-store file holds (default bayes)")
      ->check(CLI::IsMember({"bayes", "ftrl"}));
  spam_train_cmd->add_option("--ftrl-bits", train.ftrl.bits, "FTRL: 2^bits weight slots, 10..24 (new model)")->capture_default_str();
  spam_train_cmd->add_option("--ftrl-alpha", train.ftrl.alpha, "FTRL: learning rate alpha (new model)")->capture_default_str();
  spam_train_cmd->add_option("--ftrl-beta", train.ftrl.beta, "FTRL: learning rate beta (new model)")->capture_default_str();
  spam_train_cmd->add_option("--ftrl-l1", train.ftrl.l1, "FTRL: L1 regularization (new model)")->capture_default_str();
  spam_train_cmd->add_option("--ftrl-l2", train.ftrl.l2, "FTRL: L2 regularization (new model)")->capture_default_str();
  spam_train_cmd->add_option("--epochs", train.epochs, "FTRL: passes over the training set, 1..100")->capture_default_str();
  auto* spam_score_cmd = spam_cmd->add_subcommand("score", "Score message files: PATH<TAB>PROBABILITY<TAB>LEVEL per file");
  spam_score_cmd
      ->add_option("--token-store", score.token_stores,
                   "Token store file; given twice (a Bayesian store and an FTRL model), the two models' log-odds averaged")
      ->required()
      ->allow_extra_args(false);
  spam_score_cmd->add_option("files", score.files, "Message files (an mbox file is scored as one message)")->required();
  spam_score_cmd->add_option("--threads", score.threads, "Threads (default: one per core)");
  auto* spam_explain_cmd = spam_cmd->add_subcommand(
      "explain", "Why message files score what they do: their strongest known tokens with text, counts and f(w)");
  spam_explain_cmd->add_option("--token-store", explain.token_store, "Token store file")->required();
  spam_explain_cmd->add_option("--clues", explain.clues, "Tokens listed per file, strongest first (0: all; default 30)");
  spam_explain_cmd->add_option("files", explain.files, "Message files")->required();
  auto* spam_stats_cmd = spam_cmd->add_subcommand("stats", "Token counts of the daemon's global store or an account's (daemon stopped)");
  spam_stats_cmd->add_option("--account", stats.account, "This account's store (default: global)");

  CLI11_PARSE(app, argc, argv);

  if (*spam_train_cmd) {
    if (!train.token_store.empty()) return spam_train(train, nullptr);
    auto cfg = load_cli_config(g);
    if (!cfg) return 1;
    train.data_dir = g.data_dir;
    return spam_train(train, &*cfg);
  }
  if (*spam_stats_cmd) {
    auto cfg = load_cli_config(g);
    if (!cfg) return 1;
    stats.data_dir = g.data_dir;
    return spam_stats(stats, *cfg);
  }
  if (*spam_score_cmd) return spam_score(score);
  if (*spam_explain_cmd) return spam_explain(explain);

  if (*serve_cmd) {
    so.data_dir = g.data_dir;
    so.config_path = g.config_path;
    return appliance::serve(so);
  }
  if (*check_cmd) return check_config(g, config_file, print_default);
  if (*dkim_generate || *domain_records || *domain_check) {
    auto c = load_cli_config(g);
    if (!c) return 1;
    if (*domain_check)
      return domain_check_command(g.data_dir, c->server.hostname, {c->dns.servers, c->dns.timeout_ms, c->dns.tries}, s1);
    if (*domain_records) return domain_records_command(g.data_dir, c->server.hostname, s1);
    return dkim_generate_command(g.data_dir, c->server.hostname, s1, dkim_algorithm, dkim_selector);
  }
  if (*dkim_sign) return dkim_sign_command(g.data_dir, s1);
  if (*export_cmd) {
    ex.data_dir = g.data_dir;
    auto n = export_mailbox(ex);
    if (!n) {
      std::fprintf(stderr, "ringmail: export: %s\n", n.error().c_str());
      return 1;
    }
    std::printf("ringmail: exported %llu messages of %s/%s to %s\n", static_cast<unsigned long long>(*n),
                ex.account.c_str(), ex.mailbox.c_str(), ex.target.c_str());
    return 0;
  }

  if (*import_cmd || *restore_cmd) {
    auto cfg = load_cli_config(g);
    if (!cfg) return 1;
    if (*import_cmd) {
      im.data_dir = g.data_dir;
      auto n = import_mailbox(im, *cfg);
      if (!n) {
        std::fprintf(stderr, "ringmail: import: %s\n", n.error().c_str());
        return 1;
      }
      for (const auto& line : n->problems) std::fprintf(stderr, "ringmail: import: skipped: %s\n", line.c_str());
      std::printf("ringmail: imported %llu messages (%llu bytes, %llu skipped) into %s/%s\n",
                  static_cast<unsigned long long>(n->messages), static_cast<unsigned long long>(n->bytes),
                  static_cast<unsigned long long>(n->skipped), im.account.c_str(), im.mailbox.c_str());
      return 0;
    }
    rs.data_dir = g.data_dir;
    auto n = restore_account(rs, *cfg);
    if (!n) {
      std::fprintf(stderr, "ringmail: restore: %s\n", n.error().c_str());
      return 1;
    }
    std::printf("ringmail: restored %llu messages into %u mailboxes of %s (%llu already there)\n",
                static_cast<unsigned long long>(n->restored), n->mailboxes, rs.account.c_str(),
                static_cast<unsigned long long>(n->already_present));
    return 0;
  }

  bool needs_password = false, confirm = false;
  if (*status_cmd) req.verb = "status";
  else if (*metrics_cmd) req.verb = "metrics";
  else if (*domain_add) req = {"domain.add", {{"name", s1}}};
  else if (*domain_remove) req = {"domain.remove", {{"name", s1}}};
  else if (*domain_list) req.verb = "domain.list";
  else if (*domain_alias_add) req = {"alias_domain.add", {{"alias", s1}, {"target", s2}}};
  else if (*domain_alias_remove) req = {"alias_domain.remove", {{"alias", s1}}};
  else if (*account_add) { req = {"account.add", {{"address", s1}}}; needs_password = confirm = true; }
  else if (*account_passwd) { req = {"account.passwd", {{"address", s1}}}; needs_password = confirm = true; }
  else if (*account_remove) req = {"account.remove", {{"address", s1}}};
  else if (*account_list) { req.verb = "account.list"; if (!s2.empty()) req.args["domain"] = s2; }
  else if (*account_show) req = {"account.show", {{"address", s1}}};
  else if (*account_unsuspend) req = {"account.unsuspend", {{"address", s1}}};
  else if (*account_set) {
    if (set_values.empty()) {
      std::fprintf(stderr, "ringmail: account set: nothing to change (see --help)\n");
      return 2;
    }
    req = {"account.set", set_values};
    req.args["address"] = s1;
  }
  else if (*alias_add) {
    std::string joined;
    for (const auto& t : targets) joined += (joined.empty() ? "" : ",") + t;
    req = {"alias.add", {{"source", s1}, {"targets", joined}}};
  }
  else if (*alias_remove) { req = {"alias.remove", {{"source", s1}}}; if (!s2.empty()) req.args["target"] = s2; }
  else if (*alias_list) req.verb = "alias.list";
  else if (*quota_set) {
    req = {"quota.set", {{"address", s1}, {"size", s2}}};
    if (!quota_messages.empty()) req.args["messages"] = quota_messages;
  }
  else if (*resolve_cmd) req = {"resolve", {{"address", s1}}};
  else if (*queue_list) req.verb = "queue.list";
  else if (*quarantine_list) req = {"quarantine.list", {{"account", quarantine_account}, {"limit", quarantine_limit}}};
  else if (*quarantine_release)
    req = {"quarantine.release", {{"account", quarantine_account}, {"uid", s1}, {"mailbox", quarantine_mailbox}}};
  else if (*quarantine_delete)
    req = {"quarantine.delete", {{"account", quarantine_account}, {"uid", s1}, {"mailbox", quarantine_mailbox}}};
  else if (*queue_show) req = {"queue.show", {{"id", s1}}};
  else if (*queue_retry) req = {"queue.retry", {{"id", s1}}};
  else if (*queue_flush) req.verb = "queue.flush";
  else if (*queue_remove) req = {"queue.remove", {{"id", s1}}};
  else if (*queue_hold) req = {"queue.hold", {{"id", s1}}};
  else if (*queue_release) req = {"queue.release", {{"id", s1}}};
  else if (*auth_test) {
    req = {"auth.test", {{"address", s1}, {"protocol", protocol_name}, {"remote_ip", remote_ip}, {"tls", tls_flag}}};
    needs_password = true;
  }
  if (req.verb.empty()) {
    std::fprintf(stderr, "%s", app.help().c_str());
    return 2;
  }
  if (needs_password) {
    std::string error;
    auto password = read_password(password_file, confirm, error);
    if (!password) {
      std::fprintf(stderr, "ringmail: %s\n", error.c_str());
      return 2;
    }
    req.args["password"] = *password;
  }
  return run_admin(g, std::move(req));
}
