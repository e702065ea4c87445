#include <atomic>
#include <charconv>

#include "bench/load/mailbox_load.h"
#include "bench/load/reply_reader.h"

namespace bench_load {

namespace {

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

struct pop3_shared {
  const mailbox_options& options;
  std::shared_ptr<const manifest_hashes> manifest;
  std::atomic<uint64_t> verified{0};
  std::atomic<uint64_t> mismatched{0};
};

// Sends a command and reads its status line; false (and an error) unless +OK.
kio::task<bool> command(session_context& ctx, proto::session_stream& s, const std::string& text,
                        std::string* status_out = nullptr) {
  auto w = co_await s.write_direct(bytes_of(text));
  if (!w) {
    ctx.stats.error("send: " + w.error().describe());
    co_return false;
  }
  std::string error;
  auto status = co_await read_pop3_status(s, error);
  if (!status) {
    ctx.stats.error(text.substr(0, 4) + ": " + error);
    co_return false;
  }
  if (status->rfind("+OK", 0) != 0) {
    ctx.stats.error(text.substr(0, 4) + ": " + *status);
    co_return false;
  }
  if (status_out) *status_out = *status;
  co_return true;
}

kio::task<void> pop3_session(pop3_shared& shared, session_context& ctx) {
  const auto& o = shared.options;
  auto c = co_await open_connection(ctx, 1 << 20);
  if (!c) {
    ++ctx.stats.sessions_failed;
    co_return;
  }
  auto& s = *c->stream;
  bool ok = false;
  std::string error;
  std::string body;
  do {
    auto greeting = co_await read_pop3_status(s, error);
    if (!greeting || greeting->rfind("+OK", 0) != 0) {
      ctx.stats.error("greeting: " + (greeting ? *greeting : error));
      break;
    }
    if (ctx.options.tls == tls_mode::starttls) {
      if (!co_await command(ctx, s, "STLS\r\n")) break;
      if (!co_await start_tls(ctx, *c)) break;
    }
    if (!co_await command(ctx, s, "USER " + ctx.options.user + "\r\n")) break;
    uint64_t login_start = now_ns();
    if (!co_await command(ctx, s, "PASS " + ctx.options.password + "\r\n")) break;
    ctx.stats.latency("login").add_ns(now_ns() - login_start);
    std::string stat;
    if (!co_await command(ctx, s, "STAT\r\n", &stat)) break;
    unsigned count = 0;
    std::from_chars(stat.data() + 4, stat.data() + stat.size(), count);
    if (count == 0) {
      ctx.stats.error("mailbox is empty: nothing to RETR");
      break;
    }
    bool failed = false;
    for (unsigned round = 0; round < o.rounds && !failed && !ctx.past_deadline(); ++round) {
      for (unsigned i = 1; i <= count && !ctx.past_deadline(); ++i) {
        uint64_t start = now_ns();
        if (!co_await command(ctx, s, "RETR " + std::to_string(i) + "\r\n")) { failed = true; break; }
        body.clear();
        size_t bytes = 0;
        if (!co_await read_pop3_multiline(s, shared.manifest ? &body : nullptr, bytes, error)) {
          ctx.stats.error("RETR: " + error);
          failed = true;
          break;
        }
        ctx.stats.latency("retr").add_ns(now_ns() - start);
        ++ctx.stats.operations;
        ctx.stats.bytes += bytes;
        if (shared.manifest) {
          if (verify_message(*shared.manifest, body)) ++shared.verified;
          else {
            ++shared.mismatched;
            ctx.stats.error("message " + std::to_string(i) + ": body not in the manifest");
          }
        }
      }
    }
    if (failed) break;
    ok = co_await command(ctx, s, "QUIT\r\n");
  } while (false);
  if (ok) ++ctx.stats.sessions_ok;
  else ++ctx.stats.sessions_failed;
  co_await s.close();
}

}  // namespace

int run_pop3(const mailbox_options& options) {
  pop3_shared shared{options, load_manifest(options.manifest_path)};
  auto result = run_sessions(options.common, [&shared](session_context& ctx) { return pop3_session(shared, ctx); });
  char extra[256];
  std::snprintf(extra, sizeof extra, R"("workload":"retr-all","verified":%llu,"mismatched":%llu,"connections":%u)",
                static_cast<unsigned long long>(shared.verified.load()),
                static_cast<unsigned long long>(shared.mismatched.load()), options.common.connections);
  write_report(options.common, report_json("pop3", result, extra));
  return result.totals.errors == 0 ? 0 : 1;
}

}  // namespace bench_load
