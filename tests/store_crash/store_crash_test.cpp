// Crash test of the store (issue 3).
//
//   store_crash_test sigkill <seed> <rounds>
//     Each round forks a child that opens the store in a shared directory
//     and writes as several concurrent writers would: every writer streams a
//     blob, one group commit makes the blobs durable, then every writer's
//     deliveries (some to several recipients, one blob shared) and flag
//     changes go in the next group commit. After each commit the child
//     reports what it acknowledged over a pipe. The parent SIGKILLs the
//     child at a random moment, then recovers the store and checks:
//       - every acknowledged delivery is there, with exactly the bytes,
//         flags and internal date the child acknowledged;
//       - nothing half-written is visible (no message without its blob, no
//         replay anomaly, UIDs dense below uid_next minus burnt ones);
//       - the index recovered through the checkpoint equals a replay of the
//         whole log from scratch.
//   store_crash_test sigkill_reactor <seed> <rounds>
//     The same checks, with the child on a kernel_io reactor: 48 writer
//     coroutines and one commit_driver per core (linked io_uring
//     write+fdatasync); each delivery is reported after its own co_await.
//   store_crash_test sigkill_compact <seed> <rounds>
//     The reactor child again, plus an expunger (it reports "R account uid"
//     before each expunge, so such a message may be absent but, if present,
//     must be intact) and a compactor pass per core every few milliseconds
//     (store/compactor.h: checkpoint, copy steps through the group commit,
//     retire), so kills land before, during and after copies, checkpoints
//     and unlinks. The parent additionally requires that compaction retired
//     segments in some round ("C" lines) and that no compaction step failed.
//     Every third round's kill clock starts at the child's first retiring
//     pass, so that holds (and kills land inside the passes that follow)
//     however slow the build is (ASan); extra rounds are bounded in count
//     and time.
//     The replay-from-scratch comparison is left out in this mode: segments
//     whose mailbox records live only in the checkpoint are gone by design.
//   store_crash_test fsize <seed> 1
//     The child runs under RLIMIT_FSIZE (150 KiB, below the 256 KiB segment
//     size): writes fail with EFBIG mid-stream.
//     The writer must get a clear error, nothing acknowledged may be lost,
//     and no record reported as failed may appear after recovery.
//   store_crash_test enospc <seed> 1
//     The same on a 1 MiB tmpfs: a real ENOSPC.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "kernel_io/ring/ops.h"
#include "kernel_io/ring/reactor.h"
#include "kernel_io/ring/task.h"
#include "store/commit_driver.h"
#include "store/compactor.h"
#include "store/message_store.h"

using namespace store;

namespace {

constexpr int accounts = 4;

std::string content_of(std::uint64_t id, std::size_t size) {
  // Deterministic bytes, so the parent can check a message it never saw.
  std::string s = "Message-Id: <" + std::to_string(id) + "@crash>\r\n\r\n";
  std::mt19937_64 rng(id);
  while (s.size() < size) s.push_back(static_cast<char>('a' + rng() % 26));
  return s;
}

store_options options_for(const std::string& dir, bool checkpoint = true, bool preallocate = true) {
  store_options o;
  o.preallocate_segments = preallocate;
  o.data_directory = dir;
  o.cores = 2;
  o.segment_size_max = 256u << 10;  // small: roll-overs happen under test
  o.chunk_size_max = 8192;
  o.load_checkpoint = checkpoint;
  return o;
}

// A tmpfs this process mounted: a failing check must not leave it behind.
std::string mounted_path;

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "store_crash_test: FAIL: %s\n", why.c_str());
  if (!mounted_path.empty()) {
    ::umount2(mounted_path.c_str(), MNT_DETACH);
    std::filesystem::remove_all(mounted_path);
  }
  std::exit(1);
}

void say(int fd, const std::string& line) {
  const std::string l = line + "\n";
  // One write per line (< PIPE_BUF): atomic, so a kill never splits a line.
  if (::write(fd, l.data(), l.size()) != static_cast<ssize_t>(l.size())) std::_Exit(3);
}

// The child: writes until killed (sigkill) or until the disk refuses
// (fsize/enospc), reporting acknowledgements on `out`.
[[noreturn]] void child(const std::string& dir, std::uint64_t seed, int out, bool stop_on_error, bool preallocate) {
  auto opened = message_store::open(options_for(dir, true, preallocate));
  if (!opened) {
    say(out, std::string("E open ") + to_string(opened.error()));
    std::_Exit(2);
  }
  auto& s = **opened;
  for (int a = 0; a < accounts; ++a) {
    const account_id id{static_cast<std::uint64_t>(a + 1)};
    if (!s.account(id)) {
      if (!s.create_account(id, "user" + std::to_string(a) + "@example.org", 0, 0)) std::_Exit(2);
    }
  }
  if (!s.flush_all()) std::_Exit(2);
  std::mt19937_64 rng(seed);
  std::uint64_t next_id = seed << 32;
  int failures = 0;
  for (int round = 0;; ++round) {
    const int writers = 1 + static_cast<int>(rng() % 32);
    struct job {
      std::uint64_t id;
      std::size_t size;
      stored_blob blob;
      std::vector<int> recipients;
    };
    std::vector<job> jobs;
    bool failed = false;
    for (int w = 0; w < writers; ++w) {
      job j{next_id++, 200 + static_cast<std::size_t>(rng() % 30000), {}, {}};
      const std::string body = content_of(j.id, j.size);
      auto bw = s.begin_blob(core_id{static_cast<std::uint32_t>(rng() % 2)});
      // Streamed in pieces, the way SMTP hands them over.
      std::string_view rest = body;
      while (!rest.empty() && !failed) {
        const auto n = std::min<std::size_t>(rest.size(), 1 + rng() % 9000);
        auto r = s.append_chunk(bw, rest.substr(0, n));
        if (!r) {
          say(out, std::string("E ") + to_string(r.error()));
          failed = true;
        }
        rest.remove_prefix(n);
      }
      auto fin = failed ? kio::result<stored_blob, errc>(kio::fail(errc::log_failed)) : s.finish_blob(bw);
      if (!fin) {
        if (!failed) say(out, std::string("E ") + to_string(fin.error()));
        failed = true;
        break;
      }
      j.blob = *fin;
      const int n_recipients = 1 + static_cast<int>(rng() % 3);
      for (int r = 0; r < n_recipients; ++r) j.recipients.push_back(static_cast<int>(rng() % accounts));
      jobs.push_back(j);
    }
    // Group commit #1: the blobs.
    if (!failed) {
      for (std::uint32_t c = 0; c < 2; ++c) {
        auto r = s.flush(core_id{c});
        if (!r) {
          say(out, std::string("E ") + to_string(r.error()));
          failed = true;
        }
      }
    }
    if (!failed) {
      // Group commit #2: every delivery of every writer, and a flag change.
      struct ack {
        std::string line;
        store_ticket ticket;
      };
      std::vector<ack> acks;
      for (const auto& j : jobs) {
        if (s.state(j.blob.ticket) != log::ticket_state::durable) die("blob not durable after its flush");
        for (int r : j.recipients) {
          const account_id acct{static_cast<std::uint64_t>(r + 1)};
          delivery_request q;
          q.account = acct;
          q.mailbox = s.find_mailbox(acct, "INBOX")->id;
          q.key = j.blob.key;
          q.header_prefix = "Delivered-To: user" + std::to_string(r) + "@example.org\r\n";
          q.internal_date_ms = static_cast<std::int64_t>(j.id);
          auto d = s.append_delivery(q);
          if (!d) {
            say(out, std::string("E ") + to_string(d.error()));
            failed = true;
            break;
          }
          std::ostringstream l;
          l << "D " << r + 1 << ' ' << d->uid << ' ' << j.id << ' ' << j.size;
          acks.push_back({l.str(), d->ticket});
        }
      }
      {
        const account_id acct{1 + rng() % accounts};
        const auto* box = s.find_mailbox(acct, "INBOX");
        if (box && !box->messages.empty()) {
          const auto uid = std::next(box->messages.begin(), static_cast<long>(rng() % box->messages.size()))->first;
          auto c = s.store_flags(acct, box->id, {uid}, format::flags_op::add, message_flag::flagged);
          if (c && !c->uids.empty())
            acks.push_back({"F " + std::to_string(acct.get()) + " " + std::to_string(uid), c->ticket});
        }
      }
      for (std::uint32_t c = 0; c < 2; ++c) {
        auto r = s.flush(core_id{c});
        if (!r) say(out, std::string("E ") + to_string(r.error()));
      }
      for (const auto& a : acks) {
        errc why{};
        const auto st = s.state(a.ticket, &why);
        if (st == log::ticket_state::durable) say(out, a.line);
        else if (st == log::ticket_state::failed) say(out, "X" + a.line.substr(1));
        else die("ticket still pending after flush");
      }
    }
    if (failed) ++failures;
    if (round % 5 == 4 && !failed) {
      if (!s.checkpoint()) failures++;
    }
    if (stop_on_error && failures >= 3) {
      say(out, "DONE");
      std::_Exit(0);
    }
  }
}

// The reactor flavour of the child: 48 writer coroutines on one reactor,
// each looping blob -> co_await flush -> deliveries -> co_await flush -> ack
// (when every recipient lives on the blob's core, the blob is not flushed
// first: its deliveries join its group commit, as the SMTP path does),
// with one commit_driver per store core (linked io_uring write+fdatasync).
struct reactor_child {
  message_store* store = nullptr;
  std::vector<std::unique_ptr<commit_driver>> drivers;
  std::vector<std::unique_ptr<compactor>> compactors;
  int out = -1;
  std::uint64_t next_id = 0;
};

kio::task<void> reactor_writer(reactor_child* rc, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto& s = *rc->store;
  for (;;) {
    const std::uint64_t id = rc->next_id++;
    const std::size_t size = 200 + static_cast<std::size_t>(rng() % 30000);
    const std::string body = content_of(id, size);
    const core_id core{static_cast<std::uint32_t>(rng() % 2)};
    auto w = s.begin_blob(core);
    if (!s.append_chunk(w, body)) std::_Exit(4);
    auto blob = s.finish_blob(w);
    if (!blob) std::_Exit(4);
    const int recipients = 1 + static_cast<int>(rng() % 3);
    std::vector<int> whom;
    bool same_core = true;  // as SMTP does: then the deliveries share the blob's group commit
    for (int r = 0; r < recipients; ++r) {
      whom.push_back(static_cast<int>(rng() % accounts));
      same_core = same_core && s.owner_of(account_id{static_cast<std::uint64_t>(whom.back() + 1)}) == core;
    }
    if (!same_core && !co_await rc->drivers[core.get()]->flush(blob->ticket)) std::_Exit(4);
    for (const int who : whom) {
      const account_id acct{static_cast<std::uint64_t>(who + 1)};
      delivery_request q;
      q.account = acct;
      q.mailbox = s.find_mailbox(acct, "INBOX")->id;
      q.key = blob->key;
      if (same_core) q.blob_size = blob->size;
      q.header_prefix = "Delivered-To: user" + std::to_string(who) + "@example.org\r\n";
      q.internal_date_ms = static_cast<std::int64_t>(id);
      auto d = s.append_delivery(q);
      if (!d) std::_Exit(4);
      // Every recipient's flush is awaited separately; the driver batches
      // whatever the other writers appended meanwhile.
      if (!co_await rc->drivers[d->ticket.core.get()]->flush(d->ticket)) std::_Exit(4);
      if (same_core && !co_await rc->drivers[core.get()]->flush(blob->ticket)) std::_Exit(4);
      std::ostringstream l;
      l << "D " << who + 1 << ' ' << d->uid << ' ' << id << ' ' << size;
      say(rc->out, l.str());
    }
  }
}

// Expunges three of every four visible messages of one account at a time,
// saying so first (a kill between the expunge and the report must not make
// the parent expect the message).
kio::task<void> expunger(reactor_child* rc) {
  auto& s = *rc->store;
  for (std::uint64_t round = 0;; ++round) {
    co_await kio::sleep_for(3);
    const account_id acct{1 + round % accounts};
    const auto* box = s.find_mailbox(acct, "INBOX");
    std::vector<std::uint32_t> uids;
    for (const auto& [uid, m] : box->messages)
      if (uid % 4 != 0) uids.push_back(uid);
    if (uids.empty()) continue;
    for (auto uid : uids) say(rc->out, "R " + std::to_string(acct.get()) + " " + std::to_string(uid));
    auto e = s.expunge(acct, box->id, uids);
    if (!e) std::_Exit(4);
    if (!co_await rc->drivers[e->ticket.core.get()]->flush(e->ticket)) std::_Exit(4);
  }
}

kio::task<void> compaction_loop(reactor_child* rc) {
  for (std::uint64_t pass = 0;; ++pass) {
    co_await kio::sleep_for(5);
    auto r = co_await rc->compactors[pass % 2]->run_once();
    if (!r) {
      say(rc->out, std::string("E compaction ") + to_string(r.error()));
      std::_Exit(6);
    }
    if (r->segments_removed > 0) say(rc->out, "C " + std::to_string(r->segments_removed));
  }
}

[[noreturn]] void child_on_reactor(const std::string& dir, std::uint64_t seed, int out, bool compact) {
  auto opened = message_store::open(options_for(dir));
  if (!opened) std::_Exit(2);
  auto& s = **opened;
  for (int a = 0; a < accounts; ++a) {
    const account_id id{static_cast<std::uint64_t>(a + 1)};
    if (!s.account(id) && !s.create_account(id, "user" + std::to_string(a) + "@example.org", 0, 0)) std::_Exit(2);
  }
  if (!s.flush_all()) std::_Exit(2);
  kio::reactor_config cfg;
  cfg.recv_buffer_count = 16;
  cfg.recv_buffer_size_bytes = 4096;
  auto r = kio::reactor::create(cfg);
  if (!r) std::_Exit(2);
  reactor_child rc{&s, {}, {}, out, seed << 32};
  for (std::uint32_t c = 0; c < 2; ++c) {
    rc.drivers.push_back(std::make_unique<commit_driver>(s, core_id{c}));
    (*r)->spawn(rc.drivers.back()->run());
  }
  for (int w = 0; w < 48; ++w) (*r)->spawn(reactor_writer(&rc, seed * 100 + static_cast<std::uint64_t>(w)));
  if (compact) {
    compactor_options co;
    co.live_ratio_max = 0.6;
    // Longer than any blob's wait for its flush before its delivery is
    // appended, even on a loaded disk.
    co.grace_ms = 1500;
    co.step_bytes = 32u << 10;
    co.flush_every_bytes = 256u << 10;
    for (std::uint32_t c = 0; c < 2; ++c)
      rc.compactors.push_back(std::make_unique<compactor>(s, *rc.drivers[c], core_id{c}, co));
    (*r)->spawn(expunger(&rc));
    (*r)->spawn(compaction_loop(&rc));
  }
  (*r)->run();  // until SIGKILL
  std::_Exit(5);
}

struct expected_message {
  std::uint64_t id = 0;
  std::size_t size = 0;
  bool flagged = false;
};

struct verifier {
  std::map<std::pair<std::uint64_t, std::uint32_t>, expected_message> acked;  // (account, uid)
  std::set<std::pair<std::uint64_t, std::uint32_t>> failed;
  std::set<std::pair<std::uint64_t, std::uint32_t>> removed;  // expunge announced: may be absent
  std::uint64_t segments_compacted = 0;
  bool from_scratch_comparable = true;
  std::vector<std::string> errors;

  void take(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream l(line);
      std::string kind;
      l >> kind;
      if (kind == "D") {
        std::uint64_t a, id;
        std::uint32_t uid;
        std::size_t size;
        l >> a >> uid >> id >> size;
        if (acked.count({a, uid})) die("uid acknowledged twice: " + line);
        // An expunge may be announced before the delivery's report arrives.
        if (!removed.count({a, uid})) acked[{a, uid}] = {id, size, false};
      } else if (kind == "R") {
        std::uint64_t a;
        std::uint32_t uid;
        l >> a >> uid;
        removed.insert({a, uid});
        acked.erase({a, uid});
      } else if (kind == "C") {
        std::uint64_t n;
        l >> n;
        segments_compacted += n;
      } else if (kind == "F") {
        std::uint64_t a;
        std::uint32_t uid;
        l >> a >> uid;
        // The child may flag a message whose delivery it made durable but
        // was killed before reporting; only acknowledged ones are checked.
        if (auto it = acked.find({a, uid}); it != acked.end()) it->second.flagged = true;
      } else if (kind == "X") {
        std::uint64_t a, id;
        std::uint32_t uid;
        l >> a >> uid >> id;
        failed.insert({a, uid});
      } else if (kind == "E") {
        errors.push_back(line);
      }
    }
  }

  void check(const std::string& dir) {
    auto opened = message_store::open(options_for(dir, true, false));
    if (!opened) die("recovery failed: " + std::string(to_string(opened.error())));
    auto& s = **opened;
    for (const auto& l : s.recovery().lines)
      if (l.find("missing") != std::string::npos || l.find("anomaly") != std::string::npos) die("recovery: " + l);
    std::size_t present = 0;
    for (const auto& [where, m] : acked) {
      const account_id acct{where.first};
      const auto* box = s.find_mailbox(acct, "INBOX");
      if (!box || !box->messages.count(where.second))
        die("acknowledged message lost: account " + std::to_string(where.first) + " uid " + std::to_string(where.second));
      const auto& e = box->messages.at(where.second);
      auto bytes = s.read_message(acct, box->id, where.second);
      const std::string want =
          "Delivered-To: user" + std::to_string(where.first - 1) + "@example.org\r\n" + content_of(m.id, m.size);
      if (!bytes || *bytes != want) die("acknowledged message damaged: uid " + std::to_string(where.second));
      if (e.internal_date_ms != static_cast<std::int64_t>(m.id)) die("internal date differs");
      if (m.flagged && !(e.flags & message_flag::flagged)) die("acknowledged flag change lost");
      ++present;
    }
    for (const auto& where : failed) {
      const auto* box = s.find_mailbox(account_id{where.first}, "INBOX");
      if (box && box->messages.count(where.second))
        die("a delivery reported as failed is visible after recovery: uid " + std::to_string(where.second));
    }
    // Visible state never runs ahead of the log: every message's blob is
    // readable (checked above for acked ones; here for all).
    for (std::uint32_t c = 0; c < 2; ++c)
      for (const auto& [id, a] : s.index(core_id{c}).accounts())
        for (const auto& [mid, box] : a.mailboxes)
          for (const auto& [uid, m] : box.messages) {
            if (uid >= box.uid_next) die("uid at or above uid_next");
            if (!s.read_message(a.id, box.id, uid)) die("visible message without readable bytes");
          }
    const std::string through_checkpoint = s.index(core_id{0}).dump() + s.index(core_id{1}).dump();
    const bool used = s.recovery().checkpoint_used;
    opened->reset();
    if (!from_scratch_comparable) {
      std::printf("  recovered: %zu acknowledged messages intact, %llu segments compacted so far\n", present,
                  static_cast<unsigned long long>(segments_compacted));
      return;
    }
    auto scratch = message_store::open(options_for(dir, false, false));
    if (!scratch) die("replay from scratch failed");
    const std::string from_scratch = (*scratch)->index(core_id{0}).dump() + (*scratch)->index(core_id{1}).dump();
    if (through_checkpoint != from_scratch) die("index through checkpoint differs from a replay from scratch");
    std::printf("  recovered: %zu acknowledged messages intact, %zu failed ones absent, checkpoint %s\n", present,
                failed.size(), used ? "used" : "absent");
  }
};

// When the kill clock starts: at the fork; at the child's first
// acknowledgement; or (compaction mode) once the child reported a pass that
// retired segments ("C"), so compaction is known to be running and the kill
// lands in one of the passes that follow back to back (checkpoint, copies,
// retire, unlinks) however slow the build: under ASan a child could spend a
// whole fixed window recovering and never get a pass done.
enum class kill_clock { from_start, from_first_ack, from_compaction };

// How long a child may take to report its first retiring pass before it is
// killed anyway (the round then counts as an ordinary one).
constexpr int compaction_wait_ms_max = 30'000;

std::string run_child(const std::string& dir, std::uint64_t seed, int kill_after_ms, rlim_t fsize_limit,
                      bool on_reactor = false, bool compact = false, kill_clock clock = kill_clock::from_start) {
  int fds[2];
  if (::pipe(fds) != 0) die("pipe");
  const pid_t pid = ::fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    ::close(fds[0]);
    if (fsize_limit) {
      // EFBIG instead of a SIGXFSZ death: the writer must see the error.
      ::signal(SIGXFSZ, SIG_IGN);
      rlimit rl{fsize_limit, fsize_limit};
      ::setrlimit(RLIMIT_FSIZE, &rl);
    }
    if (on_reactor) child_on_reactor(dir, seed, fds[1], compact);
    // Under RLIMIT_FSIZE, segments grow by writes (no fallocate), so the
    // limit hits in the middle of a batch, the harder case.
    child(dir, seed, fds[1], kill_after_ms < 0, fsize_limit == 0);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  if (kill_after_ms >= 0) {
    // The clock starts at the child's first acknowledgement when asked:
    // a slow build (ASan, a loaded machine) may need longer than the whole
    // kill window just to recover and write its first batch.
    if (clock == kill_clock::from_first_ack) {
      for (;;) {
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n > 0) text.append(buf, static_cast<std::size_t>(n));
        break;
      }
    } else if (clock == kill_clock::from_compaction) {
      // Read what the child says until a "C" line is in, bounded in time.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(compaction_wait_ms_max);
      auto compacted = [&] { return text.rfind("C ", 0) == 0 || text.find("\nC ") != std::string::npos; };
      while (!compacted() && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fds[0], POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // the child is gone
        text.append(buf, static_cast<std::size_t>(n));
      }
    }
    ::usleep(static_cast<useconds_t>(kill_after_ms) * 1000);
    ::kill(pid, SIGKILL);
  }
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (kill_after_ms < 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) die("child failed: " + text);
  return text;
}

std::string make_temp_dir() {
  std::string tmpl = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + std::string("/ringmail-crash-XXXXXX");
  return ::mkdtemp(tmpl.data());
}

int sigkill_mode(std::uint64_t seed, int rounds, bool on_reactor, bool compact = false) {
  const std::string dir = make_temp_dir();
  std::mt19937_64 rng(seed);
  verifier v;
  v.from_scratch_comparable = !compact;
  // With compaction, every third round's kill clock starts at the child's
  // first retiring pass (kill_clock::from_compaction), so retiring is proven
  // and kills land inside later passes whatever the build's speed. Should
  // no pass have retired anything after `rounds` rounds, more follow, bounded
  // by count (three times as many) and by time.
  const int rounds_max = compact ? 3 * rounds : rounds;
  const auto extra_rounds_until = std::chrono::steady_clock::now() + std::chrono::seconds(200);
  for (int round = 0; round < rounds_max; ++round) {
    if (round >= rounds && (v.segments_compacted > 0 || std::chrono::steady_clock::now() > extra_rounds_until)) break;
    // With compaction, longer lives: a pass needs segments past the grace
    // period, which only a few rounds of history provide. After a retiring
    // pass, a short wait: passes follow each other every few milliseconds.
    const bool after_compaction = compact && round % 3 == 2;
    const int kill_ms = after_compaction ? static_cast<int>(rng() % 300)
                        : compact        ? 100 + static_cast<int>(rng() % 700)
                                         : 5 + static_cast<int>(rng() % 400);
    // Every third round counts from the start, so some kills land in
    // start-up and recovery; the others count from the first acknowledgement
    // (or, with compaction, every third from the first retiring pass).
    const auto clock = round % 3 == 0 ? kill_clock::from_start
                       : after_compaction ? kill_clock::from_compaction
                                          : kill_clock::from_first_ack;
    const std::string text =
        run_child(dir, seed * 1000 + static_cast<std::uint64_t>(round) + 1, kill_ms, 0, on_reactor, compact, clock);
    v.take(text);
    if (compact && !v.errors.empty()) die("child reported: " + v.errors.front());
    std::printf("round %d: killed after %d ms%s, %zu acknowledged so far\n", round, kill_ms,
                clock == kill_clock::from_compaction ? " past a retiring pass" : "", v.acked.size());
    v.check(dir);
  }
  std::filesystem::remove_all(dir);
  if (v.acked.empty()) die("no record was acknowledged: the test proved nothing");
  if (compact && v.segments_compacted == 0) die("compaction never retired a segment: the test proved nothing");
  std::printf("PASS\n");
  return 0;
}

int full_disk_mode(std::uint64_t seed, bool tmpfs) {
  const std::string dir = make_temp_dir();
  std::string data = dir;
  if (tmpfs) {
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=1m") != 0) {
      std::printf("SKIP: cannot mount a tmpfs (%s)\n", std::strerror(errno));
      std::filesystem::remove_all(dir);
      return 77;
    }
    mounted_path = dir;
  }
  verifier v;
  const std::string text = run_child(data, seed, -1, tmpfs ? 0 : 150u << 10);
  v.take(text);
  bool clear = false;
  for (const auto& e : v.errors)
    clear = clear || e.find(tmpfs ? "no space" : "too large") != std::string::npos;
  std::printf("%zu acknowledged, %zu failed, errors: %s\n", v.acked.size(), v.failed.size(),
              v.errors.empty() ? "(none)" : v.errors.front().c_str());
  if (!clear) die("the writer did not get a clear disk-full error");
  if (v.acked.empty()) die("nothing acknowledged before the disk filled: the test proved nothing");
  if (tmpfs) {
    // Recovery must work on the full disk too (it only truncates).
    v.check(data);
    ::umount2(dir.c_str(), MNT_DETACH);
    mounted_path.clear();
  } else {
    v.check(data);
  }
  std::filesystem::remove_all(dir);
  std::printf("PASS\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: store_crash_test sigkill|sigkill_reactor|sigkill_compact|fsize|enospc <seed> <rounds>\n");
    return 2;
  }
  const std::string mode = argv[1];
  const auto seed = std::strtoull(argv[2], nullptr, 10);
  const int rounds = std::atoi(argv[3]);
  if (mode == "sigkill") return sigkill_mode(seed, rounds, false);
  if (mode == "sigkill_reactor") return sigkill_mode(seed, rounds, true);
  if (mode == "sigkill_compact") return sigkill_mode(seed, rounds, true, true);
  if (mode == "fsize") return full_disk_mode(seed, false);
  if (mode == "enospc") return full_disk_mode(seed, true);
  return 2;
}
