#include "store/compactor.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <span>
#include <unordered_set>

#include "kernel_io/base/assert.h"
#include "kernel_io/ring/ops.h"
#include "kernel_io/shard/cross_core.h"

namespace store {
namespace {

std::uint64_t steady_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

}  // namespace

compactor::compactor(message_store& store, commit_driver& driver, core_id core, compactor_options options,
                     kio::runtime* runtime)
    : _store(store), _driver(driver), _core(core), _options(options), _runtime(runtime) {
  _directory_fd = ::open(store.options().data_directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  RM_ASSERT_MSG(_directory_fd >= 0, "the data directory opened by message_store::open is gone");
  _segments_fd = ::open((store.options().data_directory + "/segments").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  RM_ASSERT_MSG(_segments_fd >= 0, "the segments directory opened by message_store::open is gone");
}

compactor::~compactor() {
  if (_directory_fd >= 0) ::close(_directory_fd);
  if (_segments_fd >= 0) ::close(_segments_fd);
}

kio::task<kio::result<void, errc>> compactor::write_checkpoint() {
  // Another core's compactor is writing one: its positions will do (they
  // cover what is sealed now or soon; begin_compaction checks them).
  if (!_store.try_begin_checkpoint()) co_return kio::result<void, errc>{};
  struct done_guard {
    message_store& s;
    ~done_guard() { s.end_checkpoint(); }
  } guard{_store};
  std::vector<std::pair<segment_seq, std::uint64_t>> positions;
  std::string image;
  if (!_runtime) {
    image = _store.checkpoint_image(positions);
  } else {
    // Each core serializes its own shard; the parts come back here.
    std::vector<message_store::checkpoint_part> parts;
    for (unsigned c = 0; c < _runtime->cores(); ++c) {
      message_store* st = &_store;
      core_id id{c};
      if (c == _core.get()) {
        parts.push_back(st->checkpoint_part_of(id));
      } else {
        auto part = co_await kio::run_on(_runtime->core(c), [st, id] { return st->checkpoint_part_of(id); });
        parts.push_back(std::move(part));
      }
      positions.push_back(parts.back().position);
    }
    image = _store.checkpoint_image_from(parts);
  }
  const std::string path = _store.options().data_directory + "/checkpoint";
  const std::string temp = path + ".tmp";
  // open and rename are metadata operations without a sync: short. The
  // data and the directory are made durable through the ring.
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) co_return kio::fail(errc_from_errno(errno));
  std::size_t done = 0;
  int cancelled = 0;
  while (done < image.size()) {
    auto r = co_await kio::write_then_fdatasync(
        fd, std::as_bytes(std::span(image.data() + done, image.size() - done)), done);
    if (!r) {
      // A short write cancels the linked fdatasync; write the rest again.
      if (r.error().code == ECANCELED && ++cancelled < 4) continue;
      ::close(fd);
      co_return kio::fail(errc_from_errno(r.error().code));
    }
    if (*r == 0) {
      ::close(fd);
      co_return kio::fail(errc::no_space);
    }
    done += *r;
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) co_return kio::fail(errc_from_errno(errno));
  auto synced = co_await kio::fsync(_directory_fd);
  if (!synced) co_return kio::fail(errc_from_errno(synced.error().code));
  // Only now may compaction rely on it.
  if (!_runtime) {
    _store.checkpoint_written(std::move(positions));
  } else {
    for (unsigned c = 0; c < _runtime->cores(); ++c) {
      message_store* st = &_store;
      core_id id{c};
      auto at = positions[c];
      if (c == _core.get()) st->checkpoint_written_on(id, at);
      else co_await kio::run_on(_runtime->core(c), [st, id, at] { st->checkpoint_written_on(id, at); });
    }
  }
  co_return kio::result<void, errc>{};
}

kio::task<kio::result<compaction_report, errc>> compactor::run_once() {
  ++_stats.passes;
  if (_options.checkpoint_first) {
    auto r = co_await write_checkpoint();
    if (!r) co_return kio::fail(r.error());
  }
  std::uint64_t since = steady_ns();
  auto suspended = [&] {
    const std::uint64_t now = steady_ns();
    _stats.step_ns_max = std::max(_stats.step_ns_max, now - since);
    return now;
  };
  std::unique_ptr<compaction_job> job;
  if (!_runtime) {
    job = _store.begin_compaction(_core, _options.live_ratio_max, _options.grace_ms);
  } else {
    // What the other cores' shards reference of this core's blobs, asked on
    // their cores (begin_compaction explains why a snapshot suffices).
    std::unordered_set<blob_key, blob_key_hash> elsewhere;
    for (unsigned c = 0; c < _runtime->cores(); ++c) {
      if (c == _core.get()) continue;
      message_store* st = &_store;
      core_id id{c}, mine = _core;
      auto keys = co_await kio::run_on(_runtime->core(c), [st, id, mine] { return st->blob_references_of(id, mine); });
      elsewhere.insert(keys.begin(), keys.end());
    }
    since = steady_ns();
    job = _store.begin_compaction(_core, _options.live_ratio_max, _options.grace_ms, &elsewhere);
  }
  if (!job) co_return compaction_report{};
  std::string piece;
  std::uint64_t since_yield = 0, since_flush = 0;
  while (auto p = _store.compaction_next(*job)) {
    piece.resize(p->length);
    std::size_t done = 0;
    suspended();
    while (done < piece.size()) {
      auto n = co_await kio::read_at(p->fd, std::as_writable_bytes(std::span(piece.data() + done, piece.size() - done)),
                                     p->offset + done);
      if (!n) co_return kio::fail(errc_from_errno(n.error().code));
      // A sealed segment's durable bytes are all there; EOF means damage.
      if (*n == 0) co_return kio::fail(errc::corrupt);
      done += *n;
    }
    since = steady_ns();
    auto c = _store.compaction_copy(*job, piece);
    if (!c) co_return kio::fail(c.error());
    since_yield += piece.size();
    since_flush += piece.size();
    if (since_flush >= _options.flush_every_bytes && job->report().blobs_copied > 0) {
      suspended();
      ++_stats.flush_waits;
      auto f = co_await _driver.flush(job->last_ticket());
      if (!f) co_return kio::fail(f.error());
      since = steady_ns();
      since_flush = since_yield = 0;
    } else if (since_yield >= _options.step_bytes) {
      suspended();
      ++_stats.yields;
      co_await kio::nop();
      since = steady_ns();
      since_yield = 0;
    }
  }
  suspended();
  if (job->report().blobs_copied > 0) {
    ++_stats.flush_waits;
    auto f = co_await _driver.flush(job->last_ticket());
    if (!f) co_return kio::fail(f.error());
  }
  since = steady_ns();
  std::vector<std::string> unlink;
  auto finished = _store.finish_compaction(*job, &unlink);
  if (!finished) co_return kio::fail(finished.error());
  // The flush above covered the last copy, hence every copy.
  RM_ASSERT(*finished);
  suspended();
  for (const auto& path : unlink) {
    auto u = co_await kio::make_op([p = path.c_str()](io_uring_sqe* s) { io_uring_prep_unlinkat(s, AT_FDCWD, p, 0); });
    // Already gone is fine (a retry after a crash); anything else is said.
    if (!u && u.error().code != ENOENT) co_return kio::fail(errc_from_errno(u.error().code));
  }
  if (!unlink.empty()) {
    auto synced = co_await kio::fsync(_segments_fd);
    if (!synced) co_return kio::fail(errc_from_errno(synced.error().code));
  }
  since = steady_ns();
  compaction_report out = job->report();
  co_return out;
}

}  // namespace store
