#include "appliance/msgauth/domain_cli.h"

#include <cstdio>
#include <ctime>
#include <iostream>
#include <iterator>
#include <optional>

#include "appliance/dns/cares_lookup.h"
#include "appliance/msgauth/dkim_keys.h"
#include "protocols/msgauth/dkim.h"
#include "protocols/msgauth/dmarc.h"
#include "protocols/msgauth/spf.h"
#include "protocols/msgauth/tag_list.h"
#include "protocols/common/base64.h"

namespace appliance {

static void print_records(const std::string& domain, const std::string& mail_host, const dkim_domain_key* key) {
  std::printf("; DNS records for %s (zone-file syntax). Publish them at your DNS provider.\n", domain.c_str());
  if (mail_host == "localhost")
    std::printf("; server.hostname is \"localhost\": set it to this server's public name first.\n");
  for (const auto& r : recommended_records(domain, mail_host, key)) {
    std::printf("; %s\n%s\n", r.why.c_str(), zone_line(r).c_str());
  }
}

int dkim_generate_command(const std::string& data_dir, const std::string& mail_host, const std::string& domain,
                          const std::string& algorithm, const std::string& selector) {
  msgauth::key_algorithm a;
  if (algorithm == "ed25519") a = msgauth::key_algorithm::ed25519;
  else if (algorithm == "rsa") a = msgauth::key_algorithm::rsa;
  else {
    std::fprintf(stderr, "ringmail: --algorithm must be ed25519 or rsa\n");
    return 2;
  }
  auto key = generate_dkim_key(data_dir, domain, a, selector);
  if (!key) {
    std::fprintf(stderr, "ringmail: domain dkim generate: %s\n", key.error().c_str());
    return 1;
  }
  std::printf("; new %s key for %s, selector %s, in %s/dkim/%s/ (active)\n",
              std::string(msgauth::key_algorithm_name(a)).c_str(), key->domain.c_str(), key->selector.c_str(),
              data_dir.c_str(), key->domain.c_str());
  if (a == msgauth::key_algorithm::ed25519)
    std::printf("; Ed25519 (RFC 8463) is not verified by every receiver yet: many operators sign with an RSA key\n"
                "; too (ringmail domain dkim generate %s --algorithm rsa).\n", key->domain.c_str());
  print_records(key->domain, mail_host, &*key);
  return 0;
}

int domain_records_command(const std::string& data_dir, const std::string& mail_host, const std::string& domain) {
  auto key = load_dkim_key(data_dir, domain);
  if (!key) std::printf("; %s\n", key.error().c_str());
  print_records(key ? key->domain : domain, mail_host, key ? &*key : nullptr);
  return 0;
}

int dkim_sign_command(const std::string& data_dir, const std::string& domain) {
  std::string message((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  // Messages on disk often have bare LF line ends; DKIM signs the CRLF form.
  std::string crlf;
  crlf.reserve(message.size() + message.size() / 32);
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\n' && (i == 0 || message[i - 1] != '\r')) crlf += '\r';
    crlf += message[i];
  }
  auto key = load_dkim_key(data_dir, domain);
  if (!key) {
    std::fprintf(stderr, "ringmail: domain dkim sign: %s\n", key.error().c_str());
    return 1;
  }
  std::vector<std::string> domains{key->domain};
  auto signer = dkim_signer::load(data_dir, domains);
  auto field = signer.sign(key->domain, crlf, static_cast<uint64_t>(std::time(nullptr)));
  if (!field) {
    std::fprintf(stderr, "ringmail: domain dkim sign: the message has no header/body separator\n");
    return 1;
  }
  std::fwrite(field->data(), 1, field->size(), stdout);
  std::fwrite(crlf.data(), 1, crlf.size(), stdout);
  return 0;
}

namespace {

template <class T>
T run_now(kio::task<T> t) {
  // blocking_dns answers inside the call, so the task completes at once.
  std::optional<T> out;
  auto driver = [](kio::task<T>& inner, std::optional<T>& result) -> kio::detached {
    result.emplace(co_await inner);
  };
  driver(t, out).handle.resume();
  return std::move(*out);
}

struct check_report {
  int problems = 0;
  void line(const char* state, const std::string& what, const std::string& detail, bool required = true) {
    if (required && std::string_view(state) != "ok") ++problems;
    std::printf("%-8s %-34s %s\n", state, what.c_str(), detail.c_str());
  }
};

std::string without_dot(std::string s) {
  while (!s.empty() && s.back() == '.') s.pop_back();
  return msgauth::to_lower(s);
}

}  // namespace

int domain_check_command(const std::string& data_dir, const std::string& mail_host_in, const dns_settings& dns,
                         const std::string& domain_in) {
  std::string domain = msgauth::to_lower(domain_in);
  std::string mail_host = msgauth::to_lower(mail_host_in);
  check_report report;

  auto mx = lookup_mx(dns, domain);
  if (mx.status == msgauth::dns_status::ok) {
    bool ours = false;
    std::string hosts;
    for (const auto& r : mx.records) {
      ours = ours || without_dot(r.host) == mail_host;
      hosts += (hosts.empty() ? "" : ", ") + r.host;
    }
    report.line(ours ? "ok" : "wrong", "MX " + domain, ours ? hosts : hosts + " (want " + mail_host + ")");
  } else {
    report.line("missing", "MX " + domain, "want 10 " + mail_host + " (" + std::string(msgauth::dns_status_name(mx.status)) + ")");
  }

  // SPF: the record must authorise every address of the mail host.
  auto txt = lookup_txt(dns, domain);
  int spf_records = 0;
  for (const auto& r : txt.records) spf_records += msgauth::is_spf_record(r);
  if (spf_records == 0) {
    report.line("missing", "SPF " + domain, "want \"v=spf1 mx -all\"");
  } else if (spf_records > 1) {
    report.line("wrong", "SPF " + domain, "more than one v=spf1 record (a permerror for every receiver)");
  } else {
    blocking_dns resolver(dns);
    auto addresses = lookup_a(dns, mail_host);
    auto addresses6 = lookup_aaaa(dns, mail_host);
    std::vector<msgauth::ip_address> all = addresses.addresses;
    all.insert(all.end(), addresses6.addresses.begin(), addresses6.addresses.end());
    if (all.empty()) {
      report.line("wrong", "SPF " + domain, "cannot check: " + mail_host + " has no address");
    } else {
      std::string failures;
      for (const auto& ip : all) {
        msgauth::spf_context c{ip, "postmaster@" + domain, mail_host, mail_host};
        auto outcome = run_now(msgauth::check_spf(resolver, c));
        if (outcome.result != msgauth::spf_result::pass)
          failures += (failures.empty() ? "" : ", ") + ip.to_string() + " gets " +
                      std::string(msgauth::spf_result_name(outcome.result)) +
                      (outcome.reason.empty() ? "" : " (" + outcome.reason + ")");
      }
      report.line(failures.empty() ? "ok" : "wrong", "SPF " + domain,
                  failures.empty() ? "authorises " + mail_host : failures);
    }
  }

  auto key = load_dkim_key(data_dir, domain);
  if (!key) {
    report.line("missing", "DKIM key", key.error());
  } else {
    std::string name = key->selector + "._domainkey." + domain;
    auto published = lookup_txt(dns, name);
    if (published.status != msgauth::dns_status::ok) {
      report.line("missing", "DKIM " + name, "publish the record printed by `ringmail domain records " + domain + "`");
    } else {
      bool match = false;
      std::string problem = "the published key is not this server's";
      for (const auto& r : published.records) {
        auto parsed = msgauth::parse_dkim_key(r);
        if (!parsed) {
          problem = parsed.error();
          continue;
        }
        std::string ours = key->key.dkim_public_key();
        std::string theirs = proto::base64_encode(parsed->public_key);
        match = match || theirs == ours;
      }
      report.line(match ? "ok" : "wrong", "DKIM " + name, match ? "matches the active key" : problem);
    }
  }

  auto dmarc = lookup_txt(dns, "_dmarc." + domain);
  std::optional<msgauth::dmarc_record> policy;
  for (const auto& r : dmarc.records)
    if (auto parsed = msgauth::parse_dmarc_record(r)) policy = *parsed;
  if (!policy) {
    report.line("missing", "DMARC _dmarc." + domain, "want \"v=DMARC1; p=quarantine; ...\"");
  } else {
    report.line("ok", "DMARC _dmarc." + domain,
                "p=" + std::string(msgauth::dmarc_policy_name(policy->policy)) +
                    (policy->policy == msgauth::dmarc_policy::none ? " (monitoring only)" : ""));
  }

  struct srv_want {
    const char* service;
    uint16_t port;
  };
  for (srv_want want : {srv_want{"_submissions._tcp", 465}, srv_want{"_submission._tcp", 587},
                        srv_want{"_imaps._tcp", 993}, srv_want{"_imap._tcp", 143}, srv_want{"_pop3s._tcp", 995}}) {
    std::string name = std::string(want.service) + "." + domain;
    auto srv = lookup_srv(dns, name);
    if (srv.status != msgauth::dns_status::ok) {
      report.line("missing", "SRV " + name, "optional: lets mail clients configure themselves", false);
      continue;
    }
    bool ours = false;
    for (const auto& r : srv.records) ours = ours || (without_dot(r.target) == mail_host && r.port == want.port);
    report.line(ours ? "ok" : "wrong", "SRV " + name,
                ours ? mail_host + ":" + std::to_string(want.port)
                     : "want " + mail_host + ":" + std::to_string(want.port),
                false);
  }
  std::printf("%s: %s\n", domain.c_str(),
              report.problems == 0 ? "all required records are right" :
                                     (std::to_string(report.problems) + " required record(s) missing or wrong").c_str());
  return report.problems == 0 ? 0 : 1;
}

}  // namespace appliance
