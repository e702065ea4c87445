// The reactor's group commit: many writer coroutines on one core, each
// streaming a blob, awaiting its flush, delivering, awaiting again. Every
// writer must resume only after the fdatasync covering its record, and the
// batches must actually be shared.
#include <gtest/gtest.h>

#include "kernel_io/ring/reactor.h"
#include "kernel_io/ring/task.h"
#include "store/commit_driver.h"
#include "store/message_store.h"
#include "test_dir.h"

namespace store {
namespace {

using testing::test_dir;

struct shared_state {
  message_store* store = nullptr;
  commit_driver* driver = nullptr;
  int running = 0;
  int acknowledged = 0;
  int visible_before_ack = 0;  // must stay 0
  std::vector<std::uint32_t> uids;
};

// A plain function coroutine (no lambda captures: they would dangle).
kio::task<void> writer(shared_state* st, int n) {
  auto& s = *st->store;
  const account_id acct{1};
  auto w = s.begin_blob(core_id{0});
  const std::string body = "Subject: " + std::to_string(n) + "\r\n\r\n" + std::string(3000 + n, 'b');
  EXPECT_TRUE(s.append_chunk(w, std::string_view(body).substr(0, 1000)));
  EXPECT_TRUE(s.append_chunk(w, std::string_view(body).substr(1000)));
  auto blob = s.finish_blob(w);
  EXPECT_TRUE(blob);
  auto durable = co_await st->driver->flush(blob->ticket);
  EXPECT_TRUE(durable);
  delivery_request q{acct, s.find_mailbox(acct, "INBOX")->id, blob->key, "Delivered-To: a@b\r\n", n, 0, {}, false};
  auto d = s.append_delivery(q);
  EXPECT_TRUE(d);
  if (s.mailbox(acct, q.mailbox)->messages.count(d->uid)) st->visible_before_ack++;
  auto done = co_await st->driver->flush(d->ticket);
  EXPECT_TRUE(done);
  EXPECT_EQ(s.state(d->ticket), log::ticket_state::durable);
  EXPECT_TRUE(s.mailbox(acct, q.mailbox)->messages.count(d->uid));
  st->acknowledged++;
  st->uids.push_back(d->uid);
  if (--st->running == 0) {
    st->driver->stop();
    kio::reactor::current()->request_stop(0);
  }
}

TEST(store_commit_driver, writers_share_fdatasyncs_and_resume_only_when_durable) {
  test_dir dir, backup;
  store_options o;
  o.data_directory = dir.path;
  o.backup_directory = backup.path;
  o.segment_size_max = 64u << 10;  // several roll-overs (new file + directory fsync)
  auto opened = message_store::open(o);
  ASSERT_TRUE(opened);
  auto& s = **opened;
  ASSERT_TRUE(s.create_account(account_id{1}, "a@example.org", 0, 0));
  ASSERT_TRUE(s.flush_all());
  kio::reactor_config rc;
  rc.recv_buffer_count = 16;
  rc.recv_buffer_size_bytes = 4096;
  auto r = kio::reactor::create(rc);
  ASSERT_TRUE(r) << r.error();
  commit_driver driver(s, core_id{0});
  shared_state st{&s, &driver};
  constexpr int writers = 64;
  st.running = writers;
  const auto before = s.commit_metrics(core_id{0});
  (*r)->spawn(driver.run());
  for (int i = 0; i < writers; ++i) (*r)->spawn(writer(&st, i));
  (*r)->run();
  EXPECT_EQ(st.acknowledged, writers);
  EXPECT_EQ(st.visible_before_ack, 0);
  std::sort(st.uids.begin(), st.uids.end());
  for (int i = 0; i < writers; ++i) EXPECT_EQ(st.uids[static_cast<std::size_t>(i)], static_cast<std::uint32_t>(i + 1));
  const auto& m = s.commit_metrics(core_id{0});
  const auto batches = m.batches - before.batches;
  // 64 writers x 2 commits each, shared: far fewer than 128 batches.
  EXPECT_LT(batches, 20u);
  EXPECT_GT(m.batch_records_max, 32u);
  EXPECT_EQ(driver.backup_errors(), 0u);
  opened->reset();
  // Recovery and the backup both hold all 64.
  for (const auto& d : {dir.path, backup.path}) {
    store_options ro;
    ro.data_directory = d;
    auto again = message_store::open(ro);
    ASSERT_TRUE(again);
    EXPECT_EQ((*again)->find_mailbox(account_id{1}, "INBOX")->messages.size(), 64u) << d;
  }
}

}  // namespace
}  // namespace store
