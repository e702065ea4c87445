#include "appliance/imap/junk_training.h"

#include <algorithm>

namespace appliance {

std::string_view to_string(training_verdict v) { return v == training_verdict::spam ? "spam" : "ham"; }

bool is_junk_folder(std::string_view name, store::special_use use, const std::vector<std::string>& junk_names) {
  if (use == store::special_use::junk) return true;
  auto below = [&](std::string_view junk) {
    return name == junk || (name.size() > junk.size() && name.substr(0, junk.size()) == junk && name[junk.size()] == '/');
  };
  if (below("Junk")) return true;
  return std::any_of(junk_names.begin(), junk_names.end(), [&](const std::string& j) { return below(j); });
}

training_direction classify_transfer(bool source_junk, bool target_junk, store::special_use target_use) {
  if (target_junk && !source_junk) return training_direction::spam;
  if (source_junk && !target_junk && target_use != store::special_use::trash) return training_direction::ham;
  return training_direction::none;
}

void logging_training_sink::train(const training_event& event) {
  _log.info("junk_training")
      .kv("verdict", to_string(event.verdict))
      .kv("account", event.account)
      .kv("from", event.source_mailbox)
      .kv("to", event.target_mailbox)
      .kv("copy", event.copy)
      .kv("messages", uint64_t(event.blobs.size()));
}

}  // namespace appliance
