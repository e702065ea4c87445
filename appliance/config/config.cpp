#include "appliance/config/config.h"

#include "kernel_io/base/result.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

namespace appliance {

std::string_view to_string(tls_mode m) {
  switch (m) {
    case tls_mode::none: return "none";
    case tls_mode::starttls: return "starttls";
    case tls_mode::implicit: return "implicit";
  }
  return "?";
}

std::string config_error::to_string() const {
  std::string out = file;
  if (line) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}

uint64_t smtp_section::message_size_max_for(std::string_view domain) const {
  std::string lower(domain);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  auto it = domain_message_size_max_bytes.find(lower);
  return it == domain_message_size_max_bytes.end() ? message_size_max_bytes : it->second;
}

uint64_t smtp_section::message_size_max_advertised() const {
  uint64_t out = message_size_max_bytes;
  for (const auto& [domain, size] : domain_message_size_max_bytes) out = std::max(out, size);
  return out;
}

const listener_config* config::listener(std::string_view name) const {
  for (const auto& l : listeners)
    if (l.name == name) return &l;
  return nullptr;
}

namespace {

constexpr std::string_view default_name = "(embedded default)";

std::string_view type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "true or false";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

std::string join(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
}

config_error error_at(const toml::node& n, std::string key, std::string message) {
  config_error e;
  const auto& src = n.source();
  e.file = src.path ? *src.path : std::string(default_name);
  e.line = src.begin.line;
  e.column = src.begin.column;
  e.key = std::move(key);
  e.message = std::move(message);
  return e;
}

// Walks the user's table against the default (the schema): unknown keys and
// type mismatches are errors.
void check_shape(const toml::table& user, const toml::table& schema, const std::string& prefix,
                 std::vector<config_error>& errors) {
  for (const auto& [key, node] : user) {
    std::string path = join(prefix, key.str());
    const toml::node* expected = schema.get(key.str());
    if (!expected) {
      errors.push_back(error_at(node, path, "unknown key"));
      continue;
    }
    // A whole number is a number (reject_threshold = 1); not the other way.
    bool whole_number = node.is_integer() && expected->is_floating_point();
    if (node.type() != expected->type() && !whole_number) {
      errors.push_back(error_at(node, path,
                                "expected " + std::string(type_name(expected->type())) + ", found " +
                                    std::string(type_name(node.type()))));
      continue;
    }
    if (auto* t = node.as_table()) {
      // An empty table in the default is a map: any key, integer values.
      if (expected->as_table()->empty()) {
        for (const auto& [k, v] : *t)
          if (!v.is_integer()) errors.push_back(error_at(v, join(path, k.str()), "expected an integer"));
      } else {
        check_shape(*t, *expected->as_table(), path, errors);
      }
    }
    if (auto* a = node.as_array()) {
      for (const auto& item : *a)
        if (!item.is_string()) errors.push_back(error_at(item, path, "expected an array of strings"));
    }
  }
}

// Typed reads: the user's value if present, else the default's. Types were
// checked by check_shape, so a mismatch here means "use the default".
class reader {
 public:
  reader(const toml::table& user, const toml::table& schema, std::vector<config_error>& errors)
      : _user(user), _schema(schema), _errors(errors) {}

  const toml::node& node(std::string_view path) const {
    auto u = _user.at_path(path);
    auto d = _schema.at_path(path);
    if (u && d && (u.type() == d.type() || (u.is_integer() && d.is_floating_point()))) return *u.node();
    RM_CHECK(d.node() != nullptr, path);
    return *d.node();
  }

  std::string string(std::string_view path) const { return *node(path).value<std::string>(); }
  bool boolean(std::string_view path) const { return *node(path).value<bool>(); }

  uint64_t integer(std::string_view path, uint64_t min, uint64_t max) const {
    const toml::node& n = node(path);
    int64_t v = *n.value<int64_t>();
    if (v < 0 || uint64_t(v) < min || uint64_t(v) > max) {
      _errors.push_back(error_at(n, std::string(path),
                                 "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                                     ", found " + std::to_string(v)));
      return uint64_t(std::clamp<int64_t>(v, int64_t(min), int64_t(std::min<uint64_t>(max, INT64_MAX))));
    }
    return uint64_t(v);
  }
  uint32_t u32(std::string_view path, uint32_t min, uint32_t max = std::numeric_limits<uint32_t>::max()) const {
    return uint32_t(integer(path, min, max));
  }
  double real(std::string_view path, double min, double max) const {
    const toml::node& n = node(path);
    // value<double>() converts an integer node (check_shape lets one in),
    // or gives nothing for one past 2^53: out of range, as infinity.
    double v = n.value<double>().value_or(std::numeric_limits<double>::infinity());
    if (!(v >= min && v <= max)) {
      _errors.push_back(error_at(n, std::string(path),
                                 "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                                     ", found " + std::to_string(v)));
      return std::clamp(v, min, max);
    }
    return v;
  }

  std::vector<std::string> strings(std::string_view path) const {
    std::vector<std::string> out;
    if (auto* a = node(path).as_array())
      for (const auto& item : *a)
        if (auto s = item.value<std::string>()) out.push_back(*s);
    return out;
  }

  void error(std::string_view path, std::string message) const {
    _errors.push_back(error_at(node(path), std::string(path), std::move(message)));
  }

 private:
  static void RM_CHECK(bool ok, std::string_view path) {
    if (!ok) {
      std::fprintf(stderr, "ringmail: internal: no default for config key %.*s\n", int(path.size()), path.data());
      std::abort();
    }
  }
  const toml::table& _user;
  const toml::table& _schema;
  std::vector<config_error>& _errors;
};

std::optional<tls_mode> parse_tls_mode(std::string_view s) {
  if (s == "none") return tls_mode::none;
  if (s == "starttls") return tls_mode::starttls;
  if (s == "implicit") return tls_mode::implicit;
  return std::nullopt;
}

bool valid_hostname(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  for (char c : h)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
  return h.front() != '.' && h.back() != '.';
}

// "alice@example.com tag=0.8 junk=0.95 reject=0.999"; missing keys take
// the global values.
kio::result<spam_account_thresholds, std::string> parse_spam_account(std::string_view entry,
                                                                     const spam_section& global) {
  spam_account_thresholds t{"", global.tag_threshold, global.junk_threshold, global.reject_threshold};
  std::size_t pos = 0;
  bool first = true;
  while (pos < entry.size()) {
    // Blank-separated: spaces or tabs.
    std::size_t end = entry.find_first_of(" \t", pos);
    if (end == std::string_view::npos) end = entry.size();
    std::string_view word = entry.substr(pos, end - pos);
    pos = end + 1;
    if (word.empty()) continue;
    if (first) {
      if (word.find('@') == std::string_view::npos) return kio::fail(std::string("starts with an address"));
      for (char ch : word) t.address.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
      first = false;
      continue;
    }
    std::size_t eq = word.find('=');
    if (eq == std::string_view::npos) return kio::fail("\"" + std::string(word) + "\" is not KEY=VALUE");
    std::string key(word.substr(0, eq)), value(word.substr(eq + 1));
    char* rest = nullptr;
    double v = std::strtod(value.c_str(), &rest);
    // Written so that NaN (strtod reads "nan") fails it too.
    if (value.empty() || *rest != '\0' || !(v >= 0 && v <= 2))
      return kio::fail("\"" + value + "\" is not a number in 0..2");
    if (key == "tag") t.tag = v;
    else if (key == "junk") t.junk = v;
    else if (key == "reject") t.reject = v;
    else return kio::fail("unknown key \"" + key + "\" (tag, junk, reject)");
  }
  if (first) return kio::fail(std::string("empty"));
  return t;
}

toml::table parse_default() {
  auto parsed = toml::parse(embedded_default_config(), default_name);
  if (!parsed) {
    std::fprintf(stderr, "ringmail: internal: the embedded default config does not parse: %s\n",
                 std::string(parsed.error().description()).c_str());
    std::abort();
  }
  return std::move(parsed).table();
}

config read(const toml::table& user, const toml::table& schema, std::string_view file_name,
            std::vector<config_error>& errors) {
  reader r(user, schema, errors);
  config c;
  c.source = std::string(file_name);

  c.server.hostname = r.string("server.hostname");
  if (!valid_hostname(c.server.hostname)) r.error("server.hostname", "not a host name: \"" + c.server.hostname + "\"");
  c.server.cores = r.u32("server.cores", 0, 1024);
  c.server.worker_threads = r.u32("server.worker_threads", 1, 256);
  c.server.receive_buffers = r.u32("server.receive_buffers", 1, 32768);
  if ((c.server.receive_buffers & (c.server.receive_buffers - 1)) != 0)
    r.error("server.receive_buffers", "must be a power of two (a kernel requirement), not " +
                                          std::to_string(c.server.receive_buffers));
  c.server.receive_buffer_bytes = r.u32("server.receive_buffer_bytes", 1024, 1u << 20);
  c.server.receive_buffers_window_min = r.u32("server.receive_buffers_window_min", 1, 32768);
  // The default window (16) is clamped to a smaller ring (all window, as
  // buffer_ring::init does); only a window the user asked for is an error.
  if (c.server.receive_buffers_window_min > c.server.receive_buffers) {
    if (user.at_path("server.receive_buffers_window_min"))
      r.error("server.receive_buffers_window_min", "must be at most server.receive_buffers (" +
                                                       std::to_string(c.server.receive_buffers) + ")");
    else
      c.server.receive_buffers_window_min = c.server.receive_buffers;
  }
  c.server.user = r.string("server.user");
  c.server.shutdown_grace_ms = r.integer("server.shutdown_grace_ms", 0, 3'600'000);
  c.server.listen_wait_ms = r.integer("server.listen_wait_ms", 0, 600'000);
  c.server.create_demo = r.boolean("server.create_demo");
  c.server.demo_domain = r.string("server.demo_domain");
  if (!valid_hostname(c.server.demo_domain))
    r.error("server.demo_domain", "not a domain name: \"" + c.server.demo_domain + "\"");

  c.tls.certificate_file = r.string("tls.certificate");
  c.tls.key_file = r.string("tls.key");
  if (c.tls.certificate_file.empty() != c.tls.key_file.empty())
    r.error(c.tls.certificate_file.empty() ? "tls.key" : "tls.certificate",
            "set both tls.certificate and tls.key, or neither (self-signed)");
  c.tls.self_signed_names = r.strings("tls.self_signed_names");
  if (c.tls.self_signed_names.empty()) r.error("tls.self_signed_names", "needs at least one name");
  c.tls.self_signed_valid_days = r.u32("tls.self_signed_valid_days", 1, 3650);

  for (std::string_view name : listener_names) {
    std::string p = "listeners." + std::string(name) + ".";
    listener_config l;
    l.name = std::string(name);
    l.enabled = r.boolean(p + "enabled");
    l.address_text = r.string(p + "address");
    if (auto a = kio::socket_address::parse(l.address_text)) l.address = *a;
    else r.error(p + "address", "not an address: \"" + l.address_text + "\" (want HOST:PORT or [IPV6]:PORT)");
    std::string mode = r.string(p + "tls");
    if (auto m = parse_tls_mode(mode)) l.tls = *m;
    else r.error(p + "tls", "must be \"none\", \"starttls\" or \"implicit\", found \"" + mode + "\"");
    l.connections_per_core_max = r.u32(p + "connections_per_core_max", 1, 1'000'000);
    l.connections_per_ip_max = r.u32(p + "connections_per_ip_max", 1, 1'000'000);
    l.idle_timeout_ms = r.integer(p + "idle_timeout_ms", 1'000, 86'400'000);
    c.listeners.push_back(std::move(l));
  }
  // Two enabled listeners on one address would fail at bind time with a
  // less helpful message; say it here.
  for (size_t i = 0; i < c.listeners.size(); ++i)
    for (size_t j = i + 1; j < c.listeners.size(); ++j) {
      const auto &a = c.listeners[i], &b = c.listeners[j];
      if (a.enabled && b.enabled && a.address.port() != 0 && a.address.to_string() == b.address.to_string())
        r.error("listeners." + b.name + ".address", "same address as listeners." + a.name + " (" + a.address_text + ")");
    }

  c.smtp.message_size_max_bytes = r.integer("smtp.message_size_max_bytes", 1024, 1ull << 34);
  c.smtp.recipients_max = r.u32("smtp.recipients_max", 1, 100'000);
  c.smtp.line_length_max = r.u32("smtp.line_length_max", 512, 1 << 20);
  c.smtp.errors_max = r.u32("smtp.errors_max", 1, 1000);
  c.smtp.quota_full_permanent = r.boolean("smtp.quota_full_permanent");
  c.smtp.postmaster = r.string("smtp.postmaster");
  c.smtp.data_timeout_ms = r.integer("smtp.data_timeout_ms", 1000, 3'600'000);
  c.smtp.reject_nul = r.boolean("smtp.reject_nul");
  c.smtp.error_delay_ms = r.integer("smtp.error_delay_ms", 0, 60'000);
  c.smtp.commands_max = r.u32("smtp.commands_max", 10, 10'000'000);
  c.smtp.greeting_pause_ms = r.integer("smtp.greeting_pause_ms", 0, 60'000);
  if (auto* sizes = user.at_path("smtp.domain_message_size_max_bytes").as_table()) {
    for (const auto& [k, v] : *sizes) {
      std::string key = "smtp.domain_message_size_max_bytes." + std::string(k.str());
      std::string domain(k.str());
      std::transform(domain.begin(), domain.end(), domain.begin(),
                     [](unsigned char ch) { return char(std::tolower(ch)); });
      if (!valid_hostname(domain)) {
        errors.push_back(error_at(v, key, "not a domain name: \"" + std::string(k.str()) + "\""));
        continue;
      }
      auto n = v.value<int64_t>();
      if (!n) continue;  // check_shape reported it
      if (*n < 1024 || uint64_t(*n) > (1ull << 34)) {
        errors.push_back(error_at(v, key, "must be between 1024 and " + std::to_string(1ull << 34) + ", found " +
                                              std::to_string(*n)));
        continue;
      }
      c.smtp.domain_message_size_max_bytes[domain] = uint64_t(*n);
    }
  }
  c.store.backup_directory = r.string("store.backup_directory");
  c.store.segment_size_max_bytes = r.integer("store.segment_size_max_bytes", 1ull << 20, 1ull << 34);
  c.store.compaction_interval_ms = r.integer("store.compaction_interval_ms", 0, 30ull * 86'400'000);
  c.store.compaction_live_percent_max = r.u32("store.compaction_live_percent_max", 1, 99);
  c.store.compaction_grace_ms = r.integer("store.compaction_grace_ms", 1'000, 86'400'000);
  c.spam.enabled = r.boolean("spam.enabled");
  c.spam.token_store = r.string("spam.token_store");
  c.spam.tag_threshold = r.real("spam.tag_threshold", 0.0, 2.0);
  c.spam.junk_threshold = r.real("spam.junk_threshold", 0.0, 2.0);
  c.spam.reject_threshold = r.real("spam.reject_threshold", 0.0, 2.0);
  c.spam.subject_prefix = r.string("spam.subject_prefix");
  if (c.spam.subject_prefix.size() > 64 || c.spam.subject_prefix.find_first_of("\r\n") != std::string::npos)
    r.error("spam.subject_prefix", "at most 64 characters on one line");
  c.spam.text_bytes_max = r.integer("spam.text_bytes_max", 1024, 64ull << 20);
  c.spam.training_batch_messages = static_cast<uint32_t>(r.integer("spam.training_batch_messages", 1, 10'000));
  c.spam.training_queue_max = r.integer("spam.training_queue_max", 1, 1'000'000);
  c.spam.training_delay_ms = r.integer("spam.training_delay_ms", 0, 3'600'000);
  c.spam.training_keep_intents = r.boolean("spam.training_keep_intents");
  c.spam.snapshot_every_bytes = r.integer("spam.snapshot_every_bytes", 1, 1ull << 40);
  c.spam.training_message_bytes_max = r.integer("spam.training_message_bytes_max", 1024, 1ull << 40);
  for (const std::string& entry : r.strings("spam.per_account")) {
    auto parsed = parse_spam_account(entry, c.spam);
    if (!parsed) {
      r.error("spam.per_account", "\"" + entry + "\": " + parsed.error());
      continue;
    }
    // Two entries for one address: which one was meant is not ours to guess.
    auto same = std::find_if(c.spam.per_account.begin(), c.spam.per_account.end(),
                             [&](const spam_account_thresholds& t) { return t.address == parsed->address; });
    if (same != c.spam.per_account.end()) {
      r.error("spam.per_account", "\"" + entry + "\": " + parsed->address + " has an entry already");
      continue;
    }
    c.spam.per_account.push_back(*parsed);
  }
  c.outbound.enabled = r.boolean("outbound.enabled");
  c.outbound.helo_name = r.string("outbound.helo_name");
  c.outbound.port = uint16_t(r.u32("outbound.port", 1, 65'535));
  c.outbound.source_address = r.string("outbound.source_address");
  if (!c.outbound.source_address.empty() && !kio::socket_address::parse(c.outbound.source_address + ":0") &&
      !kio::socket_address::parse("[" + c.outbound.source_address + "]:0"))
    r.error("outbound.source_address", "not an IP address: \"" + c.outbound.source_address + "\"");
  c.outbound.smarthost = r.string("outbound.smarthost");
  c.outbound.smarthost_auth_file = r.string("outbound.smarthost_auth_file");
  if (!c.outbound.smarthost_auth_file.empty() && c.outbound.smarthost.empty())
    r.error("outbound.smarthost_auth_file", "set, but outbound.smarthost is empty");
  c.outbound.tls_required = r.boolean("outbound.tls_required");
  c.outbound.tls_required_domains = r.strings("outbound.tls_required_domains");
  c.outbound.queue_lifetime_ms = r.integer("outbound.queue_lifetime_ms", 1'000, 60ull * 86'400'000);
  c.outbound.delay_warning_ms = r.integer("outbound.delay_warning_ms", 0, 60ull * 86'400'000);
  c.outbound.retry_initial_ms = r.integer("outbound.retry_initial_ms", 100, 86'400'000);
  c.outbound.retry_max_ms = r.integer("outbound.retry_max_ms", 100, 7ull * 86'400'000);
  c.outbound.connections_per_destination_max = r.u32("outbound.connections_per_destination_max", 1, 1'000);
  c.outbound.deliveries_max = r.u32("outbound.deliveries_max", 1, 100'000);
  c.outbound.messages_per_connection_max = r.u32("outbound.messages_per_connection_max", 1, 10'000);
  c.outbound.connect_timeout_ms = r.integer("outbound.connect_timeout_ms", 100, 3'600'000);
  c.outbound.greeting_timeout_ms = r.integer("outbound.greeting_timeout_ms", 100, 3'600'000);
  c.outbound.command_timeout_ms = r.integer("outbound.command_timeout_ms", 100, 3'600'000);
  c.outbound.data_init_timeout_ms = r.integer("outbound.data_init_timeout_ms", 100, 3'600'000);
  c.outbound.data_block_timeout_ms = r.integer("outbound.data_block_timeout_ms", 100, 3'600'000);
  c.outbound.data_end_timeout_ms = r.integer("outbound.data_end_timeout_ms", 100, 3'600'000);
  c.outbound.rate_limit_strikes_before_suspend = r.u32("outbound.rate_limit_strikes_before_suspend", 1, 1'000'000);
  c.imap.line_length_max = r.u32("imap.line_length_max", 1000, 1 << 24);
  c.imap.literal_size_max_bytes = r.integer("imap.literal_size_max_bytes", 1024, 1ull << 34);
  // RFC 9051 5.4: an autologout timer of at least 30 minutes after login.
  c.imap.idle_timeout_ms = r.integer("imap.idle_timeout_ms", 1'800'000, 86'400'000);
  c.imap.nesting_depth_max = r.u32("imap.nesting_depth_max", 1, 1000);
  c.imap.sequence_ranges_max = r.u32("imap.sequence_ranges_max", 16, 1u << 24);
  c.imap.unauthenticated_literal_max_bytes = r.integer("imap.unauthenticated_literal_max_bytes", 1024, 1u << 20);
  c.imap.compress_piece_bytes = r.u32("imap.compress_piece_bytes", 1024, 1u << 20);
  c.imap.errors_max = r.u32("imap.errors_max", 1, 1000);
  c.pop3.line_length_max = r.u32("pop3.line_length_max", 255, 1 << 20);
  c.pop3.errors_max = r.u32("pop3.errors_max", 1, 1000);
  c.pop3.login_timeout_ms = r.integer("pop3.login_timeout_ms", 1'000, 3'600'000);

  c.auth.require_tls = r.boolean("auth.require_tls");
  c.auth.password.length_min = r.u32("auth.password.length_min", 8, 1024);
  c.auth.password.length_max = r.u32("auth.password.length_max", 16, 4096);
  if (c.auth.password.length_max < c.auth.password.length_min)
    r.error("auth.password.length_max", "is below auth.password.length_min");
  c.auth.password.entropy_bits_min = r.u32("auth.password.entropy_bits_min", 0, 256);
  c.auth.argon2.memory_kib = r.u32("auth.argon2.memory_kib", 8, 4u << 20);
  c.auth.argon2.iterations = r.u32("auth.argon2.iterations", 1, 100);
  c.auth.argon2.parallelism = r.u32("auth.argon2.parallelism", 1, 64);
  if (c.auth.argon2.memory_kib < 8 * c.auth.argon2.parallelism)
    r.error("auth.argon2.memory_kib", "must be at least 8 x parallelism");
  auto& t = c.auth.throttle;
  t.account_failures_before_block = r.u32("auth.throttle.account_failures_before_block", 1, 1000);
  t.ip_failures_before_block = r.u32("auth.throttle.ip_failures_before_block", 1, 100'000);
  t.delay_base_ms = r.integer("auth.throttle.delay_base_ms", 0, 60'000);
  t.delay_max_ms = r.integer("auth.throttle.delay_max_ms", 0, 300'000);
  t.block_ms = r.integer("auth.throttle.block_ms", 1'000, 30ull * 86'400'000);
  t.failure_window_ms = r.integer("auth.throttle.failure_window_ms", 1'000, 30ull * 86'400'000);
  t.tracked_keys_max = r.u32("auth.throttle.tracked_keys_max", 64, 16u << 20);

  c.limits.send_messages_per_hour = r.u32("limits.send_messages_per_hour", 1, 10'000'000);
  c.limits.send_recipients_per_hour = r.u32("limits.send_recipients_per_hour", 1, 100'000'000);
  c.limits.quota_warning_percent = r.u32("limits.quota_warning_percent", 1, 99);

  c.dns.servers = r.strings("dns.servers");
  for (const auto& server : c.dns.servers)
    if (!kio::socket_address::parse(server) && !kio::socket_address::parse(server + ":53"))
      r.error("dns.servers", "not an address: \"" + server + "\" (want IP or IP:PORT)");
  c.dns.timeout_ms = r.u32("dns.timeout_ms", 50, 60'000);
  c.dns.tries = r.u32("dns.tries", 1, 10);

  auto action = [&](std::string_view key, bool allow_reject) {
    std::string v = r.string(key);
    if (v == "reject" && allow_reject) return dmarc_action::reject;
    if (v == "quarantine") return dmarc_action::quarantine;
    if (v == "tag") return dmarc_action::tag;
    r.error(key, allow_reject ? "must be \"reject\", \"quarantine\" or \"tag\", found \"" + v + "\""
                              : "must be \"quarantine\" or \"tag\", found \"" + v + "\"");
    return dmarc_action::tag;
  };
  c.msgauth.verify_inbound = r.boolean("msgauth.verify_inbound");
  c.msgauth.authserv_id = r.string("msgauth.authserv_id");
  c.msgauth.on_reject_policy = action("msgauth.dmarc_reject_action", true);
  c.msgauth.on_quarantine_policy = action("msgauth.dmarc_quarantine_action", false);
  c.msgauth.header_bytes_max = r.u32("msgauth.header_bytes_max", 4096, 16u << 20);
  c.msgauth.dkim_signatures_max = r.u32("msgauth.dkim_signatures_max", 1, 50);
  c.msgauth.rsa_bits_min = r.u32("msgauth.rsa_bits_min", 512, 16384);
  c.msgauth.spf_dns_lookups_max = r.u32("msgauth.spf_dns_lookups_max", 1, 100);
  c.msgauth.spf_void_lookups_max = r.u32("msgauth.spf_void_lookups_max", 0, 100);
  c.msgauth.public_suffix_list = r.string("msgauth.public_suffix_list");
  return c;
}

}  // namespace

std::optional<config> parse_config(std::string_view text, std::string_view file_name,
                                   std::vector<config_error>& errors) {
  static const toml::table schema = parse_default();
  auto parsed = toml::parse(text, file_name);
  if (!parsed) {
    const auto& e = parsed.error();
    config_error ce;
    ce.file = std::string(file_name);
    ce.line = e.source().begin.line;
    ce.column = e.source().begin.column;
    ce.message = "TOML syntax: " + std::string(e.description());
    errors.push_back(std::move(ce));
    return std::nullopt;
  }
  const toml::table& user = parsed.table();
  size_t before = errors.size();
  check_shape(user, schema, "", errors);
  config c = read(user, schema, file_name, errors);
  if (errors.size() != before) return std::nullopt;
  return c;
}

std::optional<config> load_config_file(const std::string& path, std::vector<config_error>& errors) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors.push_back({path, 0, 0, "", std::string("cannot open: ") + std::strerror(errno)});
    return std::nullopt;
  }
  std::string text;
  text.resize(config_file_size_max + 1);
  in.read(text.data(), std::streamsize(text.size()));
  text.resize(size_t(in.gcount()));
  if (text.size() > config_file_size_max) {
    errors.push_back({path, 0, 0, "", "larger than " + std::to_string(config_file_size_max) + " bytes"});
    return std::nullopt;
  }
  return parse_config(text, path, errors);
}

config default_config() {
  std::vector<config_error> errors;
  auto c = parse_config("", default_name, errors);
  if (!c) {
    for (auto& e : errors) std::fprintf(stderr, "ringmail: internal: %s\n", e.to_string().c_str());
    std::abort();
  }
  return *c;
}

}  // namespace appliance
