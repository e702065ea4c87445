#include "protocols/imap/search/date.h"

#include <cctype>
#include <string>

namespace imap::search {

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's algorithm.
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::int64_t sent_date::local_day() const { return days_from_civil(year, unsigned(month), unsigned(day)); }

std::int64_t sent_date::epoch_seconds() const {
  return local_day() * 86400 + hour * 3600 + minute * 60 + second - std::int64_t(zone_minutes) * 60;
}

namespace {

// A cursor over the value that skips folding white space and comments
// (nested, bounded by the input length).
struct cursor {
  std::string_view s;
  std::size_t i = 0;

  void skip_cfws() {
    while (i < s.size()) {
      char c = s[i];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++i;
      } else if (c == '(') {
        int depth = 0;
        while (i < s.size()) {
          if (s[i] == '\\' && i + 1 < s.size()) {
            i += 2;
            continue;
          }
          if (s[i] == '(') ++depth;
          if (s[i] == ')' && --depth == 0) {
            ++i;
            break;
          }
          ++i;
        }
      } else {
        break;
      }
    }
  }
  bool at_end() {
    skip_cfws();
    return i >= s.size();
  }
  // Digits, at most `max_digits` of them; false when there are none.
  bool number(int& out, std::size_t max_digits) {
    skip_cfws();
    std::size_t start = i;
    long value = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && i - start < max_digits)
      value = value * 10 + (s[i++] - '0');
    if (i == start) return false;
    if (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) return false;  // too many digits
    out = int(value);
    return true;
  }
  std::size_t digits_read(std::size_t start) const { return i - start; }
  std::string_view word() {
    skip_cfws();
    std::size_t start = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    return s.substr(start, i - start);
  }
  bool consume(char c) {
    skip_cfws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k)
    if (std::tolower(static_cast<unsigned char>(a[k])) != std::tolower(static_cast<unsigned char>(b[k]))) return false;
  return true;
}

int month_number(std::string_view name) {
  static constexpr std::string_view months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                "jul", "aug", "sep", "oct", "nov", "dec"};
  if (name.size() < 3) return 0;
  for (int m = 0; m < 12; ++m)
    if (iequals(name.substr(0, 3), months[m]) && (name.size() == 3 || name.size() > 3)) return m + 1;
  return 0;
}

bool is_day_name(std::string_view name) {
  static constexpr std::string_view days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  if (name.size() < 3) return false;
  for (auto d : days)
    if (iequals(name.substr(0, 3), d)) return true;
  return false;
}

std::optional<int> zone_from_name(std::string_view name) {
  struct zone {
    std::string_view name;
    int minutes;
  };
  static constexpr zone zones[] = {{"UT", 0},       {"UTC", 0},      {"GMT", 0},      {"Z", 0},
                                   {"EST", -5 * 60}, {"EDT", -4 * 60}, {"CST", -6 * 60}, {"CDT", -5 * 60},
                                   {"MST", -7 * 60}, {"MDT", -6 * 60}, {"PST", -8 * 60}, {"PDT", -7 * 60}};
  for (const auto& z : zones)
    if (iequals(name, z.name)) return z.minutes;
  // Other military zones: RFC 5322 4.3 says to treat them as "-0000".
  if (name.size() == 1 && std::isalpha(static_cast<unsigned char>(name[0]))) return 0;
  return std::nullopt;
}

int days_in_month(int year, int month) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : days[month - 1];
}

}  // namespace

std::optional<sent_date> parse_date(std::string_view value) {
  cursor c{value};
  sent_date d;
  // [day-of-week ","]
  std::size_t save = c.i;
  std::string_view first = c.word();
  if (!first.empty()) {
    if (!is_day_name(first)) return std::nullopt;
    c.consume(',');
  } else {
    c.i = save;
  }
  // day month year
  if (!c.number(d.day, 2)) return std::nullopt;
  c.consume('-');  // "1-Feb-1994" appears in the wild
  d.month = month_number(c.word());
  if (!d.month) return std::nullopt;
  c.consume('-');
  c.skip_cfws();
  std::size_t year_start = c.i;
  if (!c.number(d.year, 4)) return std::nullopt;
  std::size_t year_digits = c.digits_read(year_start);
  if (year_digits == 2) d.year += d.year < 50 ? 2000 : 1900;  // RFC 5322 4.3
  else if (year_digits == 3) d.year += 1900;
  if (d.year < 1900 || d.year > 9999 || d.day < 1 || d.day > days_in_month(d.year, d.month)) return std::nullopt;
  // time: hour ":" minute [":" second]
  if (!c.number(d.hour, 2) || !c.consume(':') || !c.number(d.minute, 2)) return std::nullopt;
  if (c.consume(':') && !c.number(d.second, 2)) return std::nullopt;
  if (d.hour > 23 || d.minute > 59 || d.second > 60) return std::nullopt;
  if (d.second == 60) d.second = 59;  // a leap second sorts with its minute
  // zone: ("+" / "-") 4DIGIT, or a name; a missing zone is "-0000" (unknown, taken as UTC).
  c.skip_cfws();
  if (c.i < value.size() && (value[c.i] == '+' || value[c.i] == '-')) {
    int sign = value[c.i] == '-' ? -1 : 1;
    ++c.i;
    std::size_t start = c.i;
    int hhmm = 0;
    if (!c.number(hhmm, 4) || c.digits_read(start) != 4) return std::nullopt;
    if (hhmm % 100 > 59 || hhmm / 100 > 99) return std::nullopt;
    d.zone_minutes = sign * ((hhmm / 100) * 60 + hhmm % 100);
  } else if (!c.at_end()) {
    auto zone = zone_from_name(c.word());
    if (!zone) return std::nullopt;
    d.zone_minutes = *zone;
  }
  return d;
}

}  // namespace imap::search
