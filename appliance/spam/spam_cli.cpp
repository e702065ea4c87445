#include "appliance/spam/spam_cli.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "appliance/spam/filter_state_store.h"
#include "appliance/spam/ftrl_cli.h"
#include "appliance/spam/message_files.h"
#include "appliance/spam/scan_files.h"
#include "appliance/storage/store_setup.h"
#include "appliance/spam/token_store_file.h"
#include "filter/classifier/classifier.h"
#include "filter/classifier/explain.h"
#include "filter/classifier/features.h"
#include "filter/classifier/token_store.h"

namespace appliance {

namespace {

namespace fs = std::filesystem;

filter::tokenizer_options options_for(const filter::token_store& store) {
  filter::tokenizer_options o;
  o.bigrams = (store.feature_flags() & filter::token_store::feature_bigrams) != 0;
  o.case_tokens = (store.feature_flags() & filter::token_store::feature_case) != 0;
  return o;
}

// The training set: every message file of the sources, ham first.
struct training_item {
  std::string path;
  bool spam;
};

kio::result<std::vector<training_item>, std::string> list_training(const spam_train_request& request) {
  std::vector<training_item> items;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& source : pass == 0 ? request.ham : request.spam) {
      auto files = list_message_files(source);
      if (!files) return kio::fail(files.error());
      for (auto& f : *files) items.push_back({std::move(f), pass == 1});
    }
  }
  return items;
}

// Tokenizes the items on `threads` threads into one store of counts to add
// (per-thread stores, merged: counts add). Unreadable files are reported
// and counted in `failures`.
filter::token_store train_items(const std::vector<training_item>& items, const filter::tokenizer_options& options,
                                unsigned requested_threads, std::size_t& failures_out) {
  unsigned threads = thread_count(requested_threads, items.size());
  std::vector<filter::token_store> partial(threads);
  std::vector<std::string> paths;
  for (const auto& item : items) paths.push_back(item.path);
  failures_out = tokenize_files(paths, threads, options,
                                [&](unsigned t, std::size_t i, std::span<const std::uint64_t> unique) {
                                  partial[t].train(unique, items[i].spam);
                                });
  filter::token_store out;
  for (auto& p : partial) out.merge(p);
  return out;
}

void print_trained(const filter::token_store& store, std::uint64_t ham_before, std::uint64_t spam_before,
                   std::size_t files, const filter::tokenizer_options& options, const std::string& where) {
  std::printf("trained %llu ham and %llu spam messages from %zu files; %s: %llu ham, %llu spam, %zu tokens%s%s\n",
              static_cast<unsigned long long>(store.ham_messages() - ham_before),
              static_cast<unsigned long long>(store.spam_messages() - spam_before), files, where.c_str(),
              static_cast<unsigned long long>(store.ham_messages()),
              static_cast<unsigned long long>(store.spam_messages()), store.token_count(),
              options.bigrams ? " (with bigrams)" : "", options.case_tokens ? " (with case tokens)" : "");
  // An empty Maildir is a fine thing to train on; a wrong path that holds
  // nothing should not pass as a training run.
  if (files == 0)
    std::fprintf(stderr, "ringmail: warning: no message files found under --ham or --spam: nothing was trained\n");
}

// The offline store and the account id --account names (nullopt: global).
struct opened_filter_store {
  offline_store offline;
  std::optional<std::uint64_t> account;
};

kio::result<opened_filter_store, std::string> open_filter_store(const std::string& data_dir, const config& cfg,
                                                                const std::string& account, std::string_view command) {
  auto opened = open_offline_store(data_dir, cfg, command);
  if (!opened) return kio::fail(opened.error());
  opened_filter_store out{std::move(*opened), std::nullopt};
  if (!out.offline.store)
    return kio::fail("the store in " + store_directory(data_dir) +
                     " was never created: start `ringmail serve` once (it records the shard count), then train");
  if (!account.empty()) {
    const auto* acc = out.offline.dir->find_account(account);
    if (!acc) return kio::fail("no account " + account);
    out.account = acc->id.get();
  }
  return out;
}

int spam_train_in_store(const spam_train_request& request, const config& cfg) {
  auto opened = open_filter_store(request.data_dir, cfg, request.account, "spam train");
  if (!opened) {
    std::fprintf(stderr, "ringmail: spam train: %s\n", opened.error().c_str());
    return 1;
  }
  store::message_store& st = *opened->offline.store;
  auto loaded = load_filter_state(st, opened->account);
  if (!loaded) {
    std::fprintf(stderr, "ringmail: spam train: %s\n", loaded.error().c_str());
    return 1;
  }
  for (const auto& p : loaded->problems) std::fprintf(stderr, "ringmail: spam train: skipped %s\n", p.c_str());
  filter::training_state& state = loaded->state;
  // An account's store is scored together with the global one, so it is
  // tokenized the global store's way.
  std::uint32_t flags = request.feature_flags();
  if (opened->account) {
    auto global = load_filter_state(st, std::nullopt);
    if (global) flags = global->state.tokens.feature_flags();
  }
  filter::token_store& store = state.tokens;
  if (store.spam_messages() + store.ham_messages() == 0 && store.token_count() == 0) store.set_feature_flags(flags);
  auto items = list_training(request);
  if (!items) {
    std::fprintf(stderr, "ringmail: spam train: %s\n", items.error().c_str());
    return 1;
  }
  filter::tokenizer_options options = options_for(store);
  std::size_t failures = 0;
  filter::token_store added = train_items(*items, options, request.threads, failures);
  std::uint64_t spam_before = store.spam_messages(), ham_before = store.ham_messages();
  store.merge(added);
  if (auto saved = save_filter_snapshot_blocking(st, opened->account, state, loaded->applied_through, loaded->folded);
      !saved) {
    std::fprintf(stderr, "ringmail: spam train: %s\n", saved.error().c_str());
    return 1;
  }
  std::string where = opened->account ? "store of " + request.account : std::string("global store");
  print_trained(store, ham_before, spam_before, items->size(), options, where);
  return failures == 0 ? 0 : 2;
}

}  // namespace

int spam_train(const spam_train_request& request, const config* cfg) {
  if (request.token_store.empty()) {
    if (!cfg) {
      std::fprintf(stderr, "ringmail: spam train: give --token-store FILE, or train the daemon's store (--data)\n");
      return 1;
    }
    if (!request.model.empty() && request.model != "bayes") {
      std::fprintf(stderr, "ringmail: spam train: --model %s needs --token-store FILE\n", request.model.c_str());
      return 1;
    }
    return spam_train_in_store(request, *cfg);
  }
  if (request.model == "ftrl" || is_ftrl_model_file(request.token_store)) return spam_train_ftrl(request);
  if (!request.account.empty()) {
    std::fprintf(stderr, "ringmail: spam train: --account trains the daemon's store (leave out --token-store)\n");
    return 1;
  }
  auto loaded = load_token_store_file(request.token_store, false);
  if (!loaded) {
    std::fprintf(stderr, "ringmail: spam train: %s\n", loaded.error().c_str());
    return 1;
  }
  filter::token_store store = std::move(*loaded);
  if (store.spam_messages() + store.ham_messages() == 0 && store.token_count() == 0)
    store.set_feature_flags(request.feature_flags());
  auto items = list_training(request);
  if (!items) {
    std::fprintf(stderr, "ringmail: spam train: %s\n", items.error().c_str());
    return 1;
  }
  filter::tokenizer_options options = options_for(store);
  std::size_t failures = 0;
  filter::token_store added = train_items(*items, options, request.threads, failures);
  std::uint64_t spam_before = store.spam_messages(), ham_before = store.ham_messages();
  store.merge(added);
  if (auto saved = save_token_store_file(store, request.token_store); !saved) {
    std::fprintf(stderr, "ringmail: spam train: %s\n", saved.error().c_str());
    return 1;
  }
  print_trained(store, ham_before, spam_before, items->size(), options, "store");
  return failures == 0 ? 0 : 2;
}

int spam_stats(const spam_stats_request& request, const config& cfg) {
  auto opened = open_filter_store(request.data_dir, cfg, request.account, "spam stats");
  if (!opened) {
    std::fprintf(stderr, "ringmail: spam stats: %s\n", opened.error().c_str());
    return 1;
  }
  auto loaded = load_filter_state(*opened->offline.store, opened->account);
  if (!loaded) {
    std::fprintf(stderr, "ringmail: spam stats: %s\n", loaded.error().c_str());
    return 1;
  }
  for (const auto& p : loaded->problems) std::fprintf(stderr, "ringmail: spam stats: skipped %s\n", p.c_str());
  const auto& t = loaded->state.tokens;
  std::string pending;
  if (opened->account) {
    // Junk moves acknowledged but not yet trained (the next start does).
    auto p = pending_training_of(*opened->offline.store, *opened->account);
    for (const auto& problem : p.problems) std::fprintf(stderr, "ringmail: spam stats: skipped %s\n", problem.c_str());
    pending = " pending_messages=" + std::to_string(p.messages);
  }
  std::printf("store=%s ham=%llu spam=%llu tokens=%zu trained_messages=%zu deltas_bytes=%llu bigrams=%s case_tokens=%s%s\n",
              opened->account ? request.account.c_str() : "global", static_cast<unsigned long long>(t.ham_messages()),
              static_cast<unsigned long long>(t.spam_messages()), t.token_count(), loaded->state.ledger_size(),
              static_cast<unsigned long long>(loaded->delta_bytes),
              (t.feature_flags() & filter::token_store::feature_bigrams) ? "yes" : "no",
              (t.feature_flags() & filter::token_store::feature_case) ? "yes" : "no", pending.c_str());
  return 0;
}

int spam_score(const spam_score_request& request) {
  if (request.token_stores.size() == 2) return spam_score_averaged(request);
  if (request.token_stores.size() != 1) {
    std::fprintf(stderr, "ringmail: spam score: --token-store takes one file, or two (a Bayesian store and an FTRL model)\n");
    return 1;
  }
  if (is_ftrl_model_file(request.token_stores[0])) return spam_score_ftrl(request);
  auto loaded = load_token_store_file(request.token_stores[0], true);
  if (!loaded) {
    std::fprintf(stderr, "ringmail: spam score: %s\n", loaded.error().c_str());
    return 1;
  }
  const filter::token_store store = std::move(*loaded);
  const filter::classifier_options classifier;
  return score_files(request.files, request.threads, options_for(store),
                     [&](std::span<const std::uint64_t> unique, std::vector<double>& scratch) {
                       return filter::classify(unique, store, nullptr, classifier, scratch);
                     });
}

int spam_explain(const spam_explain_request& request) {
  auto loaded = load_token_store_file(request.token_store, true);
  if (!loaded) {
    std::fprintf(stderr, "ringmail: spam explain: %s\n", loaded.error().c_str());
    return 1;
  }
  const filter::token_store store = std::move(*loaded);
  filter::tokenizer_options options = options_for(store);
  filter::classifier_options classifier;
  message_file_reader reader;
  int status = 0;
  for (const auto& path : request.files) {
    auto data = reader.read(path, message_file_size_max);
    if (!data) {
      std::fprintf(stderr, "ringmail: spam explain: %s\n", data.error().c_str());
      status = 2;
      continue;
    }
    auto e = filter::explain(*data, options, store, nullptr, classifier);
    std::size_t toward_spam = 0, toward_ham = 0;
    for (const auto& t : e.known_tokens) {
      if (!t.clue) continue;
      (t.probability > 0.5 ? toward_spam : toward_ham)++;
    }
    std::printf("%s\t%.6f\t%.*f\n", path.c_str(), e.score.probability, filter::spam_level_decimals, e.score.level);
    std::printf("# tokens %zu, known %zu, clues %zu (%zu toward spam, %zu toward ham)\n", e.tokens, e.known,
                e.score.clues, toward_spam, toward_ham);
    std::size_t shown = request.clues == 0 ? e.known_tokens.size() : std::min(request.clues, e.known_tokens.size());
    for (std::size_t i = 0; i < shown; ++i) {
      const auto& t = e.known_tokens[i];
      // One token a line: control bytes (a tab or line break inside an
      // href's host) are written as \xNN.
      std::string text;
      for (char c : t.token) {
        auto b = static_cast<unsigned char>(c);
        if (b < 0x20 || b == 0x7f || c == '\\') {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\x%02x", b);
          text += esc;
        } else {
          text += c;
        }
      }
      std::printf("%.6f\t%u\t%u\t%s\t%s\n", t.probability, static_cast<unsigned>(t.counts.spam),
                  static_cast<unsigned>(t.counts.ham), t.clue ? "clue" : "-", text.c_str());
    }
  }
  return status;
}

}  // namespace appliance
