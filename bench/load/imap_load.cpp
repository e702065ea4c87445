#include <atomic>
#include <charconv>
#include <fstream>
#include <iostream>
#include <unordered_set>

#include "bench/load/mailbox_load.h"
#include "bench/load/message_pool.h"
#include "bench/load/reply_reader.h"
#include "kernel_io/ring/ops.h"
#include "kernel_io/ring/reactor.h"

namespace bench_load {

struct manifest_hashes {
  std::unordered_set<std::string> hashes;
};

std::shared_ptr<const manifest_hashes> load_manifest(const std::string& path) {
  if (path.empty()) return nullptr;
  auto m = std::make_shared<manifest_hashes>();
  std::ifstream f(path);
  std::string id, hash;
  std::string rest;
  while (f >> id >> hash) {
    std::getline(f, rest);
    m->hashes.insert(hash);
  }
  return m;
}

bool verify_message(const manifest_hashes& m, std::string_view message) {
  auto at = message.find("X-Bench-Id: ");
  if (at == std::string_view::npos) return false;
  return m.hashes.count(hash_lf(message.substr(at))) != 0;
}

namespace {

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

struct imap_shared {
  const mailbox_options& options;
  std::shared_ptr<const manifest_hashes> manifest;
  std::atomic<uint64_t> verified{0};
  std::atomic<uint64_t> mismatched{0};
  std::atomic<unsigned> idling{0};
  std::atomic<unsigned> idle_failed{0};  // idle connections that never got to IDLE
  std::atomic<bool> ready_written{false};
  // IDLE storm: when the last connection is in IDLE, one more coroutine
  // sends storm_messages over SMTP; sent_ns[k] is when message k's last byte
  // left, and every idle connection times the untagged EXISTS that covers it.
  std::unique_ptr<std::atomic<uint64_t>[]> sent_ns;
  std::atomic<uint64_t> storm_sent{0};
  // The sender runs detached; the IDLE sessions wait for it before they end
  // (the server pushes EXISTS before its 250 reaches the sender, and the
  // generator's reactors stop when the last session ends).
  std::atomic<bool> storm_running{false};
  std::atomic<uint64_t> wakeups{0};
};

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// "* 12 EXISTS" -> 12
std::optional<uint32_t> exists_count(std::string_view line) {
  if (line.size() < 10 || line.substr(0, 2) != "* " || line.substr(line.size() - 7) != " EXISTS") return std::nullopt;
  uint32_t n = 0;
  auto [end, ec] = std::from_chars(line.data() + 2, line.data() + line.size(), n);
  if (ec != std::errc{} || std::string_view(end, 7) != " EXISTS") return std::nullopt;
  return n;
}

// One IMAP client connection: tag counter and command helper.
class imap_client {
 public:
  imap_client(session_context& ctx, client_connection& c) : _ctx(ctx), _c(c) {}
  proto::session_stream& stream() { return *_c.stream; }

  // Sends `command` with a fresh tag and reads to the tagged reply. When
  // `timed` is set the latency from the flush to the tagged line is recorded.
  kio::task<std::optional<imap_response>> run(std::string command, const imap_read_options& ro,
                                              const char* timed = nullptr) {
    std::string tag = "b" + std::to_string(++_tag);
    std::string line = tag + " " + command + "\r\n";
    auto w = co_await _c.stream->write_direct(bytes_of(line));
    if (!w) {
      _ctx.stats.error("send: " + w.error().describe());
      co_return std::nullopt;
    }
    uint64_t sent = now_ns();
    std::string error;
    auto r = co_await read_imap_response(*_c.stream, tag, ro, error);
    if (!r) {
      _ctx.stats.error(command.substr(0, command.find(' ')) + ": " + error);
      co_return std::nullopt;
    }
    if (r->status != "OK") {
      _ctx.stats.error(r->tagged);
      co_return std::nullopt;
    }
    if (timed) _ctx.stats.latency(timed).add_ns(now_ns() - sent);
    co_return r;
  }

 private:
  session_context& _ctx;
  client_connection& _c;
  unsigned _tag = 0;
};

// Connect, greeting, STARTTLS, LOGIN, SELECT. Returns the UIDs when asked.
kio::task<bool> log_in(imap_shared& shared, session_context& ctx, client_connection& c, imap_client& client,
                       std::vector<uint32_t>* uids, uint32_t* exists = nullptr) {
  std::string error;
  auto greeting = co_await read_line_copy(*c.stream, error);
  if (!greeting || greeting->rfind("* OK", 0) != 0) {
    ctx.stats.error("greeting: " + (greeting ? *greeting : error));
    co_return false;
  }
  imap_read_options plain;
  if (ctx.options.tls == tls_mode::starttls) {
    auto r = co_await client.run("STARTTLS", plain);
    if (!r) co_return false;
    if (!co_await start_tls(ctx, c)) co_return false;
  }
  auto login = co_await client.run("LOGIN " + quoted(ctx.options.user) + " " + quoted(ctx.options.password), plain,
                                   "login");
  if (!login) co_return false;
  imap_read_options keep_lines;
  keep_lines.keep_untagged = true;
  auto selected = co_await client.run("SELECT " + quoted(shared.options.mailbox), keep_lines, "select");
  if (!selected) co_return false;
  for (auto& line : selected->untagged) {
    auto n = exists_count(line);
    if (n && exists) *exists = *n;
  }
  if (uids) {
    imap_read_options keep;
    keep.keep_untagged = true;
    auto all = co_await client.run("UID SEARCH ALL", keep);
    if (!all) co_return false;
    for (auto& line : all->untagged) {
      if (line.rfind("* SEARCH", 0) != 0) continue;
      std::string_view rest(line);
      rest.remove_prefix(8);
      while (!rest.empty()) {
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        uint32_t v = 0;
        auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v);
        if (ec != std::errc{}) break;
        uids->push_back(v);
        rest.remove_prefix(static_cast<size_t>(end - rest.data()));
      }
    }
    if (uids->empty()) {
      ctx.stats.error("mailbox is empty: nothing to fetch");
      co_return false;
    }
  }
  co_return true;
}

kio::task<bool> fetch_bodies(imap_shared& shared, session_context& ctx, imap_client& client,
                             const std::vector<uint32_t>& uids) {
  imap_read_options keep;
  keep.keep_literals = shared.manifest != nullptr;
  for (auto uid : uids) {
    if (ctx.past_deadline()) co_return true;
    auto r = co_await client.run("UID FETCH " + std::to_string(uid) + " BODY.PEEK[]", keep, "fetch");
    if (!r) co_return false;
    ++ctx.stats.operations;
    ctx.stats.bytes += r->literal_bytes;
    if (shared.manifest) {
      if (r->literals.size() == 1 && verify_message(*shared.manifest, r->literals.front())) ++shared.verified;
      else {
        ++shared.mismatched;
        ctx.stats.error("UID " + std::to_string(uid) + ": body not in the manifest");
      }
    }
  }
  co_return true;
}

kio::task<bool> smtp_step(session_context& ctx, proto::session_stream& s, const std::string& text, int want) {
  if (!text.empty()) {
    auto w = co_await s.write_direct(bytes_of(text));
    if (!w) {
      ctx.stats.error("storm send: " + w.error().describe());
      co_return false;
    }
  }
  std::string error;
  auto r = co_await read_smtp_reply(s, error);
  if (!r || r->code != want) {
    ctx.stats.error("storm SMTP: " + (r ? r->text : error));
    co_return false;
  }
  co_return true;
}

// Sends the storm's messages one after the other to the IDLEing account over
// plain SMTP (the MX listener), recording when each one's data was sent.
kio::task<void> storm_sender(imap_shared& shared, session_context ctx) {
  const auto& o = shared.options;
  common_options smtp = ctx.options;
  smtp.port = o.storm_smtp_port;
  smtp.tls = tls_mode::none;
  session_context sctx{ctx.index, ctx.thread, ctx.stats, smtp, nullptr, ctx.deadline_ns};
  auto c = co_await open_connection(sctx, 64 * 1024);
  if (!c) {
    shared.storm_running = false;
    co_return;
  }
  auto& s = *c->stream;
  bool ok = co_await smtp_step(sctx, s, "", 220);
  if (ok) ok = co_await smtp_step(sctx, s, "EHLO storm.client\r\n", 250);
  const uint64_t storm_start = now_ns();
  for (unsigned k = 0; ok && k < o.storm_messages; ++k) {
    ok = co_await smtp_step(sctx, s, "MAIL FROM:<storm@bench.test>\r\n", 250);
    if (ok) ok = co_await smtp_step(sctx, s, "RCPT TO:<" + o.storm_rcpt + ">\r\n", 250);
    if (ok) ok = co_await smtp_step(sctx, s, "DATA\r\n", 354);
    if (!ok) break;
    // Unique across runs: repeats of a storm into one mailbox must not reuse ids.
    std::string message = "X-Bench-Id: storm." + std::to_string(storm_start) + "." + std::to_string(k) +
                          "\r\nFrom: <storm@bench.test>\r\nSubject: storm\r\n\r\nwake up\r\n.\r\n";
    auto w = co_await s.write_direct(bytes_of(message));
    if (!w) break;
    shared.sent_ns[k].store(now_ns());
    ok = co_await smtp_step(sctx, s, "", 250);
    if (ok) ++shared.storm_sent;
    if (o.storm_interval_ms) co_await kio::sleep_for(o.storm_interval_ms);
  }
  (void)co_await smtp_step(sctx, s, "QUIT\r\n", 221);
  co_await s.close();
  shared.storm_running = false;
}

// When every idle connection is in IDLE or has failed to get there: the
// ready file (the harness reads the server's memory then) and, with every
// one in IDLE, the storm.
void settle(imap_shared& shared, session_context& ctx) {
  const unsigned idling = shared.idling.load();
  if (idling == 0 || idling + shared.idle_failed.load() < ctx.options.connections) return;
  if (shared.ready_written.exchange(true)) return;
  if (!shared.options.ready_file.empty()) std::ofstream(shared.options.ready_file) << idling << "\n";
  if (shared.options.storm_messages > 0 && idling == ctx.options.connections) {
    shared.storm_running = true;
    kio::reactor::current()->spawn(storm_sender(shared, ctx));
  }
}

kio::task<void> hold_idle(imap_shared& shared, session_context& ctx, imap_client& client, uint32_t exists_at_select,
                          ramp_slot& ramp) {
  auto& s = client.stream();
  auto w = co_await s.write_direct(bytes_of("i IDLE\r\n"));
  std::string error;
  if (!w) {
    ++shared.idle_failed;
    settle(shared, ctx);
    ctx.stats.error("IDLE: " + w.error().describe());
    co_return;
  }
  auto cont = co_await read_line_copy(s, error);
  if (!cont || cont->rfind("+", 0) != 0) {
    ++shared.idle_failed;
    settle(shared, ctx);
    ctx.stats.error("IDLE: " + (cont ? *cont : error));
    co_return;
  }
  ++ctx.stats.operations;
  ramp.release();  // in IDLE: the next connection may start
  ++shared.idling;
  settle(shared, ctx);
  uint32_t seen = exists_at_select;  // EXISTS count already timed
  const uint32_t storm_end = exists_at_select + shared.options.storm_messages;
  if (shared.options.storm_messages == 0) {
    // The hold starts when every connection is in IDLE (or failed to get
    // there): logging in 10,000 connections takes longer than a hold, and
    // the first ones must still be idle when the server's memory is read.
    while (shared.idling + shared.idle_failed < ctx.options.connections && !ctx.past_deadline()) {
      s.connection().options().idle_timeout_ms = 500;
      auto got = co_await s.read_line();
      if (!got && got.error().what != proto::stream_error::kind::timeout) {
        ctx.stats.error("while idle: " + got.error().describe());
        co_return;
      }
    }
  }
  uint64_t hold_until = now_ns() + static_cast<uint64_t>(shared.options.hold_seconds * 1e9);
  // Wait out the hold; untagged updates (EXISTS) are read and ignored.
  while (now_ns() < hold_until && !(shared.options.storm_messages > 0 && seen >= storm_end)) {
    uint64_t left_ms = (hold_until - now_ns()) / 1'000'000 + 1;
    s.connection().options().idle_timeout_ms = left_ms;
    auto got = co_await s.read_line();
    if (!got) {
      if (got.error().what == proto::stream_error::kind::timeout) break;
      ctx.stats.error("while idle: " + got.error().describe());
      co_return;
    }
    auto n = exists_count(got->text);
    if (!n || !shared.sent_ns) continue;
    uint64_t at = now_ns();
    for (; seen < *n && seen < storm_end; ++seen) {
      uint64_t sent = shared.sent_ns[seen - exists_at_select].load();
      if (sent == 0 || sent > at) continue;  // not one of the storm's, or raced its clock read
      ctx.stats.latency("idle_wake").add_ns(at - sent);
      ++shared.wakeups;
    }
  }
  if (shared.options.storm_messages > 0 && seen < storm_end)
    ctx.stats.error("IDLE saw " + std::to_string(seen - exists_at_select) + " of " +
                    std::to_string(shared.options.storm_messages) + " storm messages");
  while (shared.storm_running && !ctx.past_deadline()) co_await kio::sleep_for(5);
  s.connection().options().idle_timeout_ms = ctx.options.timeout_ms;
  auto d = co_await s.write_direct(bytes_of("DONE\r\n"));
  if (!d) co_return;
  std::string tag_error;
  (void)co_await read_imap_response(s, "i", imap_read_options{}, tag_error);
}

kio::task<void> imap_session(imap_shared& shared, session_context& ctx) {
  const auto& o = shared.options;
  bool ok = false;
  if (o.workload == "login") {
    for (unsigned round = 0; round < o.rounds && !ctx.past_deadline(); ++round) {
      uint64_t start = now_ns();
      auto c = co_await open_connection(ctx, 1 << 20);
      if (!c) break;
      imap_client client(ctx, *c);
      bool in = co_await log_in(shared, ctx, *c, client, nullptr);
      if (in) {
        auto out = co_await client.run("LOGOUT", imap_read_options{});
        if (out) {
          ++ctx.stats.operations;
          ctx.stats.latency("connect_login_select_logout").add_ns(now_ns() - start);
        }
      }
      co_await c->stream->close();
      if (!in) break;
      ok = round + 1 == o.rounds || ctx.past_deadline();
    }
    if (ok) ++ctx.stats.sessions_ok;
    else ++ctx.stats.sessions_failed;
    co_return;
  }
  // Idle: the ramp covers connect, TLS, LOGIN and SELECT, until IDLE.
  ramp_slot ramp;
  if (o.workload == "idle") co_await ramp.take(ctx);
  auto c = co_await open_connection(ctx, 1 << 20);
  if (!c) {
    if (o.workload == "idle") {
      ++shared.idle_failed;
      settle(shared, ctx);
    }
    ++ctx.stats.sessions_failed;
    co_return;
  }
  imap_client client(ctx, *c);
  std::vector<uint32_t> uids;
  bool want_uids = o.workload == "fetch-bodies" || o.workload == "flags";
  std::vector<uint32_t>* uid_list = nullptr;
  if (want_uids) uid_list = &uids;
  uint32_t exists = 0;
  bool logged_in = co_await log_in(shared, ctx, *c, client, uid_list, &exists);
  if (!logged_in && o.workload == "idle") {
    ++shared.idle_failed;
    settle(shared, ctx);
  }
  if (logged_in) {
    ok = true;
    if (o.workload == "idle") {
      co_await hold_idle(shared, ctx, client, exists, ramp);
    } else {
      for (unsigned round = 0; round < o.rounds && ok && !ctx.past_deadline(); ++round) {
        if (o.workload == "fetch-headers") {
          auto r = co_await client.run("UID FETCH 1:* (UID RFC822.SIZE BODY.PEEK[HEADER])", imap_read_options{},
                                       "fetch_headers");
          ok = r.has_value();
          if (ok) {
            ++ctx.stats.operations;
            ctx.stats.bytes += r->literal_bytes;
          }
        } else if (o.workload == "fetch-bodies") {
          ok = co_await fetch_bodies(shared, ctx, client, uids);
        } else if (o.workload == "search") {
          imap_read_options keep;
          keep.keep_untagged = true;
          auto r = co_await client.run("UID SEARCH BODY " + quoted(o.search_word), keep, "search");
          ok = r.has_value();
          if (ok) ++ctx.stats.operations;
        } else if (o.workload == "flags") {
          for (size_t i = 0; i < uids.size() && ok && !ctx.past_deadline(); ++i) {
            const char* sign = (round % 2 == 0) ? "+" : "-";
            auto r = co_await client.run("UID STORE " + std::to_string(uids[i]) + " " + sign + "FLAGS (\\Flagged)",
                                         imap_read_options{}, "store");
            ok = r.has_value();
            if (ok) ++ctx.stats.operations;
          }
        } else {
          ctx.stats.error("unknown IMAP workload " + o.workload);
          ok = false;
        }
      }
      if (ok) ok = (co_await client.run("LOGOUT", imap_read_options{})).has_value();
    }
  }
  if (ok) ++ctx.stats.sessions_ok;
  else ++ctx.stats.sessions_failed;
  co_await c->stream->close();
}

}  // namespace

int run_imap(const mailbox_options& options) {
  imap_shared shared{options, load_manifest(options.manifest_path)};
  if (options.storm_messages > 0) {
    if (options.workload != "idle" || options.storm_smtp_port == 0 || options.storm_rcpt.empty()) {
      std::cerr << "ringmail-load imap: --storm-messages needs -w idle, --storm-smtp-port and --storm-rcpt\n";
      return 2;
    }
    shared.sent_ns = std::make_unique<std::atomic<uint64_t>[]>(options.storm_messages);
    for (unsigned k = 0; k < options.storm_messages; ++k) shared.sent_ns[k] = 0;
  }
  auto result = run_sessions(options.common, [&shared](session_context& ctx) { return imap_session(shared, ctx); });
  char extra[256];
  std::snprintf(extra, sizeof extra,
                R"("workload":"%s","verified":%llu,"mismatched":%llu,"connections":%u,"storm_sent":%llu,"wakeups":%llu)",
                options.workload.c_str(), static_cast<unsigned long long>(shared.verified.load()),
                static_cast<unsigned long long>(shared.mismatched.load()), options.common.connections,
                static_cast<unsigned long long>(shared.storm_sent.load()),
                static_cast<unsigned long long>(shared.wakeups.load()));
  write_report(options.common, report_json("imap", result, extra));
  return result.totals.errors == 0 ? 0 : 1;
}

}  // namespace bench_load
