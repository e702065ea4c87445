#include "appliance/msgauth/dkim_keys.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "protocols/msgauth/dkim.h"
#include "protocols/msgauth/tag_list.h"

namespace appliance {

namespace {

bool valid_domain_name(std::string_view d) {
  if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.') return false;
  for (char c : d)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  return d.find("..") == std::string_view::npos;
}

bool valid_selector(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  return true;
}

std::filesystem::path domain_dir(const std::string& data_dir, std::string_view domain) {
  return std::filesystem::path(data_dir) / "dkim" / std::string(domain);
}

// temp file, fsync, rename, fsync dir: a crash leaves the old or the new file.
kio::result<void, std::string> write_atomic(const std::filesystem::path& path, const std::string& contents,
                                            mode_t mode) {
  std::string temp = path.string() + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return kio::fail("cannot write " + temp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return kio::fail("cannot write " + temp + ": " + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return kio::fail("cannot sync " + temp + ": " + std::strerror(errno));
  if (::rename(temp.c_str(), path.c_str()) != 0) return kio::fail("cannot rename " + temp + ": " + std::strerror(errno));
  int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return {};
}

std::optional<std::string> read_small(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > 65536) return std::nullopt;
  return s;
}

}  // namespace

kio::result<dkim_domain_key, std::string> generate_dkim_key(const std::string& data_dir, std::string_view domain_in,
                                                            msgauth::key_algorithm algorithm, std::string selector) {
  std::string domain = msgauth::to_lower(domain_in);
  if (!valid_domain_name(domain)) return kio::fail("not a domain name: " + std::string(domain_in));
  if (selector.empty()) {
    char date[16];
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(date, sizeof date, "%Y%m%d", &tm);
    selector = std::string("rm") + date + (algorithm == msgauth::key_algorithm::ed25519 ? "e" : "r");
  }
  if (!valid_selector(selector)) return kio::fail("not a valid selector: " + selector);
  auto key = msgauth::private_key::generate(algorithm);
  if (!key) return kio::fail(std::string("key generation failed"));
  auto dir = domain_dir(data_dir, domain);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return kio::fail("cannot create " + dir.string() + ": " + ec.message());
  std::filesystem::permissions(std::filesystem::path(data_dir) / "dkim", std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  auto pem_path = dir / (selector + ".pem");
  if (std::filesystem::exists(pem_path))
    return kio::fail("a key with selector " + selector + " exists already: " + pem_path.string());
  if (auto w = write_atomic(pem_path, key->to_pem(), 0600); !w) return kio::fail(w.error());
  if (auto w = write_atomic(dir / "active", selector + "\n", 0644); !w) return kio::fail(w.error());
  return dkim_domain_key{domain, selector, std::move(*key)};
}

kio::result<dkim_domain_key, std::string> load_dkim_key(const std::string& data_dir, std::string_view domain_in) {
  std::string domain = msgauth::to_lower(domain_in);
  if (!valid_domain_name(domain)) return kio::fail("not a domain name: " + std::string(domain_in));
  auto dir = domain_dir(data_dir, domain);
  auto active = read_small(dir / "active");
  if (!active) return kio::fail("no DKIM key for " + domain + " (ringmail domain dkim generate " + domain + ")");
  std::string selector(msgauth::trim(*active));
  if (!valid_selector(selector)) return kio::fail("bad selector in " + (dir / "active").string());
  auto pem = read_small(dir / (selector + ".pem"));
  if (!pem) return kio::fail("cannot read " + (dir / (selector + ".pem")).string());
  auto key = msgauth::private_key::from_pem(*pem);
  if (!key) return kio::fail("not a usable private key: " + (dir / (selector + ".pem")).string());
  return dkim_domain_key{domain, selector, std::move(*key)};
}

std::vector<dns_record_advice> recommended_records(std::string_view domain_in, std::string_view mail_host_in,
                                                   const dkim_domain_key* key) {
  std::string domain = msgauth::to_lower(domain_in);
  std::string host = msgauth::to_lower(mail_host_in);
  std::string d = domain + ".", h = host + ".";
  std::vector<dns_record_advice> out;
  out.push_back({d, "MX", "10 " + h, "mail for " + domain + " goes to " + host});
  if (key) {
    out.push_back({key->selector + "._domainkey." + d, "TXT",
                   "v=DKIM1; k=" + std::string(msgauth::key_algorithm_name(key->key.algorithm())) +
                       "; p=" + key->key.dkim_public_key(),
                   "DKIM public key for selector " + key->selector});
  }
  out.push_back({d, "TXT", "v=spf1 mx -all", "SPF: only the domain's MX hosts send its mail"});
  out.push_back({"_dmarc." + d, "TXT", "v=DMARC1; p=quarantine; adkim=s; aspf=s; rua=mailto:postmaster@" + domain,
                 "DMARC: start with p=quarantine (or p=none while testing), move to p=reject"});
  out.push_back({"_submissions._tcp." + d, "SRV", "0 1 465 " + h, "RFC 8314: submission over TLS"});
  out.push_back({"_submission._tcp." + d, "SRV", "0 1 587 " + h, "RFC 6186: submission with STARTTLS"});
  out.push_back({"_imaps._tcp." + d, "SRV", "0 1 993 " + h, "RFC 6186: IMAP over TLS"});
  out.push_back({"_imap._tcp." + d, "SRV", "0 1 143 " + h, "RFC 6186: IMAP with STARTTLS"});
  out.push_back({"_pop3s._tcp." + d, "SRV", "10 1 995 " + h, "RFC 6186: POP3 over TLS"});
  return out;
}

std::string zone_line(const dns_record_advice& r) {
  std::string value = r.value;
  if (r.type == "TXT") {
    // A TXT character-string holds at most 255 bytes; long keys are split.
    std::string quoted;
    for (size_t i = 0; i < r.value.size(); i += 255) {
      if (i) quoted += ' ';
      quoted += '"' + r.value.substr(i, 255) + '"';
    }
    value = quoted;
  }
  return r.name + " 3600 IN " + r.type + " " + value;
}

dkim_signer dkim_signer::load(const std::string& data_dir, const std::vector<std::string>& domains) {
  dkim_signer signer;
  for (const std::string& domain : domains) {
    auto key = load_dkim_key(data_dir, domain);
    if (key) signer._keys.emplace(key->domain, std::move(*key));
  }
  return signer;
}

dkim_signer dkim_signer::load_all(const std::string& data_dir) {
  std::vector<std::string> domains;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(data_dir) / "dkim", ec))
    if (entry.is_directory(ec)) domains.push_back(entry.path().filename().string());
  return load(data_dir, domains);
}

bool dkim_signer::has_key(std::string_view domain) const { return _keys.find(msgauth::to_lower(domain)) != _keys.end(); }

std::optional<std::string> dkim_signer::sign(std::string_view domain, std::string_view message,
                                             uint64_t now_seconds) const {
  auto it = _keys.find(msgauth::to_lower(domain));
  if (it == _keys.end()) return std::nullopt;
  msgauth::dkim_sign_options options;
  options.domain = it->second.domain;
  options.selector = it->second.selector;
  options.key = &it->second.key;
  options.timestamp = now_seconds;
  return msgauth::dkim_sign(message, options);
}

}  // namespace appliance
