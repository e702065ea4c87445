#include "appliance/spam/inline_filter.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <vector>

#include "appliance/spam/spam_training.h"

namespace appliance {

namespace {

filter::tokenizer_options options_for(const spam_shared& shared, const spam_section& cfg) {
  filter::tokenizer_options o;
  o.bigrams = shared.bigrams();
  o.text_bytes_max = cfg.text_bytes_max;
  o.capture_subject = !cfg.subject_prefix.empty();
  return o;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}

}  // namespace

std::optional<std::uint64_t> single_account(const smtp::envelope& env) {
  std::optional<std::uint64_t> one;
  for (const auto& rcpt : env.recipients) {
    std::string_view text = rcpt.destination;
    while (!text.empty()) {
      std::size_t comma = text.find(',');
      std::string_view part = text.substr(0, comma);
      std::uint64_t v = 0;
      if (std::from_chars(part.data(), part.data() + part.size(), v).ec != std::errc()) return std::nullopt;
      if (one && *one != v) return std::nullopt;
      one = v;
      if (comma == std::string_view::npos) break;
      text.remove_prefix(comma + 1);
    }
  }
  return one;
}

spam_thresholds thresholds_for(const spam_section& cfg, const smtp::envelope& env) {
  spam_thresholds global{cfg.tag_threshold, cfg.junk_threshold, cfg.reject_threshold};
  const spam_account_thresholds* common = nullptr;
  for (const auto& rcpt : env.recipients) {
    std::string address = lowercase(smtp::format_mailbox(rcpt.address.address));
    const spam_account_thresholds* found = nullptr;
    for (const auto& entry : cfg.per_account)
      if (entry.address == address) found = &entry;
    if (found == nullptr || (common != nullptr && common != found)) return global;
    common = found;
  }
  if (common == nullptr) return global;
  return {common->tag, common->junk, common->reject};
}

std::string spam_headers(const filter::spam_score& score, const spam_thresholds& t) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "X-Spam-Status: %s, probability=%.6f, level=%.1f, tag=%.2f, clues=%zu\r\n",
                score.probability >= t.tag ? "Yes" : "No", score.probability, score.level, t.tag, score.clues);
  std::string h = buf;
  int stars = static_cast<int>(std::floor(score.level));
  h += "X-Spam-Level: ";
  h.append(static_cast<std::size_t>(std::max(0, stars)), '*');
  h += "\r\n";
  return h;
}

spam_inline_filter::spam_inline_filter(spam_shared& shared, const spam_section& cfg, const smtp::envelope& env,
                                       const logger& log, std::string reference)
    : _shared(shared),
      _thresholds(thresholds_for(cfg, env)),
      _subject_prefix(cfg.subject_prefix),
      _log(log),
      _reference(std::move(reference)),
      _scanner(shared.take_scanner(options_for(shared, cfg))) {}

spam_inline_filter::~spam_inline_filter() { _shared.give_back(std::move(_scanner)); }

void spam_inline_filter::feed(std::span<const std::byte> content) {
  _scanner->feed(std::string_view(reinterpret_cast<const char*>(content.data()), content.size()));
}

kio::task<smtp::inbound_filter::outcome> spam_inline_filter::finish(const smtp::envelope& env,
                                                                    const smtp::session_info& info) {
  _scanner->finish();
  std::optional<std::uint64_t> account = single_account(env);
  filter::spam_score score = co_await _shared.classify_for(account, _scanner->unique());
  outcome out{smtp::verdict{true, 250, "2.0.0", ""}, spam_headers(score, _thresholds), ""};
  const char* action = "none";
  if (score.probability >= _thresholds.reject) {
    out.decision = smtp::verdict::refuse(550, "5.7.1", "Message refused as spam (ref " + _reference + ")");
    action = "reject";
  } else if (score.probability >= _thresholds.junk) {
    out.folder = "Junk";
    action = "junk";
  } else if (score.probability >= _thresholds.tag) {
    action = "tag";
  }
  if (score.probability >= _thresholds.tag && !_subject_prefix.empty()) {
    // The stored message is not rewritten (it is already in the store as it
    // arrived); a new first Subject field in the delivery record carries the
    // prefix, which mail readers show.
    out.added_headers += "Subject: " + _subject_prefix + std::string(_scanner->tokenizer().subject()) + "\r\n";
  }
  char probability[32], level[16];
  std::snprintf(probability, sizeof probability, "%.6f", score.probability);
  std::snprintf(level, sizeof level, "%.1f", score.level);
  _log.info("spam_scored")
      .kv("session", info.session_id)
      .kv("ref", _reference)
      .kv("probability", probability)
      .kv("level", level)
      .kv("clues", uint64_t(score.clues))
      .kv("action", action)
      .kv("recipients", uint64_t(env.recipients.size()));
  co_return out;
}

}  // namespace appliance
