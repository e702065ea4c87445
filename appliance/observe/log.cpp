#include "appliance/observe/log.h"

#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace appliance {

namespace {
// A value longer than this is cut: one hostile header must not make a
// megabyte log line.
constexpr size_t log_value_length_max = 512;

std::string_view level_name(log_level l) {
  switch (l) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warning: return "warning";
    case log_level::error: return "error";
  }
  return "?";
}
}  // namespace

void append_log_value(std::string& out, std::string_view value) {
  bool cut = value.size() > log_value_length_max;
  if (cut) value = value.substr(0, log_value_length_max);
  bool quote = value.empty();
  for (char c : value)
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) quote = true;
  if (!quote) {
    out += value;
  } else {
    out += '"';
    for (char c : value) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\x%02x", unsigned(static_cast<unsigned char>(c)));
        out += hex;
      } else {
        out += c;
      }
    }
    out += '"';
  }
  if (cut) out += "...";
}

logger::line::line(const logger& owner, log_level level, std::string_view event) : _owner(owner) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  // Sized for the widest values the types allow, so the format can never be cut.
  char stamp[96];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, int(ts.tv_nsec / 1'000'000) % 1000);
  _text.reserve(160);
  _text += "ts=";
  _text += stamp;
  _text += " level=";
  _text += level_name(level);
  _text += " event=";
  append_log_value(_text, event);
}

logger::line& logger::line::kv(std::string_view key, std::string_view value) {
  _text += ' ';
  _text += key;
  _text += '=';
  append_log_value(_text, value);
  return *this;
}

logger::line& logger::line::fields(std::string_view formatted) {
  if (formatted.empty()) return *this;
  if (formatted.front() != ' ') _text += ' ';
  _text += formatted;
  return *this;
}

logger::line& logger::line::kv(std::string_view key, uint64_t value) { return kv(key, std::string_view(std::to_string(value))); }
logger::line& logger::line::kv(std::string_view key, int64_t value) { return kv(key, std::string_view(std::to_string(value))); }

logger::line::~line() {
  _text += '\n';
  _owner.write_line(_text);
}

void logger::write_line(std::string_view text) const {
  if (_sink) {
    _sink(text);
    return;
  }
  while (!text.empty()) {
    ssize_t n = ::write(_fd, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // a log that cannot be written must not stop the mail
    }
    text.remove_prefix(size_t(n));
  }
}

}  // namespace appliance
