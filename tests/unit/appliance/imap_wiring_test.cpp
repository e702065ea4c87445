// The IMAP wiring's own pieces: which transfers teach the spam filter, and
// mailbox_events carrying "this account changed" from the owner core to
// watchers on another core of a real 2-core runtime.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>

#include "appliance/imap/junk_training.h"
#include "appliance/storage/mailbox_events.h"
#include "kernel_io/ring/ops.h"
#include "kernel_io/shard/cross_core.h"
#include "kernel_io/shard/runtime.h"
#include "store/message_store.h"

namespace appliance {
namespace {

using store::special_use;

TEST(junk_training, junk_folders_by_attribute_name_and_parent) {
  std::vector<std::string> junk = {"Spam"};
  EXPECT_TRUE(is_junk_folder("Whatever", special_use::junk, {}));
  EXPECT_TRUE(is_junk_folder("Junk", special_use::none, {}));
  EXPECT_TRUE(is_junk_folder("Junk/Phishing", special_use::none, {}));
  EXPECT_TRUE(is_junk_folder("Spam/old", special_use::none, junk));
  EXPECT_FALSE(is_junk_folder("Junkyard", special_use::none, junk));
  EXPECT_FALSE(is_junk_folder("INBOX", special_use::inbox, junk));
  EXPECT_FALSE(is_junk_folder("Archive/Junk mail", special_use::none, junk));
}

TEST(junk_training, what_a_transfer_teaches) {
  EXPECT_EQ(classify_transfer(false, true, special_use::junk), training_direction::spam);
  EXPECT_EQ(classify_transfer(true, false, special_use::inbox), training_direction::ham);
  EXPECT_EQ(classify_transfer(true, false, special_use::trash), training_direction::none);
  // Deleting spam is not "this is good mail"; moving within Junk says nothing.
  EXPECT_EQ(classify_transfer(true, true, special_use::none), training_direction::none);
  EXPECT_EQ(classify_transfer(false, false, special_use::archive), training_direction::none);
}

// A test double: records what it is told.
class recording_sink final : public training_sink {
 public:
  void train(const training_event& e) override { events.push_back(e); }
  std::vector<training_event> events;
};

TEST(junk_training, logging_sink_writes_one_line_per_event) {
  std::vector<std::string> lines;
  logger log([&](std::string_view l) { lines.emplace_back(l); });
  logging_training_sink sink(log);
  training_event e;
  e.verdict = training_verdict::ham;
  e.account = 7;
  e.source_mailbox = "Junk";
  e.target_mailbox = "INBOX";
  e.blobs.resize(2);
  training_sink& hook = sink;
  hook.train(e);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("event=junk_training"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("verdict=ham"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("messages=2"), std::string::npos) << lines[0];
  recording_sink double_;
  training_sink& other = double_;
  other.train(e);
  ASSERT_EQ(double_.events.size(), 1u);
  EXPECT_EQ(double_.events[0].target_mailbox, "INBOX");
}

struct counting_watcher final : mailbox_watcher {
  std::atomic<int> calls{0};
  std::atomic<uint32_t> last{0};
  std::atomic<unsigned> core{99};
  void mailbox_changed(uint32_t mailbox) override {
    last = mailbox;
    core = kio::reactor::current()->id();
    ++calls;
  }
};

struct events_fixture {
  std::string dir;
  std::unique_ptr<store::message_store> store;
  events_fixture() {
    std::string tmpl = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + std::string("/ringmail-ev-XXXXXX");
    dir = ::mkdtemp(tmpl.data());
    store::store_options o;
    o.data_directory = dir;
    o.cores = 2;
    auto opened = store::message_store::open(o);
    EXPECT_TRUE(opened);
    store = std::move(*opened);
  }
  ~events_fixture() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
  // An account id owned by `core`.
  uint64_t account_on(unsigned core) const {
    for (uint64_t a = 1;; ++a)
      if (store->owner_of(store::account_id{a}).get() == core) return a;
  }
};

struct scenario {
  mailbox_events* events;
  uint64_t account;
  counting_watcher remote, local, other_account;
  std::atomic<int> done{0};
  std::atomic<int> owner_ready{0};
};

// On core 1: watch an account owned by core 0; core 0 announces changes.
kio::task<void> watcher_side(kio::runtime* rt, scenario* s) {
  while (s->owner_ready.load() == 0) co_await kio::sleep_for(1);
  co_await s->events->add(s->account, &s->remote);
  co_await s->events->add(s->account + 1000, &s->other_account);
  EXPECT_EQ(s->events->local_watchers(1, s->account), 1u);
  // The registration is awaited: the owner already counts us.
  co_await kio::run_on(rt->core(0), [s] { s->events->changed(s->account, 42); });
  while (s->remote.calls.load() == 0) co_await kio::sleep_for(1);
  s->events->remove(s->account, &s->remote);
  // After remove, the owner stops posting (the removal is a message: wait
  // for it with one round trip to the owner).
  co_await kio::run_on(rt->core(0), [] {});
  co_await kio::run_on(rt->core(0), [s] { s->events->changed(s->account, 43); });
  co_await kio::sleep_for(20);
  s->done = 1;
  rt->request_stop();
}

kio::task<void> owner_side(scenario* s) {
  co_await s->events->add(s->account, &s->local);
  s->owner_ready = 1;
}

TEST(mailbox_events, owner_core_wakes_watchers_on_their_own_cores) {
  events_fixture f;
  kio::runtime_config rc;
  rc.cores = 2;
  rc.pin_threads = false;
  rc.reactor.recv_buffer_count = 16;
  rc.reactor.recv_buffer_size_bytes = 4096;
  kio::runtime rt(rc);
  mailbox_events events(rt, *f.store);
  scenario s;
  s.events = &events;
  s.account = f.account_on(0);
  int code = rt.run([&](kio::reactor& r) -> kio::task<void> {
    if (r.id() == 1) return watcher_side(&rt, &s);
    return owner_side(&s);
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(s.done.load(), 1);
  EXPECT_EQ(s.remote.calls.load(), 1);      // 42 only: 43 came after remove()
  EXPECT_EQ(s.remote.last.load(), 42u);
  EXPECT_EQ(s.remote.core.load(), 1u);      // on the watcher's core
  EXPECT_EQ(s.local.calls.load(), 2);       // the owner's own watcher saw both
  EXPECT_EQ(s.local.core.load(), 0u);
  EXPECT_EQ(s.other_account.calls.load(), 0);
}

}  // namespace
}  // namespace appliance
