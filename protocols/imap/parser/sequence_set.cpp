#include "protocols/imap/parser/sequence_set.h"

#include <algorithm>
#include <charconv>

namespace imap {
namespace {

// seq-number = nz-number / "*"; nz-number fits 32 bits (RFC 3501 section 9).
bool parse_seq_number(std::string_view text, std::uint32_t& out) {
  if (text == "*") {
    out = sequence_star;
    return true;
  }
  if (text.empty() || text.size() > 10 || text[0] == '0') return false;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  // 4294967295 is "*"'s representation and not a valid UID (RFC 9051 uniqueid
  // is < 2^32), so it is refused to keep the two apart.
  if (value == 0 || value >= sequence_star) return false;
  out = static_cast<std::uint32_t>(value);
  return true;
}

void append_number(std::string& out, std::uint32_t n) {
  if (n == sequence_star) {
    out.push_back('*');
    return;
  }
  char digits[16];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

}  // namespace

kio::result<sequence_set, errc> parse_sequence_set(std::string_view text, std::uint32_t& ranges_left) {
  sequence_set set;
  if (text == "$") {
    set.saved_result = true;
    return set;
  }
  if (text.empty()) return kio::fail(errc::bad_sequence_set);
  std::size_t pos = 0;
  while (true) {
    std::size_t comma = text.find(',', pos);
    std::string_view item = text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (ranges_left == 0) return kio::fail(errc::too_many_ranges);
    --ranges_left;
    std::size_t colon = item.find(':');
    sequence_range range;
    if (colon == std::string_view::npos) {
      if (!parse_seq_number(item, range.first)) return kio::fail(errc::bad_sequence_set);
      range.last = range.first;
    } else {
      std::uint32_t a = 0, b = 0;
      if (!parse_seq_number(item.substr(0, colon), a) || !parse_seq_number(item.substr(colon + 1), b)) {
        return kio::fail(errc::bad_sequence_set);
      }
      range.first = std::min(a, b);
      range.last = std::max(a, b);
    }
    set.ranges.push_back(range);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return set;
}

std::vector<sequence_range> resolve(const sequence_set& set, std::uint32_t largest) {
  std::vector<sequence_range> out;
  out.reserve(set.ranges.size());
  for (sequence_range r : set.ranges) {
    std::uint32_t a = r.first == sequence_star ? largest : r.first;
    std::uint32_t b = r.last == sequence_star ? largest : r.last;
    if (a > b) std::swap(a, b);
    if (b == 0) continue;  // "*" in an empty mailbox
    if (a == 0) a = 1;
    out.push_back({a, b});
  }
  std::sort(out.begin(), out.end(), [](const sequence_range& x, const sequence_range& y) { return x.first < y.first; });
  std::vector<sequence_range> merged;
  merged.reserve(out.size());
  for (sequence_range r : out) {
    if (!merged.empty() && (merged.back().last >= r.first - 1)) {
      merged.back().last = std::max(merged.back().last, r.last);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

bool contains(std::span<const sequence_range> resolved, std::uint32_t number) {
  auto it = std::upper_bound(resolved.begin(), resolved.end(), number,
                             [](std::uint32_t n, const sequence_range& r) { return n < r.first; });
  if (it == resolved.begin()) return false;
  --it;
  return number <= it->last;
}

void append_sequence_set(std::string& out, const sequence_set& set) {
  if (set.saved_result) {
    out.push_back('$');
    return;
  }
  bool first = true;
  for (sequence_range r : set.ranges) {
    if (!first) out.push_back(',');
    first = false;
    append_number(out, r.first);
    if (r.last != r.first) {
      out.push_back(':');
      append_number(out, r.last);
    }
  }
}

std::string format_sequence_set(const sequence_set& set) {
  std::string out;
  append_sequence_set(out, set);
  return out;
}

void append_compressed_sorted(std::string& out, std::span<const std::uint32_t> ascending) {
  std::size_t i = 0;
  bool first = true;
  while (i < ascending.size()) {
    if (ascending[i] == 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j + 1 < ascending.size() && ascending[j + 1] == ascending[j] + 1) ++j;
    if (!first) out.push_back(',');
    first = false;
    append_number(out, ascending[i]);
    if (j > i) {
      out.push_back(':');
      append_number(out, ascending[j]);
    }
    i = j + 1;
  }
}

std::string compress_sequence_set(std::vector<std::uint32_t> numbers) {
  std::sort(numbers.begin(), numbers.end());
  numbers.erase(std::unique(numbers.begin(), numbers.end()), numbers.end());
  std::string out;
  append_compressed_sorted(out, numbers);
  return out;
}

}  // namespace imap
