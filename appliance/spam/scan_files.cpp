#include "appliance/spam/scan_files.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <mutex>
#include <string_view>
#include <thread>

#include "appliance/spam/message_files.h"
#include "filter/classifier/features.h"

namespace appliance {

namespace {

// "\t<probability %.6f>\t<level %.2f>": to_chars rounds exactly as printf
// does, at a tenth of snprintf's cost (which was ~1% of scoring a file).
std::string_view score_columns(char (&line)[64], const filter::spam_score& score) {
  char* at = line;
  char* end = line + sizeof line;
  *at++ = '\t';
  at = std::to_chars(at, end, score.probability, std::chars_format::fixed, 6).ptr;
  *at++ = '\t';
  // The level is at most filter::spam_level_max (6 digits before the point).
  at = std::to_chars(at, end, score.level, std::chars_format::fixed, filter::spam_level_decimals).ptr;
  return std::string_view(line, static_cast<std::size_t>(at - line));
}

}  // namespace

unsigned thread_count(unsigned requested, std::size_t work) {
  unsigned n = requested != 0 ? requested : std::max(1u, std::thread::hardware_concurrency());
  return static_cast<unsigned>(std::min<std::size_t>(n, std::max<std::size_t>(work, 1)));
}

std::size_t tokenize_files(const std::vector<std::string>& paths, unsigned threads,
                           const filter::tokenizer_options& options, const message_features_sink& on_message) {
  std::atomic<std::size_t> next{0}, failures{0};
  std::mutex error_lock;
  std::size_t not_messages = 0, first_not_message = 0;  // under error_lock
  auto work = [&](unsigned t) {
    filter::feature_scanner scanner(options);  // reused: no allocation per message
    message_file_reader reader;                 // likewise
    while (true) {
      std::size_t i = next.fetch_add(1);
      if (i >= paths.size()) return;
      auto data = reader.read(paths[i], training_file_size_max);
      if (!data) {
        ++failures;
        std::lock_guard lock(error_lock);
        std::fprintf(stderr, "ringmail: spam train: %s\n", data.error().c_str());
        continue;
      }
      if (!looks_like_message(*data)) {
        std::lock_guard lock(error_lock);
        if (not_messages++ == 0 || i < first_not_message) first_not_message = i;
        continue;
      }
      for_each_message(*data, [&](std::string_view message) {
        scanner.start();
        scanner.feed(message);
        scanner.finish();
        on_message(t, i, scanner.unique());
      });
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
  if (not_messages > 0)
    std::fprintf(stderr,
                 "ringmail: spam train: skipped %zu file(s) that are not messages (the first line is neither a "
                 "header field nor an mbox \"From \" line), e.g. %s\n",
                 not_messages, paths[first_not_message].c_str());
  return failures.load();
}

int score_files(const std::vector<std::string>& files, unsigned requested_threads,
                const filter::tokenizer_options& options, const features_scorer& score) {
  std::vector<std::string> lines(files.size());
  std::atomic<std::size_t> next{0}, failures{0};
  auto work = [&] {
    filter::feature_scanner scanner(options);  // reused: no allocation per message
    std::vector<double> scratch;
    message_file_reader reader;
    char line[64];
    while (true) {
      std::size_t i = next.fetch_add(1);
      if (i >= files.size()) return;
      auto data = reader.read(files[i], message_file_size_max);
      if (!data) {
        ++failures;
        lines[i] = "error: " + data.error();
        continue;
      }
      scanner.start();
      scanner.feed(*data);
      scanner.finish();
      // The whole output line in one allocation (the path copied, then
      // the columns appended, had grown it a second time).
      std::string_view columns = score_columns(line, score(scanner.unique(), scratch));
      std::string& out = lines[i];
      out.reserve(files[i].size() + columns.size() + 1);
      out.append(files[i]).append(columns).push_back('\n');
    }
  };
  unsigned threads = thread_count(requested_threads, files.size());
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  for (const auto& l : lines) {
    if (l.starts_with("error: ")) {
      std::fprintf(stderr, "ringmail: spam score: %s\n", l.c_str() + 7);
    } else {
      std::fwrite(l.data(), 1, l.size(), stdout);
    }
  }
  return failures.load() == 0 ? 0 : 2;
}

}  // namespace appliance
