// The config loader: the embedded default is valid and complete, a file
// overrides only what it names, and every error names file, line and key.
#include <gtest/gtest.h>

#include "appliance/config/config.h"

namespace appliance {
namespace {

std::vector<config_error> errors_of(std::string_view text) {
  std::vector<config_error> errors;
  auto c = parse_config(text, "test.toml", errors);
  EXPECT_FALSE(c.has_value());
  return errors;
}

TEST(config, embedded_default_has_the_laptop_ports) {
  config c = default_config();
  EXPECT_EQ(c.source, "(embedded default)");
  struct want { const char* name; const char* address; tls_mode tls; };
  for (auto w : {want{"smtp", "127.0.0.1:2525", tls_mode::starttls}, want{"submission", "127.0.0.1:5870", tls_mode::starttls},
                 want{"submissions", "127.0.0.1:4650", tls_mode::implicit}, want{"imap", "127.0.0.1:1143", tls_mode::starttls},
                 want{"imaps", "127.0.0.1:9930", tls_mode::implicit}, want{"pop3", "127.0.0.1:1110", tls_mode::starttls},
                 want{"pop3s", "127.0.0.1:9950", tls_mode::implicit}, want{"http", "127.0.0.1:8080", tls_mode::none}}) {
    const listener_config* l = c.listener(w.name);
    ASSERT_NE(l, nullptr) << w.name;
    EXPECT_EQ(l->address.to_string(), w.address) << w.name;
    EXPECT_EQ(l->tls, w.tls) << w.name;
    EXPECT_TRUE(l->enabled);
  }
  EXPECT_TRUE(c.auth.require_tls);
  EXPECT_EQ(c.auth.password.length_min, 12u);
  EXPECT_EQ(c.limits.quota_warning_percent, 70u);
}

TEST(config, a_file_overrides_only_what_it_names) {
  std::vector<config_error> errors;
  auto c = parse_config("[listeners.smtp]\naddress = \"0.0.0.0:25\"\n[auth.throttle]\nblock_ms = 60000\n", "prod.toml", errors);
  ASSERT_TRUE(c) << (errors.empty() ? "" : errors[0].to_string());
  EXPECT_EQ(c->listener("smtp")->address.to_string(), "0.0.0.0:25");
  EXPECT_EQ(c->listener("smtp")->tls, tls_mode::starttls);
  EXPECT_EQ(c->listener("imap")->address.to_string(), "127.0.0.1:1143");
  EXPECT_EQ(c->auth.throttle.block_ms, 60000u);
  EXPECT_EQ(c->auth.throttle.delay_max_ms, 8000u);
  EXPECT_EQ(c->source, "prod.toml");
}

TEST(config, unknown_key_is_an_error_with_line_and_key) {
  auto errors = errors_of("[auth]\nrequire_tsl = false\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "test.toml");
  EXPECT_EQ(errors[0].line, 2u);
  EXPECT_EQ(errors[0].key, "auth.require_tsl");
  EXPECT_NE(errors[0].message.find("unknown key"), std::string::npos);
  EXPECT_EQ(errors[0].to_string().rfind("test.toml:2:", 0), 0u);
}

TEST(config, every_error_is_reported_at_once) {
  auto errors = errors_of("[server]\ncores = \"four\"\n[listeners.imap]\naddress = \"nowhere\"\ntls = \"maybe\"\n"
                          "[auth.password]\nlength_min = 3\n[bogus]\nx = 1\n");
  std::vector<std::string> keys;
  for (const auto& e : errors) keys.push_back(e.key);
  EXPECT_EQ(errors.size(), 5u);
  for (const char* k : {"server.cores", "listeners.imap.address", "listeners.imap.tls", "auth.password.length_min", "bogus"})
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
  for (const auto& e : errors) EXPECT_GT(e.line, 0u) << e.to_string();
}

// spam.per_account: a threshold is a number in 0..2 as the global ones are
// (strtod reads "nan", which passed both range checks: an account whose
// mail was then never tagged, filed or refused), and the address and its
// settings may be separated by tabs as well as spaces (a tab made the whole
// entry the "address", matching no recipient, in silence).
TEST(config, a_per_account_threshold_is_a_number_in_range) {
  for (const char* bad : {"a@b.test tag=nan", "a@b.test junk=NAN", "a@b.test reject=-nan", "a@b.test tag=inf",
                          "a@b.test tag=-0.5", "a@b.test tag=", "a@b.test tag=0.5x"}) {
    auto errors = errors_of(std::string("[spam]\nper_account = [\"") + bad + "\"]\n");
    ASSERT_EQ(errors.size(), 1u) << bad;
    EXPECT_EQ(errors[0].key, "spam.per_account") << bad;
  }
  std::vector<config_error> errors;
  auto c = parse_config("[spam]\nper_account = [\"A@B.test\\ttag=0.25 \\t junk=0.5\"]\n", "test.toml", errors);
  ASSERT_TRUE(c.has_value()) << (errors.empty() ? "" : errors[0].to_string());
  ASSERT_EQ(c->spam.per_account.size(), 1u);
  EXPECT_EQ(c->spam.per_account[0].address, "a@b.test");
  EXPECT_EQ(c->spam.per_account[0].tag, 0.25);
  EXPECT_EQ(c->spam.per_account[0].junk, 0.5);
}

// Two entries for one address (in any case) are an error naming it: the
// last one silently won.
TEST(config, an_address_has_one_per_account_entry) {
  auto errors = errors_of("[spam]\nper_account = [\"a@b.test tag=0.5\", \"c@b.test tag=0.4\", \"A@B.test junk=0.6\"]\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "spam.per_account");
  EXPECT_NE(errors[0].message.find("a@b.test has an entry already"), std::string::npos) << errors[0].message;
}

// A threshold written as a TOML integer (reject_threshold = 1) is that
// number: it was refused as "expected a number, found an integer". Out of
// range it is a range error like any number.
TEST(config, a_whole_number_is_a_number) {
  std::vector<config_error> errors;
  auto c = parse_config("[spam]\ntag_threshold = 0\njunk_threshold = 1\nreject_threshold = 2\n", "test.toml", errors);
  ASSERT_TRUE(c.has_value()) << (errors.empty() ? "" : errors[0].to_string());
  EXPECT_EQ(c->spam.tag_threshold, 0.0);
  EXPECT_EQ(c->spam.junk_threshold, 1.0);
  EXPECT_EQ(c->spam.reject_threshold, 2.0);
  auto range = errors_of("[spam]\ntag_threshold = 3\n");
  ASSERT_EQ(range.size(), 1u);
  EXPECT_EQ(range[0].key, "spam.tag_threshold");
  EXPECT_NE(range[0].message.find("must be between"), std::string::npos) << range[0].message;
  auto huge = errors_of("[spam]\ntag_threshold = 9007199254740993\n");  // 2^53 + 1: no double holds it
  ASSERT_EQ(huge.size(), 1u);
  EXPECT_NE(huge[0].message.find("must be between"), std::string::npos) << huge[0].message;
  // Not the other way: an integer setting stays an integer.
  auto other = errors_of("[spam]\ntraining_batch_messages = 1.5\n");
  ASSERT_EQ(other.size(), 1u);
  EXPECT_NE(other[0].message.find("expected an integer"), std::string::npos) << other[0].message;
}

// Junk training settings: the intent window (training_queue_max, now the
// blob keys one durable intent holds, so bounded by what one blob may be),
// and the two knobs the durability tests use.
TEST(config, junk_training_settings) {
  config d = default_config();
  EXPECT_EQ(d.spam.training_queue_max, 4096u);
  EXPECT_EQ(d.spam.training_delay_ms, 0u);
  EXPECT_FALSE(d.spam.training_keep_intents);
  std::vector<config_error> errors;
  auto c = parse_config("[spam]\ntraining_queue_max = 1000000\ntraining_delay_ms = 600000\ntraining_keep_intents = true\n",
                        "t.toml", errors);
  ASSERT_TRUE(c) << (errors.empty() ? "" : errors[0].to_string());
  EXPECT_EQ(c->spam.training_queue_max, 1000000u);
  EXPECT_EQ(c->spam.training_delay_ms, 600000u);
  EXPECT_TRUE(c->spam.training_keep_intents);
  auto big = errors_of("[spam]\ntraining_queue_max = 1000001\n");
  ASSERT_EQ(big.size(), 1u);
  EXPECT_EQ(big[0].key, "spam.training_queue_max");
  auto late = errors_of("[spam]\ntraining_delay_ms = 3600001\n");
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].key, "spam.training_delay_ms");
}

TEST(config, receive_buffers_are_checked) {
  config d = default_config();
  EXPECT_EQ(d.server.receive_buffers, 1024u);
  EXPECT_EQ(d.server.receive_buffer_bytes, 16384u);
  EXPECT_EQ(d.server.receive_buffers_window_min, 16u);
  std::vector<config_error> errors;
  auto c = parse_config("[server]\nreceive_buffers = 256\nreceive_buffers_window_min = 256\nreceive_buffer_bytes = 4096\n",
                        "t.toml", errors);
  ASSERT_TRUE(c) << (errors.empty() ? "" : errors[0].to_string());
  EXPECT_EQ(c->server.receive_buffers, 256u);
  EXPECT_EQ(c->server.receive_buffers_window_min, 256u);
  EXPECT_EQ(c->server.receive_buffer_bytes, 4096u);
  auto e1 = errors_of("[server]\nreceive_buffers = 1000\n");
  ASSERT_EQ(e1.size(), 1u);
  EXPECT_EQ(e1[0].key, "server.receive_buffers");
  EXPECT_NE(e1[0].message.find("power of two"), std::string::npos);
  auto e2 = errors_of("[server]\nreceive_buffers = 64\nreceive_buffers_window_min = 128\n");
  ASSERT_EQ(e2.size(), 1u);
  EXPECT_EQ(e2[0].key, "server.receive_buffers_window_min");
  auto e3 = errors_of("[server]\nreceive_buffers_window_min = 0\n");
  ASSERT_EQ(e3.size(), 1u);
  // A ring smaller than the default window, the window left alone: all
  // window, not an error blamed on the embedded default (review10b).
  auto small = parse_config("[server]\nreceive_buffers = 8\n", "t.toml", errors);
  ASSERT_TRUE(small) << (errors.empty() ? "" : errors[0].to_string());
  EXPECT_EQ(small->server.receive_buffers_window_min, 8u);
  // Not a power of two: one error, not a second one about the default window.
  EXPECT_EQ(errors_of("[server]\nreceive_buffers = 3\n").size(), 1u);
}

TEST(config, type_mismatch_names_both_types) {
  auto errors = errors_of("[listeners.smtp]\nenabled = \"yes\"\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("expected true or false, found a string"), std::string::npos) << errors[0].message;
}

TEST(config, syntax_error_has_a_line) {
  auto errors = errors_of("[server]\nhostname = \n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 2u);
  EXPECT_NE(errors[0].message.find("TOML syntax"), std::string::npos);
}

TEST(config, two_listeners_on_one_address_is_an_error) {
  auto errors = errors_of("[listeners.pop3]\naddress = \"127.0.0.1:1143\"\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "listeners.pop3.address");
  EXPECT_NE(errors[0].message.find("listeners.imap"), std::string::npos);
}

TEST(config, certificate_needs_its_key) {
  auto errors = errors_of("[tls]\ncertificate = \"/etc/ssl/mail.pem\"\n");
  ASSERT_EQ(errors.size(), 1u);
  // Reported at the key that is set (it has a line), naming the missing one.
  EXPECT_EQ(errors[0].key, "tls.certificate");
  EXPECT_NE(errors[0].message.find("tls.key"), std::string::npos);
}

TEST(config, smtp_size_is_100_mb_with_per_domain_overrides) {
  config d = default_config();
  EXPECT_EQ(d.smtp.message_size_max_bytes, 100ull * 1024 * 1024);
  EXPECT_EQ(d.smtp.message_size_max_for("example.test"), 100ull * 1024 * 1024);
  EXPECT_EQ(d.smtp.message_size_max_advertised(), 100ull * 1024 * 1024);
  EXPECT_EQ(d.smtp.greeting_pause_ms, 300u);
  std::vector<config_error> errors;
  auto c = parse_config("[smtp.domain_message_size_max_bytes]\n\"Small.Test\" = 2048\n\"big.test\" = 209715200\n",
                        "test.toml", errors);
  ASSERT_TRUE(c) << (errors.empty() ? "" : errors[0].to_string());
  EXPECT_EQ(c->smtp.message_size_max_for("small.test"), 2048u);
  EXPECT_EQ(c->smtp.message_size_max_for("SMALL.test"), 2048u);
  EXPECT_EQ(c->smtp.message_size_max_for("other.test"), 100ull * 1024 * 1024);
  EXPECT_EQ(c->smtp.message_size_max_advertised(), 209715200u);

  auto bad = errors_of("[smtp.domain_message_size_max_bytes]\n\"a.test\" = \"10M\"\n\"no domain\" = 5000\n"
                       "\"c.test\" = 12\n");
  ASSERT_EQ(bad.size(), 3u);
  std::string all;
  for (const auto& e : bad) all += e.to_string() + "\n";
  EXPECT_NE(all.find("test.toml:2:12: smtp.domain_message_size_max_bytes.a.test: expected an integer"),
            std::string::npos) << all;
  EXPECT_NE(all.find("smtp.domain_message_size_max_bytes.no domain: not a domain name"), std::string::npos) << all;
  EXPECT_NE(all.find("smtp.domain_message_size_max_bytes.c.test: must be between 1024"), std::string::npos) << all;
}

TEST(config, store_section) {
  config d = default_config();
  EXPECT_EQ(d.store.backup_directory, "");
  EXPECT_EQ(d.store.compaction_interval_ms, 600'000u);  // on: every 10 minutes per core
  auto bad = errors_of("[store]\nsegment_size_max_bytes = 10\ncompaction_live_percent_max = 100\n");
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_EQ(bad[0].key, "store.segment_size_max_bytes");
  EXPECT_EQ(bad[1].key, "store.compaction_live_percent_max");
}

}  // namespace
}  // namespace appliance
