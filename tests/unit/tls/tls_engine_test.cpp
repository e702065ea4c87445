// Engine pairs talking in memory: handshakes, policy refusals, SNI, bulk
// transfer with hostile chunking, close_notify, garbage, limits, reload.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "tests/unit/tls/tls_test_support.h"

using namespace tls_test;

namespace {

struct pair_fixture {
  std::shared_ptr<const tls::server_context> server_context;
  std::shared_ptr<const tls::client_context> client_context;
  std::optional<tls::engine> server;
  std::optional<tls::engine> client;

  bool connect(std::string_view sni = "mail.example.com", tls::engine_limits limits = {}) {
    auto s = tls::engine::create_server(server_context, limits);
    auto c = tls::engine::create_client(client_context, sni, limits);
    if (!s || !c) return false;
    server.emplace(std::move(*s));
    client.emplace(std::move(*c));
    handshake_outcome outcome = run_handshake(*client, *server);
    if (outcome.client_error) ADD_FAILURE() << "client: " << outcome.client_error->reason;
    if (outcome.server_error) ADD_FAILURE() << "server: " << outcome.server_error->reason;
    return outcome.client_done && outcome.server_done;
  }
};

pair_fixture default_pair(tls::protocol_version client_max = tls::protocol_version::tls1_3) {
  pair_fixture f;
  f.server_context = make_server_context({{"mail.example.com"}});
  f.client_context = make_opportunistic_client(client_max);
  return f;
}

// Reads everything `to` can decrypt right now into `sink`.
void drain_plaintext(tls::engine& to, std::string& sink) {
  std::byte buffer[4096];
  for (;;) {
    auto r = to.read(buffer);
    ASSERT_TRUE(r) << r.error().reason;
    if (r->status != tls::read_status::data) return;
    sink.append(reinterpret_cast<const char*>(buffer), r->bytes);
  }
}

// Moves all pending ciphertext from `from` to `to` and decrypts it.
void deliver(tls::engine& from, tls::engine& to, std::string& sink) {
  auto bytes = take_output(from);
  feed_all(to, bytes, [&] { drain_plaintext(to, sink); });
  drain_plaintext(to, sink);
}

}  // namespace

TEST(tls_engine, Tls13HandshakeAndEcho) {
  auto f = default_pair();
  ASSERT_TRUE(f.connect());
  EXPECT_EQ(f.server->version_name(), "TLSv1.3");
  EXPECT_EQ(f.client->version_name(), "TLSv1.3");
  EXPECT_EQ(f.server->cipher_name().substr(0, 4), "TLS_");
  EXPECT_EQ(f.server->cipher_name(), f.client->cipher_name());
  EXPECT_EQ(f.server->group_name(), "X25519");
  EXPECT_EQ(f.server->server_name(), "mail.example.com");
  EXPECT_GE(f.server->cipher_bits(), 128);
  EXPECT_TRUE(f.server->is_server());
  EXPECT_FALSE(f.client->is_server());

  ASSERT_TRUE(f.client->write(as_bytes("EHLO client.example\r\n")));
  std::string at_server;
  deliver(*f.client, *f.server, at_server);
  EXPECT_EQ(at_server, "EHLO client.example\r\n");
  ASSERT_TRUE(f.server->write(as_bytes(at_server)));
  std::string at_client;
  deliver(*f.server, *f.client, at_client);
  EXPECT_EQ(at_client, at_server);
}

TEST(tls_engine, ForcedTls12UsesEcdheAead) {
  auto f = default_pair(tls::protocol_version::tls1_2);
  ASSERT_TRUE(f.connect());
  EXPECT_EQ(f.server->version_name(), "TLSv1.2");
  const std::string cipher(f.server->cipher_name());
  EXPECT_EQ(cipher.rfind("TLS_ECDHE_ECDSA_WITH_", 0), 0u) << cipher;
  EXPECT_TRUE(cipher.find("GCM") != std::string::npos || cipher.find("CHACHA20") != std::string::npos) << cipher;
  ASSERT_TRUE(f.client->write(as_bytes("ping")));
  std::string got;
  deliver(*f.client, *f.server, got);
  EXPECT_EQ(got, "ping");
}

TEST(tls_engine, ServerLimitedToTls12StillServesTls13Client) {
  pair_fixture f;
  f.server_context = make_server_context({{"mail.example.com"}}, tls::protocol_version::tls1_2);
  f.client_context = make_opportunistic_client();
  ASSERT_TRUE(f.connect());
  EXPECT_EQ(f.client->version_name(), "TLSv1.2");
}

TEST(tls_engine, ClientOfferingOnlyTls10And11IsRefused) {
  auto context = make_server_context({{"mail.example.com"}});
  auto server = tls::engine::create_server(context);
  ASSERT_TRUE(server);
  raw_client client(TLS1_VERSION, TLS1_1_VERSION, nullptr);
  bool client_failed = false;
  auto server_error = run_raw_handshake(client, *server, &client_failed);
  ASSERT_TRUE(server_error.has_value());
  EXPECT_EQ(server_error->code, tls::errc::handshake_failed);
  EXPECT_NE(server_error->reason.find("UNSUPPORTED_PROTOCOL"), std::string::npos) << server_error->reason;
  EXPECT_TRUE(client_failed);
  EXPECT_FALSE(server->handshake_done());
  // The failure is sticky.
  auto again = server->handshake();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, tls::errc::handshake_failed);
}

std::shared_ptr<const tls::server_context> rsa_server_context() {
  tls::server_config config;
  const tls::pem_pair& pems = rsa_cert_for("rsa.example.com");
  config.certificates.push_back({pems.cert_pem, pems.key_pem, {}});
  auto context = tls::server_context::create(config);
  EXPECT_TRUE(context) << context.error().reason;
  return context ? *context : nullptr;
}

TEST(tls_engine, ClientOfferingOnlyRsaKeyExchangeIsRefused) {
  // An RSA certificate, so plain RSA key exchange would be possible if the
  // policy allowed it.
  auto context = rsa_server_context();
  ASSERT_NE(context, nullptr);
  auto server = tls::engine::create_server(context);
  ASSERT_TRUE(server);
  raw_client client(TLS1_2_VERSION, TLS1_2_VERSION, "AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA");
  bool client_failed = false;
  auto server_error = run_raw_handshake(client, *server, &client_failed);
  ASSERT_TRUE(server_error.has_value());
  EXPECT_EQ(server_error->code, tls::errc::handshake_failed);
  EXPECT_NE(server_error->reason.find("NO_SHARED_CIPHER"), std::string::npos) << server_error->reason;
  EXPECT_TRUE(client_failed);
}

TEST(tls_engine, RawTls12EcdheClientIsAccepted) {
  // The control for the two refusals above: the same raw client with an
  // ECDHE suite gets through, so the refusals are about policy.
  auto context = make_server_context({{"mail.example.com"}});
  auto server = tls::engine::create_server(context);
  ASSERT_TRUE(server);
  raw_client client(TLS1_2_VERSION, TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305");
  bool client_failed = false;
  auto server_error = run_raw_handshake(client, *server, &client_failed);
  EXPECT_FALSE(server_error.has_value()) << server_error->reason;
  EXPECT_FALSE(client_failed);
  EXPECT_TRUE(server->handshake_done());
  EXPECT_EQ(server->cipher_name(), "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256");
}

TEST(tls_engine, RsaCertificateGetsEcdheRsa) {
  auto context = rsa_server_context();
  ASSERT_NE(context, nullptr);
  auto server = tls::engine::create_server(context);
  ASSERT_TRUE(server);
  // The same client list as the refusal above plus one ECDHE-RSA suite.
  raw_client client(TLS1_2_VERSION, TLS1_2_VERSION,
                    "AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256");
  bool client_failed = false;
  auto server_error = run_raw_handshake(client, *server, &client_failed);
  ASSERT_FALSE(server_error.has_value()) << server_error->reason;
  EXPECT_EQ(server->cipher_name(), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");

  auto server13 = tls::engine::create_server(context);
  auto client13 = tls::engine::create_client(make_opportunistic_client(), "rsa.example.com");
  ASSERT_TRUE(server13 && client13);
  auto outcome = run_handshake(*client13, *server13);
  EXPECT_TRUE(outcome.server_done && outcome.client_done);
  EXPECT_EQ(server13->version_name(), "TLSv1.3");
}

TEST(tls_engine, RawClientWithP256OnlyGetsP256) {
  auto context = make_server_context({{"mail.example.com"}});
  auto server = tls::engine::create_server(context);
  ASSERT_TRUE(server);
  raw_client client(TLS1_3_VERSION, TLS1_3_VERSION, nullptr);
  ASSERT_EQ(1, SSL_set1_curves_list(client.ssl(), "P-256"));
  bool client_failed = false;
  auto server_error = run_raw_handshake(client, *server, &client_failed);
  ASSERT_FALSE(server_error.has_value()) << server_error->reason;
  EXPECT_EQ(server->group_name(), "P-256");
}

// ------------------------------------------------------------------ SNI

class tls_sni : public ::testing::Test {
 protected:
  void SetUp() override {
    context = make_server_context({{"default.test"}, {"mail.example.com", "smtp.example.com"}, {"*.example.org"}});
    ASSERT_NE(context, nullptr);
    client_context = make_opportunistic_client();
  }
  // Handshakes with `sni` and returns the SANs of the certificate received.
  std::vector<std::string> names_served_for(std::string_view sni) {
    auto server = tls::engine::create_server(context);
    auto client = tls::engine::create_client(client_context, sni);
    EXPECT_TRUE(server && client);
    if (!server || !client) return {};
    auto outcome = run_handshake(*client, *server);
    EXPECT_TRUE(outcome.client_done && outcome.server_done);
    return peer_dns_names(client->native_handle());
  }
  std::shared_ptr<const tls::server_context> context;
  std::shared_ptr<const tls::client_context> client_context;
};

TEST_F(tls_sni, ExactNameSelectsItsCertificate) {
  EXPECT_EQ(names_served_for("mail.example.com"), (std::vector<std::string>{"mail.example.com", "smtp.example.com"}));
  EXPECT_EQ(names_served_for("smtp.example.com"), (std::vector<std::string>{"mail.example.com", "smtp.example.com"}));
  EXPECT_EQ(names_served_for("MAIL.Example.COM"), (std::vector<std::string>{"mail.example.com", "smtp.example.com"}));
}

TEST_F(tls_sni, WildcardCoversOneLabel) {
  EXPECT_EQ(names_served_for("imap.example.org"), (std::vector<std::string>{"*.example.org"}));
  // Two labels deep or the bare domain are not covered: the default answers.
  EXPECT_EQ(names_served_for("a.b.example.org"), (std::vector<std::string>{"default.test"}));
  EXPECT_EQ(names_served_for("example.org"), (std::vector<std::string>{"default.test"}));
}

TEST_F(tls_sni, UnknownOrMissingSniGetsDefault) {
  EXPECT_EQ(names_served_for("unknown.test"), (std::vector<std::string>{"default.test"}));
  EXPECT_EQ(names_served_for(""), (std::vector<std::string>{"default.test"}));
  // An IP literal is not sent as SNI at all.
  EXPECT_EQ(names_served_for("192.0.2.1"), (std::vector<std::string>{"default.test"}));
}

TEST_F(tls_sni, ServerReportsSniAndCommonName) {
  auto server = tls::engine::create_server(context);
  auto client = tls::engine::create_client(client_context, "imap.example.org");
  ASSERT_TRUE(server && client);
  auto outcome = run_handshake(*client, *server);
  ASSERT_TRUE(outcome.server_done);
  EXPECT_EQ(server->server_name(), "imap.example.org");
  EXPECT_EQ(peer_common_name(client->native_handle()), "*.example.org");
}

TEST_F(tls_sni, SelectCertificateIndexTable) {
  struct row {
    const char* sni;
    std::size_t index;
  };
  const row rows[] = {
      {"", 0},           {"default.test", 0},      {"mail.example.com", 1}, {"mail.example.com.", 1},
      {"SMTP.EXAMPLE.COM", 1}, {"x.example.org", 2}, {".example.org", 0},    {"example.org", 0},
      {"x.y.example.org", 0},  {"example.com", 0},   {"*.example.org", 0},
  };
  for (const row& r : rows) EXPECT_EQ(context->select_certificate_index(r.sni), r.index) << r.sni;
  EXPECT_EQ(context->select_certificate_index(std::string(300, 'a')), 0u);
}

// ---------------------------------------------------------- bulk transfer

TEST(tls_engine, MegabyteBothWaysWithRandomChunking) {
  auto f = default_pair();
  ASSERT_TRUE(f.connect());
  std::mt19937_64 rng(20240601);
  const std::size_t total = 1024 * 1024;
  std::string client_sends(total, '\0'), server_sends(total, '\0');
  for (auto& c : client_sends) c = static_cast<char>(rng());
  for (auto& c : server_sends) c = static_cast<char>(rng());

  std::string server_got, client_got;
  std::size_t client_written = 0, server_written = 0;
  std::vector<std::byte> to_server, to_client;  // ciphertext in flight
  std::size_t to_server_at = 0, to_client_at = 0;

  // Each round: write a random amount each way, then move a random number of
  // ciphertext bytes (1..N) each way and decrypt what arrived.
  for (int round = 0; round < 1000000 && (server_got.size() < total || client_got.size() < total); ++round) {
    auto write_some = [&](tls::engine& e, const std::string& source, std::size_t& written) {
      if (written == source.size()) return;
      const std::size_t n = std::min<std::size_t>(source.size() - written, 1 + rng() % 40000);
      ASSERT_TRUE(e.write(as_bytes(std::string_view(source).substr(written, n))));
      written += n;
    };
    write_some(*f.client, client_sends, client_written);
    write_some(*f.server, server_sends, server_written);
    auto collected = take_output(*f.client);
    to_server.insert(to_server.end(), collected.begin(), collected.end());
    collected = take_output(*f.server);
    to_client.insert(to_client.end(), collected.begin(), collected.end());

    auto move_some = [&](std::vector<std::byte>& in_flight, std::size_t& at, tls::engine& to, std::string& sink) {
      for (int pieces = 0; pieces < 8 && at < in_flight.size(); ++pieces) {
        // Mostly tiny pieces (1..N with N small), sometimes large ones.
        const std::size_t cap = (rng() % 4 == 0) ? 20000 : 300;
        std::size_t n = std::min<std::size_t>(in_flight.size() - at, 1 + rng() % cap);
        n = std::min(n, to.input_space_bytes());
        ASSERT_TRUE(to.feed(std::span(in_flight).subspan(at, n)));
        at += n;
        drain_plaintext(to, sink);
      }
      if (at == in_flight.size()) {
        in_flight.clear();
        at = 0;
      }
    };
    move_some(to_server, to_server_at, *f.server, server_got);
    move_some(to_client, to_client_at, *f.client, client_got);
    if (::testing::Test::HasFatalFailure()) return;
  }
  ASSERT_EQ(server_got.size(), total);
  ASSERT_EQ(client_got.size(), total);
  EXPECT_TRUE(server_got == client_sends);
  EXPECT_TRUE(client_got == server_sends);
}

TEST(tls_engine, LargeWriteProducesFullRecords) {
  auto f = default_pair();
  ASSERT_TRUE(f.connect());
  // A greeting first: BoringSSL sends its TLS 1.3 session tickets with the
  // server's first write, so after this nothing else is in flight.
  ASSERT_TRUE(f.server->write(as_bytes("220 ready\r\n")));
  std::string greeting;
  deliver(*f.server, *f.client, greeting);
  ASSERT_EQ(greeting, "220 ready\r\n");
  take_output(*f.client);

  const std::string body(64 * 1024, 'x');
  ASSERT_TRUE(f.server->write(as_bytes(body)));
  // The first chunk of output holds all four records: one send, not four.
  EXPECT_GE(f.server->pending_output().size(), 4u * 16406u);
  auto wire = take_output(*f.server);
  // TLS 1.3 with AES-GCM or ChaCha20: 16384 plaintext + 1 content type +
  // 16 tag = 16401 bytes per record body, 5 bytes of header.
  ASSERT_EQ(wire.size(), 4u * (5 + 16401));
  for (std::size_t at = 0; at < wire.size(); at += 5 + 16401) {
    EXPECT_EQ(static_cast<int>(wire[at]), 23);  // application_data
    const std::size_t length = (static_cast<std::size_t>(wire[at + 3]) << 8) | static_cast<std::size_t>(wire[at + 4]);
    EXPECT_EQ(length, 16401u);
  }
  std::string got;
  feed_all(*f.client, wire, [&] { drain_plaintext(*f.client, got); });
  drain_plaintext(*f.client, got);
  EXPECT_EQ(got, body);
}

TEST(tls_engine, PendingOutputStaysValidWhileMoreIsWritten) {
  // An io_uring send reads the span asynchronously while the session may
  // encrypt more: the bytes it was given must not move.
  auto f = default_pair();
  ASSERT_TRUE(f.connect());
  take_output(*f.server);
  ASSERT_TRUE(f.server->write(as_bytes("first")));
  auto in_flight = f.server->pending_output();
  const std::vector<std::byte> snapshot(in_flight.begin(), in_flight.end());
  const std::string big(200 * 1024, 'y');
  ASSERT_TRUE(f.server->write(as_bytes(big)));
  EXPECT_EQ(f.server->pending_output().data(), in_flight.data());
  EXPECT_TRUE(std::equal(snapshot.begin(), snapshot.end(), in_flight.begin()));
  std::string got;
  deliver(*f.server, *f.client, got);
  EXPECT_EQ(got, "first" + big);
}

// --------------------------------------------------------- close, garbage

TEST(tls_engine, CloseNotifyIsDetected) {
  auto f = default_pair();
  ASSERT_TRUE(f.connect());
  ASSERT_TRUE(f.client->write(as_bytes("QUIT\r\n")));
  ASSERT_TRUE(f.client->shutdown());
  auto wire = take_output(*f.client);
  ASSERT_TRUE(f.server->feed(wire));
  std::byte buffer[256];
  auto first = f.server->read(buffer);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, tls::read_status::data);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(buffer), first->bytes), "QUIT\r\n");
  EXPECT_FALSE(f.server->close_notify_received());
  auto second = f.server->read(buffer);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, tls::read_status::closed);
  EXPECT_TRUE(f.server->close_notify_received());
  // Half-close: the server may still answer, then closes too.
  ASSERT_TRUE(f.server->write(as_bytes("221 bye\r\n")));
  ASSERT_TRUE(f.server->shutdown());
  auto write_after = f.server->write(as_bytes("late"));
  ASSERT_FALSE(write_after);
  EXPECT_EQ(write_after.error().code, tls::errc::closed);
  std::string got;
  ASSERT_TRUE(f.client->feed(take_output(*f.server)));
  auto r = f.client->read(buffer);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, tls::read_status::data);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(buffer), r->bytes), "221 bye\r\n");
  r = f.client->read(buffer);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, tls::read_status::closed);
}

TEST(tls_engine, TruncationWithoutCloseNotifyIsJustWantInput) {
  // A TCP FIN without close_notify is the runtime's to report; the engine
  // must not claim a clean close.
  auto f = default_pair();
  ASSERT_TRUE(f.connect());
  ASSERT_TRUE(f.client->write(as_bytes("DATA")));
  auto wire = take_output(*f.client);
  ASSERT_TRUE(f.server->feed(std::span(wire).first(wire.size() - 1)));
  std::byte buffer[64];
  auto r = f.server->read(buffer);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, tls::read_status::want_input);
  EXPECT_FALSE(f.server->close_notify_received());
}

TEST(tls_engine, GarbageBeforeHandshakeIsAnError) {
  auto context = make_server_context({{"mail.example.com"}});
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    auto server = tls::engine::create_server(context);
    ASSERT_TRUE(server);
    std::vector<std::byte> garbage(1 + rng() % 3000);
    for (auto& b : garbage) b = static_cast<std::byte>(rng());
    if (trial % 2 == 0) garbage[0] = std::byte{22};  // looks like a handshake record
    ASSERT_TRUE(server->feed(garbage));
    auto r = server->handshake();
    // Either a clear error, or (a plausible header with a long length) a
    // wait for more; never success, never a crash.
    if (r) {
      EXPECT_EQ(*r, tls::handshake_status::want_input);
    } else {
      EXPECT_EQ(r.error().code, tls::errc::handshake_failed);
      EXPECT_FALSE(r.error().reason.empty());
    }
  }
  auto server = tls::engine::create_server(context);
  ASSERT_TRUE(server);
  ASSERT_TRUE(server->feed(as_bytes("EHLO plaintext.example\r\n")));
  auto r = server->handshake();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, tls::errc::handshake_failed);
}

TEST(tls_engine, GarbageAfterHandshakeIsAProtocolError) {
  auto f = default_pair();
  ASSERT_TRUE(f.connect());
  // A well-formed application_data header with a body that fails the AEAD.
  std::vector<std::byte> record = {std::byte{23}, std::byte{3}, std::byte{3}, std::byte{0}, std::byte{40}};
  record.resize(5 + 40, std::byte{0x5a});
  ASSERT_TRUE(f.server->feed(record));
  std::byte buffer[64];
  auto r = f.server->read(buffer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, tls::errc::protocol_error);
  EXPECT_NE(r.error().reason.find("DECRYPTION_FAILED"), std::string::npos) << r.error().reason;
  // The engine stays failed and has an alert for the peer.
  EXPECT_FALSE(f.server->read(buffer));
  EXPECT_FALSE(f.server->write(as_bytes("x")));
  EXPECT_FALSE(f.server->pending_output().empty());
}

TEST(tls_engine, BufferedInputLimitIsEnforced) {
  auto context = make_server_context({{"mail.example.com"}});
  auto server = tls::engine::create_server(context, tls::engine_limits{.input_buffered_max_bytes = 1024});
  ASSERT_TRUE(server);
  std::vector<std::byte> bytes(1025, std::byte{0});
  auto too_much = server->feed(bytes);
  ASSERT_FALSE(too_much);
  EXPECT_EQ(too_much.error().code, tls::errc::input_limit_exceeded);
  EXPECT_EQ(server->input_buffered_bytes(), 0u);  // nothing was accepted
  EXPECT_TRUE(server->feed(std::span(bytes).first(1000)));
  EXPECT_EQ(server->input_space_bytes(), 24u);
  EXPECT_FALSE(server->feed(std::span(bytes).first(25)));
  EXPECT_TRUE(server->feed(std::span(bytes).first(24)));
  EXPECT_EQ(server->input_space_bytes(), 0u);
  auto one_more = server->feed(std::span(bytes).first(1));
  ASSERT_FALSE(one_more);
  EXPECT_EQ(one_more.error().code, tls::errc::input_limit_exceeded);

  // The default limit is 64 KB.
  auto other = tls::engine::create_server(context);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->input_space_bytes(), 64u * 1024u);
}

TEST(tls_engine, LimitHoldsAgainstAPeerThatNeverStops) {
  // A peer streaming records faster than the session reads: the engine's
  // buffer stops at the limit and the owner sees input_limit_exceeded (or
  // zero input_space) instead of memory growing.
  auto f = default_pair();
  ASSERT_TRUE(f.connect("mail.example.com", tls::engine_limits{.input_buffered_max_bytes = 32 * 1024}));
  const std::string chunk(16 * 1024, 'z');
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(f.client->write(as_bytes(chunk)));
  auto wire = take_output(*f.client);
  std::size_t fed = 0;
  while (fed < wire.size()) {
    const std::size_t n = std::min<std::size_t>(4096, wire.size() - fed);
    auto r = f.server->feed(std::span(wire).subspan(fed, n));
    if (!r) {
      EXPECT_EQ(r.error().code, tls::errc::input_limit_exceeded);
      break;
    }
    fed += n;
  }
  EXPECT_LT(fed, wire.size());
  EXPECT_LE(f.server->input_buffered_bytes(), 32u * 1024u);
}

// ------------------------------------------------------ verification

TEST(tls_verify, SelfSignedVerifiesAgainstItselfWithTheRightName) {
  const tls::pem_pair& pems = cert_for({"mail.example.com", "example.com"});
  tls::server_config server_config;
  server_config.certificates.push_back({pems.cert_pem, pems.key_pem, {}});
  auto server_context = tls::server_context::create(server_config);
  ASSERT_TRUE(server_context);
  tls::client_config client_config;
  client_config.mode = tls::verify_mode::verify;
  client_config.ca_pem = pems.cert_pem;
  auto client_context = tls::client_context::create(client_config);
  ASSERT_TRUE(client_context) << client_context.error().reason;

  for (const char* good : {"mail.example.com", "example.com", "MAIL.EXAMPLE.COM"}) {
    auto server = tls::engine::create_server(*server_context);
    auto client = tls::engine::create_client(*client_context, good);
    ASSERT_TRUE(server && client);
    auto outcome = run_handshake(*client, *server);
    EXPECT_TRUE(outcome.client_done) << good << ": " << (outcome.client_error ? outcome.client_error->reason : "");
    EXPECT_EQ(SSL_get_verify_result(client->native_handle()), X509_V_OK) << good;
  }
  for (const char* bad : {"other.example.net", "x.mail.example.com", "example.co"}) {
    auto server = tls::engine::create_server(*server_context);
    auto client = tls::engine::create_client(*client_context, bad);
    ASSERT_TRUE(server && client);
    auto outcome = run_handshake(*client, *server);
    EXPECT_FALSE(outcome.client_done) << bad;
    ASSERT_TRUE(outcome.client_error.has_value()) << bad;
    EXPECT_EQ(outcome.client_error->code, tls::errc::certificate_verify_failed) << bad;
    EXPECT_NE(outcome.client_error->reason.find("ostname"), std::string::npos) << outcome.client_error->reason;
    EXPECT_TRUE(outcome.server_error.has_value()) << "the server should see the client's alert";
  }
}

TEST(tls_verify, SelfSignedFailsAgainstTheSystemBundle) {
  if (::access(std::string(tls::system_ca_file).c_str(), R_OK) != 0) GTEST_SKIP() << "no system CA bundle";
  auto server_context = make_server_context({{"mail.example.com"}});
  tls::client_config client_config;  // verify mode, system bundle
  auto client_context = tls::client_context::create(client_config);
  ASSERT_TRUE(client_context) << client_context.error().reason;
  auto server = tls::engine::create_server(server_context);
  auto client = tls::engine::create_client(*client_context, "mail.example.com");
  ASSERT_TRUE(server && client);
  auto outcome = run_handshake(*client, *server);
  ASSERT_TRUE(outcome.client_error.has_value());
  EXPECT_EQ(outcome.client_error->code, tls::errc::certificate_verify_failed);
}

TEST(tls_verify, OpportunisticAcceptsAnything) {
  auto f = default_pair();
  f.client_context = make_opportunistic_client();
  ASSERT_TRUE(f.connect("wrong.name.test"));
}

TEST(tls_verify, VerifyModeNeedsAName) {
  tls::client_config config;
  config.ca_pem = cert_for({"mail.example.com"}).cert_pem;
  auto context = tls::client_context::create(config);
  ASSERT_TRUE(context);
  auto client = tls::engine::create_client(*context, "");
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, tls::errc::config_invalid);
}

TEST(tls_self_signed, CertificateShape) {
  std::vector<std::string> names = {"localhost", "mail.localhost"};
  auto a = tls::generate_self_signed(names, 825);
  auto b = tls::generate_self_signed(names, 825);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->cert_pem, b->cert_pem);
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(a->cert_pem.data(), static_cast<int>(a->cert_pem.size())));
  bssl::UniquePtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(cert, nullptr);
  bssl::UniquePtr<EVP_PKEY> key(X509_get_pubkey(cert.get()));
  ASSERT_EQ(EVP_PKEY_id(key.get()), EVP_PKEY_EC);
  EXPECT_EQ(EC_GROUP_get_curve_name(EC_KEY_get0_group(EVP_PKEY_get0_EC_KEY(key.get()))), NID_X9_62_prime256v1);
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  EXPECT_GE(ASN1_STRING_length(X509_get0_serialNumber(cert.get())), 16);
  EXPECT_EQ(X509_check_host(cert.get(), "localhost", 9, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "mail.localhost", 14, 0, nullptr), 1);
  EXPECT_NE(X509_check_host(cert.get(), "other", 5, 0, nullptr), 1);
  // Valid for about the requested days.
  int days = 0, seconds = 0;
  ASSERT_EQ(1, ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert.get()), X509_get0_notAfter(cert.get())));
  EXPECT_EQ(days, 825);
  EXPECT_FALSE(tls::generate_self_signed(std::vector<std::string>{}, 30));
  EXPECT_FALSE(tls::generate_self_signed(std::vector<std::string>{"bad name"}, 30));
  EXPECT_FALSE(tls::generate_self_signed(names, 0));
}

TEST(tls_self_signed, WritePemFilesUsesPrivateKeyMode) {
  auto pems = tls::generate_self_signed(std::vector<std::string>{"localhost"}, 30);
  ASSERT_TRUE(pems);
  char pattern[] = "/tmp/ringmail-tls-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  const mode_t old_umask = ::umask(0);  // a permissive umask must not widen the key
  auto written = tls::write_pem_files(*pems, dir);
  ::umask(old_umask);
  ASSERT_TRUE(written) << written.error().reason;
  struct stat key_stat {}, cert_stat {};
  ASSERT_EQ(::stat((dir + "/key.pem").c_str(), &key_stat), 0);
  ASSERT_EQ(::stat((dir + "/cert.pem").c_str(), &cert_stat), 0);
  EXPECT_EQ(key_stat.st_mode & 0777, 0600u);
  EXPECT_EQ(cert_stat.st_mode & 0777, 0644u);
  // Round trip through the file loader into a working context.
  auto loaded = tls::load_certificate_files(dir + "/cert.pem", dir + "/key.pem");
  ASSERT_TRUE(loaded) << loaded.error().reason;
  EXPECT_EQ(loaded->chain_pem, pems->cert_pem);
  tls::server_config config;
  config.certificates.push_back(*loaded);
  EXPECT_TRUE(tls::server_context::create(config));
  // Overwriting works (a regenerated certificate).
  EXPECT_TRUE(tls::write_pem_files(*pems, dir));
  std::filesystem::remove_all(dir);
  auto missing = tls::load_certificate_files(dir + "/cert.pem", dir + "/key.pem");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, tls::errc::file_unreadable);
}

// ----------------------------------------------------- context errors

TEST(tls_context, ConfigurationErrorsAreValues) {
  const tls::pem_pair& a = cert_for({"a.test"});
  const tls::pem_pair& b = cert_for({"b.test"});
  tls::server_config config;
  auto empty = tls::server_context::create(config);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, tls::errc::config_invalid);

  config.certificates = {{a.cert_pem, b.key_pem, {}}};
  auto mismatch = tls::server_context::create(config);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, tls::errc::key_mismatch);

  config.certificates = {{"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n", a.key_pem, {}}};
  auto bad_cert = tls::server_context::create(config);
  ASSERT_FALSE(bad_cert);
  EXPECT_EQ(bad_cert.error().code, tls::errc::pem_invalid);

  config.certificates = {{a.cert_pem, "garbage", {}}};
  auto bad_key = tls::server_context::create(config);
  ASSERT_FALSE(bad_key);
  EXPECT_EQ(bad_key.error().code, tls::errc::pem_invalid);

  config.certificates = {{a.cert_pem, a.key_pem, {"*.*.test"}}};
  auto bad_name = tls::server_context::create(config);
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error().code, tls::errc::config_invalid);

  tls::client_config client;
  client.ca_file = "/nonexistent/ca.pem";
  auto no_ca = tls::client_context::create(client);
  ASSERT_FALSE(no_ca);
  EXPECT_EQ(no_ca.error().code, tls::errc::file_unreadable);
  // A failed call leaves no stale entries on this thread's error queue.
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(tls_context, ExplicitNamesOverrideCertificateNames) {
  tls::server_config config;
  config.certificates.push_back(entry_for({"default.test"}));
  auto other = entry_for({"other.test"});
  other.names = {"alias.test"};
  config.certificates.push_back(other);
  auto context = tls::server_context::create(config);
  ASSERT_TRUE(context);
  EXPECT_EQ((*context)->select_certificate_index("alias.test"), 1u);
  EXPECT_EQ((*context)->select_certificate_index("other.test"), 0u);
}

// ------------------------------------------------------------- reload

TEST(tls_reload, OldEngineKeepsWorkingOnTheOldContext) {
  pair_fixture old_pair;
  old_pair.server_context = make_server_context({{"old.example.com"}});
  old_pair.client_context = make_opportunistic_client();
  ASSERT_TRUE(old_pair.connect("old.example.com"));
  std::weak_ptr<const tls::server_context> old_context = old_pair.server_context;

  // SIGHUP: a new certificate; the holder of the "current" context swaps it.
  tls::server_config fresh;
  fresh.certificates.push_back(entry_for({"new.example.com"}));
  auto reloaded = tls::server_context::reload(fresh);
  ASSERT_TRUE(reloaded);
  old_pair.server_context = *reloaded;
  EXPECT_FALSE(old_context.expired()) << "the open engine must keep the old context alive";

  // A new connection gets the new certificate...
  auto server = tls::engine::create_server(*reloaded);
  auto client = tls::engine::create_client(old_pair.client_context, "old.example.com");
  ASSERT_TRUE(server && client);
  auto outcome = run_handshake(*client, *server);
  ASSERT_TRUE(outcome.client_done && outcome.server_done);
  EXPECT_EQ(peer_dns_names(client->native_handle()), (std::vector<std::string>{"new.example.com"}));

  // ...while the old one still talks, on the old certificate.
  EXPECT_EQ(peer_dns_names(old_pair.client->native_handle()), (std::vector<std::string>{"old.example.com"}));
  ASSERT_TRUE(old_pair.client->write(as_bytes("NOOP\r\n")));
  std::string got;
  deliver(*old_pair.client, *old_pair.server, got);
  EXPECT_EQ(got, "NOOP\r\n");

  // And the old context goes away with the last engine that used it.
  old_pair.server.reset();
  EXPECT_TRUE(old_context.expired());
}

// One full handshake on `context`, then a second offering the first's
// ticket; returns whether the server resumed.
bool resumes(const std::shared_ptr<const tls::server_context>& first_context,
             const std::shared_ptr<const tls::server_context>& second_context, uint16_t version) {
  bssl::UniquePtr<SSL_SESSION> session;
  {
    auto server = tls::engine::create_server(first_context);
    raw_client client(version, version, nullptr);
    bool client_failed = false;
    EXPECT_FALSE(run_raw_handshake(client, *server, &client_failed).has_value());
    // BoringSSL's TLS 1.3 server sends its tickets with its first write.
    EXPECT_TRUE(server->write(as_bytes("220 ready\r\n")));
    client.feed(take_output(*server));
    client.read_pending();
    if (SSL_SESSION* ticket = client.ticket_session()) {
      SSL_SESSION_up_ref(ticket);
      session.reset(ticket);
    }
    EXPECT_FALSE(server->session_resumed());
  }
  if (!session) return false;  // nothing resumable was issued
  auto server = tls::engine::create_server(second_context);
  raw_client client(version, version, nullptr);
  SSL_set_session(client.ssl(), session.get());
  bool client_failed = false;
  EXPECT_FALSE(run_raw_handshake(client, *server, &client_failed).has_value());
  EXPECT_EQ(server->session_resumed(), SSL_session_reused(client.ssl()) == 1);
  return server->session_resumed();
}

TEST(tls_engine, SessionTicketsResume) {
  auto context = make_server_context({{"mail.example.com"}});
  EXPECT_TRUE(resumes(context, context, TLS1_3_VERSION));
  EXPECT_TRUE(resumes(context, context, TLS1_2_VERSION));
  // Tickets are sealed with the context's own keys: after a reload the
  // client simply gets a full handshake.
  auto reloaded = make_server_context({{"mail.example.com"}});
  EXPECT_FALSE(resumes(context, reloaded, TLS1_3_VERSION));
  // And tickets can be turned off.
  tls::server_config no_tickets;
  no_tickets.certificates.push_back(entry_for({"mail.example.com"}));
  no_tickets.session_tickets = false;
  auto without = tls::server_context::create(no_tickets);
  ASSERT_TRUE(without);
  EXPECT_FALSE(resumes(*without, *without, TLS1_2_VERSION));
}

TEST(tls_engine, EnginesAreMovable) {
  auto f = default_pair();
  ASSERT_TRUE(f.connect());
  tls::engine moved = std::move(*f.server);
  ASSERT_TRUE(f.client->write(as_bytes("after move")));
  std::string got;
  deliver(*f.client, moved, got);
  EXPECT_EQ(got, "after move");
}
