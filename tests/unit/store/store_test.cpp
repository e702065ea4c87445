// message_store: verified dedup (with a forced XXH3 collision), UID and
// modseq rules, quotas, durable-before-visible, checkpoint vs replay,
// recovery of damaged segments, compaction.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "store/log/core_log.h"
#include "store/log/segment_scan.h"
#include "store/message_store.h"
#include "test_dir.h"

namespace store {
namespace {

using testing::test_dir;

std::unique_ptr<message_store> open_store(const std::string& dir, std::uint32_t cores = 1,
                                          std::uint64_t segment_size_max = 64u << 20, bool checkpoint = true,
                                          std::string backup = {}) {
  store_options o;
  o.data_directory = dir;
  o.cores = cores;
  o.segment_size_max = segment_size_max;
  o.chunk_size_max = 4096;
  o.load_checkpoint = checkpoint;
  o.backup_directory = std::move(backup);
  auto s = message_store::open(o);
  EXPECT_TRUE(s) << (s ? "" : to_string(s.error()));
  return s ? std::move(*s) : nullptr;
}

const account_id alice{1};
const account_id bob{2};

void make_account(message_store& s, account_id a, const char* name, std::uint64_t qb = 0, std::uint64_t qm = 0) {
  ASSERT_TRUE(s.create_account(a, name, qb, qm));
  ASSERT_TRUE(s.flush_all());
}

mailbox_id inbox(const message_store& s, account_id a) { return s.find_mailbox(a, "INBOX")->id; }

delivery_result deliver(message_store& s, account_id a, std::string_view body, std::string prefix = "X-Prefix: 1\r\n",
                        std::uint32_t flags = 0) {
  auto b = s.store_blob(s.owner_of(a), body);
  EXPECT_TRUE(b);
  EXPECT_TRUE(s.flush(b->ticket.core));
  delivery_request q;
  q.account = a;
  q.mailbox = inbox(s, a);
  q.key = b->key;
  q.header_prefix = std::move(prefix);
  q.internal_date_ms = 1700000000000;
  q.flags = flags;
  auto d = s.append_delivery(q);
  EXPECT_TRUE(d);
  EXPECT_TRUE(s.flush(d->ticket.core));
  return *d;
}

TEST(store_accounts, new_account_has_special_use_folders) {
  test_dir dir;
  auto s = open_store(dir.path);
  make_account(*s, alice, "alice@example.org");
  const auto* a = s->account(alice);
  ASSERT_TRUE(a);
  std::vector<std::pair<std::string, special_use>> got;
  for (const auto& [id, b] : a->mailboxes) got.emplace_back(b.name, b.use);
  const std::vector<std::pair<std::string, special_use>> want = {
      {"INBOX", special_use::inbox}, {"Sent", special_use::sent},   {"Drafts", special_use::drafts},
      {"Trash", special_use::trash}, {"Junk", special_use::junk},   {"Archive", special_use::archive}};
  EXPECT_EQ(got, want);
}

TEST(store_durability, appended_is_not_visible_until_flushed) {
  test_dir dir;
  auto s = open_store(dir.path);
  make_account(*s, alice, "alice@example.org");
  auto b = s->store_blob(core_id{0}, "body");
  ASSERT_TRUE(b);
  delivery_request q{alice, inbox(*s, alice), b->key, "", 0, 0, {}, false};
  // The blob is appended, not durable: a delivery may not point at it yet.
  EXPECT_FALSE(s->blob_durable(b->key));
  EXPECT_EQ(s->append_delivery(q).error(), errc::not_found);
  ASSERT_TRUE(s->flush(core_id{0}));
  auto d = s->append_delivery(q);
  ASSERT_TRUE(d);
  EXPECT_EQ(s->state(d->ticket), log::ticket_state::pending);
  EXPECT_TRUE(s->mailbox(alice, inbox(*s, alice))->messages.empty());
  ASSERT_TRUE(s->flush(core_id{0}));
  EXPECT_EQ(s->state(d->ticket), log::ticket_state::durable);
  EXPECT_EQ(s->mailbox(alice, inbox(*s, alice))->messages.size(), 1u);
}

TEST(store_dedup, identical_content_is_stored_once) {
  test_dir dir;
  auto s = open_store(dir.path);
  const std::string body(10000, 'm');
  auto w = s->begin_blob(core_id{0});
  // Streamed in uneven pieces: the key is the same as for one piece.
  ASSERT_TRUE(s->append_chunk(w, std::string_view(body).substr(0, 3)));
  ASSERT_TRUE(s->append_chunk(w, std::string_view(body).substr(3, 5000)));
  ASSERT_TRUE(s->append_chunk(w, std::string_view(body).substr(5003)));
  auto first = s->finish_blob(w);
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->deduplicated);
  auto second = s->store_blob(core_id{0}, body);
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->deduplicated);
  EXPECT_EQ(second->key, first->key);
  auto other = s->store_blob(core_id{0}, body + "!");
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->deduplicated);
  EXPECT_NE(other->key, first->key);
  ASSERT_TRUE(s->flush_all());
  EXPECT_EQ(*s->read_blob(first->key), body);
}

TEST(store_dedup, forced_collision_never_shares_bytes) {
  // Regression guard for the one rule a content-addressed mail store must
  // never break: two different messages whose hashes collide must stay two
  // blobs, or one user reads another's mail. XXH3 collisions cannot be found
  // on demand, so a hook forces every blob to the same hash.
  test_dir dir;
  auto s = open_store(dir.path);
  s->test_hooks().override_hash = [](std::string_view, blob_key& k) { k.high = 0xdead; k.low = 0xbeef; };
  make_account(*s, alice, "alice@example.org");
  make_account(*s, bob, "bob@example.org");
  const std::string secret = "From: bank\r\n\r\nAlice's PIN is 1234\r\n";
  const std::string spam = "From: spammer\r\n\r\nBuy now\r\n";
  auto a = s->store_blob(s->owner_of(alice), secret);
  auto b = s->store_blob(s->owner_of(bob), spam);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->key.high, b->key.high);
  EXPECT_EQ(a->key.low, b->key.low);
  EXPECT_NE(a->key, b->key);           // different generation
  EXPECT_FALSE(b->deduplicated);
  auto again = s->store_blob(s->owner_of(bob), spam);  // same bytes: shares generation 1
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->deduplicated);
  EXPECT_EQ(again->key, b->key);
  ASSERT_TRUE(s->flush_all());
  delivery_request q{bob, inbox(*s, bob), again->key, "", 0, 0, {}, false};
  auto d = s->append_delivery(q);
  ASSERT_TRUE(d);
  ASSERT_TRUE(s->flush_all());
  EXPECT_EQ(*s->read_message(bob, inbox(*s, bob), d->uid), spam);
  // And after recovery the generations still point at the right bytes.
  s.reset();
  s = open_store(dir.path);
  EXPECT_EQ(*s->read_blob(a->key), secret);
  EXPECT_EQ(*s->read_blob(b->key), spam);
}

TEST(store_uids, assigned_in_order_never_reused) {
  test_dir dir;
  auto s = open_store(dir.path);
  make_account(*s, alice, "alice@example.org");
  const auto box = inbox(*s, alice);
  const auto v = s->mailbox(alice, box)->uid_validity;
  EXPECT_EQ(deliver(*s, alice, "one").uid, 1u);
  EXPECT_EQ(deliver(*s, alice, "two").uid, 2u);
  EXPECT_EQ(deliver(*s, alice, "three").uid, 3u);
  ASSERT_TRUE(s->expunge(alice, box, {3}));
  ASSERT_TRUE(s->flush_all());
  EXPECT_EQ(deliver(*s, alice, "four").uid, 4u);  // 3 is gone for good
  s.reset();
  s = open_store(dir.path);
  EXPECT_EQ(s->mailbox(alice, box)->uid_next, 5u);
  EXPECT_EQ(s->mailbox(alice, box)->uid_validity, v);
  EXPECT_EQ(deliver(*s, alice, "five").uid, 5u);
  // Delete and recreate: a new UIDVALIDITY, UIDs start again at 1.
  auto created = s->create_mailbox(alice, "Lists");
  ASSERT_TRUE(created);
  ASSERT_TRUE(s->flush_all());
  ASSERT_TRUE(s->delete_mailbox(alice, created->mailbox));
  ASSERT_TRUE(s->flush_all());
  auto again = s->create_mailbox(alice, "Lists");
  ASSERT_TRUE(again);
  ASSERT_TRUE(s->flush_all());
  EXPECT_NE(again->mailbox, created->mailbox);
  EXPECT_GT(again->uid_validity, created->uid_validity);
}

TEST(store_uids, concurrent_appends_take_distinct_uids_in_one_commit) {
  // Appended deliveries take UIDs before they are durable. Two appended in
  // one batch get distinct UIDs and share one write+fdatasync.
  test_dir dir;
  auto s = open_store(dir.path);
  make_account(*s, alice, "alice@example.org");
  auto b = s->store_blob(core_id{0}, "x");
  ASSERT_TRUE(s->flush_all());
  delivery_request q{alice, inbox(*s, alice), b->key, "", 0, 0, {}, false};
  auto d1 = s->append_delivery(q);
  auto d2 = s->append_delivery(q);
  ASSERT_TRUE(d1 && d2);
  EXPECT_EQ(d1->uid + 1, d2->uid);
  EXPECT_EQ(d1->ticket.core, d2->ticket.core);
  const auto before = s->commit_metrics(core_id{0});
  ASSERT_TRUE(s->flush_all());
  EXPECT_EQ(s->commit_metrics(core_id{0}).batches, before.batches + 1);
  EXPECT_EQ(s->commit_metrics(core_id{0}).records, before.records + 2);
}

TEST(store_modseq, condstore_rules) {
  test_dir dir;
  auto s = open_store(dir.path);
  make_account(*s, alice, "alice@example.org");
  const auto box = inbox(*s, alice);
  const auto d1 = deliver(*s, alice, "one");
  const auto d2 = deliver(*s, alice, "two");
  EXPECT_LT(d1.modseq, d2.modseq);
  EXPECT_EQ(s->mailbox(alice, box)->highest_modseq, d2.modseq);
  auto c = s->store_flags(alice, box, {1, 2}, format::flags_op::add, message_flag::seen, {"$Work"});
  ASSERT_TRUE(c);
  ASSERT_TRUE(s->flush_all());
  EXPECT_GT(c->modseq, d2.modseq);
  EXPECT_EQ(s->mailbox(alice, box)->messages.at(1).modseq, c->modseq);
  EXPECT_EQ(s->mailbox(alice, box)->messages.at(1).keywords, std::vector<std::string>{"$Work"});
  // A no-op store takes no modseq.
  auto noop = s->store_flags(alice, box, {1}, format::flags_op::add, message_flag::seen);
  ASSERT_TRUE(noop);
  EXPECT_EQ(noop->modseq, 0u);
  EXPECT_TRUE(noop->uids.empty());
  // UNCHANGEDSINCE: message 1 changed after d1.modseq, so it is skipped.
  auto cond = s->store_flags(alice, box, {1}, format::flags_op::add, message_flag::flagged, {}, d1.modseq);
  ASSERT_TRUE(cond);
  EXPECT_TRUE(cond->uids.empty());
  auto ex = s->expunge(alice, box, {2});
  ASSERT_TRUE(ex);
  ASSERT_TRUE(s->flush_all());
  const auto* mb = s->mailbox(alice, box);
  ASSERT_EQ(mb->expunged.size(), 1u);
  EXPECT_EQ(mb->expunged[0], std::make_pair(2u, ex->modseq));
  EXPECT_EQ(mb->highest_modseq, ex->modseq);
  // Move: expunged from the source with a source modseq, new UID in target.
  const auto archive = s->find_mailbox(alice, "Archive")->id;
  auto mv = s->move(alice, box, archive, {1});
  ASSERT_TRUE(mv);
  ASSERT_TRUE(s->flush_all());
  EXPECT_TRUE(s->mailbox(alice, box)->messages.empty());
  ASSERT_EQ(s->mailbox(alice, archive)->messages.size(), 1u);
  EXPECT_EQ(s->mailbox(alice, archive)->messages.begin()->second.flags, message_flag::seen);
  EXPECT_EQ(s->mailbox(alice, box)->expunged.back().first, 1u);
  const std::string dump = s->index(core_id{0}).dump();
  s.reset();
  s = open_store(dir.path);
  EXPECT_EQ(s->index(core_id{0}).dump(), dump);
}

TEST(store_quota, counted_exactly_and_enforced) {
  test_dir dir;
  auto s = open_store(dir.path);
  make_account(*s, alice, "alice@example.org", /*bytes=*/100, /*messages=*/3);
  const auto box = inbox(*s, alice);
  deliver(*s, alice, std::string(20, 'a'), "P: 1\r\n");  // 26 bytes
  EXPECT_EQ(s->quota(alice).used_bytes, 26u);
  EXPECT_EQ(s->quota(alice).used_messages, 1u);
  EXPECT_TRUE(s->quota_allows(alice, 74));
  EXPECT_FALSE(s->quota_allows(alice, 75));
  auto big = s->store_blob(core_id{0}, std::string(80, 'b'));
  ASSERT_TRUE(s->flush_all());
  EXPECT_EQ(s->append_delivery({alice, box, big->key, "", 0, 0, {}, false}).error(), errc::quota_exceeded);
  // Pending deliveries count: two appended, the third would pass the
  // message limit before either is durable.
  auto small = s->store_blob(core_id{0}, "s");
  ASSERT_TRUE(s->flush_all());
  ASSERT_TRUE(s->append_delivery({alice, box, small->key, "", 0, 0, {}, false}));
  ASSERT_TRUE(s->append_delivery({alice, box, small->key, "", 0, 0, {}, false}));
  EXPECT_EQ(s->append_delivery({alice, box, small->key, "", 0, 0, {}, false}).error(), errc::quota_exceeded);
  ASSERT_TRUE(s->flush_all());
  EXPECT_EQ(s->quota(alice).used_messages, 3u);
  EXPECT_EQ(s->quota(alice).used_bytes, 28u);
  ASSERT_TRUE(s->expunge(alice, box, {1}));
  ASSERT_TRUE(s->flush_all());
  EXPECT_EQ(s->quota(alice).used_bytes, 2u);
  ASSERT_TRUE(s->set_quota(alice, 0, 0));
  ASSERT_TRUE(s->flush_all());
  EXPECT_TRUE(s->quota_allows(alice, 1u << 30));
  s.reset();
  s = open_store(dir.path);
  EXPECT_EQ(s->quota(alice).used_bytes, 2u);
  EXPECT_EQ(s->quota(alice).used_messages, 2u);
}

TEST(store_recovery, checkpoint_plus_tail_equals_full_replay) {
  test_dir dir;
  {
    auto s = open_store(dir.path, 2, 8192);
    make_account(*s, alice, "alice@example.org");
    make_account(*s, bob, "bob@example.org");
    for (int i = 0; i < 10; ++i) deliver(*s, i % 2 ? alice : bob, "message " + std::to_string(i));
    ASSERT_TRUE(s->checkpoint());
    for (int i = 10; i < 20; ++i) deliver(*s, i % 2 ? alice : bob, std::string(1000, char('a' + i)));
    ASSERT_TRUE(s->store_flags(alice, inbox(*s, alice), {1, 2, 3}, format::flags_op::add, message_flag::seen));
    ASSERT_TRUE(s->expunge(bob, inbox(*s, bob), {2}));
    ASSERT_TRUE(s->flush_all());
  }
  auto with = open_store(dir.path, 2, 8192, true);
  ASSERT_TRUE(with->recovery().checkpoint_used);
  std::string a = with->index(core_id{0}).dump() + with->index(core_id{1}).dump();
  with.reset();
  auto without = open_store(dir.path, 2, 8192, false);
  std::string b = without->index(core_id{0}).dump() + without->index(core_id{1}).dump();
  EXPECT_EQ(a, b);
  EXPECT_NE(a.find("alice@example.org"), std::string::npos);
}

TEST(store_recovery, flipped_byte_in_the_middle_is_reported_and_later_records_kept) {
  test_dir dir;
  std::uint64_t damaged_at = 0;
  {
    auto s = open_store(dir.path);
    make_account(*s, alice, "alice@example.org");
    deliver(*s, alice, "first");
    damaged_at = s->commit_metrics(core_id{0}).bytes;  // end of what is written so far
    deliver(*s, alice, std::string(500, 'x'));
    deliver(*s, alice, "third");
  }
  const std::string seg = dir.path + "/segments/" + log::segment_file_name(core_id{0}, segment_seq{1});
  const int fd = ::open(seg.c_str(), O_RDWR);
  char c = 0;
  ASSERT_EQ(::pread(fd, &c, 1, static_cast<off_t>(damaged_at + 100)), 1);
  c ^= 0x10;
  ASSERT_EQ(::pwrite(fd, &c, 1, static_cast<off_t>(damaged_at + 100)), 1);
  ::close(fd);
  auto s = open_store(dir.path);
  EXPECT_EQ(s->recovery().corrupt_ranges, 1u);
  bool mentioned = false;
  for (const auto& l : s->recovery().lines) mentioned = mentioned || l.find("corrupt range at offset") != std::string::npos;
  EXPECT_TRUE(mentioned);
  // The damaged blob chunk is lost; its commit and the deliveries after it
  // are intact records and are kept, and the missing blob is reported.
  const auto* box = s->mailbox(alice, inbox(*s, alice));
  EXPECT_TRUE(box->messages.count(1));
  EXPECT_TRUE(box->messages.count(3));
  EXPECT_EQ(*s->read_message(alice, box->id, 3), "X-Prefix: 1\r\nthird");
}

// The SMTP path writes a blob and its same-core deliveries in one group
// commit (blob first). A power loss may persist the delivery's page and not
// the blob commit's: recovery must expunge that never-acknowledged delivery,
// durably, so the same message stored again (same content key) does not
// resurrect it at the next start.
TEST(store_recovery, delivery_whose_blob_commit_was_lost_is_expunged_for_good) {
  test_dir dir;
  const std::string body = "Subject: shared batch\r\n\r\nbody";
  {
    auto s = open_store(dir.path);
    make_account(*s, alice, "alice@example.org");
    deliver(*s, alice, "first");
    auto b = s->store_blob(core_id{0}, body);
    ASSERT_TRUE(b);
    delivery_request q;
    q.account = alice;
    q.mailbox = inbox(*s, alice);
    q.key = b->key;
    q.blob_size = b->size;
    q.header_prefix = "X-Prefix: 1\r\n";
    q.internal_date_ms = 1700000000000;
    auto d = s->append_delivery(q);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->uid, 2u);
    ASSERT_TRUE(s->flush(core_id{0}));  // one batch: blob chunks, blob commit, delivery
    EXPECT_EQ(*s->read_message(alice, inbox(*s, alice), 2), "X-Prefix: 1\r\n" + body);
  }
  // Damage the last blob commit record (as a lost page would), keep the delivery after it.
  const std::string seg = dir.path + "/segments/" + log::segment_file_name(core_id{0}, segment_seq{1});
  std::string bytes;
  {
    std::ifstream in(seg, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto scan = log::scan_segment(bytes);
  std::uint64_t commit_at = 0;
  bool delivery_after = false;
  for (const auto& r : scan.records) {
    if (r.header.type == format::record_type::blob_commit) commit_at = r.offset, delivery_after = false;
    if (r.header.type == format::record_type::delivery && commit_at) delivery_after = true;
  }
  ASSERT_TRUE(commit_at && delivery_after);
  {
    const int fd = ::open(seg.c_str(), O_RDWR);
    char c = 0;
    ASSERT_EQ(::pread(fd, &c, 1, static_cast<off_t>(commit_at + format::record_header_size + 2)), 1);
    c ^= 0x40;
    ASSERT_EQ(::pwrite(fd, &c, 1, static_cast<off_t>(commit_at + format::record_header_size + 2)), 1);
    ::close(fd);
  }
  {
    auto s = open_store(dir.path);
    bool said = false;
    for (const auto& l : s->recovery().lines) said = said || l.find("uid 2: blob") != std::string::npos;
    EXPECT_TRUE(said);
    const auto* box = s->mailbox(alice, inbox(*s, alice));
    EXPECT_TRUE(box->messages.count(1));
    EXPECT_FALSE(box->messages.count(2));
    EXPECT_EQ(box->uid_next, 3u);  // the UID stays burnt
    EXPECT_EQ(s->account(alice)->used_messages, 1u);
    // The same content again: same key, now durable. It arrives as uid 3.
    EXPECT_EQ(deliver(*s, alice, body).uid, 3u);
  }
  auto s = open_store(dir.path);
  const auto* box = s->mailbox(alice, inbox(*s, alice));
  EXPECT_FALSE(box->messages.count(2));
  EXPECT_EQ(*s->read_message(alice, box->id, 3), "X-Prefix: 1\r\n" + body);
  for (const auto& l : s->recovery().lines) EXPECT_EQ(l.find("missing"), std::string::npos) << l;
  const std::string with_checkpoint = s->index(core_id{0}).dump();
  s.reset();
  auto without = open_store(dir.path, 1, 64u << 20, false);  // a replay of the whole log agrees
  EXPECT_EQ(without->index(core_id{0}).dump(), with_checkpoint);
}

TEST(store_recovery, truncated_file_loses_only_the_unfinished_tail) {
  test_dir dir;
  std::uint64_t size_after_two = 0;
  std::uint64_t full = 0;
  {
    auto s = open_store(dir.path);
    make_account(*s, alice, "alice@example.org");
    deliver(*s, alice, "one");
    deliver(*s, alice, "two");
    size_after_two = s->commit_metrics(core_id{0}).bytes;
    deliver(*s, alice, std::string(3000, 'z'));
    full = s->commit_metrics(core_id{0}).bytes;
  }
  for (auto cut : {size_after_two + 10, size_after_two + 1500, full - 1}) {
    test_dir copy;
    std::filesystem::copy(dir.path, copy.path, std::filesystem::copy_options::recursive);
    std::filesystem::resize_file(copy.path + "/segments/" + log::segment_file_name(core_id{0}, segment_seq{1}), cut);
    auto s = open_store(copy.path);
    const auto* box = s->mailbox(alice, inbox(*s, alice));
    EXPECT_EQ(box->messages.size(), 2u) << cut;
    EXPECT_EQ(box->uid_next, 3u);
    EXPECT_GT(s->recovery().truncated_bytes, 0u);
    EXPECT_EQ(deliver(*s, alice, "after").uid, 3u);  // appending resumes cleanly
  }
}

TEST(store_compaction, reclaims_unreferenced_blobs_and_survives_restart) {
  test_dir dir;
  const std::string keep(3000, 'k');
  {
    auto s = open_store(dir.path, 1, 16384);
    make_account(*s, alice, "alice@example.org");
    for (int i = 0; i < 20; ++i) deliver(*s, alice, std::string(3000, static_cast<char>('A' + i)));
    deliver(*s, alice, keep);
    // A duplicate whose chunks are garbage from the start.
    ASSERT_TRUE(s->store_blob(core_id{0}, keep));
    ASSERT_TRUE(s->flush_all());
    std::vector<std::uint32_t> all;
    for (std::uint32_t u = 1; u <= 20; ++u) all.push_back(u);
    ASSERT_TRUE(s->expunge(alice, inbox(*s, alice), all));
    ASSERT_TRUE(s->flush_all());
    const auto before = s->index(core_id{0}).dump();
    auto r = s->compact(core_id{0}, 0.5, 0);
    ASSERT_TRUE(r);
    EXPECT_GT(r->segments_removed, 0u);
    EXPECT_GT(r->bytes_reclaimed, 40000u);
    EXPECT_EQ(*s->read_message(alice, inbox(*s, alice), 21), "X-Prefix: 1\r\n" + keep);
    EXPECT_EQ(s->index(core_id{0}).dump(), before);
    // Dedup after compaction finds the moved copy, not a vanished one.
    auto again = s->store_blob(core_id{0}, keep);
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->deduplicated);
  }
  auto s = open_store(dir.path, 1, 16384);
  EXPECT_EQ(*s->read_message(alice, inbox(*s, alice), 21), "X-Prefix: 1\r\n" + keep);
  EXPECT_EQ(s->mailbox(alice, inbox(*s, alice))->uid_next, 22u);
  for (const auto& l : s->recovery().lines) EXPECT_EQ(l.find("missing"), std::string::npos) << l;
}

// The segment files of a data directory, by name.
std::set<std::string> segment_files(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/segments")) out.insert(e.path().filename().string());
  return out;
}

// Fills a store with 20 messages of 3000 bytes (16 KiB segments) and
// expunges all but uid 21 and the ones in `keep_uids`; returns the kept bodies.
std::map<std::uint32_t, std::string> sparse_store(message_store& s, const std::set<std::uint32_t>& keep_uids = {}) {
  make_account(s, alice, "alice@example.org");
  std::map<std::uint32_t, std::string> kept;
  std::vector<std::uint32_t> gone;
  for (int i = 0; i < 21; ++i) {
    const std::string body(3000 + static_cast<std::size_t>(i), static_cast<char>('A' + i));
    const auto uid = deliver(s, alice, body).uid;
    if (uid == 21 || keep_uids.count(uid))
      kept[uid] = body;
    else
      gone.push_back(uid);
  }
  EXPECT_TRUE(s.expunge(alice, inbox(s, alice), gone));
  EXPECT_TRUE(s.flush_all());
  return kept;
}

// The check every compaction test ends with: each kept message reads back
// whole, now and after a restart, and recovery reports no missing blob.
void expect_kept(message_store& s, const std::map<std::uint32_t, std::string>& kept) {
  for (const auto& [uid, body] : kept) {
    auto m = s.read_message(alice, inbox(s, alice), uid);
    ASSERT_TRUE(m) << uid;
    EXPECT_EQ(*m, "X-Prefix: 1\r\n" + body) << uid;
  }
}

TEST(store_compaction, steps_switch_the_catalog_only_when_the_copies_are_durable) {
  test_dir dir;
  std::map<std::uint32_t, std::string> kept;
  std::set<std::string> victims_files;
  {
    auto s = open_store(dir.path, 1, 16384);
    kept = sparse_store(*s, {2, 7, 8});
    // Without a checkpoint no segment is covered: nothing may be taken.
    EXPECT_EQ(s->begin_compaction(core_id{0}, 0.5, 0), nullptr);
    ASSERT_TRUE(s->checkpoint());
    auto job = s->begin_compaction(core_id{0}, 0.5, 0);
    ASSERT_TRUE(job);
    // One job per core at a time.
    EXPECT_EQ(s->begin_compaction(core_id{0}, 0.5, 0), nullptr);
    ASSERT_FALSE(job->victims().empty());
    for (const auto seq : job->victims()) victims_files.insert(log::segment_file_name(core_id{0}, seq));
    int steps = 0;
    while (auto p = s->compaction_next(*job)) {
      std::string piece(p->length, '\0');
      ASSERT_EQ(::pread(p->fd, piece.data(), piece.size(), static_cast<off_t>(p->offset)),
                static_cast<ssize_t>(piece.size()));
      ASSERT_TRUE(s->compaction_copy(*job, piece));
      ++steps;
      // Between steps the store works as usual: reads, new mail, dedup.
      expect_kept(*s, kept);
      if (steps == 1) {
        const auto uid = deliver(*s, alice, "between steps").uid;
        kept[uid] = "between steps";
        auto again = s->store_blob(core_id{0}, kept.at(21));
        ASSERT_TRUE(again);
        EXPECT_TRUE(again->deduplicated);
      }
    }
    EXPECT_GT(steps, 1);
    EXPECT_GE(job->report().blobs_copied, 2u);
    // The last copy is only appended: nothing may be removed yet.
    if (s->has_pending(core_id{0})) {
      auto early = s->finish_compaction(*job);
      ASSERT_TRUE(early);
      EXPECT_FALSE(*early);
      for (const auto& f : victims_files) EXPECT_TRUE(segment_files(dir.path).count(f)) << f;
    }
    ASSERT_TRUE(s->flush(core_id{0}));
    auto done = s->finish_compaction(*job);
    ASSERT_TRUE(done);
    EXPECT_TRUE(*done);
    EXPECT_EQ(job->report().segments_removed, victims_files.size());
    for (const auto& f : victims_files) EXPECT_FALSE(segment_files(dir.path).count(f)) << f;
    expect_kept(*s, kept);
  }
  auto s = open_store(dir.path, 1, 16384);
  expect_kept(*s, kept);
  for (const auto& l : s->recovery().lines) EXPECT_EQ(l.find("missing"), std::string::npos) << l;
}

TEST(store_compaction, a_failed_copy_batch_keeps_every_victim) {
  test_dir dir;
  std::map<std::uint32_t, std::string> kept;
  const auto before_files = [&] {
    auto s = open_store(dir.path, 1, 16384);
    kept = sparse_store(*s);
    ASSERT_TRUE(s->checkpoint());
    const auto files = segment_files(dir.path);
    auto job = s->begin_compaction(core_id{0}, 0.5, 0);
    ASSERT_TRUE(job);
    while (auto p = s->compaction_next(*job)) {
      std::string piece(p->length, '\0');
      ASSERT_EQ(::pread(p->fd, piece.data(), piece.size(), static_cast<off_t>(p->offset)),
                static_cast<ssize_t>(piece.size()));
      ASSERT_TRUE(s->compaction_copy(*job, piece));
    }
    // The batch carrying the copies fails (as ENOSPC would).
    log::commit_batch batch;
    s->take_batch(core_id{0}, batch);
    s->complete_batch(core_id{0}, batch, kio::fail(errc::io_error));
    auto done = s->finish_compaction(*job);
    ASSERT_FALSE(done);
    EXPECT_EQ(segment_files(dir.path), files);
    // The catalog still names the old copy, which is still there.
    expect_kept(*s, kept);
    job.reset();
    // The next attempt succeeds.
    auto r = s->compact(core_id{0}, 0.5, 0);
    ASSERT_TRUE(r);
    EXPECT_GT(r->segments_removed, 0u);
    expect_kept(*s, kept);
  };
  before_files();
  auto s = open_store(dir.path, 1, 16384);
  expect_kept(*s, kept);
  for (const auto& l : s->recovery().lines) EXPECT_EQ(l.find("missing"), std::string::npos) << l;
}

TEST(store_compaction, a_blob_still_streaming_pins_its_segment) {
  test_dir dir;
  auto s = open_store(dir.path, 1, 16384);
  auto kept = sparse_store(*s);
  // A writer has its first chunk in the active segment, then the log moves
  // on; the segment seals while the blob is unfinished.
  auto w = s->begin_blob(core_id{0});
  const std::string streamed = std::string(5000, 'S') + "end";
  ASSERT_TRUE(s->append_chunk(w, std::string_view(streamed).substr(0, 5000)));
  ASSERT_TRUE(s->flush(core_id{0}));
  // The active segment now holds the writer's first chunk.
  const std::string pinned_file = *segment_files(dir.path).rbegin();
  for (int i = 0; i < 12; ++i) {
    const auto d = deliver(*s, alice, std::string(3000, static_cast<char>('a' + i)));
    ASSERT_TRUE(s->expunge(alice, inbox(*s, alice), {d.uid}));
  }
  ASSERT_TRUE(s->flush_all());
  auto r = s->compact(core_id{0}, 0.5, 0);
  ASSERT_TRUE(r);
  EXPECT_GT(r->segments_removed, 0u);
  // Sealed and holding no committed live blob, yet kept: it is pinned.
  EXPECT_TRUE(segment_files(dir.path).count(pinned_file)) << pinned_file;
  // Finishing after compaction: the chunks it names must still be there.
  ASSERT_TRUE(s->append_chunk(w, std::string_view(streamed).substr(5000)));
  auto b = s->finish_blob(w);
  ASSERT_TRUE(b);
  ASSERT_TRUE(s->flush(core_id{0}));
  auto bytes = s->read_blob(b->key);
  ASSERT_TRUE(bytes) << to_string(bytes.error());
  EXPECT_EQ(*bytes, streamed);
  expect_kept(*s, kept);
  // Once the writer is done, its segment may go like any other.
  delivery_request q{alice, inbox(*s, alice), b->key, "X-Prefix: 1\r\n", 1, 0, {}, false};
  auto d = s->append_delivery(q);
  ASSERT_TRUE(d);
  ASSERT_TRUE(s->flush_all());
  kept[d->uid] = streamed;
  auto r2 = s->compact(core_id{0}, 0.5, 0);
  ASSERT_TRUE(r2);
  expect_kept(*s, kept);
  s.reset();
  auto again = open_store(dir.path, 1, 16384);
  expect_kept(*again, kept);
  for (const auto& l : again->recovery().lines) EXPECT_EQ(l.find("missing"), std::string::npos) << l;
}

TEST(store_compaction, a_dead_blob_is_not_handed_out_while_its_segment_goes) {
  test_dir dir;
  auto s = open_store(dir.path, 1, 16384);
  auto kept = sparse_store(*s);
  const std::string dead(3000 + 3, static_cast<char>('A' + 3));  // uid 4, expunged
  ASSERT_TRUE(s->checkpoint());
  auto job = s->begin_compaction(core_id{0}, 0.5, 0);
  ASSERT_TRUE(job);
  // The same bytes arrive again mid-compaction: a new blob, not the dying one.
  auto b = s->store_blob(core_id{0}, dead);
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->deduplicated);
  ASSERT_TRUE(s->flush(core_id{0}));
  delivery_request q{alice, inbox(*s, alice), b->key, "X-Prefix: 1\r\n", 1, 0, {}, false};
  auto d = s->append_delivery(q);
  ASSERT_TRUE(d);
  kept[d->uid] = dead;
  while (auto p = s->compaction_next(*job)) {
    std::string piece(p->length, '\0');
    ASSERT_EQ(::pread(p->fd, piece.data(), piece.size(), static_cast<off_t>(p->offset)),
              static_cast<ssize_t>(piece.size()));
    ASSERT_TRUE(s->compaction_copy(*job, piece));
  }
  ASSERT_TRUE(s->flush_all());
  auto done = s->finish_compaction(*job);
  ASSERT_TRUE(done);
  EXPECT_TRUE(*done);
  EXPECT_GT(job->report().segments_removed, 0u);
  expect_kept(*s, kept);
  job.reset();  // a job points into its store's shard: it must not outlive the store
  s.reset();
  auto again = open_store(dir.path, 1, 16384);
  expect_kept(*again, kept);
  for (const auto& l : again->recovery().lines) EXPECT_EQ(l.find("missing"), std::string::npos) << l;
}

TEST(store_compaction, a_segment_holding_only_the_commit_of_a_live_blob_is_kept_or_the_blob_copied) {
  // Found by the sigkill_compact crash test: a roll-over can put a blob's
  // commit record in the segment after its chunks. That segment holds no
  // live chunk bytes, so it is a victim; if the blob were not copied, its
  // only commit would vanish and recovery would not know the blob.
  test_dir dir;
  std::map<std::uint32_t, std::string> kept;
  store_options o;
  o.data_directory = dir.path;
  o.segment_size_max = 16384;
  o.chunk_size_max = 4096;
  o.preallocate_segments = false;  // the file size is then the appended size
  auto active_size = [&] {
    const auto name = *segment_files(dir.path).rbegin();
    return static_cast<std::size_t>(std::filesystem::file_size(dir.path + "/segments/" + name));
  };
  {
    auto opened = message_store::open(o);
    ASSERT_TRUE(opened);
    auto s = std::move(*opened);
    make_account(*s, alice, "alice@example.org");
    // Dead blobs until the active segment has less than one chunk left.
    while (16384 - active_size() > 4096 + 32 + 40) {
      ASSERT_TRUE(s->store_blob(core_id{0}, std::string(3000, 'd')));
      ASSERT_TRUE(s->flush(core_id{0}));
    }
    // One chunk that leaves 40 bytes: too few for the commit record.
    const std::size_t room = 16384 - active_size();
    ASSERT_GT(room, 32u + 40u + 100u);
    const std::string body(room - 32 - 40, 'L');
    const auto before = segment_files(dir.path).size();
    auto w = s->begin_blob(core_id{0});
    ASSERT_TRUE(s->append_chunk(w, body));
    auto b = s->finish_blob(w);
    ASSERT_TRUE(b);
    ASSERT_FALSE(b->deduplicated);
    ASSERT_TRUE(s->flush(core_id{0}));
    ASSERT_EQ(segment_files(dir.path).size(), before + 1) << "the commit did not roll over: the test proves nothing";
    delivery_request q{alice, inbox(*s, alice), b->key, "X-Prefix: 1\r\n", 1, 0, {}, false};
    auto d = s->append_delivery(q);
    ASSERT_TRUE(d);
    ASSERT_TRUE(s->flush(core_id{0}));
    kept[d->uid] = body;
    // Seal the commit's segment with dead mail.
    for (int i = 0; i < 8; ++i) {
      const auto d = deliver(*s, alice, std::string(3000, static_cast<char>('A' + i)));
      ASSERT_TRUE(s->expunge(alice, inbox(*s, alice), {d.uid}));
    }
    ASSERT_TRUE(s->flush_all());
    // 5 %: the chunks' segment stays, the commit's segment (no live chunk
    // bytes) goes.
    auto r = s->compact(core_id{0}, 0.05, 0);
    ASSERT_TRUE(r);
    EXPECT_GT(r->segments_removed, 0u);
    expect_kept(*s, kept);
  }
  auto again = message_store::open(o);
  ASSERT_TRUE(again);
  expect_kept(**again, kept);
  for (const auto& l : (*again)->recovery().lines) EXPECT_EQ(l.find("missing"), std::string::npos) << l;
}

TEST(store_backup, every_durable_batch_reaches_the_backup) {
  test_dir dir, backup;
  {
    auto s = open_store(dir.path, 1, 64u << 20, true, backup.path);
    make_account(*s, alice, "alice@example.org");
    deliver(*s, alice, "backed up");
  }
  // The backup directory alone opens as a store with the same content.
  auto b = open_store(backup.path);
  EXPECT_EQ(*b->read_message(alice, inbox(*b, alice), 1), "X-Prefix: 1\r\nbacked up");
}

TEST(store_backup, restore_an_account_as_of_a_point_in_time) {
  test_dir dir, backup, fresh;
  auto s = open_store(dir.path, 1, 64u << 20, true, backup.path);
  make_account(*s, alice, "alice@example.org");
  const auto box = inbox(*s, alice);
  deliver(*s, alice, "one", "P: 1\r\n", message_flag::seen);
  deliver(*s, alice, "two");
  ::usleep(20000);
  const auto as_of = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  ::usleep(20000);
  deliver(*s, alice, "three");
  ASSERT_TRUE(s->expunge(alice, box, {1}));
  ASSERT_TRUE(s->flush_all());

  // Into an empty store: the mailbox as it stood at as_of.
  auto f = open_store(fresh.path);
  auto r = restore(*f, backup.path, alice, std::string("INBOX"), as_of);
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(r->messages_restored, 2u);
  const auto* fb = f->find_mailbox(alice, "INBOX");
  ASSERT_TRUE(fb);
  ASSERT_EQ(fb->messages.size(), 2u);
  EXPECT_EQ(*f->read_message(alice, fb->id, 1), "P: 1\r\none");
  EXPECT_EQ(fb->messages.at(1).flags, message_flag::seen);
  EXPECT_EQ(*f->read_message(alice, fb->id, 2), "X-Prefix: 1\r\ntwo");

  // Into the live store: the expunged message comes back, the rest is
  // recognised as present; repeating changes nothing.
  auto live = restore(*s, backup.path, alice, std::nullopt, as_of);
  ASSERT_TRUE(live);
  EXPECT_EQ(live->messages_restored, 1u);
  EXPECT_EQ(live->messages_present, 1u);
  EXPECT_EQ(s->mailbox(alice, box)->messages.size(), 3u);
  auto again = restore(*s, backup.path, alice, std::nullopt, as_of);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->messages_restored, 0u);
}

// Regression: a store rebuilt after losing its data directory started its
// segments at sequence 1 again, and its backup mirror opened the backup's
// existing seg-000-1 and wrote the new records over the old ones, so the
// disk loss the backup exists for destroyed the backup (and a restore read
// blob bytes from files being overwritten). New segments start above every
// segment the backup holds.
TEST(store_backup, a_store_rebuilt_after_losing_its_data_never_overwrites_the_backup) {
  test_dir dir, backup;
  {
    auto s = open_store(dir.path, 1, 64u << 20, true, backup.path);
    make_account(*s, alice, "alice@example.org");
    deliver(*s, alice, "before the disk died");
  }
  ::usleep(20000);
  const auto lost_at = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  ::usleep(20000);
  const auto backup_files = [&] {
    std::map<std::string, std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(backup.path + "/segments")) {
      std::ifstream in(e.path(), std::ios::binary);
      out[e.path().filename().string()] = std::string(std::istreambuf_iterator<char>(in), {});
    }
    return out;
  };
  const auto before = backup_files();
  ASSERT_EQ(before.size(), 1u);
  std::filesystem::remove_all(dir.path);
  std::filesystem::create_directories(dir.path);
  {
    auto s = open_store(dir.path, 1, 64u << 20, true, backup.path);
    EXPECT_FALSE(s->account(alice));
    auto r = restore(*s, backup.path, alice, std::nullopt, std::nullopt);
    ASSERT_TRUE(r) << to_string(r.error());
    EXPECT_EQ(r->messages_restored, 1u);
    deliver(*s, alice, "after the restore");
    ASSERT_TRUE(s->flush_all());
    EXPECT_EQ(*s->read_message(alice, inbox(*s, alice), 1), "X-Prefix: 1\r\nbefore the disk died");
  }
  const auto after = backup_files();
  EXPECT_EQ(after.size(), 2u);
  for (const auto& [name, bytes] : before) {
    ASSERT_TRUE(after.count(name)) << name;
    // The old file may only have grown by nothing: byte for byte the same.
    EXPECT_EQ(after.at(name), bytes) << name << " was written over";
  }
  // The backup still restores the mailbox as it stood before the loss.
  test_dir fresh;
  auto f = open_store(fresh.path);
  auto r = restore(*f, backup.path, alice, std::string("INBOX"), lost_at);
  ASSERT_TRUE(r) << to_string(r.error());
  EXPECT_EQ(r->messages_restored, 1u);
  EXPECT_EQ(*f->read_message(alice, inbox(*f, alice), 1), "X-Prefix: 1\r\nbefore the disk died");
}

}  // namespace
}  // namespace store
