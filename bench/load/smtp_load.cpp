#include "bench/load/smtp_load.h"

#include <fstream>
#include <iostream>
#include <mutex>

#include "bench/load/reply_reader.h"

namespace bench_load {

namespace {

std::string base64(std::string_view in) {
  static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += table[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// Accepted messages, shared by the client threads (one line per message, so
// a mutex per line is nothing next to a durable SMTP transaction).
struct manifest {
  std::mutex lock;
  std::ofstream file;
  void add(const std::string& line) {
    if (!file.is_open()) return;
    std::lock_guard guard(lock);
    file << line;
  }
};

struct smtp_shared {
  const smtp_options& options;
  const message_pool& pool;
  manifest& accepted;
};

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

// Sends `text` (with a flush) and reads one reply; expects `want` (a class
// like 2 or an exact code). Records an error and returns false otherwise.
kio::task<std::optional<smtp_reply>> command(session_context& ctx, proto::session_stream& s, std::string text) {
  auto w = co_await s.write(text);
  if (w) w = co_await s.flush();
  if (!w) {
    ctx.stats.error("send: " + w.error().describe());
    co_return std::nullopt;
  }
  std::string error;
  auto reply = co_await read_smtp_reply(s, error);
  if (!reply) ctx.stats.error(error);
  co_return reply;
}

bool expect(session_context& ctx, const std::optional<smtp_reply>& reply, int want_class, const char* what) {
  if (!reply) return false;
  if (reply->code / 100 != want_class) {
    ctx.stats.error(std::string(what) + ": " + reply->text);
    return false;
  }
  return true;
}

kio::task<bool> ehlo(session_context& ctx, proto::session_stream& s, std::string& capabilities) {
  auto reply = co_await command(ctx, s, "EHLO bench.client\r\n");
  if (!expect(ctx, reply, 2, "EHLO")) co_return false;
  capabilities = reply->text;
  co_return true;
}

// One connection of a session: greeting, EHLO (STARTTLS, AUTH), messages
// [first, end) of the session's, QUIT. False when the session must stop
// (the connection failed; the error is counted).
kio::task<bool> smtp_connection(smtp_shared& shared, session_context& ctx, std::mt19937_64& rng, unsigned first,
                                unsigned end) {
  const auto& o = shared.options;
  auto opened = co_await open_connection(ctx, 64 * 1024);
  if (!opened) co_return false;
  auto& s = *opened->stream;
  bool ok = false;
  std::string error;
  std::string capabilities;
  std::string message, wire;
  do {
    auto greeting = co_await read_smtp_reply(s, error);
    if (!greeting) {
      ctx.stats.error("greeting: " + error);
      break;
    }
    if (!expect(ctx, greeting, 2, "greeting")) break;
    if (!co_await ehlo(ctx, s, capabilities)) break;
    if (o.common.tls == tls_mode::starttls) {
      auto reply = co_await command(ctx, s, "STARTTLS\r\n");
      if (!expect(ctx, reply, 2, "STARTTLS")) break;
      if (!co_await start_tls(ctx, *opened)) break;
      if (!co_await ehlo(ctx, s, capabilities)) break;
    }
    if (!o.common.user.empty()) {
      std::string plain = std::string(1, '\0') + o.common.user + std::string(1, '\0') + o.common.password;
      auto reply = co_await command(ctx, s, "AUTH PLAIN " + base64(plain) + "\r\n");
      if (!expect(ctx, reply, 2, "AUTH")) break;
    }
    bool pipelining = o.pipelining && capabilities.find("PIPELINING") != std::string::npos;
    bool failed = false;
    for (unsigned m = first; m < end && !ctx.past_deadline(); ++m) {
      const std::string& rcpt = o.recipients[(ctx.index + m * 7919u) % o.recipients.size()];
      std::string id = o.run_id + "." + std::to_string(ctx.index) + "." + std::to_string(m);
      shared.pool.make(id, o.mail_from, rcpt, rng, message);
      uint64_t t_start = now_ns();
      std::string envelope = "MAIL FROM:<" + o.mail_from + ">";
      if (o.bdat) envelope += " BODY=8BITMIME";
      envelope += "\r\nRCPT TO:<" + rcpt + ">\r\n";
      int replies_due = 0;
      if (pipelining) {
        auto w = co_await s.write(envelope);
        if (!w) { ctx.stats.error("send: " + w.error().describe()); failed = true; break; }
        replies_due = 2;
      } else {
        auto pos = envelope.find("\r\n") + 2;
        auto r1 = co_await command(ctx, s, envelope.substr(0, pos));
        if (!expect(ctx, r1, 2, "MAIL")) { failed = true; break; }
        auto r2 = co_await command(ctx, s, envelope.substr(pos));
        if (!expect(ctx, r2, 2, "RCPT")) { failed = true; break; }
      }
      uint64_t t_sent = 0;
      std::optional<smtp_reply> final_reply;
      if (!o.bdat) {
        auto w = co_await s.write("DATA\r\n");
        if (w) w = co_await s.flush();
        if (!w) { ctx.stats.error("send: " + w.error().describe()); failed = true; break; }
        for (int i = 0; i < replies_due; ++i) {
          auto r = co_await read_smtp_reply(s, error);
          if (!r) { ctx.stats.error(error); failed = true; break; }
          if (r->code / 100 != 2) { ctx.stats.error("envelope: " + r->text); failed = true; break; }
        }
        if (failed) break;
        auto r354 = co_await read_smtp_reply(s, error);
        if (!r354) { ctx.stats.error(error); failed = true; break; }
        if (r354->code != 354) { ctx.stats.error("DATA: " + r354->text); failed = true; break; }
        dot_stuff(message, wire);
        auto w2 = co_await s.write_direct(bytes_of(wire));
        if (!w2) { ctx.stats.error("send: " + w2.error().describe()); failed = true; break; }
        t_sent = now_ns();
        final_reply = co_await read_smtp_reply(s, error);
      } else {
        size_t chunk = o.bdat_chunk_bytes ? o.bdat_chunk_bytes : message.size();
        size_t offset = 0;
        int chunks = 0;
        while (offset < message.size()) {
          size_t n = std::min(chunk, message.size() - offset);
          bool last = offset + n == message.size();
          std::string head = "BDAT " + std::to_string(n) + (last ? " LAST\r\n" : "\r\n");
          auto w = co_await s.write(head);
          if (w) w = co_await s.write_direct(bytes_of(std::string_view(message).substr(offset, n)));
          if (!w) { ctx.stats.error("send: " + w.error().describe()); failed = true; break; }
          offset += n;
          ++chunks;
          if (!pipelining && !last) {
            auto r = co_await read_smtp_reply(s, error);
            if (!r || r->code / 100 != 2) { ctx.stats.error("BDAT: " + (r ? r->text : error)); failed = true; break; }
          }
        }
        if (failed) break;
        t_sent = now_ns();
        // Pipelined: envelope replies and every chunk's reply come now.
        int pending = replies_due + (pipelining ? chunks - 1 : 0);
        for (int i = 0; i < pending; ++i) {
          auto r = co_await read_smtp_reply(s, error);
          if (!r) { ctx.stats.error(error); failed = true; break; }
          if (r->code / 100 != 2) { ctx.stats.error("envelope/BDAT: " + r->text); failed = true; break; }
        }
        if (failed) break;
        final_reply = co_await read_smtp_reply(s, error);
      }
      if (!final_reply) { ctx.stats.error("final reply: " + error); failed = true; break; }
      uint64_t t_done = now_ns();
      if (final_reply->code != 250) {
        ctx.stats.error("message refused: " + final_reply->text);
        continue;  // a refused message is an error, the session goes on
      }
      ctx.stats.latency("to_250").add_ns(t_done - t_sent);
      ctx.stats.latency("transaction").add_ns(t_done - t_start);
      ++ctx.stats.operations;
      ctx.stats.bytes += message.size();
      shared.accepted.add(id + " " + hash_lf(message) + " " + std::to_string(message.size()) + " " + rcpt + "\n");
    }
    if (failed) break;
    auto bye = co_await command(ctx, s, "QUIT\r\n");
    ok = bye.has_value();
  } while (false);
  co_await s.close();
  co_return ok;
}

kio::task<void> smtp_session(smtp_shared& shared, session_context& ctx) {
  const auto& o = shared.options;
  std::mt19937_64 rng(o.seed * 1'000'003 + ctx.index);
  const unsigned step = o.per_connection == 0 ? std::max(o.messages, 1u) : o.per_connection;
  bool ok = true;
  unsigned first = 0;
  do {  // at least one connection: -m 0 measures the connection alone
    ok = co_await smtp_connection(shared, ctx, rng, first, std::min(o.messages, first + step));
    first += step;
  } while (ok && first < o.messages && !ctx.past_deadline());
  if (ok) ++ctx.stats.sessions_ok;
  else ++ctx.stats.sessions_failed;
}

}  // namespace

int run_smtp(const smtp_options& options) {
  std::vector<size_weight> sizes;
  if (options.corpus_dir.empty() && !parse_size_distribution(options.sizes, sizes)) {
    std::cerr << "ringmail-load smtp: bad --sizes " << options.sizes << "\n";
    return 2;
  }
  if (options.recipients.empty()) {
    std::cerr << "ringmail-load smtp: at least one --rcpt\n";
    return 2;
  }
  size_t largest = 0;
  for (auto& s : sizes) largest = std::max(largest, s.bytes);
  message_pool pool(sizes, options.corpus_dir, largest);
  if (pool.corpus_empty()) {
    std::cerr << "ringmail-load smtp: no files in " << options.corpus_dir << "\n";
    return 2;
  }
  manifest accepted;
  if (!options.manifest_path.empty()) accepted.file.open(options.manifest_path, std::ios::trunc);
  smtp_shared shared{options, pool, accepted};
  auto result = run_sessions(options.common, [&shared](session_context& ctx) { return smtp_session(shared, ctx); });
  char extra[256];
  std::snprintf(extra, sizeof extra, R"("tls":"%s","pipelining":%s,"bdat":%s,"auth":%s,"connections":%u)",
                options.common.tls == tls_mode::none       ? "none"
                : options.common.tls == tls_mode::starttls ? "starttls"
                                                           : "implicit",
                options.pipelining ? "true" : "false", options.bdat ? "true" : "false",
                options.common.user.empty() ? "false" : "true", options.common.connections);
  write_report(options.common, report_json("smtp", result, extra));
  return result.totals.errors == 0 ? 0 : 1;
}

}  // namespace bench_load
