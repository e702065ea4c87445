// compactor: compaction on the reactor, in steps, while writers keep
// delivering through the same commit_driver. Checks that the reactor keeps
// turning during the pass (other coroutines run between its steps), that
// segments are reclaimed, and that every message survives it and a restart.
#include <gtest/gtest.h>

#include <unistd.h>

#include <map>

#include "kernel_io/ring/ops.h"
#include "kernel_io/ring/reactor.h"
#include "kernel_io/ring/task.h"
#include "store/commit_driver.h"
#include "store/compactor.h"
#include "store/message_store.h"
#include "test_dir.h"

namespace store {
namespace {

using testing::test_dir;
const account_id acct{1};

struct shared_state {
  message_store* store = nullptr;
  commit_driver* driver = nullptr;
  compactor* comp = nullptr;
  int writers_running = 0;
  bool compacting = false;
  std::uint64_t ticks_during_compaction = 0;
  kio::result<compaction_report, errc> report = compaction_report{};
  std::map<std::uint32_t, std::string> kept;  // uid -> body
};

void maybe_stop(shared_state* st) {
  if (st->writers_running == 0 && !st->compacting) {
    st->driver->stop();
    kio::reactor::current()->request_stop(0);
  }
}

kio::task<void> writer(shared_state* st, int n) {
  auto& s = *st->store;
  for (int i = 0; i < 6; ++i) {
    const std::string body = "W" + std::to_string(n) + "-" + std::to_string(i) + std::string(2500, 'w');
    auto blob = s.store_blob(core_id{0}, body);
    EXPECT_TRUE(blob);
    auto durable = co_await st->driver->flush(blob->ticket);
    EXPECT_TRUE(durable);
    delivery_request q{acct, s.find_mailbox(acct, "INBOX")->id, blob->key, "P: 1\r\n", n, 0, {}, false};
    auto d = s.append_delivery(q);
    EXPECT_TRUE(d);
    auto done = co_await st->driver->flush(d->ticket);
    EXPECT_TRUE(done);
    st->kept[d->uid] = body;
  }
  --st->writers_running;
  maybe_stop(st);
}

kio::task<void> ticker(shared_state* st) {
  while (st->compacting) {
    ++st->ticks_during_compaction;
    co_await kio::nop();
  }
}

kio::task<void> compaction(shared_state* st) {
  auto r = co_await st->comp->run_once();
  st->report = r;
  st->compacting = false;
  maybe_stop(st);
}

TEST(store_compactor, compacts_in_steps_while_writers_deliver) {
  test_dir dir;
  store_options o;
  o.data_directory = dir.path;
  o.segment_size_max = 64u << 10;
  o.chunk_size_max = 4096;  // several pieces per blob
  shared_state st;
  {
    auto opened = message_store::open(o);
    ASSERT_TRUE(opened);
    auto& s = **opened;
    ASSERT_TRUE(s.create_account(acct, "a@example.org", 0, 0));
    ASSERT_TRUE(s.flush_all());
    std::vector<std::uint32_t> gone;
    for (int i = 0; i < 90; ++i) {
      const std::string body = "old " + std::to_string(i) + std::string(9000, static_cast<char>('a' + i % 26));
      auto b = s.store_blob(core_id{0}, body);
      ASSERT_TRUE(b);
      ASSERT_TRUE(s.flush(core_id{0}));
      delivery_request q{acct, s.find_mailbox(acct, "INBOX")->id, b->key, "P: 1\r\n", i, 0, {}, false};
      auto d = s.append_delivery(q);
      ASSERT_TRUE(d);
      if (i % 3 == 0)
        st.kept[d->uid] = body;
      else
        gone.push_back(d->uid);
    }
    ASSERT_TRUE(s.expunge(acct, s.find_mailbox(acct, "INBOX")->id, gone));
    ASSERT_TRUE(s.flush_all());
    // Past the grace period of the setup's blobs, well within the writers'.
    ::usleep(1'200'000);

    kio::reactor_config rc;
    rc.recv_buffer_count = 16;
    rc.recv_buffer_size_bytes = 4096;
    auto r = kio::reactor::create(rc);
    ASSERT_TRUE(r) << r.error();
    commit_driver driver(s, core_id{0});
    compactor_options co;
    co.live_ratio_max = 0.5;
    co.grace_ms = 1000;
    co.step_bytes = 8192;
    co.flush_every_bytes = 64u << 10;
    compactor comp(s, driver, core_id{0}, co);
    st.store = &s;
    st.driver = &driver;
    st.comp = &comp;
    st.writers_running = 8;
    st.compacting = true;
    (*r)->spawn(driver.run());
    (*r)->spawn(compaction(&st));
    (*r)->spawn(ticker(&st));
    for (int i = 0; i < 8; ++i) (*r)->spawn(writer(&st, i));
    (*r)->run();

    ASSERT_TRUE(st.report) << to_string(st.report.error());
    EXPECT_GT(st.report->segments_removed, 3u);
    EXPECT_GT(st.report->blobs_copied, 0u);
    // Bounded steps: it suspended many times, and other coroutines ran in
    // between (more ticks than pieces copied would need with one per step).
    EXPECT_GT(comp.stats().yields + comp.stats().flush_waits, 5u);
    EXPECT_GT(st.ticks_during_compaction, st.report->bytes_copied / co.step_bytes);
    EXPECT_EQ(st.kept.size(), 30u + 48u);
    for (const auto& [uid, body] : st.kept) {
      auto m = s.read_message(acct, s.find_mailbox(acct, "INBOX")->id, uid);
      ASSERT_TRUE(m) << uid;
      EXPECT_EQ(*m, "P: 1\r\n" + body) << uid;
    }
  }
  auto again = message_store::open(o);
  ASSERT_TRUE(again);
  for (const auto& l : (*again)->recovery().lines) EXPECT_EQ(l.find("missing"), std::string::npos) << l;
  EXPECT_TRUE((*again)->recovery().checkpoint_used);
  for (const auto& [uid, body] : st.kept) {
    auto m = (*again)->read_message(acct, (*again)->find_mailbox(acct, "INBOX")->id, uid);
    ASSERT_TRUE(m) << uid;
    EXPECT_EQ(*m, "P: 1\r\n" + body) << uid;
  }
}

}  // namespace
}  // namespace store
