// The POP3 session over a real loopback socket, with an in-memory maildrop
// holding real messages (tests/corpus/mime) and one written to exercise
// dot-stuffing. Golden transcripts (transcripts/NAME.in -> NAME.ref): the
// client sends NAME.in (everything pipelined; a line "#! sleep MS" splits
// it into writes that far apart), half-closes, and reads until the server
// closes. The server's output must equal NAME.ref. Leading "#! key" lines
// set options (see options_from). After the run the test also checks what
// the session asked the maildrop to remove (the UPDATE state).
//
// Regenerate a .ref after checking the change by hand:
//   RINGMAIL_UPDATE_TRANSCRIPTS=1 ./pop3_session_test
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "kernel_io/net/listener.h"
#include "kernel_io/ring/ops.h"
#include "protocols/pop3/session/session.h"
#include "tests/unit/tls/tls_test_support.h"

using namespace pop3;

namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The corpus files have LF line ends; the store holds what SMTP received,
// with CRLF.
std::string to_crlf(std::string_view lf) {
  std::string out;
  for (std::size_t i = 0; i < lf.size(); ++i) {
    if (lf[i] == '\n' && (i == 0 || lf[i - 1] != '\r')) out += '\r';
    out += lf[i];
  }
  return out;
}

struct stored {
  std::uint32_t uid = 0;
  std::string bytes;
};

struct fake_store {
  std::uint32_t uid_validity = 1700000000;
  std::vector<stored> inbox;
  std::vector<std::uint32_t> removed;  // what UPDATE asked for
  bool locked = false;
  bool fail_remove = false;
};

class fake_maildrop : public maildrop {
 public:
  explicit fake_maildrop(fake_store& s) : _s(s) { _s.locked = true; }
  ~fake_maildrop() override { _s.locked = false; }
  kio::task<service_result<maildrop_snapshot>> open() override {
    co_await kio::nop();
    maildrop_snapshot snap{_s.uid_validity, {}};
    for (auto& m : _s.inbox) snap.messages.push_back({m.uid, m.bytes.size()});
    co_return snap;
  }
  kio::task<service_result<std::string>> read_message(std::uint32_t uid) override {
    for (auto& m : _s.inbox)
      if (m.uid == uid) co_return m.bytes;
    co_return kio::fail(service_error{service_errc::gone, "Message was removed meanwhile"});
  }
  kio::task<service_result<void>> remove(std::span<const std::uint32_t> uids) override {
    co_await kio::nop();  // a real maildrop waits for the group commit
    if (_s.fail_remove) co_return kio::fail(service_error{service_errc::temporary, "disk full"});
    _s.removed.assign(uids.begin(), uids.end());
    std::erase_if(_s.inbox, [&](const stored& m) { return std::find(uids.begin(), uids.end(), m.uid) != uids.end(); });
    co_return kio::result<void, service_error>{};
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
    if (r.login == "imaponly@example.test") {
      result.outcome = auth_outcome::protocol_not_allowed;
      result.text = "This account is set up for IMAP, not POP3";
      co_return result;
    }
    if (r.login == "alice@example.test" && r.password == "correct horse battery") {
      if (_store.locked) {
        result.outcome = auth_outcome::in_use;
        co_return result;
      }
      result.outcome = auth_outcome::ok;
      result.account = std::make_unique<fake_maildrop>(_store);
      co_return result;
    }
    co_return result;
  }

 private:
  fake_store& _store;
};

void fill(fake_store& s) {
  std::filesystem::path corpus(POP3_CORPUS_DIR);
  s.inbox.push_back({3, to_crlf(read_file(corpus / "03-spam-2-00538.eml"))});
  // Lines starting with "." (stuffed on the wire), one that is just ".",
  // and no final line end (the session adds CRLF before the terminator).
  s.inbox.push_back({7, "From: bob@example.org\r\nSubject: dots\r\n\r\n.hidden\r\n.\r\nmiddle\r\n..two\r\nlast"});
  s.inbox.push_back({12, to_crlf(read_file(corpus / "46-easy-ham-1-01649.eml"))});
}

struct transcript_options {
  session_config config;
  bool locked = false;
  bool fail_remove = false;
  std::vector<std::uint32_t> expect_removed;
};

transcript_options options_from(const std::string& input) {
  transcript_options o;
  o.config.hostname = "pop.example.test";
  o.config.login_over_plaintext = true;
  o.config.limits.errors_max = 20;
  std::istringstream lines(input);
  std::string line;
  while (std::getline(lines, line) && line.rfind("#! ", 0) == 0) {
    std::string key = line.substr(3);
    if (!key.empty() && key.back() == '\r') key.pop_back();
    if (key == "starttls") o.config.tls = tls_test::make_server_context({{"pop.example.test"}});
    else if (key == "require-tls") {
      o.config.tls = tls_test::make_server_context({{"pop.example.test"}});
      o.config.login_over_plaintext = false;
    } else if (key == "locked") o.locked = true;
    else if (key == "fail-remove") o.fail_remove = true;
    else if (key.rfind("errors-max ", 0) == 0) o.config.limits.errors_max = std::stoul(key.substr(11));
    else if (key.rfind("removed ", 0) == 0) {
      std::istringstream uids(key.substr(8));
      std::uint32_t uid;
      while (uids >> uid) o.expect_removed.push_back(uid);
    } else if (key.rfind("sleep ", 0) == 0) break;
    else ADD_FAILURE() << "unknown transcript option " << key;
  }
  return o;
}

std::vector<std::pair<std::string, int>> client_writes(const std::string& input) {
  std::vector<std::pair<std::string, int>> writes{{"", 0}};
  std::istringstream lines(input);
  std::string line;
  bool options = true;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("#! sleep ", 0) == 0) {
      writes.emplace_back("", std::stoi(line.substr(9)));
      options = false;
      continue;
    }
    if (options && line.rfind("#! ", 0) == 0) continue;
    options = false;
    writes.back().first += line + "\r\n";
  }
  return writes;
}

std::string run_transcript(const std::string& input, fake_store& store, const transcript_options& options) {
  kio::reactor_config rc;
  rc.recv_buffer_count = 64;
  rc.recv_buffer_size_bytes = 4096;
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
    for (auto& [bytes, pause_ms] : writes) {
      if (pause_ms) std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
      size_t off = 0;
      while (off < bytes.size()) {
        ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
        if (n <= 0) break;
        off += size_t(n);
      }
    }
    shutdown(fd, SHUT_WR);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) output.append(buf, size_t(n));
    close(fd);
  });
  fake_authenticator auth(store);
  auto server = [&]() -> kio::task<void> {
    auto a = co_await (*l)->accept();
    EXPECT_TRUE(a);
    (*l)->close();
    (void)co_await (*l)->accept();
    if (a) co_await run_session(std::make_unique<kio::connection>(**r, a->fd, a->peer), options.config, auth, "T1");
    kio::reactor::current()->request_stop(0);
  };
  (*r)->spawn(server());
  (*r)->run();
  client.join();
  return output;
}

std::vector<std::string> transcript_names() {
  std::vector<std::string> names;
  for (auto& e : std::filesystem::directory_iterator(POP3_TRANSCRIPTS_DIR))
    if (e.path().extension() == ".in") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

class transcript : public ::testing::TestWithParam<std::string> {};

TEST_P(transcript, matches_reference) {
  std::filesystem::path dir(POP3_TRANSCRIPTS_DIR);
  std::string input = read_file(dir / (GetParam() + ".in"));
  fake_store store;
  fill(store);
  auto options = options_from(input);
  store.locked = options.locked;
  store.fail_remove = options.fail_remove;
  std::string got = run_transcript(input, store, options);
  EXPECT_EQ(store.removed, options.expect_removed) << "messages removed in the UPDATE state";
  EXPECT_EQ(store.locked, options.locked) << "the maildrop lock must be released when the session ends";
  auto ref_path = dir / (GetParam() + ".ref");
  if (getenv("RINGMAIL_UPDATE_TRANSCRIPTS")) {
    std::ofstream(ref_path, std::ios::binary) << got;
    GTEST_SKIP() << "updated " << ref_path;
  }
  ASSERT_TRUE(std::filesystem::exists(ref_path)) << "missing " << ref_path << "; output was:\n" << got;
  EXPECT_EQ(got, read_file(ref_path));
}

INSTANTIATE_TEST_SUITE_P(pop3, transcript, ::testing::ValuesIn(transcript_names()),
                         [](const auto& info) { return info.param; });

// Every RETR response, unstuffed, gives back the stored message exactly:
// checked over the whole committed corpus, not only the golden ones.
TEST(pop3_session, retr_unstuffs_to_the_stored_bytes) {
  fake_store store;
  std::uint32_t uid = 1;
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator(POP3_CORPUS_DIR))
    if (e.path().extension() == ".eml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 10u);
  for (auto& f : files) store.inbox.push_back({uid++, to_crlf(read_file(f))});
  std::string input = "USER alice@example.test\nPASS correct horse battery\n";
  for (std::size_t i = 1; i <= files.size(); ++i) input += "RETR " + std::to_string(i) + "\n";
  input += "QUIT\n";
  transcript_options options = options_from("");
  std::string out = run_transcript(input, store, options);
  std::size_t pos = out.find("+OK Logged in");
  ASSERT_NE(pos, std::string::npos) << out;
  pos = out.find("\r\n", pos) + 2;
  for (const auto& m : store.inbox) {
    std::string head = "+OK " + std::to_string(m.bytes.size()) + " octets\r\n";
    ASSERT_EQ(out.compare(pos, head.size(), head), 0) << out.substr(pos, 80);
    pos += head.size();
    std::string body;
    for (;;) {
      std::size_t eol = out.find("\r\n", pos);
      ASSERT_NE(eol, std::string::npos);
      std::string_view line(out.data() + pos, eol - pos);
      pos = eol + 2;
      if (line == ".") break;
      if (!line.empty() && line[0] == '.') line.remove_prefix(1);
      body += line;
      body += "\r\n";
    }
    std::string expected = m.bytes;
    if (expected.size() < 2 || expected.compare(expected.size() - 2, 2, "\r\n") != 0) expected += "\r\n";
    EXPECT_EQ(body, expected) << "message uid " << m.uid;
  }
}

TEST(pop3_session, unique_ids_are_stable_and_distinct) {
  EXPECT_EQ(unique_id(1700000000, 3), "6553f10000000003");
  EXPECT_NE(unique_id(1, 2), unique_id(2, 1));
  EXPECT_EQ(unique_id(0xffffffffu, 0xffffffffu).size(), 16u);
}

}  // namespace
