// inline_cost: what scoring one message costs the way the daemon's inline
// filter does it, and what makes that differ from `ringmail spam score`.
//
// The inline filter (appliance/spam/inline_filter) reuses one warm
// filter::feature_scanner, feeds it the message in the pieces the SMTP
// session hands to the store (one per receive buffer: 16 KB at most), then
// classifies the unique hashes against the global token store. Between two
// messages the daemon runs its SMTP, store and kernel work, which can evict
// the tokenizer's tables, the feature set and the token store from the
// caches. This bench runs the same objects over a corpus, with
//
//   whole        each message fed at once, back to back (what the CLI does)
//   chunk=N      fed in pieces of N bytes (N = 16384: the receive buffers)
//   evict=KB     between messages, KB of other memory is written and read
//                (it is not timed), standing in for the daemon's other work
//   reset-after  the scanner is reset (feature set cleared, parser reset)
//                right after the verdict, while warm, instead of before the
//                next message (timed either way)
//
// and two floors, the physical limit beside the filter's figures:
//
//   floor: read bytes     every byte of the message read once (a sum): what
//                         any filter that looks at the whole message pays
//   floor: split+hash+classify  the message split at ASCII blanks, each
//                         piece hashed (XXH3-64) into the same feature set
//                         and the set classified against the same store: the
//                         least a Bayesian filter over this store does, with
//                         no MIME, no decoding, no HTML, no header prefixes,
//                         no URL or number rules
//
// and prints, per mode, the filter's CPU microseconds per message (this
// thread's CPU clock around each message, so time preempted does not count;
// the minimum and the median over the passes; each pass is every message once, modes
// interleaved pass by pass so drift on a shared machine hits all of them).
//
// Usage: inline_cost --token-store FILE [--passes 9] [--chunks 16384,4096,1024]
//                    [--evict-kb 1024,4096] FILE|DIR...
// (smtp_ingest.py's corpus: easy-ham-2 and spam-2 with CRLF line ends.)

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "filter/classifier/classifier.h"
#include "filter/classifier/features.h"
#include "filter/classifier/token_store.h"

#include <xxhash.h>

namespace {

namespace fs = std::filesystem;

enum class work : std::uint8_t { scanner, read_bytes, split_hash_classify };

struct mode {
  std::string name;
  std::size_t chunk = 0;     // 0: whole message
  std::size_t evict_kb = 0;  // 0: none
  bool reset_after = false;  // the scanner is reset right after the verdict (warm), not before the next message
  work kind = work::scanner;
  std::vector<double> pass_us_per_message;
  std::vector<double> pass_classify_us;  // of which classify()
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::size_t> parse_list(const char* text) {
  std::vector<std::size_t> out;
  std::stringstream s(text);
  std::string item;
  while (std::getline(s, item, ','))
    if (!item.empty()) out.push_back(std::strtoull(item.c_str(), nullptr, 10));
  return out;
}

// Writes then reads `buffer` a cache line at a time: what the daemon's other
// work between two messages does to the caches, roughly.
std::uint64_t evict(std::span<std::uint64_t> buffer, std::uint64_t salt) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < buffer.size(); i += 8) buffer[i] += salt;
  for (std::size_t i = 0; i < buffer.size(); i += 8) sum += buffer[i];
  return sum;
}

// This thread's CPU time: a message's work without the time the thread
// spent preempted (2 cores shared with other jobs).
std::chrono::nanoseconds thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// Every byte once: the compiler vectorizes the sum.
std::uint64_t byte_sum(std::string_view bytes) {
  std::uint64_t sum = 0;
  for (unsigned char c : bytes) sum += c;
  return sum;
}

// The floor's tokens: runs of bytes above ' ', hashed, in batches.
void split_and_hash(std::string_view bytes, filter::feature_collector& features) {
  std::uint64_t batch[64];
  std::size_t n = 0;
  std::size_t i = 0;
  while (i < bytes.size()) {
    while (i < bytes.size() && static_cast<unsigned char>(bytes[i]) <= ' ') ++i;
    std::size_t start = i;
    while (i < bytes.size() && static_cast<unsigned char>(bytes[i]) > ' ') ++i;
    if (i == start) break;
    batch[n++] = XXH3_64bits(bytes.data() + start, i - start);
    if (n == std::size(batch)) {
      features.on_hashes({batch, n});
      n = 0;
    }
  }
  if (n > 0) features.on_hashes({batch, n});
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  std::size_t n = xs.size();
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string store_path;
  std::size_t passes = 9;
  std::vector<std::size_t> chunks{16384, 4096, 1024};
  std::vector<std::size_t> evictions{1024, 4096};
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--token-store" && i + 1 < argc) store_path = argv[++i];
    else if (a == "--passes" && i + 1 < argc) passes = std::max<std::size_t>(1, std::strtoull(argv[++i], nullptr, 10));
    else if (a == "--chunks" && i + 1 < argc) chunks = parse_list(argv[++i]);
    else if (a == "--evict-kb" && i + 1 < argc) evictions = parse_list(argv[++i]);
    else if (a.starts_with("--")) {
      std::fprintf(stderr, "usage: inline_cost --token-store FILE [--passes N] [--chunks N,...] [--evict-kb KB,...] FILE|DIR...\n");
      return 2;
    } else inputs.emplace_back(a);
  }
  if (store_path.empty() || inputs.empty()) {
    std::fprintf(stderr, "inline_cost: --token-store FILE and at least one message file or directory\n");
    return 2;
  }
  auto parsed = filter::token_store::parse(read_file(store_path));
  if (!parsed) {
    std::fprintf(stderr, "inline_cost: %s is not a token store\n", store_path.c_str());
    return 1;
  }
  const filter::token_store store = std::move(*parsed);

  std::vector<std::string> messages;
  std::size_t bytes = 0;
  for (const auto& in : inputs) {
    std::vector<std::string> paths;
    if (fs::is_directory(in)) {
      for (const auto& e : fs::directory_iterator(in))
        if (e.is_regular_file()) paths.push_back(e.path().string());
      std::sort(paths.begin(), paths.end());
    } else {
      paths.push_back(in);
    }
    for (const auto& p : paths) {
      messages.push_back(read_file(p));
      bytes += messages.back().size();
    }
  }
  if (messages.empty()) {
    std::fprintf(stderr, "inline_cost: no messages\n");
    return 1;
  }

  filter::tokenizer_options options;
  options.bigrams = (store.feature_flags() & filter::token_store::feature_bigrams) != 0;
  options.case_tokens = (store.feature_flags() & filter::token_store::feature_case) != 0;
  filter::feature_scanner scanner(options);
  filter::feature_collector floor_features;
  std::vector<double> scratch;
  const filter::classifier_options classifier;

  std::vector<mode> modes;
  modes.push_back({"whole", 0, 0, false, work::scanner, {}, {}});
  for (std::size_t c : chunks) modes.push_back({"chunk=" + std::to_string(c), c, 0, false, work::scanner, {}, {}});
  for (std::size_t e : evictions) {
    std::string evicted = " evict=" + std::to_string(e) + "KB";
    modes.push_back({"whole" + evicted, 0, e, false, work::scanner, {}, {}});
    modes.push_back({"whole" + evicted + " reset-after", 0, e, true, work::scanner, {}, {}});
    if (!chunks.empty())
      modes.push_back(
          {"chunk=" + std::to_string(chunks.front()) + evicted, chunks.front(), e, false, work::scanner, {}, {}});
  }
  modes.push_back({"floor: read bytes", 0, 0, false, work::read_bytes, {}, {}});
  modes.push_back({"floor: split+hash+classify", 0, 0, false, work::split_hash_classify, {}, {}});
  std::size_t evict_max = 0;
  for (const auto& m : modes) evict_max = std::max(evict_max, m.evict_kb);
  std::vector<std::uint64_t> other(evict_max * 1024 / sizeof(std::uint64_t) + 8, 1);

  std::uint64_t checksum = 0;  // keeps the work observable
  std::uint64_t unique_tokens = 0, clues = 0;  // of the first pass over the messages
  for (std::size_t pass = 0; pass <= passes; ++pass) {  // pass 0 warms up, not counted
    for (auto& m : modes) {
      std::span<std::uint64_t> area(other.data(), m.evict_kb * 1024 / sizeof(std::uint64_t));
      std::chrono::nanoseconds spent{}, classifying{};
      for (const auto& message : messages) {
        if (!area.empty()) checksum += evict(area, checksum) & 1;
        if (m.kind != work::scanner) {
          auto t0 = thread_cpu();
          if (m.kind == work::read_bytes) {
            checksum += byte_sum(message) & 1;
            spent += thread_cpu() - t0;
            continue;
          }
          floor_features.clear();
          split_and_hash(message, floor_features);
          auto t1 = thread_cpu();
          checksum += filter::classify(floor_features.unique(), store, nullptr, classifier, scratch).clues;
          auto t2 = thread_cpu();
          spent += t2 - t0;
          classifying += t2 - t1;
          continue;
        }
        auto t0 = thread_cpu();
        if (!m.reset_after) scanner.start();
        std::string_view rest = message;
        if (m.chunk == 0) {
          scanner.feed(rest);
        } else {
          while (!rest.empty()) {
            std::size_t n = std::min(rest.size(), m.chunk);
            scanner.feed(rest.substr(0, n));
            rest.remove_prefix(n);
          }
        }
        scanner.finish();
        auto t1 = thread_cpu();
        filter::spam_score score = filter::classify(scanner.unique(), store, nullptr, classifier, scratch);
        auto t2 = thread_cpu();
        if (m.reset_after) scanner.start();
        spent += thread_cpu() - t0;
        classifying += t2 - t1;
        checksum += score.clues;
        if (pass == 0 && &m == &modes.front()) {
          unique_tokens += scanner.unique().size();
          clues += score.clues;
        }
      }
      if (pass > 0) {
        double n = static_cast<double>(messages.size());
        m.pass_us_per_message.push_back(std::chrono::duration<double, std::micro>(spent).count() / n);
        m.pass_classify_us.push_back(std::chrono::duration<double, std::micro>(classifying).count() / n);
      }
    }
  }

  double n = static_cast<double>(messages.size());
  std::printf("%zu messages, %.1f MB (mean %.1f KB, %.0f unique tokens, %.0f clues); store: %zu tokens (%.1f MB); "
              "%zu passes (checksum %llu)\n",
              messages.size(), static_cast<double>(bytes) / 1e6, static_cast<double>(bytes) / 1e3 / n,
              static_cast<double>(unique_tokens) / n, static_cast<double>(clues) / n, store.token_count(),
              static_cast<double>(store.memory_bytes()) / 1e6, passes, static_cast<unsigned long long>(checksum));
  std::printf("| mode | µs/msg min | µs/msg median | min vs whole | classify() µs/msg min |\n|---|---:|---:|---:|---:|\n");
  double whole_min = *std::min_element(modes[0].pass_us_per_message.begin(), modes[0].pass_us_per_message.end());
  for (const auto& m : modes) {
    double lo = *std::min_element(m.pass_us_per_message.begin(), m.pass_us_per_message.end());
    double classify_lo = *std::min_element(m.pass_classify_us.begin(), m.pass_classify_us.end());
    std::printf("| %s | %.2f | %.2f | %+.1f%% | %.2f |\n", m.name.c_str(), lo, median(m.pass_us_per_message),
                100.0 * (lo / whole_min - 1.0), classify_lo);
  }
  return 0;
}
