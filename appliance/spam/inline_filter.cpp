#include "appliance/spam/inline_filter.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <span>
#include <string_view>

#include "appliance/spam/spam_training.h"

namespace appliance {

namespace {

filter::tokenizer_options options_for(const spam_shared& shared, const spam_section& cfg) {
  filter::tokenizer_options o;
  o.bigrams = shared.bigrams();
  o.case_tokens = shared.case_tokens();
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
  // Per message: no per-account entries (the usual case), no addresses to
  // format and lowercase.
  if (cfg.per_account.empty()) return global;
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

std::string_view fixed_decimal(double value, int precision, std::span<char> buf) {
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::fixed, precision);
  if (ec != std::errc()) return "nan";  // not a finite number that fits: the buffers hold any probability
  return std::string_view(buf.data(), static_cast<std::size_t>(end - buf.data()));
}

namespace {

// The score's numbers as the headers and the log line print them, written
// once per message for both (the views point into the buffers).
struct score_text {
  char probability_buffer[32], level_buffer[32], clues_buffer[24];
  std::string_view probability, level, clues;

  explicit score_text(const filter::spam_score& score)
      : probability(fixed_decimal(score.probability, 6, probability_buffer)),
        level(fixed_decimal(score.level, filter::spam_level_decimals, level_buffer)),
        clues(clues_buffer, static_cast<std::size_t>(
                                std::to_chars(clues_buffer, clues_buffer + sizeof clues_buffer, score.clues).ptr -
                                clues_buffer)) {}
  score_text(const score_text&) = delete;
  score_text& operator=(const score_text&) = delete;
};

std::string spam_headers(const filter::spam_score& score, const score_text& text, const spam_thresholds& t) {
  // Once per message on the data path: std::to_chars (no locale, no
  // format-string parsing) into one string sized up front.
  char tag[32];
  std::string_view p = text.probability;
  std::string_view l = text.level;
  std::string_view g = fixed_decimal(t.tag, 2, tag);
  std::string_view c = text.clues;
  // One star a level, at most 50 (as SpamAssassin): the level of strong
  // spam runs into the hundreds.
  double star_count = std::clamp(std::floor(score.level), 0.0, static_cast<double>(x_spam_level_stars_max));
  std::size_t stars = static_cast<std::size_t>(star_count);
  std::string h;
  h.reserve(96 + p.size() + l.size() + g.size() + c.size() + stars);
  h += "X-Spam-Status: ";
  h += score.probability >= t.tag ? "Yes" : "No";
  h += ", probability=";
  h += p;
  h += ", level=";
  h += l;
  h += ", tag=";
  h += g;
  h += ", clues=";
  h += c;
  h += "\r\nX-Spam-Level: ";
  h.append(stars, '*');
  h += "\r\n";
  return h;
}

}  // namespace

std::string spam_headers(const filter::spam_score& score, const spam_thresholds& t) {
  return spam_headers(score, score_text(score), t);
}

spam_inline_filter::spam_inline_filter(spam_shared& shared, const spam_section& cfg, const smtp::envelope& env,
                                       const logger& log, std::string reference)
    : _shared(shared),
      _options(options_for(shared, cfg)),
      _thresholds(thresholds_for(cfg, env)),
      _subject_prefix(cfg.subject_prefix),
      _log(log),
      _reference(std::move(reference)) {}

spam_inline_filter::~spam_inline_filter() {
  if (_scanner) _shared.give_back(std::move(_scanner));
}

filter::feature_scanner& spam_inline_filter::scanner() {
  if (!_scanner) _scanner = _shared.take_scanner(_options);
  return *_scanner;
}

void spam_inline_filter::feed(std::span<const std::byte> content) {
  scanner().feed(std::string_view(reinterpret_cast<const char*>(content.data()), content.size()));
}

kio::task<smtp::inbound_filter::outcome> spam_inline_filter::finish(const smtp::envelope& env,
                                                                    const smtp::session_info& info) {
  filter::feature_scanner& s = scanner();
  s.finish();
  std::optional<std::uint64_t> account = single_account(env);
  // Scored on this core (no per-account store elsewhere): no task to await.
  std::optional<filter::spam_score> here = _shared.classify_if_here(account, s.unique());
  filter::spam_score score;
  if (here) {
    score = *here;
  } else {
    score = co_await _shared.classify_for(account, s.unique());
  }
  const score_text text(score);
  outcome out{smtp::verdict{true, 250, "2.0.0", ""}, spam_headers(score, text, _thresholds), "", ""};
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
    out.added_headers += "Subject: " + _subject_prefix + std::string(s.tokenizer().subject()) + "\r\n";
  }
  // The verdict is known: the scanner goes back to the core's idle ones
  // for the next message while this one waits for its group commit.
  _shared.give_back(std::move(_scanner));
  std::string_view p = text.probability;
  std::string_view l = text.level;
  if (!out.decision.ok) {
    // No message_accepted line follows a refusal: this one carries the
    // reference the sender was given.
    _log.info("spam_scored")
        .kv("session", info.session_id)
        .kv("ref", _reference)
        .kv("probability", p)
        .kv("level", l)
        .kv("clues", uint64_t(score.clues))
        .kv("action", action)
        .kv("recipients", uint64_t(env.recipients.size()));
    co_return out;
  }
  // Accepted: the verdict rides on the message_accepted line (one write(2)
  // per message, not two). Numbers and the action need no quoting.
  std::string_view c = text.clues;
  out.log_fields.reserve(64 + p.size() + l.size() + c.size());
  out.log_fields += "spam_probability=";
  out.log_fields += p;
  out.log_fields += " spam_level=";
  out.log_fields += l;
  out.log_fields += " spam_clues=";
  out.log_fields += c;
  out.log_fields += " spam_action=";
  out.log_fields += action;
  co_return out;
}

}  // namespace appliance
