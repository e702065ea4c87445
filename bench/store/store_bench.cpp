// store_bench [directory] [seconds_per_case]
//
// Prints, for the directory's filesystem (default $TMPDIR or /tmp):
//  1. the physical limit: raw 4 KiB append + fdatasync per second, on a
//     growing file, a fallocated file, and with io_uring linked
//     write+fdatasync (the write-path question of DESIGN.md);
//  2. durable message appends per second through message_store (blob group
//     commit, then delivery group commit, as SMTP does), 4 KiB and 64 KiB,
//     1 / 32 / 256 concurrent writers, group commit vs one fdatasync per
//     message, with CPU ms per 1000 messages and the mean batch size;
//  3. dedup throughput: storing a blob that already exists (hash + compare);
//  4. reactor stalls during compaction of one 64 MiB segment (half of its
//     64 KiB messages expunged): the blocking compact() called from a
//     coroutine versus the stepped compactor (store/compactor.h). A ticker
//     coroutine does nop round trips through the ring and records the gap
//     between its resumptions; a gap is how long the reactor could not run
//     anything else. Victim pages are dropped from the page cache first, so
//     the copy reads hit the disk.
//     `store_bench <dir> <seconds> compaction` runs this part alone;
//     FLUSH_EVERY=<bytes> overrides compactor_options::flush_every_bytes.
//
// Concurrency model: the store is single-threaded per core; N writers each
// keep one message in flight. With group commit every writer that arrived
// while the previous fdatasync ran joins the next batch, which in steady
// state is all N; this program issues exactly those batches with blocking
// I/O. "One fdatasync per message" flushes after each writer's record.
#include <fcntl.h>
#include <liburing.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "kernel_io/ring/ops.h"
#include "kernel_io/ring/reactor.h"
#include "kernel_io/ring/task.h"
#include "store/commit_driver.h"
#include "store/compactor.h"
#include "store/message_store.h"

using namespace store;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}
double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string fresh_dir(const std::string& base, const char* name) {
  const std::string d = base + "/" + name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

enum class raw_mode { growing, fallocated, io_uring_linked };

double raw_fdatasync_rate(const std::string& dir, raw_mode mode, double budget_s) {
  const std::string path = dir + "/raw";
  ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return 0;
  if (mode == raw_mode::fallocated) ::posix_fallocate(fd, 0, 256 << 20);
  io_uring ring{};
  if (mode == raw_mode::io_uring_linked) io_uring_queue_init(8, &ring, 0);
  std::string block(4096, 'r');
  std::uint64_t n = 0, offset = 0;
  const auto start = clock_type::now();
  while (seconds_since(start) < budget_s && offset < (200u << 20)) {
    if (mode == raw_mode::io_uring_linked) {
      io_uring_sqe* w = io_uring_get_sqe(&ring);
      io_uring_prep_write(w, fd, block.data(), 4096, offset);
      w->flags |= IOSQE_IO_LINK;
      io_uring_sqe* f = io_uring_get_sqe(&ring);
      io_uring_prep_fsync(f, fd, IORING_FSYNC_DATASYNC);
      io_uring_submit_and_wait(&ring, 2);
      for (int i = 0; i < 2; ++i) {
        io_uring_cqe* cqe = nullptr;
        io_uring_wait_cqe(&ring, &cqe);
        if (cqe->res < 0) std::fprintf(stderr, "io_uring: %s\n", std::strerror(-cqe->res));
        io_uring_cqe_seen(&ring, cqe);
      }
    } else {
      if (::pwrite(fd, block.data(), 4096, static_cast<off_t>(offset)) != 4096 || ::fdatasync(fd) != 0) break;
    }
    offset += 4096;
    ++n;
  }
  const double rate = static_cast<double>(n) / seconds_since(start);
  if (mode == raw_mode::io_uring_linked) io_uring_queue_exit(&ring);
  ::close(fd);
  ::unlink(path.c_str());
  return rate;
}

struct ingest_result {
  double messages_per_s = 0;
  double cpu_ms_per_1000 = 0;
  double records_per_batch = 0;
  double mean_commit_us = 0;
};

ingest_result ingest(const std::string& base, std::size_t message_bytes, int writers, bool group_commit,
                     bool preallocate, double budget_s) {
  const std::string dir = fresh_dir(base, "ingest");
  store_options o;
  o.data_directory = dir;
  o.cores = 1;
  o.preallocate_segments = preallocate;
  auto opened = message_store::open(o);
  if (!opened) return {};
  auto& s = **opened;
  const account_id acct{1};
  if (!s.create_account(acct, "bench@example.org", 0, 0) || !s.flush_all()) return {};
  const mailbox_id inbox = s.find_mailbox(acct, "INBOX")->id;
  std::vector<std::string> bodies(static_cast<std::size_t>(writers));
  std::uint64_t counter = 0;
  auto next_body = [&](std::string& b) {
    // Distinct content per message (no accidental dedup), cheap to make.
    b.assign(message_bytes, 'x');
    std::memcpy(b.data(), &++counter, sizeof counter);
  };
  std::uint64_t messages = 0;
  const auto before = s.commit_metrics(core_id{0});
  const double cpu0 = cpu_seconds();
  const auto start = clock_type::now();
  std::vector<stored_blob> blobs(static_cast<std::size_t>(writers));
  while (seconds_since(start) < budget_s) {
    for (int w = 0; w < writers; ++w) {
      next_body(bodies[static_cast<std::size_t>(w)]);
      blobs[static_cast<std::size_t>(w)] = *s.store_blob(core_id{0}, bodies[static_cast<std::size_t>(w)]);
      if (!group_commit) (void)s.flush(core_id{0});
    }
    if (group_commit) (void)s.flush(core_id{0});
    for (int w = 0; w < writers; ++w) {
      delivery_request q;
      q.account = acct;
      q.mailbox = inbox;
      q.key = blobs[static_cast<std::size_t>(w)].key;
      q.header_prefix = "Received: from bench\r\n";
      auto d = s.append_delivery(q);
      if (!d) {
        std::fprintf(stderr, "delivery failed: %s\n", to_string(d.error()));
        return {};
      }
      if (!group_commit) (void)s.flush(core_id{0});
    }
    if (group_commit) (void)s.flush(core_id{0});
    messages += static_cast<std::uint64_t>(writers);
  }
  const double elapsed = seconds_since(start);
  const auto& m = s.commit_metrics(core_id{0});
  ingest_result r;
  r.messages_per_s = static_cast<double>(messages) / elapsed;
  r.cpu_ms_per_1000 = (cpu_seconds() - cpu0) * 1000.0 / (static_cast<double>(messages) / 1000.0);
  const double batches = static_cast<double>(m.batches - before.batches);
  r.records_per_batch = static_cast<double>(m.records - before.records) / batches;
  r.mean_commit_us = static_cast<double>(m.latency_sum_us - before.latency_sum_us) / batches;
  opened->reset();
  std::filesystem::remove_all(dir);
  return r;
}

void dedup_throughput(const std::string& base, double budget_s) {
  const std::string dir = fresh_dir(base, "dedup");
  store_options o;
  o.data_directory = dir;
  auto opened = message_store::open(o);
  if (!opened) return;
  auto& s = **opened;
  const std::string body(64 << 10, 'd');
  (void)s.store_blob(core_id{0}, body);
  (void)s.flush_all();
  std::uint64_t n = 0;
  auto start = clock_type::now();
  while (seconds_since(start) < budget_s) {
    auto b = s.store_blob(core_id{0}, body);
    if (!b || !b->deduplicated) return;
    ++n;
    if (n % 256 == 0) (void)s.flush_all();  // chunk garbage goes to disk as in real life
  }
  const double dedup_mb_s = static_cast<double>(n) * body.size() / 1e6 / seconds_since(start);
  n = 0;
  start = clock_type::now();
  while (seconds_since(start) < budget_s / 2) {
    XXH128_hash_t h = XXH3_128bits(body.data(), body.size());
    asm volatile("" : : "r"(h.low64) : "memory");
    ++n;
  }
  const double hash_mb_s = static_cast<double>(n) * body.size() / 1e6 / seconds_since(start);
  std::printf("\ndedup of an existing 64 KiB blob (stream-hash, read back, compare): %.0f MB/s (%.0f blobs/s)\n",
              dedup_mb_s, dedup_mb_s * 1e6 / body.size());
  std::printf("XXH3-128 alone on 64 KiB: %.0f MB/s\n", hash_mb_s);
  opened->reset();
  std::filesystem::remove_all(dir);
}

// ---- 4. compaction stalls ------------------------------------------------------
// One 64 MiB segment of 64 KiB messages, every other one expunged, sealed
// (the log has rolled over) and covered by a checkpoint.
std::unique_ptr<message_store> sparse_64mb_segment(const std::string& dir) {
  store_options o;
  o.data_directory = dir;
  o.segment_size_max = 64u << 20;
  auto opened = message_store::open(o);
  if (!opened) std::abort();
  auto s = std::move(*opened);
  const account_id acct{1};
  if (!s->create_account(acct, "bench@example.org", 0, 0) || !s->flush_all()) std::abort();
  const auto box = s->find_mailbox(acct, "INBOX")->id;
  std::vector<std::uint32_t> expunge;
  std::uint64_t n = 0;
  while (s->commit_metrics(core_id{0}).bytes < (66u << 20)) {
    std::vector<stored_blob> blobs;
    for (int i = 0; i < 32; ++i) {
      std::string body(64u << 10, '\0');
      for (std::size_t k = 0; k < body.size(); k += 8) std::memcpy(&body[k], &n, 8), ++n;
      auto b = s->store_blob(core_id{0}, body);
      if (!b) std::abort();
      blobs.push_back(*b);
    }
    if (!s->flush(core_id{0})) std::abort();
    for (const auto& b : blobs) {
      delivery_request q{acct, box, b.key, "X: 1\r\n", 0, 0, {}, false};
      auto d = s->append_delivery(q);
      if (!d) std::abort();
      if (d->uid % 2) expunge.push_back(d->uid);
    }
    if (!s->flush(core_id{0})) std::abort();
  }
  if (!s->expunge(acct, box, expunge) || !s->checkpoint()) std::abort();
  // Cold victims: the copy reads go to the disk, as they would for an old
  // segment.
  for (const auto seq : std::vector<segment_seq>{segment_seq{1}}) {
    const int fd = ::open((dir + "/segments/" + log::segment_file_name(core_id{0}, seq)).c_str(), O_RDONLY);
    if (fd >= 0) {
      ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
      ::close(fd);
    }
  }
  return s;
}

struct stall_probe {
  bool running = true;
  std::vector<std::uint64_t> gaps_ns;
  bool blocking = false;
  message_store* store = nullptr;
  compactor* comp = nullptr;
  commit_driver* driver = nullptr;
  compaction_report report;
  double seconds = 0;
};

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch()).count());
}

kio::task<void> stall_ticker(stall_probe* p) {
  std::uint64_t last = now_ns();
  while (p->running) {
    co_await kio::nop();
    const std::uint64_t t = now_ns();
    p->gaps_ns.push_back(t - last);
    last = t;
  }
}

kio::task<void> stall_compaction(stall_probe* p) {
  co_await kio::sleep_for(20);  // the ticker's baseline first
  p->gaps_ns.clear();
  const auto start = clock_type::now();
  if (p->blocking) {
    auto r = p->store->compact(core_id{0}, 0.6, 0);
    if (!r) std::abort();
    p->report = *r;
  } else {
    auto r = co_await p->comp->run_once();
    if (!r) std::abort();
    p->report = *r;
    p->driver->stop();
  }
  p->seconds = seconds_since(start);
  p->running = false;
  kio::reactor::current()->request_stop(0);
}

void compaction_stalls(const std::string& base) {
  std::printf("\nreactor stalls while compacting one 64 MiB segment (50%% live, 64 KiB messages, cold cache):\n");
  std::printf("  %-30s %10s %10s %10s %10s %9s %8s\n", "mode", "stall max", "p99", "p99.9", "ticks", "seconds",
              "copied");
  for (bool blocking : {true, false}) {
    const std::string dir = fresh_dir(base, blocking ? "compact-blocking" : "compact-stepped");
    auto s = sparse_64mb_segment(dir);
    kio::reactor_config rc;
    rc.recv_buffer_count = 16;
    rc.recv_buffer_size_bytes = 4096;
    auto r = kio::reactor::create(rc);
    if (!r) std::abort();
    stall_probe p;
    p.blocking = blocking;
    p.store = s.get();
    commit_driver driver(*s, core_id{0});
    compactor_options co;
    co.live_ratio_max = 0.6;
    co.grace_ms = 0;
    if (const char* f = std::getenv("FLUSH_EVERY")) co.flush_every_bytes = std::strtoull(f, nullptr, 10);
    compactor comp(*s, driver, core_id{0}, co);
    p.comp = &comp;
    p.driver = &driver;
    if (!blocking) (*r)->spawn(driver.run());
    (*r)->spawn(stall_ticker(&p));
    (*r)->spawn(stall_compaction(&p));
    (*r)->run();
    auto gaps = p.gaps_ns;
    std::sort(gaps.begin(), gaps.end());
    auto pct = [&](double q) {
      return gaps.empty() ? 0.0 : static_cast<double>(gaps[static_cast<std::size_t>(q * (gaps.size() - 1))]) / 1e6;
    };
    std::printf("  %-30s %8.2fms %8.3fms %8.3fms %10zu %9.2f %6.0fMB\n",
                blocking ? "compact() (one blocking call)" : "compactor (stepped, io_uring)",
                gaps.empty() ? 0.0 : static_cast<double>(gaps.back()) / 1e6, pct(0.99), pct(0.999), gaps.size(),
                p.seconds, static_cast<double>(p.report.bytes_copied) / 1e6);
    if (!blocking)
      std::printf("  %-30s longest compactor step %.2f ms, %llu yields, %llu durable waits\n", "",
                  static_cast<double>(comp.stats().step_ns_max) / 1e6,
                  static_cast<unsigned long long>(comp.stats().yields),
                  static_cast<unsigned long long>(comp.stats().flush_waits));
    if (p.report.segments_removed == 0) std::printf("  (nothing was compacted: the case is void)\n");
    std::fflush(stdout);
    s.reset();
    std::filesystem::remove_all(dir);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string base_root = argc > 1 ? argv[1] : (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
  const double budget = argc > 2 ? std::atof(argv[2]) : 2.0;
  const std::string base = fresh_dir(base_root, "ringmail-store-bench");
  std::printf("store_bench in %s, %.1f s per case\n\n", base.c_str(), budget);
  if (argc > 3 && std::string(argv[3]) == "compaction") {
    compaction_stalls(base);
    std::filesystem::remove_all(base);
    return 0;
  }

  std::printf("raw 4 KiB append + fdatasync (the physical limit):\n");
  const double raw_growing = raw_fdatasync_rate(base, raw_mode::growing, budget);
  const double raw_falloc = raw_fdatasync_rate(base, raw_mode::fallocated, budget);
  const double raw_uring = raw_fdatasync_rate(base, raw_mode::io_uring_linked, budget);
  std::printf("  pwrite+fdatasync, growing file      %8.0f /s\n", raw_growing);
  std::printf("  pwrite+fdatasync, fallocated file   %8.0f /s\n", raw_falloc);
  std::printf("  io_uring linked write+fdatasync     %8.0f /s\n\n", raw_uring);

  std::printf("durable messages/s through message_store (blob commit, then delivery commit):\n");
  std::printf("  %-7s %-8s %-14s %-6s %12s %14s %12s %12s\n", "size", "writers", "mode", "prealloc", "messages/s",
              "cpu ms/1000", "rec/batch", "commit us");
  for (std::size_t size : {std::size_t{4096}, std::size_t{65536}}) {
    for (int writers : {1, 32, 256}) {
      for (bool group : {true, false}) {
        if (!group && writers == 256) continue;  // same curve as 32, minutes longer
        for (bool prealloc : {false, true}) {
          const auto r = ingest(base, size, writers, group, prealloc, budget);
          std::printf("  %-7s %-8d %-14s %-6s %12.0f %14.2f %12.1f %12.0f\n", size == 4096 ? "4KiB" : "64KiB",
                      writers, group ? "group commit" : "fsync/message", prealloc ? "yes" : "no", r.messages_per_s,
                      r.cpu_ms_per_1000, r.records_per_batch, r.mean_commit_us);
          std::fflush(stdout);
        }
      }
    }
  }
  dedup_throughput(base, budget);
  compaction_stalls(base);
  std::filesystem::remove_all(base);
  return 0;
}
