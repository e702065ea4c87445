#pragma once
// RFC 5322 date-time (section 3.3, obsolete forms of 4.3 included) as the
// Date: header carries it, for SEARCH SENTBEFORE/SENTON/SENTSINCE and SORT
// DATE. Pure and lenient the way deployed readers are: the day name is
// optional, two- and three-digit years are mapped (RFC 5322 4.3), seconds
// are optional, military and North American zone names are understood,
// comments are skipped. Anything else fails (the caller then falls back to
// the internal date, as RFC 5256 asks).

#include <cstdint>
#include <optional>
#include <string_view>

namespace imap::search {

struct sent_date {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31, checked against the month
  int hour = 0, minute = 0, second = 0;
  int zone_minutes = 0;  // east of UTC
  // The instant, in seconds since the epoch (UTC).
  std::int64_t epoch_seconds() const;
  // Days since 1970-01-01 of the date as written (zone disregarded, as
  // SENTON and friends require).
  std::int64_t local_day() const;
};

std::optional<sent_date> parse_date(std::string_view value);

// Days since 1970-01-01 of a civil date.
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day);

}  // namespace imap::search
