// The IMAP session over a real loopback socket, with an in-memory
// mailbox_service holding real MIME messages (tests/corpus/mime). Golden
// transcripts (transcripts/NAME.in -> NAME.ref): the client sends NAME.in
// (everything pipelined; a line "#! sleep MS" splits it into writes that far
// apart, a line "#! wait TEXT" into writes the second of which waits until
// the server's output holds TEXT), half-closes, and reads until the server
// closes. The server's output must equal NAME.ref.
// Leading "#! key" lines set options (see options_from).
//
// Regenerate a .ref after checking the change by hand:
//   RINGMAIL_UPDATE_TRANSCRIPTS=1 ./imap_session_test
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <utility>

#include <zlib.h>

#include "kernel_io/net/listener.h"
#include "kernel_io/ring/ops.h"
#include "protocols/imap/parser/mailbox_name.h"
#include "protocols/imap/session/session.h"
#include "tests/unit/tls/tls_test_support.h"

using namespace imap;

namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct stored {
  message_info info;
  std::string bytes;
};

struct fake_mailbox {
  std::uint32_t uid_validity = 0;
  std::uint32_t uid_next = 1;
  std::uint64_t highest_modseq = 1;
  special_use use = special_use::none;
  bool subscribed = true;
  std::vector<stored> messages;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> expunged;  // (uid, modseq), ascending modseq
};

// The account's mailboxes, shared by the service and the test (which
// delivers into it while the session idles).
struct fake_store {
  std::map<std::string, fake_mailbox> mailboxes;
  std::uint32_t next_validity = 1000;
  change_listener* listener = nullptr;
  std::string watched;
  // Test hooks, each run once: when a session starts watching a mailbox
  // (IDLE), and right after select() has taken its snapshot (a change that
  // lands while the session's refresh is still in flight).
  std::function<void()> on_watch;
  std::function<void()> after_snapshot;

  fake_mailbox& create(const std::string& name, special_use use = special_use::none) {
    auto& m = mailboxes[name];
    m.uid_validity = next_validity++;
    m.use = use;
    return m;
  }
  std::uint32_t deliver(const std::string& name, std::string bytes, std::uint32_t flags, std::int64_t date_ms,
                        std::vector<std::string> keywords = {}) {
    auto& m = mailboxes.at(name);
    stored s;
    s.info.uid = m.uid_next++;
    s.info.flags = flags;
    s.info.keywords = std::move(keywords);
    s.info.internal_date_ms = date_ms;
    s.info.size_bytes = bytes.size();
    s.info.modseq = ++m.highest_modseq;
    s.bytes = std::move(bytes);
    m.messages.push_back(std::move(s));
    if (listener && watched == name) listener->mailbox_changed();
    return m.messages.back().info.uid;
  }
};

class fake_account : public mailbox_service {
 public:
  explicit fake_account(fake_store& store) : _s(store) {}

  static service_error missing() { return {service_errc::no_such_mailbox, {}}; }
  fake_mailbox* find(std::string_view name) {
    auto it = _s.mailboxes.find(std::string(name));
    return it == _s.mailboxes.end() ? nullptr : &it->second;
  }

  kio::task<service_result<std::vector<mailbox_info>>> list() override {
    std::vector<mailbox_info> out;
    for (auto& [name, m] : _s.mailboxes) {
      mailbox_info info{name, m.use, m.subscribed, false};
      for (auto& [other, unused] : _s.mailboxes)
        if (other.size() > name.size() && other.compare(0, name.size() + 1, name + "/") == 0) info.has_children = true;
      out.push_back(std::move(info));
    }
    co_return out;
  }
  kio::task<service_result<mailbox_snapshot>> select(std::string_view name) override {
    auto* m = find(name);
    if (!m) co_return kio::fail(missing());
    mailbox_snapshot s{m->uid_validity, m->uid_next, m->highest_modseq, {}};
    for (auto& msg : m->messages) s.messages.push_back(msg.info);
    if (auto hook = std::exchange(_s.after_snapshot, nullptr)) hook();
    co_return s;
  }
  kio::task<service_result<std::string>> read_message(std::string_view name, std::uint32_t uid) override {
    auto* m = find(name);
    if (!m) co_return kio::fail(missing());
    for (auto& msg : m->messages)
      if (msg.info.uid == uid) co_return msg.bytes;
    co_return kio::fail(service_error{service_errc::no_such_mailbox, "expunged"});
  }
  kio::task<service_result<change_result>> store_flags(std::string_view name, std::span<const std::uint32_t> uids,
                                                       const flags_change& change) override {
    auto* m = find(name);
    if (!m) co_return kio::fail(missing());
    change_result r;
    std::uint64_t modseq = m->highest_modseq + 1;
    for (auto& msg : m->messages) {
      if (std::find(uids.begin(), uids.end(), msg.info.uid) == uids.end()) continue;
      if (change.unchanged_since && msg.info.modseq > *change.unchanged_since) continue;
      auto flags = msg.info.flags;
      auto keywords = msg.info.keywords;
      if (change.op == flags_op::add) {
        flags |= change.flags;
        for (auto& k : change.keywords)
          if (std::find(keywords.begin(), keywords.end(), k) == keywords.end()) keywords.push_back(k);
      } else if (change.op == flags_op::remove) {
        flags &= ~change.flags;
        for (auto& k : change.keywords) keywords.erase(std::remove(keywords.begin(), keywords.end(), k), keywords.end());
      } else {
        flags = change.flags;
        keywords = change.keywords;
      }
      if (flags == msg.info.flags && keywords == msg.info.keywords) continue;
      msg.info.flags = flags;
      msg.info.keywords = keywords;
      msg.info.modseq = modseq;
      r.uids.push_back(msg.info.uid);
    }
    if (!r.uids.empty()) m->highest_modseq = r.modseq = modseq;
    co_await kio::nop();  // a real service waits for the group commit
    co_return r;
  }
  kio::task<service_result<append_result>> append(std::string_view name, const append_request& request) override {
    auto* m = find(name);
    if (!m) co_return kio::fail(missing());
    std::uint32_t uid =
        _s.deliver(std::string(name), std::string(request.message), request.flags, request.internal_date_ms,
                   request.keywords);
    co_await kio::nop();
    co_return append_result{m->uid_validity, uid};
  }
  kio::task<service_result<copy_result>> copy(std::string_view source, std::span<const std::uint32_t> uids,
                                              std::string_view target, bool move) override {
    auto* from = find(source);
    auto* to = find(target);
    if (!from || !to) co_return kio::fail(missing());
    copy_result r;
    r.uid_validity = to->uid_validity;
    std::vector<stored> copies;
    for (auto& msg : from->messages)
      if (std::find(uids.begin(), uids.end(), msg.info.uid) != uids.end()) copies.push_back(msg);
    for (auto& c : copies) {
      r.source_uids.push_back(c.info.uid);
      r.target_uids.push_back(
          _s.deliver(std::string(target), c.bytes, c.info.flags, c.info.internal_date_ms, c.info.keywords));
    }
    if (move) {
      ++from->highest_modseq;
      std::erase_if(from->messages, [&](const stored& s) {
        bool gone = std::find(r.source_uids.begin(), r.source_uids.end(), s.info.uid) != r.source_uids.end();
        if (gone) from->expunged.emplace_back(s.info.uid, from->highest_modseq);
        return gone;
      });
    }
    co_return r;
  }
  kio::task<service_result<change_result>> expunge(std::string_view name, std::span<const std::uint32_t> uids) override {
    auto* m = find(name);
    if (!m) co_return kio::fail(missing());
    change_result r;
    r.modseq = ++m->highest_modseq;
    std::erase_if(m->messages, [&](const stored& s) {
      bool gone = std::find(uids.begin(), uids.end(), s.info.uid) != uids.end();
      if (gone) r.uids.push_back(s.info.uid), m->expunged.emplace_back(s.info.uid, r.modseq);
      return gone;
    });
    co_return r;
  }
  kio::task<service_result<void>> create(std::string_view name, special_use use) override {
    if (find(name)) co_return kio::fail(service_error{service_errc::already_exists, {}});
    _s.create(std::string(name), use);
    co_return kio::result<void, service_error>{};
  }
  kio::task<service_result<void>> rename(std::string_view from, std::string_view to) override {
    auto* m = find(from);
    if (!m) co_return kio::fail(missing());
    if (find(to)) co_return kio::fail(service_error{service_errc::already_exists, {}});
    if (is_inbox(from)) co_return kio::fail(service_error{service_errc::not_allowed, "INBOX cannot be renamed here"});
    _s.mailboxes[std::string(to)] = std::move(*m);
    _s.mailboxes.erase(std::string(from));
    co_return kio::result<void, service_error>{};
  }
  kio::task<service_result<void>> remove(std::string_view name) override {
    if (is_inbox(name)) co_return kio::fail(service_error{service_errc::not_allowed, "INBOX cannot be deleted"});
    if (!find(name)) co_return kio::fail(missing());
    _s.mailboxes.erase(std::string(name));
    co_return kio::result<void, service_error>{};
  }
  kio::task<service_result<void>> subscribe(std::string_view name, bool subscribed) override {
    auto* m = find(name);
    if (!m) co_return kio::fail(missing());
    m->subscribed = subscribed;
    co_return kio::result<void, service_error>{};
  }
  kio::task<service_result<mailbox_status>> status(std::string_view name) override {
    auto* m = find(name);
    if (!m) co_return kio::fail(missing());
    mailbox_status s;
    s.messages = std::uint32_t(m->messages.size());
    s.uid_next = m->uid_next;
    s.uid_validity = m->uid_validity;
    s.highest_modseq = m->highest_modseq;
    for (auto& msg : m->messages) {
      if (!(msg.info.flags & message_flag::seen)) ++s.unseen;
      if (msg.info.flags & message_flag::deleted) ++s.deleted;
      s.size_bytes += msg.info.size_bytes;
    }
    co_return s;
  }
  kio::task<service_result<quota_info>> quota() override {
    quota_info q;
    for (auto& [name, m] : _s.mailboxes)
      for (auto& msg : m.messages) q.used_bytes += msg.info.size_bytes, ++q.used_messages;
    q.quota_bytes = 1 << 20;
    co_return q;
  }
  kio::task<service_result<expunged_uids>> expunged_since(std::string_view name, std::uint64_t modseq) override {
    auto* m = find(name);
    if (!m) co_return kio::fail(missing());
    expunged_uids out;
    for (auto [uid, at] : m->expunged)
      if (at > modseq) out.uids.push_back(uid);
    std::sort(out.uids.begin(), out.uids.end());
    co_return out;
  }
  void watch(std::string_view name, change_listener* listener) override {
    _s.listener = listener;
    _s.watched = std::string(name);
    if (listener)
      if (auto hook = std::exchange(_s.on_watch, nullptr)) hook();
  }

 private:
  fake_store& _s;
};

class fake_authenticator : public authenticator {
 public:
  explicit fake_authenticator(fake_store& store) : _store(store) {}
  kio::task<auth_result> authenticate(const auth_request& r) override {
    co_await kio::nop();
    auth_result result;
    if (r.login == "blocked@example.test") {
      result.outcome = auth_outcome::blocked;
      co_return result;
    }
    if (r.login == "alice@example.test" && r.password == "correct horse battery") {
      result.outcome = auth_outcome::ok;
      result.account = std::make_unique<fake_account>(_store);
      co_return result;
    }
    // The per-account switch: this client mishandles some extensions.
    if (r.login == "oldclient@example.test" && r.password == "correct horse battery") {
      result.outcome = auth_outcome::ok;
      result.account = std::make_unique<fake_account>(_store);
      result.hidden_capabilities = {"condstore", "THREAD", "ESEARCH", "MOVE", "IMAP4rev2", "SPECIAL-USE"};
      co_return result;
    }
    co_return result;
  }

 private:
  fake_store& _store;
};

// 2024-01-15 09:30:00 UTC, 2024-02-01 00:00:00 UTC, 2024-03-10 12:00:00 UTC.
constexpr std::int64_t jan15 = 1705311000000, feb01 = 1706745600000, mar10 = 1710072000000;

void fill(fake_store& s) {
  std::filesystem::path corpus(IMAP_CORPUS_DIR);
  s.create("INBOX", special_use::inbox);
  s.create("Sent", special_use::sent);
  s.create("Trash", special_use::trash);
  s.create("Archive", special_use::archive).subscribed = false;
  s.create("Archive/2023");
  s.deliver("INBOX", read_file(corpus / "03-spam-2-00538.eml"), message_flag::seen, jan15);
  s.deliver("INBOX", read_file(corpus / "46-easy-ham-1-01649.eml"), 0, feb01, {"$Work"});
  s.deliver("INBOX", read_file(corpus / "16-spam-2-00615.eml"), message_flag::flagged, mar10);
}

struct transcript_options {
  session_config config;
  // Deliver a message to INBOX this long after the session starts watching
  // it (IDLE): 0 = never.
  std::uint64_t deliver_when_idle_ms = 0;
};

transcript_options options_from(const std::string& input) {
  transcript_options o;
  o.config.hostname = "imap.example.test";
  o.config.login_over_plaintext = true;
  std::istringstream lines(input);
  std::string line;
  while (std::getline(lines, line) && line.rfind("#! ", 0) == 0) {
    std::string key = line.substr(3);
    if (!key.empty() && key.back() == '\r') key.pop_back();
    if (key == "starttls") o.config.tls = tls_test::make_server_context({{"imap.example.test"}});
    else if (key == "require-tls") {
      o.config.tls = tls_test::make_server_context({{"imap.example.test"}});
      o.config.login_over_plaintext = false;
    } else if (key.rfind("literal-max ", 0) == 0) o.config.limits.literal_size_max = std::stoull(key.substr(12));
    else if (key.rfind("deliver-when-idle ", 0) == 0) o.deliver_when_idle_ms = std::stoull(key.substr(18));
    else if (key.rfind("sleep ", 0) == 0 || key.rfind("wait ", 0) == 0) break;
    else ADD_FAILURE() << "unknown transcript option " << key;
  }
  return o;
}

// The client's writes: the input without its option lines, split at
// "#! sleep MS" and "#! wait TEXT" lines. Line ends become CRLF (the .in
// files are LF text).
struct client_write {
  std::string bytes;
  int pause_ms = 0;       // sleep this long before writing
  std::string wait_for;   // read until the output holds this before writing
};
std::vector<client_write> client_writes(const std::string& input) {
  std::vector<client_write> writes{{}};
  std::istringstream lines(input);
  std::string line;
  bool options = true;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("#! sleep ", 0) == 0 || line.rfind("#! wait ", 0) == 0) {
      auto& w = writes.emplace_back();
      if (line[3] == 's') w.pause_ms = std::stoi(line.substr(9));
      else w.wait_for = line.substr(8);
      options = false;
      continue;
    }
    if (options && line.rfind("#! ", 0) == 0) continue;
    options = false;
    writes.back().bytes += line + "\r\n";
  }
  return writes;
}

std::string run_transcript(const std::string& input, fake_store& store, const transcript_options& options) {
  kio::reactor_config rc;
  rc.recv_buffer_count = 64;
  rc.recv_buffer_size_bytes = 4096;  // small: literals span several buffers
  auto r = kio::reactor::create(rc);
  EXPECT_TRUE(r);
  auto l = kio::listener::bind(**r, *kio::socket_address::parse("127.0.0.1:0"));
  EXPECT_TRUE(l);
  uint16_t port = (*l)->address().port();
  std::string output;
  auto writes = client_writes(input);
  std::thread client([&] {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    for (auto& [bytes, pause_ms, wait_for] : writes) {
      if (pause_ms) std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
      char got[4096];
      ssize_t got_n;
      while (!wait_for.empty() && output.find(wait_for) == std::string::npos &&
             (got_n = read(fd, got, sizeof got)) > 0)
        output.append(got, size_t(got_n));
      if (!wait_for.empty() && output.find(wait_for) == std::string::npos)
        ADD_FAILURE() << "waited 10 s for \"" << wait_for << "\" before writing the next part";
      size_t off = 0;
      while (off < bytes.size()) {
        ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
        if (n <= 0) break;
        off += size_t(n);
      }
    }
    // Half-close: a server waiting for more (a TLS handshake after
    // STARTTLS) sees the end instead of a timeout.
    shutdown(fd, SHUT_WR);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) output.append(buf, size_t(n));
    close(fd);
  });
  fake_authenticator auth(store);
  auto deliver = [](fake_store* s, std::uint64_t ms) -> kio::task<void> {
    co_await kio::sleep_for(ms);
    s->deliver("INBOX", "Subject: late\r\nFrom: a@example.org\r\n\r\nhello\r\n", 0, mar10);
  };
  auto server = [&]() -> kio::task<void> {
    auto a = co_await (*l)->accept();
    EXPECT_TRUE(a);
    (*l)->close();
    (void)co_await (*l)->accept();  // the final CQE of the listener
    if (a) {
      co_await run_session(std::make_unique<kio::connection>(**r, a->fd, a->peer), options.config, auth, "T1");
    }
    kio::reactor::current()->request_stop(0);
  };
  if (options.deliver_when_idle_ms)
    store.on_watch = [&] { kio::reactor::current()->spawn(deliver(&store, options.deliver_when_idle_ms)); };
  (*r)->spawn(server());
  (*r)->run();
  client.join();
  return output;
}

kio::task<void> serve_connection(kio::listener* l, kio::reactor* r, const session_config* config,
                                 fake_authenticator* auth, int server_send_buffer) {
  auto a = co_await l->accept();
  EXPECT_TRUE(a);
  l->close();
  (void)co_await l->accept();  // the final CQE of the listener
  if (a) {
    if (server_send_buffer) setsockopt(a->fd, SOL_SOCKET, SO_SNDBUF, &server_send_buffer, sizeof server_send_buffer);
    auto conn = std::make_unique<kio::connection>(*r, a->fd, a->peer);
    co_await run_session(std::move(conn), *config, *auth, "T2");
  }
  kio::reactor::current()->request_stop(0);
}

// Runs one session on a reactor in this thread while `client(port)` runs
// in another; `server_send_buffer` (if set) shrinks the server socket's
// SO_SNDBUF so that large replies are written in many partial writes.
void serve_one(fake_store& store, const session_config& config, const std::function<void(std::uint16_t)>& client,
               int server_send_buffer = 0) {
  kio::reactor_config rc;
  rc.recv_buffer_count = 64;
  rc.recv_buffer_size_bytes = 4096;
  auto r = kio::reactor::create(rc);
  ASSERT_TRUE(r);
  auto l = kio::listener::bind(**r, *kio::socket_address::parse("127.0.0.1:0"));
  ASSERT_TRUE(l);
  std::uint16_t port = (*l)->address().port();
  std::thread client_thread([&] { client(port); });
  fake_authenticator auth(store);
  (*r)->spawn(serve_connection(l->get(), r->get(), &config, &auth, server_send_buffer));
  (*r)->run();
  client_thread.join();
}

int connect_to(std::uint16_t port, int receive_buffer = 0) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (receive_buffer) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void write_all_fd(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n <= 0) return;
    bytes.remove_prefix(std::size_t(n));
  }
}

// A message of ~200 KB that deflate cannot shrink much (pseudo-random
// base64), so a FETCH of it overflows every socket buffer on the way.
std::string incompressible_message() {
  std::string m = "Subject: noise\r\nFrom: a@example.org\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int line = 0; line < 2700; ++line) {
    for (int k = 0; k < 76; ++k) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      m += alphabet[x % 64];
    }
    m += "\r\n";
  }
  return m;
}

// RFC 4978 COMPRESS=DEFLATE. The bug this pins (it made another server
// turn compression off): when the socket takes only part of the compressed
// output, or a compressed piece fills zlib's output buffer exactly, the
// tail of a reply stays inside the compressor until the next reply, and the
// client waits for a tagged OK that never comes. Here the server's socket
// buffer is tiny, the client reads slowly through a tiny receive buffer,
// and the compressor's output pieces are 64 bytes, so every reply is many
// deflate calls and many partial writes. The inflated stream must equal,
// byte for byte, what an uncompressed session answers to the same commands,
// and every command must be answered (the client sends LOGOUT only after
// seeing the FETCH's tagged OK, so a stuck tail hangs the test at 10 s).
TEST(compress, deflate_matches_plain_session_under_partial_writes) {
  const std::string login = "a LOGIN alice@example.test \"correct horse battery\"\r\n";
  const std::string commands = "b SELECT INBOX\r\nc FETCH 1:* (UID BODY.PEEK[])\r\nd NOOP\r\n";
  session_config config = options_from("").config;
  config.limits.compress_piece_bytes = 64;

  // The reference: the same commands without compression.
  std::string plain;
  {
    fake_store store;
    fill(store);
    store.deliver("INBOX", incompressible_message(), 0, mar10);
    serve_one(store, config, [&](std::uint16_t port) {
      int fd = connect_to(port);
      ASSERT_GE(fd, 0);
      write_all_fd(fd, login + commands + "e LOGOUT\r\n");
      shutdown(fd, SHUT_WR);
      char buf[4096];
      ssize_t n;
      while ((n = read(fd, buf, sizeof buf)) > 0) plain.append(buf, std::size_t(n));
      close(fd);
    });
  }
  auto after_login = plain.find("a OK ");
  ASSERT_NE(after_login, std::string::npos);
  plain = plain.substr(plain.find("\r\n", after_login) + 2);
  ASSERT_NE(plain.find("c OK FETCH completed"), std::string::npos);
  ASSERT_GT(plain.size(), 200'000u);

  std::string inflated;
  std::size_t reads = 0;
  {
    fake_store store;
    fill(store);
    store.deliver("INBOX", incompressible_message(), 0, mar10);
    serve_one(
        store, config,
        [&](std::uint16_t port) {
          int fd = connect_to(port, 4096);
          ASSERT_GE(fd, 0);
          // Plaintext until "z OK"; compressed from the next byte on.
          write_all_fd(fd, login + "z COMPRESS DEFLATE\r\n");
          std::string greeting;
          char buf[4096];
          while (greeting.find("z OK") == std::string::npos || greeting.back() != '\n') {
            ssize_t n = read(fd, buf, 1);  // byte by byte: nothing compressed is read as plaintext
            ASSERT_GT(n, 0) << greeting;
            greeting.append(buf, 1);
          }
          ASSERT_NE(greeting.find("z OK DEFLATE active\r\n"), std::string::npos) << greeting;

          z_stream out{}, in{};
          ASSERT_EQ(deflateInit2(&out, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
          ASSERT_EQ(inflateInit2(&in, -15), Z_OK);
          auto send_compressed = [&](const std::string& text) {
            std::string z(text.size() + 1024, '\0');
            out.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
            out.avail_in = uInt(text.size());
            out.next_out = reinterpret_cast<Bytef*>(z.data());
            out.avail_out = uInt(z.size());
            ASSERT_EQ(deflate(&out, Z_SYNC_FLUSH), Z_OK);
            z.resize(z.size() - out.avail_out);
            write_all_fd(fd, z);
          };
          send_compressed(commands);
          bool logout_sent = false;
          char small[512];
          while (true) {
            // Slow at first, so the server meets a full socket many times.
            if (reads < 40) std::this_thread::sleep_for(std::chrono::milliseconds(5));
            ssize_t n = read(fd, small, sizeof small);
            if (n <= 0) break;
            ++reads;
            in.next_in = reinterpret_cast<Bytef*>(small);
            in.avail_in = uInt(n);
            while (in.avail_in > 0) {
              char piece[8192];
              in.next_out = reinterpret_cast<Bytef*>(piece);
              in.avail_out = sizeof piece;
              int rc = inflate(&in, Z_SYNC_FLUSH);
              ASSERT_TRUE(rc == Z_OK || rc == Z_BUF_ERROR) << rc;
              inflated.append(piece, sizeof piece - in.avail_out);
            }
            // Every reply must be complete without more input from us.
            if (!logout_sent && inflated.find("d OK NOOP completed\r\n") != std::string::npos) {
              send_compressed("e LOGOUT\r\n");
              logout_sent = true;
            }
          }
          deflateEnd(&out);
          inflateEnd(&in);
          close(fd);
        },
        4096);
  }
  EXPECT_GT(reads, 100u);  // the reply really came in many pieces
  EXPECT_EQ(inflated.size(), plain.size());
  EXPECT_TRUE(inflated == plain) << "compressed session diverged from the plain one";
}

// Garbage where deflate data should be ends the session cleanly.
TEST(compress, corrupt_input_closes_the_connection) {
  fake_store store;
  fill(store);
  std::string output;
  serve_one(store, options_from("").config, [&](std::uint16_t port) {
    int fd = connect_to(port);
    ASSERT_GE(fd, 0);
    write_all_fd(fd, "a LOGIN alice@example.test \"correct horse battery\"\r\nz COMPRESS DEFLATE\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    write_all_fd(fd, std::string("\xff\xff\xff\xff garbage\r\n", 14));
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) output.append(buf, std::size_t(n));
    close(fd);
  });
  EXPECT_NE(output.find("z OK DEFLATE active\r\n"), std::string::npos) << output;
  EXPECT_EQ(output.substr(output.find("z OK DEFLATE active\r\n") + 21), "");  // nothing more: closed
}

// A change that lands while IDLE is still refreshing after the previous one
// must be pushed too: the session's read is not waiting at that moment, so
// nothing can interrupt it, and the session has to look again before it
// reads. (The bug: the second EXISTS came only when the client said DONE;
// the bench's IDLE storm saw 1 of 2 messages under load.)
TEST(idle, a_change_during_the_refresh_is_pushed_before_the_client_speaks) {
  fake_store store;
  fill(store);
  auto late = [&store](const char* subject) {
    store.deliver("INBOX", std::string("Subject: ") + subject + "\r\nFrom: a@example.org\r\n\r\nhi\r\n", 0, mar10);
  };
  store.on_watch = [&] {
    store.after_snapshot = [&] { late("second"); };
    late("first");
  };
  std::string before_done, after_done;
  serve_one(store, options_from("").config, [&](std::uint16_t port) {
    int fd = connect_to(port);
    ASSERT_GE(fd, 0);
    timeval tv{0, 200'000};  // 200 ms per read: the pushes come at once or not at all
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    write_all_fd(fd, "a LOGIN alice@example.test \"correct horse battery\"\r\nb SELECT INBOX\r\nc IDLE\r\n");
    char buf[4096];
    for (int quiet = 0; quiet < 10 && before_done.find("* 5 EXISTS\r\n") == std::string::npos;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) before_done.append(buf, std::size_t(n));
      else ++quiet;
    }
    write_all_fd(fd, "DONE\r\nz LOGOUT\r\n");
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) after_done.append(buf, std::size_t(n));
    close(fd);
  });
  EXPECT_NE(before_done.find("* 4 EXISTS\r\n"), std::string::npos) << before_done;
  EXPECT_NE(before_done.find("* 5 EXISTS\r\n"), std::string::npos)
      << "the change made during the refresh waited for DONE:\n" << before_done << "--- after DONE:\n" << after_done;
  EXPECT_NE(after_done.find("c OK IDLE terminated"), std::string::npos) << after_done;
}

std::vector<std::string> transcript_names() {
  std::vector<std::string> names;
  for (auto& e : std::filesystem::directory_iterator(IMAP_TRANSCRIPTS_DIR))
    if (e.path().extension() == ".in") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

class transcript : public ::testing::TestWithParam<std::string> {};

TEST_P(transcript, matches_reference) {
  std::filesystem::path dir(IMAP_TRANSCRIPTS_DIR);
  std::string input = read_file(dir / (GetParam() + ".in"));
  fake_store store;
  fill(store);
  std::string got = run_transcript(input, store, options_from(input));
  auto ref_path = dir / (GetParam() + ".ref");
  if (getenv("RINGMAIL_UPDATE_TRANSCRIPTS")) {
    std::ofstream(ref_path, std::ios::binary) << got;
    GTEST_SKIP() << "updated " << ref_path;
  }
  ASSERT_TRUE(std::filesystem::exists(ref_path)) << "missing " << ref_path << "; output was:\n" << got;
  EXPECT_EQ(got, read_file(ref_path));
}

INSTANTIATE_TEST_SUITE_P(imap, transcript, ::testing::ValuesIn(transcript_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
