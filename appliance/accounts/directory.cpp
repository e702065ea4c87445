#include "appliance/accounts/directory.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "appliance/accounts/password.h"

namespace appliance {

namespace {

bool atext(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+/=?^_`{|}~-").find(c) != std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string domain_of(std::string_view address) { return std::string(address.substr(address.rfind('@') + 1)); }

kio::failure<std::string> fail_msg(std::string m) { return kio::fail(std::move(m)); }

}  // namespace

std::optional<std::string> normalize_domain(std::string_view domain) {
  if (domain.empty() || domain.size() > domain_length_max) return std::nullopt;
  std::string d = lower(domain);
  size_t label = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    char c = d[i];
    if (c == '.') {
      if (label == 0) return std::nullopt;
      if (d[i - 1] == '-') return std::nullopt;
      label = 0;
      continue;
    }
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return std::nullopt;
    if (label == 0 && c == '-') return std::nullopt;
    if (++label > 63) return std::nullopt;
  }
  if (label == 0 || d.back() == '-') return std::nullopt;
  return d;
}

std::optional<std::string> normalize_address(std::string_view address) {
  if (address.size() > address_length_max) return std::nullopt;
  size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0) return std::nullopt;
  std::string_view local = address.substr(0, at);
  if (local.size() > local_part_length_max || local.front() == '.' || local.back() == '.') return std::nullopt;
  for (size_t i = 0; i < local.size(); ++i) {
    if (local[i] == '.') {
      if (local[i - 1] == '.') return std::nullopt;
    } else if (!atext(local[i])) {
      return std::nullopt;
    }
  }
  auto domain = normalize_domain(address.substr(at + 1));
  if (!domain) return std::nullopt;
  return lower(local) + "@" + *domain;
}

std::string_view to_string(resolve_status s) {
  switch (s) {
    case resolve_status::local: return "local";
    case resolve_status::unknown_user: return "unknown_user";
    case resolve_status::not_local_domain: return "not_local_domain";
    case resolve_status::invalid_address: return "invalid_address";
    case resolve_status::alias_loop: return "alias_loop";
  }
  return "?";
}

// ---- mutations ----

directory_data::outcome directory_data::add_domain(std::string_view name) {
  auto d = normalize_domain(name);
  if (!d) return fail_msg("not a domain name: \"" + std::string(name) + "\"");
  if (domains.count(*d)) return fail_msg("domain " + *d + " exists already");
  if (alias_domains.count(*d)) return fail_msg(*d + " is an alias domain (of " + alias_domains[*d] + ")");
  domains[*d] = true;
  return {};
}

directory_data::outcome directory_data::remove_domain(std::string_view name) {
  auto d = normalize_domain(name);
  if (!d || !domains.count(*d)) return fail_msg("no such domain: " + std::string(name));
  size_t users = 0, alias_count = 0;
  for (const auto& [address, a] : accounts) users += domain_of(address) == *d;
  for (const auto& [source, t] : aliases) alias_count += domain_of(source) == *d;
  std::vector<std::string> pointing;
  for (const auto& [alias, target] : alias_domains)
    if (target == *d) pointing.push_back(alias);
  if (users || alias_count || !pointing.empty()) {
    std::string why = "domain " + *d + " is in use:";
    if (users) why += " " + std::to_string(users) + " account(s)";
    if (alias_count) why += " " + std::to_string(alias_count) + " alias(es)";
    for (const auto& p : pointing) why += " alias domain " + p;
    return fail_msg(why + "; remove those first");
  }
  domains.erase(*d);
  return {};
}

directory_data::outcome directory_data::add_alias_domain(std::string_view alias, std::string_view target) {
  auto a = normalize_domain(alias);
  auto t = normalize_domain(target);
  if (!a) return fail_msg("not a domain name: \"" + std::string(alias) + "\"");
  if (!t) return fail_msg("not a domain name: \"" + std::string(target) + "\"");
  if (!domains.count(*t)) return fail_msg("target " + *t + " is not a local domain (add it with: domain add " + *t + ")");
  if (domains.count(*a)) return fail_msg(*a + " is a local domain already; an alias domain has no mailboxes of its own");
  if (alias_domains.count(*a)) return fail_msg("alias domain " + *a + " exists already (-> " + alias_domains[*a] + ")");
  alias_domains[*a] = *t;
  return {};
}

directory_data::outcome directory_data::remove_alias_domain(std::string_view alias) {
  auto a = normalize_domain(alias);
  if (!a || !alias_domains.erase(*a)) return fail_msg("no such alias domain: " + std::string(alias));
  return {};
}

kio::result<account_id, std::string> directory_data::add_account(std::string_view address, std::string password_hash) {
  auto a = normalize_address(address);
  if (!a) return fail_msg("not an e-mail address: \"" + std::string(address) + "\"");
  std::string d = domain_of(*a);
  if (!domains.count(d)) {
    if (alias_domains.count(d))
      return fail_msg(d + " is an alias domain of " + alias_domains[d] + "; add the account there");
    return fail_msg("domain " + d + " is not local (add it first: ringmail domain add " + d + ")");
  }
  if (accounts.count(*a)) return fail_msg("account " + *a + " exists already");
  if (aliases.count(*a)) return fail_msg(*a + " is an alias; remove the alias first");
  if (!looks_like_argon2id(password_hash)) return fail_msg("internal: password hash is not Argon2id");
  account acc;
  acc.id = account_id(next_account_id++);
  acc.address = *a;
  acc.password_hash = std::move(password_hash);
  accounts[*a] = acc;
  return acc.id;
}

account* directory_data::find(std::string_view address) {
  auto a = normalize_address(address);
  if (!a) return nullptr;
  auto it = accounts.find(*a);
  return it == accounts.end() ? nullptr : &it->second;
}

directory_data::outcome directory_data::remove_account(std::string_view address) {
  auto a = normalize_address(address);
  if (!a || !accounts.erase(*a)) return fail_msg("no such account: " + std::string(address));
  for (auto it = aliases.begin(); it != aliases.end();) {
    auto& t = it->second;
    t.erase(std::remove(t.begin(), t.end(), *a), t.end());
    if (t.empty()) it = aliases.erase(it);
    else ++it;
  }
  return {};
}

directory_data::outcome directory_data::set_password(std::string_view address, std::string password_hash) {
  account* acc = find(address);
  if (!acc) return fail_msg("no such account: " + std::string(address));
  if (!looks_like_argon2id(password_hash)) return fail_msg("internal: password hash is not Argon2id");
  acc->password_hash = std::move(password_hash);
  return {};
}

directory_data::outcome directory_data::add_alias(std::string_view source, const std::vector<std::string>& targets) {
  std::string key;
  if (source.starts_with("@")) {
    auto d = normalize_domain(source.substr(1));
    if (!d) return fail_msg("not a domain: \"" + std::string(source) + "\"");
    key = "@" + *d;
  } else {
    auto a = normalize_address(source);
    if (!a) return fail_msg("not an e-mail address: \"" + std::string(source) + "\"");
    key = *a;
    if (accounts.count(key)) return fail_msg(key + " is an account; an alias cannot shadow it");
  }
  std::string d = domain_of(key);
  if (!domains.count(d))
    return fail_msg("domain " + d + " is not local" +
                    (alias_domains.count(d) ? " (it is an alias domain of " + alias_domains[d] + ": use that)" : ""));
  if (targets.empty()) return fail_msg("an alias needs at least one target");
  auto& list = aliases[key];
  std::vector<std::string> added;
  for (const auto& t : targets) {
    auto n = normalize_address(t);
    std::string why;
    if (!n) why = "not an e-mail address: \"" + t + "\"";
    else if (*n == key) why = "an alias cannot point at itself";
    else if (!accounts.count(*n) && !aliases.count(*n))
      why = "target " + *n + " is neither a local account nor an alias (forwarding to other servers is not supported)";
    if (!why.empty()) {
      if (list.empty()) aliases.erase(key);
      else for (const auto& x : added) list.erase(std::remove(list.begin(), list.end(), x), list.end());
      return fail_msg(why);
    }
    if (std::find(list.begin(), list.end(), *n) == list.end()) {
      list.push_back(*n);
      added.push_back(*n);
    }
  }
  if (list.size() > alias_targets_max) {
    for (const auto& x : added) list.erase(std::remove(list.begin(), list.end(), x), list.end());
    if (list.empty()) aliases.erase(key);
    return fail_msg("an alias has at most " + std::to_string(alias_targets_max) + " targets");
  }
  return {};
}

directory_data::outcome directory_data::remove_alias(std::string_view source, std::string_view target) {
  std::string key;
  if (source.starts_with("@")) {
    auto d = normalize_domain(source.substr(1));
    if (d) key = "@" + *d;
  } else if (auto a = normalize_address(source)) {
    key = *a;
  }
  auto it = aliases.find(key);
  if (key.empty() || it == aliases.end()) return fail_msg("no such alias: " + std::string(source));
  if (target.empty()) {
    aliases.erase(it);
    return {};
  }
  auto n = normalize_address(target);
  auto& list = it->second;
  auto pos = n ? std::find(list.begin(), list.end(), *n) : list.end();
  if (pos == list.end()) return fail_msg("alias " + key + " has no target " + std::string(target));
  list.erase(pos);
  if (list.empty()) aliases.erase(it);
  return {};
}

// ---- the snapshot ----

directory::directory(directory_data data) : _data(std::move(data)) {
  for (const auto& [address, a] : _data.accounts) _by_id[a.id.get()] = &a;
}

std::optional<std::string> directory::canonical_domain(std::string_view domain) const {
  auto d = normalize_domain(domain);
  if (!d) return std::nullopt;
  if (_data.domains.count(*d)) return *d;
  auto it = _data.alias_domains.find(*d);
  if (it != _data.alias_domains.end()) return it->second;
  return std::nullopt;
}

bool directory::is_local_domain(std::string_view domain) const { return canonical_domain(domain).has_value(); }

const account* directory::find_account(std::string_view address) const {
  auto a = normalize_address(address);
  if (!a) return nullptr;
  auto it = _data.accounts.find(*a);
  return it == _data.accounts.end() ? nullptr : &it->second;
}

const account* directory::find_account(account_id id) const {
  auto it = _by_id.find(id.get());
  return it == _by_id.end() ? nullptr : it->second;
}

void directory::resolve_into(const std::string& address, unsigned depth, resolution& out) const {
  if (depth > alias_depth_max) {
    out.status = resolve_status::alias_loop;
    return;
  }
  if (auto it = _data.accounts.find(address); it != _data.accounts.end()) {
    account_id id = it->second.id;
    if (std::find(out.accounts.begin(), out.accounts.end(), id) == out.accounts.end()) out.accounts.push_back(id);
    return;
  }
  if (auto it = _data.aliases.find(address); it != _data.aliases.end()) {
    for (const auto& target : it->second) {
      resolve_into(target, depth + 1, out);
      if (out.status == resolve_status::alias_loop) return;
    }
  }
}

resolution directory::resolve_recipient(std::string_view address) const {
  resolution out;
  auto a = normalize_address(address);
  if (!a) return out;
  size_t at = a->rfind('@');
  std::string local = a->substr(0, at);
  auto domain = canonical_domain(a->substr(at + 1));
  if (!domain) {
    out.status = resolve_status::not_local_domain;
    return out;
  }
  out.status = resolve_status::local;
  std::string exact = local + "@" + *domain;
  // The order is the specificity: the address, its subaddress base, then
  // the domain's catch-all.
  std::vector<std::string> candidates = {exact};
  if (size_t plus = local.find('+'); plus != std::string::npos && plus > 0)
    candidates.push_back(local.substr(0, plus) + "@" + *domain);
  candidates.push_back("@" + *domain);
  for (const auto& c : candidates) {
    resolve_into(c, 0, out);
    if (out.status == resolve_status::alias_loop) {
      out.accounts.clear();
      return out;
    }
    if (!out.accounts.empty()) return out;
  }
  out.status = resolve_status::unknown_user;
  return out;
}

// ---- the file ----

kio::result<void, std::string> write_file_atomically(const std::string& path, std::string_view bytes, unsigned mode) {
  std::filesystem::path target(path);
  std::filesystem::path dir = target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path();
  std::string temp = (dir / ("." + target.filename().string() + ".tmp")).string();
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return fail_msg("cannot create " + temp + ": " + std::strerror(errno));
  auto failed = [&](const char* what) {
    std::string m = std::string(what) + " " + temp + ": " + std::strerror(errno);
    ::close(fd);
    ::unlink(temp.c_str());
    return fail_msg(m);
  };
  ::fchmod(fd, mode);  // the umask must not widen or narrow it
  if (::geteuid() == 0) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && ::fchown(fd, st.st_uid, st.st_gid) != 0) return failed("cannot chown");
  }
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failed("cannot write");
    }
    done += size_t(n);
  }
  if (::fsync(fd) != 0) return failed("cannot fsync");
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    std::string m = "cannot rename " + temp + " to " + path + ": " + std::strerror(errno);
    ::unlink(temp.c_str());
    return fail_msg(m);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return fail_msg("cannot open " + dir.string() + ": " + std::strerror(errno));
  int rc = ::fsync(dfd);
  int e = errno;
  ::close(dfd);
  if (rc != 0) return fail_msg("cannot fsync " + dir.string() + ": " + std::strerror(e));
  return {};
}

namespace {

// On-disk format, version 1 (TOML so an operator can read it; written only
// by ringmail). Readers refuse a higher version rather than drop fields.
//   version = 1
//   next_account_id = N                     never decreases
//   [domains."example.com"]                 a local domain (empty table)
//   [alias_domains."example.org"] target = "example.com"
//   [accounts."user@example.com"]           id, password, protocols,
//     require_tls?, quota_bytes, quota_messages? (absent = 0), send_messages_per_hour,
//     send_recipients_per_hour, disabled, quota_warning_sent
//   [aliases."info@example.com"] targets = ["user@example.com"]
//   [aliases."@example.com"] targets = [...]   catch-all
constexpr int64_t format_version = 1;

std::string where(const toml::node& n) {
  const auto& s = n.source();
  return (s.path ? *s.path : std::string("directory")) + ":" + std::to_string(s.begin.line);
}

}  // namespace

std::string serialize_directory(const directory_data& data) {
  toml::table root;
  root.insert("version", format_version);
  root.insert("next_account_id", int64_t(data.next_account_id));
  toml::table domains, alias_domains, accounts, aliases;
  for (const auto& [d, unused] : data.domains) domains.insert(d, toml::table{});
  for (const auto& [a, t] : data.alias_domains) alias_domains.insert(a, toml::table{{"target", t}});
  for (const auto& [address, a] : data.accounts) {
    toml::table t;
    t.insert("id", int64_t(a.id.get()));
    t.insert("password", a.password_hash);
    t.insert("protocols", a.protocols.to_string());
    if (a.require_tls) t.insert("require_tls", *a.require_tls);
    t.insert("quota_bytes", int64_t(a.quota_bytes));
    if (a.quota_messages) t.insert("quota_messages", int64_t(a.quota_messages));
    t.insert("send_messages_per_hour", int64_t(a.send_messages_per_hour));
    t.insert("send_recipients_per_hour", int64_t(a.send_recipients_per_hour));
    t.insert("disabled", a.disabled);
    t.insert("quota_warning_sent", a.quota_warning_sent);
    accounts.insert(address, std::move(t));
  }
  for (const auto& [source, targets] : data.aliases) {
    toml::array arr;
    for (const auto& t : targets) arr.push_back(t);
    aliases.insert(source, toml::table{{"targets", std::move(arr)}});
  }
  root.insert("domains", std::move(domains));
  root.insert("alias_domains", std::move(alias_domains));
  root.insert("accounts", std::move(accounts));
  root.insert("aliases", std::move(aliases));
  std::ostringstream out;
  out << "# ringmail directory: written by ringmail, change it with the ringmail CLI.\n";
  out << root << "\n";
  return out.str();
}

kio::result<directory_data, std::string> parse_directory(std::string_view text, std::string_view file_name) {
  auto parsed = toml::parse(text, file_name);
  if (!parsed) {
    const auto& e = parsed.error();
    return fail_msg(std::string(file_name) + ":" + std::to_string(e.source().begin.line) + ": " +
                    std::string(e.description()));
  }
  const toml::table& root = parsed.table();
  directory_data data;
  auto version = root["version"].value<int64_t>();
  if (!version || *version < 1) return fail_msg(std::string(file_name) + ": no version");
  if (*version > format_version)
    return fail_msg(std::string(file_name) + ": version " + std::to_string(*version) +
                    " was written by a newer ringmail; this one reads version " + std::to_string(format_version));
  data.next_account_id = uint64_t(root["next_account_id"].value_or(int64_t(1)));
  auto table_of = [&](const char* key) -> const toml::table* { return root[key].as_table(); };
  if (auto* t = table_of("domains"))
    for (const auto& [k, v] : *t) {
      auto d = normalize_domain(k.str());
      if (!d || *d != k.str()) return fail_msg(where(v) + ": bad domain " + std::string(k.str()));
      data.domains[*d] = true;
    }
  if (auto* t = table_of("alias_domains"))
    for (const auto& [k, v] : *t) {
      auto target = v.as_table() ? (*v.as_table())["target"].value<std::string>() : std::nullopt;
      if (!target || !data.domains.count(*target))
        return fail_msg(where(v) + ": alias domain " + std::string(k.str()) + " has no local target");
      data.alias_domains[std::string(k.str())] = *target;
    }
  if (auto* t = table_of("accounts"))
    for (const auto& [k, v] : *t) {
      const toml::table* at = v.as_table();
      auto address = normalize_address(k.str());
      if (!at || !address || *address != k.str()) return fail_msg(where(v) + ": bad account " + std::string(k.str()));
      account a;
      a.address = *address;
      auto id = (*at)["id"].value<int64_t>();
      auto hash = (*at)["password"].value<std::string>();
      auto protocols = protocol_set::parse((*at)["protocols"].value_or(std::string("all")));
      if (!id || *id <= 0 || uint64_t(*id) >= data.next_account_id)
        return fail_msg(where(v) + ": account " + a.address + " has a bad id");
      if (!hash || !looks_like_argon2id(*hash)) return fail_msg(where(v) + ": account " + a.address + " has a bad password hash");
      if (!protocols) return fail_msg(where(v) + ": account " + a.address + " has bad protocols");
      a.id = account_id(uint64_t(*id));
      a.password_hash = *hash;
      a.protocols = *protocols;
      if (auto r = (*at)["require_tls"].value<bool>()) a.require_tls = *r;
      a.quota_bytes = uint64_t(std::max<int64_t>(0, (*at)["quota_bytes"].value_or(int64_t(0))));
      a.quota_messages = uint64_t(std::max<int64_t>(0, (*at)["quota_messages"].value_or(int64_t(0))));
      a.send_messages_per_hour = uint32_t(std::clamp<int64_t>((*at)["send_messages_per_hour"].value_or(int64_t(0)), 0, UINT32_MAX));
      a.send_recipients_per_hour = uint32_t(std::clamp<int64_t>((*at)["send_recipients_per_hour"].value_or(int64_t(0)), 0, UINT32_MAX));
      a.disabled = (*at)["disabled"].value_or(false);
      a.quota_warning_sent = (*at)["quota_warning_sent"].value_or(false);
      if (!data.domains.count(domain_of(a.address)))
        return fail_msg(where(v) + ": account " + a.address + " is in no local domain");
      data.accounts[a.address] = a;
    }
  if (auto* t = table_of("aliases"))
    for (const auto& [k, v] : *t) {
      const toml::array* arr = v.as_table() ? (*v.as_table())["targets"].as_array() : nullptr;
      if (!arr || arr->empty()) return fail_msg(where(v) + ": alias " + std::string(k.str()) + " has no targets");
      std::vector<std::string> targets;
      for (const auto& item : *arr) {
        auto s = item.value<std::string>();
        if (!s) return fail_msg(where(item) + ": alias target is not a string");
        targets.push_back(*s);
      }
      data.aliases[std::string(k.str())] = std::move(targets);
    }
  return data;
}

kio::result<directory_data, std::string> load_directory(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return directory_data{};
    return fail_msg("cannot open " + path + ": " + std::strerror(errno));
  }
  std::string text;
  text.resize(directory_file_size_max + 1);
  in.read(text.data(), std::streamsize(text.size()));
  text.resize(size_t(in.gcount()));
  if (text.size() > directory_file_size_max) return fail_msg(path + ": larger than the directory file limit");
  return parse_directory(text, path);
}

kio::result<void, std::string> save_directory(const directory_data& data, const std::string& path) {
  return write_file_atomically(path, serialize_directory(data), 0600);
}

}  // namespace appliance
