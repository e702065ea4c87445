#pragma once
// The spam filter on the SMTP data path: an smtp::inbound_filter that
// tokenizes the message as its chunks stream in (the same buffers the store
// gets; nothing is copied), and at the end of data classifies it against
// the token store and turns the probability into the configured action:
//
//   >= reject threshold  550 5.7.1 with a reference id (logged with the score)
//   >= junk threshold    delivered into Junk
//   >= tag threshold     X-Spam-Status: Yes (and the subject prefix, if set)
//   always               X-Spam-Status / X-Spam-Level in the delivery record
//
// Thresholds: the global ones, or a per_account entry when every recipient
// has the same one. Counts: the global store's, plus the recipient
// account's own store when every recipient is that one account (scored on
// its owner core, spam_training.h). Lifecycle: one per message, on the
// session's core. Its tokenizer and feature set are borrowed from the
// core's idle ones (spam_shared::take_scanner) when the first bytes arrive
// and given back as soon as the verdict is known, not when the message is
// committed: a message that arrives in one read then tokenizes and scores
// in one go, with the scanner the previous message just used (warm in the
// cache), instead of one scanner per session held across the DATA
// transfer and the group commit (16 sessions: 16 scanners in turn).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "appliance/config/config.h"
#include "appliance/observe/log.h"
#include "filter/classifier/classifier.h"
#include "filter/classifier/features.h"
#include "filter/classifier/token_store.h"
#include "filter/tokenizer/message_tokenizer.h"
#include "protocols/smtp/session/services.h"

namespace appliance {

struct spam_thresholds {
  double tag = 0.995, junk = 0.999, reject = 1.1;
};

class spam_shared;

// The one account every recipient delivers to (the SMTP services' resolved
// destination), or nullopt.
std::optional<std::uint64_t> single_account(const smtp::envelope& env);

// The thresholds for a message to these recipients.
spam_thresholds thresholds_for(const spam_section& cfg, const smtp::envelope& env);

// "X-Spam-Status: Yes, probability=0.999812, level=11.73, tag=0.90, clues=42\r\n
//  X-Spam-Level: ***********\r\n"  (floor(level) stars, at most x_spam_level_stars_max)
inline constexpr std::size_t x_spam_level_stars_max = 50;
std::string spam_headers(const filter::spam_score& score, const spam_thresholds& t);

// `value` with `precision` decimals, as printf's "%.*f" writes it (the
// probability and level in the headers and the log), in `buf`.
std::string_view fixed_decimal(double value, int precision, std::span<char> buf);

class spam_inline_filter final : public smtp::inbound_filter {
 public:
  spam_inline_filter(spam_shared& shared, const spam_section& cfg, const smtp::envelope& env, const logger& log,
                     std::string reference);
  ~spam_inline_filter() override;
  spam_inline_filter(const spam_inline_filter&) = delete;
  spam_inline_filter& operator=(const spam_inline_filter&) = delete;

  void feed(std::span<const std::byte> content) override;
  kio::task<outcome> finish(const smtp::envelope& env, const smtp::session_info& info) override;

 private:
  filter::feature_scanner& scanner();

  spam_shared& _shared;
  filter::tokenizer_options _options;
  spam_thresholds _thresholds;
  std::string _subject_prefix;
  const logger& _log;
  std::string _reference;
  std::unique_ptr<filter::feature_scanner> _scanner;  // from the first bytes to the verdict
};

}  // namespace appliance
