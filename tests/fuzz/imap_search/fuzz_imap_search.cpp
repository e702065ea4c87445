// Fuzzes protocols/imap/search: the date parser (a parsed date formats
// and re-parses to the same instant), base subjects (idempotent: the base
// subject of a base subject is itself, modulo blob rules), and threading
// (every message appears exactly once in the thread list whatever the
// references say: loops, duplicates, self-references).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/imap/search/date.h"
#include "protocols/imap/search/fold.h"
#include "protocols/imap/search/subject.h"
#include "protocols/imap/search/thread.h"

using namespace imap::search;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto d = parse_date(input)) {
    static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buf[64];
    int zone = d->zone_minutes < 0 ? -d->zone_minutes : d->zone_minutes;
    std::snprintf(buf, sizeof buf, "%d %s %04d %02d:%02d:%02d %c%02d%02d", d->day, months[d->month - 1], d->year,
                  d->hour, d->minute, d->second, d->zone_minutes < 0 ? '-' : '+', zone / 60, zone % 60);
    auto again = parse_date(buf);
    if (!again || again->epoch_seconds() != d->epoch_seconds()) std::abort();
  }
  (void)folded(input);
  auto base = base_subject(input);
  if (base_subject(base.text).text != base.text) std::abort();  // a base subject is its own base

  // Threading: lines are messages "id refs..." with ids from a tiny
  // alphabet so that references collide, loop and duplicate.
  std::vector<message_keys> messages;
  std::size_t pos = 0;
  while (pos < input.size() && messages.size() < 200) {
    std::size_t end = input.find('\n', pos);
    if (end == std::string_view::npos) end = input.size();
    std::string_view line = input.substr(pos, end - pos);
    pos = end + 1;
    message_keys k;
    k.number = std::uint32_t(messages.size() + 1);
    k.sent_seconds = line.empty() ? 0 : static_cast<unsigned char>(line[0]) % 7;
    for (std::size_t i = 0; i < line.size(); ++i) {
      std::string id = "<" + std::string(1, char('a' + static_cast<unsigned char>(line[i]) % 6)) + ">";
      if (i == 0) k.message_id = id;
      else k.references.push_back(id);
    }
    k.base_subject = line.size() > 1 ? std::string(1, char('A' + static_cast<unsigned char>(line[1]) % 3)) : "";
    k.reply_or_forward = line.size() > 2 && (line[2] & 1);
    messages.push_back(std::move(k));
  }
  for (const std::string& text : {thread_references(messages), thread_ordered_subject(messages)}) {
    std::vector<int> seen(messages.size() + 1, 0);
    int depth = 0;
    std::size_t i = 0;
    while (i < text.size()) {
      char c = text[i];
      if (c == '(') ++depth, ++i;
      else if (c == ')') {
        if (--depth < 0) std::abort();
        ++i;
      } else if (c == ' ') ++i;
      else {
        std::uint32_t n = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') n = n * 10 + std::uint32_t(text[i++] - '0');
        if (n == 0 || n > messages.size() || seen[n]++) std::abort();
      }
    }
    if (depth != 0) std::abort();
    for (std::size_t n = 1; n <= messages.size(); ++n)
      if (seen[n] != 1) std::abort();
  }
  return 0;
}
