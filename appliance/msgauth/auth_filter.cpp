#include "appliance/msgauth/auth_filter.h"

#include <ctime>
#include <fstream>
#include <random>
#include <sstream>

#include "protocols/smtp/parser/address.h"

namespace appliance {

msgauth::public_suffix_list load_public_suffix_list(const std::string& path, std::string& warning) {
  std::ifstream in(path);
  if (!in) {
    warning = "cannot read the Public Suffix List " + path +
              " (install Debian's publicsuffix): DMARC uses the last two labels as organizational domain";
    return {};
  }
  std::stringstream text;
  text << in.rdbuf();
  return msgauth::public_suffix_list::parse(text.str());
}

namespace {

msgauth::spf_context spf_context_of(const config& cfg, const smtp::session_info& info, const smtp::envelope& env) {
  msgauth::spf_context c;
  if (auto ip = msgauth::ip_address::parse(info.peer.ip_string())) c.ip = *ip;
  c.sender = env.sender.null ? std::string() : smtp::format_mailbox(env.sender.address);
  c.helo = info.helo;
  c.receiver = cfg.server.hostname;
  return c;
}

msgauth::inbound_check_limits limits_of(const config& cfg) {
  msgauth::inbound_check_limits l;
  l.dkim.header_bytes_max = cfg.msgauth.header_bytes_max;
  l.dkim.signatures_max = cfg.msgauth.dkim_signatures_max;
  l.dkim.rsa_bits_min = cfg.msgauth.rsa_bits_min;
  l.dkim.now_seconds = static_cast<uint64_t>(std::time(nullptr));
  l.spf.dns_lookups_max = cfg.msgauth.spf_dns_lookups_max;
  l.spf.void_lookups_max = cfg.msgauth.spf_void_lookups_max;
  return l;
}

}  // namespace

auth_filter::auth_filter(msgauth_shared& shared, msgauth::dns_resolver& dns, std::shared_ptr<const config> cfg, const logger& log,
                         const smtp::session_info& info, const smtp::envelope& env,
                         std::unique_ptr<smtp::inbound_filter> inner)
    : _config(std::move(cfg)),
      _log(log),
      _check(dns, shared.suffixes, spf_context_of(*_config, info, env), limits_of(*_config)),
      _inner(std::move(inner)) {}

void auth_filter::feed(std::span<const std::byte> content) {
  _check.feed(std::string_view(reinterpret_cast<const char*>(content.data()), content.size()));
  if (_inner) _inner->feed(content);
}

kio::task<smtp::inbound_filter::outcome> auth_filter::finish(const smtp::envelope& env,
                                                            const smtp::session_info& info) {
  thread_local std::minstd_rand sampler{std::random_device{}()};
  unsigned sample = static_cast<unsigned>(sampler() % 100);
  msgauth::auth_summary summary = co_await _check.finish(sample);
  const std::string& id = _config->msgauth.authserv_id.empty() ? _config->server.hostname : _config->msgauth.authserv_id;
  std::string header = msgauth::format_authentication_results(id, summary);

  outcome result;
  if (_inner) {
    _inner->set_authentication(header);
    result = co_await _inner->finish(env, info);
  }
  result.added_headers = header + result.added_headers;

  std::string dkim_text;
  for (const auto& d : summary.dkim) {
    if (!dkim_text.empty()) dkim_text += ',';
    dkim_text += std::string(msgauth::dkim_verdict_name(d.verdict));
  }
  if (dkim_text.empty()) dkim_text = "none";
  std::string action = "deliver";
  if (summary.dmarc.verdict == msgauth::dmarc_verdict::fail &&
      summary.dmarc.disposition != msgauth::dmarc_policy::none) {
    dmarc_action a = summary.dmarc.disposition == msgauth::dmarc_policy::reject ? _config->msgauth.on_reject_policy
                                                                                 : _config->msgauth.on_quarantine_policy;
    if (a == dmarc_action::reject) {
      result.decision = smtp::verdict::refuse(550, "5.7.1",
                                              "Message rejected: it fails the DMARC policy of " +
                                                  summary.dmarc.from_domain);
      action = "reject";
    } else if (a == dmarc_action::quarantine) {
      if (result.decision.ok) result.folder = "Junk";
      action = "junk";
    } else {
      action = "tag";
    }
  }
  _log.info("msgauth")
      .kv("session", info.session_id)
      .kv("spf", msgauth::spf_result_name(summary.spf.result))
      .kv("dkim", dkim_text)
      .kv("dmarc", msgauth::dmarc_verdict_name(summary.dmarc.verdict))
      .kv("from_domain", summary.dmarc.from_domain)
      .kv("action", action);
  co_return result;
}

}  // namespace appliance
