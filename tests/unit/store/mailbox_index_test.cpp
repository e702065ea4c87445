// mailbox_state::changed_since reads a change log instead of walking the
// mailbox. It must answer exactly what the walk answers ("every message
// whose modseq is above X"), for every X, through deliveries, flag changes,
// expunges, moves in and out, log rebuilds, and a checkpoint round trip
// (which loads messages in UID order, not modseq order).
#include <gtest/gtest.h>

#include <random>

#include "store/index/mailbox_index.h"

namespace store::index {
namespace {

constexpr account_id account{1};
constexpr mailbox_id inbox{1};
constexpr mailbox_id archive{2};

std::vector<std::uint32_t> walked(const mailbox_state& box, std::uint64_t modseq) {
  std::vector<std::uint32_t> uids;
  for (const auto& [uid, m] : box.messages)
    if (m.modseq > modseq) uids.push_back(uid);
  return uids;
}

void expect_same_as_walk(const index_state& s, mailbox_id id, const char* when) {
  const auto* box = s.mailbox(account, id);
  ASSERT_NE(box, nullptr);
  for (std::uint64_t x = 0; x <= box->highest_modseq + 1; ++x)
    ASSERT_EQ(box->changed_since(x), walked(*box, x)) << when << ", mailbox " << id.get() << ", since " << x;
}

// A store-like writer: modseqs and UIDs taken from the mailbox in order.
struct writer {
  index_state s;
  std::uint64_t blob = 1;

  writer() {
    s.apply(format::account_create_record{account, "a@example.org", 0, 0});
    s.apply(format::folder_create_record{account, inbox, "INBOX", 7, special_use::none});
    s.apply(format::folder_create_record{account, archive, "Archive", 8, special_use::archive});
  }
  mailbox_state& box(mailbox_id id) { return *s.mailbox(account, id); }

  void deliver(mailbox_id id) {
    format::delivery_record d;
    d.account = account;
    d.mailbox = id;
    d.uid = box(id).uid_next;
    d.modseq = box(id).highest_modseq + 1;
    d.key = blob_key{blob, blob, 1};
    ++blob;
    d.blob_size = 100;
    s.apply(d);
  }
  void flag(mailbox_id id, std::vector<std::uint32_t> uids, format::flags_op op) {
    s.apply(format::flags_change_record{account, id, box(id).highest_modseq + 1, op, message_flag::seen, {},
                                        std::move(uids)});
  }
  void expunge(mailbox_id id, std::vector<std::uint32_t> uids) {
    s.apply(format::expunge_record{account, id, box(id).highest_modseq + 1, std::move(uids)});
  }
  void move(mailbox_id from, mailbox_id to, std::vector<std::uint32_t> uids) {
    format::move_record r;
    r.account = account;
    r.source = from;
    r.target = to;
    r.source_modseq = box(from).highest_modseq + 1;
    r.target_modseq = box(to).highest_modseq + 1;
    std::uint32_t next = box(to).uid_next;
    for (auto uid : uids) r.uids.emplace_back(uid, next++);
    s.apply(r);
  }
};

std::vector<std::uint32_t> some_uids(const mailbox_state& box, std::mt19937& rng, std::size_t n) {
  std::vector<std::uint32_t> all;
  for (const auto& [uid, m] : box.messages) all.push_back(uid);
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(std::min(n, all.size()));
  return all;
}

TEST(mailbox_index, changed_since_is_what_a_walk_of_the_mailbox_finds) {
  writer w;
  EXPECT_TRUE(w.box(inbox).changed_since(0).empty());
  std::mt19937 rng(42);
  for (int step = 0; step < 3000; ++step) {
    int what = static_cast<int>(rng() % 10);
    mailbox_id id = rng() % 4 == 0 ? archive : inbox;
    mailbox_id other = id == inbox ? archive : inbox;
    if (what < 4 || w.box(id).messages.empty()) {
      w.deliver(id);
    } else if (what < 7) {
      w.flag(id, some_uids(w.box(id), rng, 1 + rng() % 5), rng() % 2 ? format::flags_op::add : format::flags_op::remove);
    } else if (what < 9) {
      w.expunge(id, some_uids(w.box(id), rng, 1 + rng() % 3));
    } else {
      w.move(id, other, some_uids(w.box(id), rng, 1 + rng() % 3));
    }
    if (step % 250 == 0) {
      expect_same_as_walk(w.s, inbox, "live");
      expect_same_as_walk(w.s, archive, "live");
    }
  }
  expect_same_as_walk(w.s, inbox, "live");
  expect_same_as_walk(w.s, archive, "live");
  ASSERT_TRUE(w.s.anomalies().empty());

  auto loaded = index_state::deserialize(w.s.serialize());
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->dump(), w.s.dump());
  expect_same_as_walk(*loaded, inbox, "after a checkpoint load");
  expect_same_as_walk(*loaded, archive, "after a checkpoint load");
}

TEST(mailbox_index, a_flag_change_moves_a_message_to_the_newest_changes) {
  writer w;
  for (int i = 0; i < 5; ++i) w.deliver(inbox);  // uids 1..5, modseqs 2..6
  EXPECT_EQ(w.box(inbox).changed_since(4), (std::vector<std::uint32_t>{4, 5}));
  w.flag(inbox, {2}, format::flags_op::add);  // uid 2 -> modseq 7
  EXPECT_EQ(w.box(inbox).changed_since(6), (std::vector<std::uint32_t>{2}));
  EXPECT_EQ(w.box(inbox).changed_since(4), (std::vector<std::uint32_t>{2, 4, 5}));
  w.expunge(inbox, {5});
  EXPECT_EQ(w.box(inbox).changed_since(4), (std::vector<std::uint32_t>{2, 4}));
  EXPECT_TRUE(w.box(inbox).changed_since(w.box(inbox).highest_modseq).empty());
}

// The log is rebuilt once stale entries outnumber the messages; many
// changes of one message keep it small and the answers right.
TEST(mailbox_index, repeated_changes_of_one_message_keep_the_answers_right) {
  writer w;
  for (int i = 0; i < 3; ++i) w.deliver(inbox);
  for (int i = 0; i < 500; ++i)
    w.flag(inbox, {2}, i % 2 ? format::flags_op::add : format::flags_op::remove);
  expect_same_as_walk(w.s, inbox, "after 500 changes of uid 2");
  EXPECT_EQ(w.box(inbox).changed_since(w.box(inbox).highest_modseq - 1), (std::vector<std::uint32_t>{2}));
}

}  // namespace
}  // namespace store::index
