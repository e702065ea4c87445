// The SMTP session over a real loopback socket, with test doubles for the
// directory, authentication and the store. Golden transcripts
// (transcripts/NAME.in -> NAME.ref, Postfix style): the client sends NAME.in
// in one write (everything pipelined), reads until the server closes, and
// the server's output plus every stored message must equal NAME.ref.
// A first line "#! submission" / "#! mx" picks the listener; further "#! key"
// lines set options (see options_from).
//
// Regenerate a .ref after checking the change by hand:
//   RINGMAIL_UPDATE_TRANSCRIPTS=1 ./smtp_session_test
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "kernel_io/net/listener.h"
#include "kernel_io/ring/ops.h"
#include "protocols/smtp/session/session.h"

using namespace smtp;

namespace {

struct stored_message {
  std::string sender;
  std::vector<std::string> recipients;
  std::string content;
  std::string dsn;      // the RFC 3461 parameters the sink was handed, rendered
  std::string filter;   // what the filter double decided and saw
};

std::string render_dsn(const envelope& env) {
  std::string out;
  const auto& m = env.parameters;
  if (m.ret != dsn_return::unspecified) out += m.ret == dsn_return::full ? " RET=FULL" : " RET=HDRS";
  if (m.envid) out += " ENVID=" + *m.envid;
  for (const auto& r : env.recipients) {
    if (r.dsn.notify == dsn_notify::unspecified && !r.dsn.orcpt_address) continue;
    out += " [" + r.destination;
    if (r.dsn.notify != dsn_notify::unspecified) {
      out += " NOTIFY=";
      if (has_notify(r.dsn.notify, dsn_notify::never)) out += "NEVER";
      if (has_notify(r.dsn.notify, dsn_notify::success)) out += "SUCCESS,";
      if (has_notify(r.dsn.notify, dsn_notify::failure)) out += "FAILURE,";
      if (has_notify(r.dsn.notify, dsn_notify::delay)) out += "DELAY,";
      if (out.back() == ',') out.pop_back();
    }
    if (r.dsn.orcpt_address) out += " ORCPT=" + r.dsn.orcpt_type.value_or("") + ";" + *r.dsn.orcpt_address;
    out += "]";
  }
  return out;
}

// The inline filter hook's test double: it sees the bytes as they stream
// (the same buffers the sink gets) and decides at the end of data from
// marker words in the message: FILTER-REJECT (550 5.7.1 before the 250),
// FILTER-TAG (a header to add per delivery), FILTER-JUNK (file into Junk);
// anything else passes through.
class fake_filter : public inbound_filter {
 public:
  explicit fake_filter(std::string& seen) : _seen(seen) {}
  void feed(std::span<const std::byte> content) override {
    _seen.append(reinterpret_cast<const char*>(content.data()), content.size());
  }
  kio::task<outcome> finish(const envelope&, const session_info&) override {
    co_await kio::nop();  // a real filter may wait for a scanner here
    outcome o;
    if (_seen.find("FILTER-REJECT") != std::string::npos)
      o.decision = verdict::refuse(550, "5.7.1", "Message refused by the content filter");
    if (_seen.find("FILTER-TAG") != std::string::npos) o.added_headers = "X-Spam-Flag: YES\r\n";
    if (_seen.find("FILTER-JUNK") != std::string::npos) o.folder = "Junk";
    co_return o;
  }

 private:
  std::string& _seen;
};

class fake_sink : public message_sink {
 public:
  fake_sink(std::vector<stored_message>& store, uint64_t quota, const std::string* filter_seen)
      : _store(store), _quota(quota), _filter_seen(filter_seen) {}
  kio::task<verdict> write(std::span<const std::byte> content) override {
    _content.append(reinterpret_cast<const char*>(content.data()), content.size());
    if (_content.size() > _quota) co_return verdict::refuse(452, "4.3.1", "Insufficient system storage");
    co_return verdict::accept();
  }
  kio::task<verdict> commit(const commit_request& r) override {
    stored_message m;
    m.sender = r.env.sender.null ? "<>" : format_mailbox(r.env.sender.address);
    for (auto& rc : r.env.recipients) m.recipients.push_back(rc.destination);
    m.content = _content;
    m.dsn = render_dsn(r.env);
    if (r.filter) {
      m.filter = "filter:";
      if (!r.filter->added_headers.empty()) m.filter += " headers=" + r.filter->added_headers;
      if (!r.filter->folder.empty()) m.filter += " folder=" + r.filter->folder;
      m.filter += _filter_seen && *_filter_seen == _content ? " saw the same bytes" : " saw OTHER bytes";
      while (m.filter.find("\r\n") != std::string::npos) m.filter.replace(m.filter.find("\r\n"), 2, "\\r\\n");
    }
    _store.push_back(std::move(m));
    co_await kio::nop();  // a real sink waits for the group commit here
    co_return verdict{true, 250, "2.0.0", "Ok: queued as " + std::to_string(_store.size())};
  }
  void abort() override { _content.clear(); }

 private:
  std::vector<stored_message>& _store;
  uint64_t _quota;
  const std::string* _filter_seen;
  std::string _content;
};

class fake_services : public session_services {
 public:
  std::vector<stored_message> stored;
  uint64_t quota = 1 << 20;
  bool filtering = false;   // "#! filter": open_filter returns the double
  std::string filter_seen;  // what the current message's filter was fed
  kio::task<auth_result> authenticate(const session_info&, std::string_view login, std::string_view password) override {
    if (login == "alice@example.test" && password == "correct horse battery")
      co_return auth_result{auth_outcome::ok, "alice@example.test", {}};
    co_return auth_result{auth_outcome::bad_credentials, {}, {}};
  }
  kio::task<verdict> check_sender(const session_info& info, const path& sender, const mail_parameters&) override {
    if (!info.authenticated.empty() && (sender.null || format_mailbox(sender.address) != info.authenticated))
      co_return verdict::refuse(553, "5.7.1", "Sender address not owned by the authenticated user");
    co_return verdict::accept();
  }
  kio::task<verdict> check_recipient(const session_info& info, const envelope&, recipient& r) override {
    if (r.address.hazards != relay_hazard::none)
      co_return verdict::refuse(550, "5.7.1", "Relay tricks in the address are refused");
    if (r.address.postmaster) {
      r.destination = "postmaster@example.test";
      co_return verdict::accept();
    }
    if (r.address.address.domain != "example.test") {
      if (info.authenticated.empty()) co_return verdict::refuse(554, "5.7.1", "Relay access denied");
      co_return verdict::refuse(451, "4.7.1", "Outbound delivery is not available yet");
    }
    std::string local = r.address.address.local_part;
    for (auto& ch : local) ch = char(std::tolower(static_cast<unsigned char>(ch)));  // as the directory folds it
    if (local == "full") co_return verdict::refuse(452, "4.2.2", "Mailbox full");
    if (local == "alice" || local == "bob" || local == "small") {
      r.destination = local + "@example.test";
      if (local == "small") r.message_size_max = 100;  // a per-domain SIZE override, as the appliance sets it
      co_return verdict::accept();
    }
    co_return verdict::refuse(550, "5.1.1", "Recipient address rejected: user unknown");
  }
  std::unique_ptr<message_sink> open_message(const session_info&, const envelope&) override {
    return std::make_unique<fake_sink>(stored, quota, filtering ? &filter_seen : nullptr);
  }
  std::unique_ptr<inbound_filter> open_filter(const session_info&, const envelope&) override {
    if (!filtering) return nullptr;
    filter_seen.clear();
    return std::make_unique<fake_filter>(filter_seen);
  }
};

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

session_config options_from(const std::string& input, fake_services& services) {
  session_config c;
  c.hostname = "mx.example.test";
  c.limits.errors_max = 10;
  c.limits.error_delay_ms = 1;
  std::istringstream lines(input);
  std::string line;
  while (std::getline(lines, line) && line.rfind("#! ", 0) == 0) {
    std::string key = line.substr(3);
    if (!key.empty() && key.back() == '\r') key.pop_back();
    if (key == "submission") c.listener = listener_kind::submission, c.auth_over_plaintext = true;
    else if (key == "mx") c.listener = listener_kind::mx;
    else if (key == "normalize") c.bare_line_endings = bare_line_ending_policy::normalize;
    else if (key == "filter") services.filtering = true;
    else if (key.rfind("commands ", 0) == 0) c.limits.commands_max = std::stoull(key.substr(9));
    else if (key.rfind("size ", 0) == 0) c.limits.message_size_max = std::stoull(key.substr(5));
    else if (key.rfind("recipients ", 0) == 0) c.limits.recipients_max = std::stoull(key.substr(11));
    else if (key.rfind("errors ", 0) == 0) c.limits.errors_max = std::stoull(key.substr(7));
    else ADD_FAILURE() << "unknown transcript option " << key;
  }
  return c;
}

// Strips the "#! " option lines: they are for the test, not the server.
std::string client_bytes(const std::string& input) {
  size_t pos = 0;
  while (input.compare(pos, 3, "#! ") == 0) pos = input.find('\n', pos) + 1;
  return input.substr(pos);
}

std::string run_transcript(const std::string& input, fake_services& services, const session_config& config) {
  kio::reactor_config rc;
  rc.recv_buffer_count = 64;
  rc.recv_buffer_size_bytes = 4096;  // small: messages span several buffers
  auto r = kio::reactor::create(rc);
  EXPECT_TRUE(r);
  auto l = kio::listener::bind(**r, *kio::socket_address::parse("127.0.0.1:0"));
  EXPECT_TRUE(l);
  uint16_t port = (*l)->address().port();
  std::string output;
  std::thread client([&] {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    std::string bytes = client_bytes(input);
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
      if (n <= 0) break;
      off += size_t(n);
    }
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) output.append(buf, size_t(n));
    close(fd);
  });
  auto server = [&]() -> kio::task<void> {
    auto a = co_await (*l)->accept();
    EXPECT_TRUE(a);
    (*l)->close();
    (void)co_await (*l)->accept();  // the final CQE of the listener
    if (a) {
      co_await run_session(std::make_unique<kio::connection>(**r, a->fd, a->peer), config, services, "T1");
    }
    kio::reactor::current()->request_stop(0);
  };
  (*r)->spawn(server());
  (*r)->run();
  client.join();
  for (size_t i = 0; i < services.stored.size(); ++i) {
    auto& m = services.stored[i];
    output += "--- stored " + std::to_string(i + 1) + " from " + m.sender + " to";
    for (auto& rc : m.recipients) output += " " + rc;
    output += " ---\n";
    if (!m.dsn.empty()) output += "dsn:" + m.dsn + "\n";
    if (!m.filter.empty()) output += m.filter + "\n";
    output += m.content + "--- end ---\n";
  }
  return output;
}

std::vector<std::string> transcript_names() {
  std::vector<std::string> names;
  for (auto& e : std::filesystem::directory_iterator(SMTP_TRANSCRIPTS_DIR))
    if (e.path().extension() == ".in") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

class transcript : public ::testing::TestWithParam<std::string> {};

TEST_P(transcript, matches_reference) {
  std::filesystem::path dir(SMTP_TRANSCRIPTS_DIR);
  std::string input = read_file(dir / (GetParam() + ".in"));
  fake_services services;
  session_config config = options_from(input, services);
  std::string got = run_transcript(input, services, config);
  auto ref_path = dir / (GetParam() + ".ref");
  if (getenv("RINGMAIL_UPDATE_TRANSCRIPTS")) {
    std::ofstream(ref_path, std::ios::binary) << got;
    GTEST_SKIP() << "updated " << ref_path;
  }
  ASSERT_TRUE(std::filesystem::exists(ref_path)) << "missing " << ref_path << "; output was:\n" << got;
  EXPECT_EQ(got, read_file(ref_path));
}

INSTANTIATE_TEST_SUITE_P(smtp, transcript, ::testing::ValuesIn(transcript_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
