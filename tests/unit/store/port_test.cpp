// Maildir and mbox round trips: flags, keywords, internal dates and bytes
// survive export -> import; Dovecot/Courier file names parse as Dovecot means.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "store/message_store.h"
#include "store/port/port.h"
#include "test_dir.h"

namespace store {
namespace {

using testing::test_dir;
const account_id alice{7};

struct sample {
  std::string body;
  std::uint32_t flags;
  std::vector<std::string> keywords;
  std::int64_t date_ms;
};

std::vector<sample> samples() {
  return {
      {"From: a@example.org\r\nSubject: one\r\n\r\nHello\r\n", message_flag::seen, {}, 1700000000000},
      {"From: b@example.org\r\nSubject: two\r\n\r\nFrom here on, a line that needs quoting\r\n>From quoted\r\n\r\n"
       "\r\nEnds with blank lines\r\n\r\n",
       message_flag::answered | message_flag::flagged, {"$Forwarded", "$Label1", "work"}, 1600000000000},
      {"Subject: three\r\n\r\n", message_flag::draft | message_flag::deleted, {"$Junk"}, 1500000000000},
      {"Subject: four\r\n\r\nno flags at all\r\n", 0, {}, 1400000000000},
  };
}

std::unique_ptr<message_store> make_store(const std::string& dir) {
  store_options o;
  o.data_directory = dir;
  o.preallocate_segments = false;
  auto s = message_store::open(o);
  EXPECT_TRUE(s);
  EXPECT_TRUE((*s)->create_account(alice, "alice@example.org", 0, 0));
  EXPECT_TRUE((*s)->flush_all());
  return std::move(*s);
}

void fill(message_store& s, mailbox_id box) {
  for (const auto& m : samples()) {
    auto b = s.store_blob(s.owner_of(alice), m.body);
    ASSERT_TRUE(b);
    ASSERT_TRUE(s.flush_all());
    delivery_request q{alice, box, b->key, "", m.date_ms, m.flags, m.keywords, false};
    ASSERT_TRUE(s.append_delivery(q));
  }
  ASSERT_TRUE(s.flush_all());
}

void expect_same(const message_store& s, mailbox_id box) {
  const auto want = samples();
  const auto* mb = s.mailbox(alice, box);
  ASSERT_EQ(mb->messages.size(), want.size());
  // Import order follows the files (Maildir: by name = by date), so match
  // by internal date.
  for (const auto& w : want) {
    bool found = false;
    for (const auto& [uid, m] : mb->messages) {
      if (m.internal_date_ms != w.date_ms) continue;
      found = true;
      EXPECT_EQ(*s.read_message(alice, box, uid), w.body);
      EXPECT_EQ(m.flags, w.flags);
      EXPECT_EQ(m.keywords, w.keywords);
    }
    EXPECT_TRUE(found) << w.date_ms;
  }
}

TEST(store_port, maildir_round_trip) {
  test_dir dir, out;
  auto s = make_store(dir.path);
  const auto inbox = s->find_mailbox(alice, "INBOX")->id;
  fill(*s, inbox);
  auto n = port::export_maildir(*s, alice, inbox, out.path + "/md");
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 4u);
  auto imported = s->create_mailbox(alice, "Imported");
  ASSERT_TRUE(imported && s->flush_all());
  auto r = port::import_maildir(*s, alice, imported->mailbox, out.path + "/md");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->messages, 4u);
  EXPECT_EQ(r->skipped, 0u);
  expect_same(*s, imported->mailbox);
}

TEST(store_port, mbox_round_trip) {
  test_dir dir, out;
  auto s = make_store(dir.path);
  const auto inbox = s->find_mailbox(alice, "INBOX")->id;
  fill(*s, inbox);
  ASSERT_TRUE(port::export_mbox(*s, alice, inbox, out.path + "/box.mbox"));
  auto imported = s->create_mailbox(alice, "Imported");
  ASSERT_TRUE(imported && s->flush_all());
  auto r = port::import_mbox(*s, alice, imported->mailbox, out.path + "/box.mbox");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->messages, 4u);
  expect_same(*s, imported->mailbox);
  // Imported copies of identical bytes share the blobs (dedup).
  const auto& a = s->mailbox(alice, inbox)->messages.begin()->second;
  bool shared = false;
  for (const auto& [uid, m] : s->mailbox(alice, imported->mailbox)->messages) shared = shared || m.key == a.key;
  EXPECT_TRUE(shared);
}

TEST(store_port, dovecot_mbox_with_lf_and_metadata_headers) {
  test_dir dir, out;
  auto s = make_store(dir.path);
  const auto inbox = s->find_mailbox(alice, "INBOX")->id;
  const std::string path = out.path + "/dovecot.mbox";
  std::ofstream(path) << "From someone@example.org Tue Nov 14 22:13:20 2023\n"
                         "Subject: hi\nX-UID: 5\nStatus: RO\nX-Status: AF\nX-Keywords: $Junk NonJunk\n\nbody\n>From x\n\n"
                         "From other@example.org Wed Nov 15 01:00:00 2023\nSubject: second\n\nsecond body\n";
  auto r = port::import_mbox(*s, alice, inbox, path);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->messages, 2u);
  const auto& m1 = s->mailbox(alice, inbox)->messages.at(1);
  EXPECT_EQ(*s->read_message(alice, inbox, 1), "Subject: hi\r\n\r\nbody\r\nFrom x\r\n");
  EXPECT_EQ(m1.flags, message_flag::seen | message_flag::answered | message_flag::flagged);
  EXPECT_EQ(m1.keywords, (std::vector<std::string>{"$Junk", "NonJunk"}));
  EXPECT_EQ(m1.internal_date_ms, 1700000000000);
  EXPECT_EQ(*s->read_message(alice, inbox, 2), "Subject: second\r\n\r\nsecond body\r\n");
}

TEST(store_port, maildir_names_dovecot_and_courier) {
  const std::vector<std::string> table = {"$Junk", "work"};
  auto i = port::parse_maildir_name("1700000000.M1P2.host,S=100,W=102:2,FRSab", table);
  EXPECT_EQ(i.flags, message_flag::flagged | message_flag::answered | message_flag::seen);
  EXPECT_EQ(i.keywords, (std::vector<std::string>{"$Junk", "work"}));
  EXPECT_EQ(port::parse_maildir_name("1700000000.M1P2.host!2,DT", table).flags,
            message_flag::draft | message_flag::deleted);
  EXPECT_EQ(port::parse_maildir_name("1700000000.M1P2.host", table).flags, 0u);  // new/, no info
  EXPECT_EQ(port::parse_maildir_name("x:2,P", table).keywords, std::vector<std::string>{"$Forwarded"});
  std::vector<std::string> out_table;
  EXPECT_EQ(port::maildir_flag_suffix(message_flag::seen | message_flag::draft, {"a", "b"}, out_table), ":2,DSab");
  EXPECT_EQ(out_table, (std::vector<std::string>{"a", "b"}));
}

TEST(store_port, asctime_dates) {
  std::int64_t ms = 0;
  ASSERT_TRUE(port::parse_asctime("Tue Nov 14 22:13:20 2023", ms));
  EXPECT_EQ(ms, 1700000000000);
  EXPECT_EQ(port::format_asctime(1700000000000), "Tue Nov 14 22:13:20 2023");
  EXPECT_FALSE(port::parse_asctime("yesterday", ms));
}

}  // namespace
}  // namespace store
