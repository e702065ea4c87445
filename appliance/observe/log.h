#pragma once
// Structured logging: one line per event, key=value, for people with grep
// and for log shippers alike:
//
//   ts=2025-01-02T03:04:05.678Z level=info event=auth_ok proto=imap account=a@b.c ip=192.0.2.7 tls=yes
//
// Events the appliance emits (the key set is stable, see appliance/README.md):
// connection, auth_ok, auth_failed, auth_blocked, message_accepted (id,
// size), delivery, rejection (reason), rate_limited, quota_warning,
// config_reload, admin. Values with spaces, quotes or '=' are quoted.
//
// Thread-safe: a line is formatted in the caller's buffer and written with
// one write(2), which the kernel does not interleave with other writers for
// lines below PIPE_BUF (journald's stream, a pipe). No lock, no allocation
// beyond the line itself. A logger is passed to what logs (no global).

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace appliance {

enum class log_level { debug, info, warning, error };

class logger {
 public:
  // Writes to `fd` (stderr by default; journald adds its own timestamp,
  // ours stays so files and pipes have one too).
  explicit logger(int fd = 2) : _fd(fd) {}
  // Tests: every line goes to `sink` instead of a descriptor.
  explicit logger(std::function<void(std::string_view)> sink) : _sink(std::move(sink)) {}

  class line {
   public:
    line(const logger& owner, log_level level, std::string_view event);
    ~line();
    line(const line&) = delete;
    line& operator=(const line&) = delete;
    line& kv(std::string_view key, std::string_view value);
    line& kv(std::string_view key, const std::string& value) { return kv(key, std::string_view(value)); }
    line& kv(std::string_view key, const char* value) { return kv(key, std::string_view(value)); }
    line& kv(std::string_view key, uint64_t value);
    line& kv(std::string_view key, int64_t value);
    line& kv(std::string_view key, unsigned value) { return kv(key, uint64_t(value)); }
    line& kv(std::string_view key, int value) { return kv(key, int64_t(value)); }
    line& kv(std::string_view key, bool value) { return kv(key, std::string_view(value ? "yes" : "no")); }
    // " key=value ..." pairs the caller formatted (append_log_value for the
    // values), e.g. a filter's verdict carried over to the line that
    // reports the message.
    line& fields(std::string_view formatted);

   private:
    const logger& _owner;
    std::string _text;
  };

  line info(std::string_view event) const { return line(*this, log_level::info, event); }
  line warning(std::string_view event) const { return line(*this, log_level::warning, event); }
  line error(std::string_view event) const { return line(*this, log_level::error, event); }

  void write_line(std::string_view text) const;

 private:
  int _fd = 2;
  std::function<void(std::string_view)> _sink;
};

// Appends `value`, quoted and escaped if it needs to be (exposed for tests).
void append_log_value(std::string& out, std::string_view value);

}  // namespace appliance
