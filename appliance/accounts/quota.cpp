#include "appliance/accounts/quota.h"

#include <time.h>

#include <cctype>
#include <charconv>
#include <cstdio>

namespace appliance {

quota_verdict check_quota(const account& a, uint64_t usage_bytes, uint64_t incoming_bytes, uint32_t warning_percent) {
  if (a.quota_bytes == 0) return quota_verdict::ok;
  uint64_t after = usage_bytes + incoming_bytes;
  if (after > a.quota_bytes || after < usage_bytes) return quota_verdict::full;
  // Split so quota * percent cannot overflow.
  uint64_t threshold = a.quota_bytes / 100 * warning_percent + a.quota_bytes % 100 * warning_percent / 100;
  // One warning per crossing: the flag is set when it is sent and cleared
  // when usage falls back below the threshold.
  if (after >= threshold && !a.quota_warning_sent) return quota_verdict::warn;
  return quota_verdict::ok;
}

bool clear_warning_flag(const account& a, uint64_t usage_bytes, uint32_t warning_percent) {
  if (!a.quota_warning_sent || a.quota_bytes == 0) return false;
  uint64_t threshold = a.quota_bytes / 100 * warning_percent + a.quota_bytes % 100 * warning_percent / 100;
  return usage_bytes < threshold;
}

std::string format_size(uint64_t bytes) {
  static constexpr const char* units[] = {"bytes", "KB", "MB", "GB", "TB", "PB"};
  double v = double(bytes);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::optional<uint64_t> parse_size(std::string_view text) {
  if (text == "unlimited" || text == "none" || text == "0") return uint64_t(0);
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  std::string_view unit(end, size_t(text.data() + text.size() - end));
  uint64_t mult = 1;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "K" || unit == "KB" || unit == "k") mult = 1ull << 10;
  else if (unit == "M" || unit == "MB") mult = 1ull << 20;
  else if (unit == "G" || unit == "GB") mult = 1ull << 30;
  else if (unit == "T" || unit == "TB") mult = 1ull << 40;
  else return std::nullopt;
  if (n > UINT64_MAX / mult) return std::nullopt;
  return n * mult;
}

std::string quota_full_reply(const account& a, uint64_t usage_bytes) {
  return "Mailbox of " + a.address + " is full (" + format_size(usage_bytes) + " of " + format_size(a.quota_bytes) +
         " used); the message was not delivered";
}

bool messages_full(const account& a, uint64_t used_messages) {
  return a.quota_messages != 0 && used_messages >= a.quota_messages;
}

std::string quota_messages_full_reply(const account& a, uint64_t used_messages) {
  return "Mailbox of " + a.address + " is full (" + std::to_string(used_messages) + " of " +
         std::to_string(a.quota_messages) + " messages); the message was not delivered";
}

std::string quota_warning_message(const account& a, uint64_t usage_bytes, const std::string& hostname,
                                  uint32_t warning_percent) {
  char date[64];
  time_t now = time(nullptr);
  tm utc{};
  gmtime_r(&now, &utc);
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &utc);
  std::string used = format_size(usage_bytes), quota = format_size(a.quota_bytes);
  return "From: Mail Delivery System <postmaster@" + hostname + ">\r\n" + "To: <" + a.address + ">\r\n" +
         "Subject: Your mailbox is " + std::to_string(warning_percent) + "% full\r\n" + "Date: " + date + "\r\n" +
         "Auto-Submitted: auto-generated\r\n" + "MIME-Version: 1.0\r\n" +
         "Content-Type: text/plain; charset=utf-8\r\n\r\n" + "Your mailbox " + a.address + " uses " + used + " of its " +
         quota + " quota.\r\n\r\n" +
         "When it is full, new mail to you will be refused and the senders will get\r\n"
         "an error. Delete or archive old messages (large attachments first) to make\r\n"
         "room, or ask your administrator for a larger quota.\r\n";
}

}  // namespace appliance
