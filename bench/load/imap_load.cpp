#include <atomic>
#include <charconv>
#include <fstream>
#include <iostream>
#include <unordered_set>

#include "bench/load/mailbox_load.h"
#include "bench/load/message_pool.h"
#include "bench/load/reply_reader.h"

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
  std::atomic<bool> ready_written{false};
};

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
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
                       std::vector<uint32_t>* uids) {
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
  auto selected = co_await client.run("SELECT " + quoted(shared.options.mailbox), plain, "select");
  if (!selected) co_return false;
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

kio::task<void> hold_idle(imap_shared& shared, session_context& ctx, imap_client& client) {
  auto& s = client.stream();
  auto w = co_await s.write_direct(bytes_of("i IDLE\r\n"));
  std::string error;
  if (!w) {
    ctx.stats.error("IDLE: " + w.error().describe());
    co_return;
  }
  auto cont = co_await read_line_copy(s, error);
  if (!cont || cont->rfind("+", 0) != 0) {
    ctx.stats.error("IDLE: " + (cont ? *cont : error));
    co_return;
  }
  ++ctx.stats.operations;
  unsigned now_idling = ++shared.idling;
  if (now_idling == ctx.options.connections && !shared.options.ready_file.empty() && !shared.ready_written.exchange(true)) {
    std::ofstream(shared.options.ready_file) << now_idling << "\n";
  }
  uint64_t hold_until = now_ns() + static_cast<uint64_t>(shared.options.hold_seconds * 1e9);
  // Wait out the hold; untagged updates (EXISTS) are read and ignored.
  while (now_ns() < hold_until) {
    uint64_t left_ms = (hold_until - now_ns()) / 1'000'000 + 1;
    s.connection().options().idle_timeout_ms = left_ms;
    auto got = co_await s.read_some();
    if (!got) {
      if (got.error().what == proto::stream_error::kind::timeout) break;
      ctx.stats.error("while idle: " + got.error().describe());
      co_return;
    }
    s.consume(got->size());
  }
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
  auto c = co_await open_connection(ctx, 1 << 20);
  if (!c) {
    ++ctx.stats.sessions_failed;
    co_return;
  }
  imap_client client(ctx, *c);
  std::vector<uint32_t> uids;
  bool want_uids = o.workload == "fetch-bodies" || o.workload == "flags";
  if (co_await log_in(shared, ctx, *c, client, want_uids ? &uids : nullptr)) {
    ok = true;
    if (o.workload == "idle") {
      co_await hold_idle(shared, ctx, client);
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
  auto result = run_sessions(options.common, [&shared](session_context& ctx) { return imap_session(shared, ctx); });
  char extra[256];
  std::snprintf(extra, sizeof extra, R"("workload":"%s","verified":%llu,"mismatched":%llu,"connections":%u)",
                options.workload.c_str(), static_cast<unsigned long long>(shared.verified.load()),
                static_cast<unsigned long long>(shared.mismatched.load()), options.common.connections);
  write_report(options.common, report_json("imap", result, extra));
  return result.totals.errors == 0 ? 0 : 1;
}

}  // namespace bench_load
