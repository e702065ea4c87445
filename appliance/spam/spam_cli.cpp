#include "appliance/spam/spam_cli.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "appliance/spam/message_files.h"
#include "appliance/spam/token_store_file.h"
#include "filter/classifier/classifier.h"
#include "filter/classifier/features.h"
#include "filter/classifier/token_store.h"

namespace appliance {

namespace {

namespace fs = std::filesystem;

// A message file larger than this is refused (and reported), not read.
constexpr std::size_t message_file_size_max = 256u << 20;

unsigned thread_count(unsigned requested, std::size_t work) {
  unsigned n = requested != 0 ? requested : std::max(1u, std::thread::hardware_concurrency());
  return static_cast<unsigned>(std::min<std::size_t>(n, std::max<std::size_t>(work, 1)));
}

filter::tokenizer_options options_for(const filter::token_store& store) {
  filter::tokenizer_options o;
  o.bigrams = (store.feature_flags() & filter::token_store::feature_bigrams) != 0;
  return o;
}

}  // namespace

int spam_train(const spam_train_request& request) {
  auto loaded = load_token_store_file(request.token_store, false);
  if (!loaded) {
    std::fprintf(stderr, "ringmail: spam train: %s\n", loaded.error().c_str());
    return 1;
  }
  filter::token_store store = std::move(*loaded);
  if (store.spam_messages() + store.ham_messages() == 0 && store.token_count() == 0 && request.bigrams)
    store.set_feature_flags(filter::token_store::feature_bigrams);

  struct item {
    std::string path;
    bool spam;
  };
  std::vector<item> items;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& source : pass == 0 ? request.ham : request.spam) {
      auto files = list_message_files(source);
      if (!files) {
        std::fprintf(stderr, "ringmail: spam train: %s\n", files.error().c_str());
        return 1;
      }
      for (auto& f : *files) items.push_back({std::move(f), pass == 1});
    }
  }
  filter::tokenizer_options options = options_for(store);
  unsigned threads = thread_count(request.threads, items.size());
  std::vector<filter::token_store> partial(threads);
  std::atomic<std::size_t> next{0}, failures{0};
  std::mutex error_lock;
  auto work = [&](unsigned t) {
    filter::feature_collector features;
    while (true) {
      std::size_t i = next.fetch_add(1);
      if (i >= items.size()) return;
      auto data = read_message_file(items[i].path, message_file_size_max);
      if (!data) {
        ++failures;
        std::lock_guard lock(error_lock);
        std::fprintf(stderr, "ringmail: spam train: %s\n", data.error().c_str());
        continue;
      }
      for_each_message(*data, [&](std::string_view message) {
        features.clear();
        filter::message_tokenizer tokenizer(features, options);
        tokenizer.feed(message);
        tokenizer.finish();
        partial[t].train(features.unique(), items[i].spam);
      });
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
  std::uint64_t spam_before = store.spam_messages(), ham_before = store.ham_messages();
  for (auto& p : partial) store.merge(p);
  if (auto saved = save_token_store_file(store, request.token_store); !saved) {
    std::fprintf(stderr, "ringmail: spam train: %s\n", saved.error().c_str());
    return 1;
  }
  std::printf("trained %llu ham and %llu spam messages from %zu files; store: %llu ham, %llu spam, %zu tokens%s\n",
              static_cast<unsigned long long>(store.ham_messages() - ham_before),
              static_cast<unsigned long long>(store.spam_messages() - spam_before), items.size(),
              static_cast<unsigned long long>(store.ham_messages()),
              static_cast<unsigned long long>(store.spam_messages()), store.token_count(),
              options.bigrams ? " (with bigrams)" : "");
  return failures.load() == 0 ? 0 : 2;
}

int spam_score(const spam_score_request& request) {
  auto loaded = load_token_store_file(request.token_store, true);
  if (!loaded) {
    std::fprintf(stderr, "ringmail: spam score: %s\n", loaded.error().c_str());
    return 1;
  }
  const filter::token_store store = std::move(*loaded);
  filter::tokenizer_options options = options_for(store);
  filter::classifier_options classifier;
  std::vector<std::string> lines(request.files.size());
  std::atomic<std::size_t> next{0}, failures{0};
  auto work = [&] {
    filter::feature_collector features;
    std::vector<double> scratch;
    char line[64];
    while (true) {
      std::size_t i = next.fetch_add(1);
      if (i >= request.files.size()) return;
      auto data = read_message_file(request.files[i], message_file_size_max);
      if (!data) {
        ++failures;
        lines[i] = "error: " + data.error();
        continue;
      }
      features.clear();
      filter::message_tokenizer tokenizer(features, options);
      tokenizer.feed(*data);
      tokenizer.finish();
      auto score = filter::classify(features.unique(), store, nullptr, classifier, scratch);
      std::snprintf(line, sizeof line, "\t%.6f\t%.1f", score.probability, score.level);
      lines[i] = request.files[i] + line;
    }
  };
  unsigned threads = thread_count(request.threads, request.files.size());
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  for (const auto& l : lines) {
    if (l.starts_with("error: ")) {
      std::fprintf(stderr, "ringmail: spam score: %s\n", l.c_str() + 7);
    } else {
      std::fputs(l.c_str(), stdout);
      std::fputc('\n', stdout);
    }
  }
  return failures.load() == 0 ? 0 : 2;
}

}  // namespace appliance
