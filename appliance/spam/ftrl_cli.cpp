#include "appliance/spam/ftrl_cli.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <thread>
#include <vector>

#include "appliance/spam/message_files.h"
#include "appliance/spam/scan_files.h"
#include "appliance/spam/token_store_file.h"
#include "filter/classifier/classifier.h"
#include "filter/classifier/features.h"
#include "filter/classifier/ftrl.h"
#include "filter/classifier/spam_level.h"

namespace appliance {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t model_file_size_max = 1u << 30;      // 2^24 slots * 12 B + header
constexpr unsigned epochs_max = 100;

filter::tokenizer_options options_for(const filter::ftrl_model& model) {
  filter::tokenizer_options o;
  o.bigrams = (model.feature_flags() & filter::token_store::feature_bigrams) != 0;
  o.case_tokens = (model.feature_flags() & filter::token_store::feature_case) != 0;
  return o;
}

kio::result<filter::ftrl_model, std::string> load_model(const std::string& path) {
  auto bytes = read_message_file(path, model_file_size_max);
  if (!bytes) return kio::fail("cannot read FTRL model: " + bytes.error());
  auto model = filter::ftrl_model::parse(*bytes);
  if (!model) return kio::fail("FTRL model " + path + ": " + std::string(filter::ftrl_errc_name(model.error())));
  return std::move(*model);
}

// One training file: whether it is spam, and the slots of each of its
// messages (an mbox holds several).
struct training_file {
  std::string path;
  bool spam = false;
  std::uint64_t name_hash = 0;
  std::vector<std::vector<std::uint32_t>> messages;
};

std::uint64_t name_hash(const std::string& path, std::uint64_t seed) {
  std::string name = fs::path(path).filename().string();
  return XXH3_64bits_withSeed(name.data(), name.size(), seed);
}

}  // namespace

bool is_ftrl_model_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char head[8];
  ssize_t n = ::read(fd, head, sizeof head);
  ::close(fd);
  return n == static_cast<ssize_t>(sizeof head) && std::string_view(head, sizeof head) == filter::ftrl_model::magic;
}

int spam_train_ftrl(const spam_train_request& request) {
  auto fail = [](const std::string& why) {
    std::fprintf(stderr, "ringmail: spam train: %s\n", why.c_str());
    return 1;
  };
  if (request.model == "bayes") return fail(request.token_store + " is an FTRL model (leave out --model bayes)");
  if (!request.account.empty()) return fail("--account trains the daemon's store, which is Bayesian");
  if (request.epochs == 0 || request.epochs > epochs_max) return fail("--epochs must be 1..100");
  std::error_code ec;
  std::optional<filter::ftrl_model> model;
  if (fs::exists(request.token_store, ec)) {
    if (!is_ftrl_model_file(request.token_store))
      return fail(request.token_store + " is a Bayesian token store, not an FTRL model");
    auto loaded = load_model(request.token_store);
    if (!loaded) return fail(loaded.error());
    model.emplace(std::move(*loaded));
  } else {
    if (auto why = request.ftrl.invalid(); !why.empty()) return fail("FTRL settings: " + std::string(why));
    model.emplace(request.ftrl);
    model->set_feature_flags(request.feature_flags());
  }

  std::vector<training_file> files;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& source : pass == 0 ? request.ham : request.spam) {
      auto listed = list_message_files(source);
      if (!listed) return fail(listed.error());
      for (auto& f : *listed) files.push_back({std::move(f), pass == 1, 0, {}});
    }
  }

  // Tokenize in parallel: each thread keeps one scanner.
  const filter::tokenizer_options options = options_for(*model);
  std::vector<std::string> paths;
  for (const auto& f : files) paths.push_back(f.path);
  std::size_t failures = tokenize_files(paths, thread_count(request.threads, files.size()), options,
                                        [&](unsigned, std::size_t i, std::span<const std::uint64_t> unique) {
                                          auto& slots = files[i].messages.emplace_back();
                                          slots.reserve(unique.size());
                                          for (auto h : unique) slots.push_back(model->slot_of(h));
                                        });

  // Train in a fixed order per epoch (ties broken by the whole path).
  std::vector<std::size_t> order(files.size());
  for (unsigned epoch = 0; epoch < request.epochs; ++epoch) {
    for (auto& f : files) f.name_hash = name_hash(f.path, epoch);
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      if (files[a].name_hash != files[b].name_hash) return files[a].name_hash < files[b].name_hash;
      return files[a].path < files[b].path;
    });
    for (std::size_t i : order)
      for (const auto& slots : files[i].messages) model->train_slots(slots, files[i].spam);
  }

  std::size_t ham_messages = 0, spam_messages = 0;
  for (const auto& f : files) (f.spam ? spam_messages : ham_messages) += f.messages.size();
  std::string bytes;
  model->serialize(bytes);
  if (auto saved = write_file_atomically(request.token_store, bytes); !saved) return fail(saved.error());
  const auto& o = model->options();
  std::printf(
      "trained %zu ham and %zu spam messages from %zu files, %u epochs; FTRL model: %llu ham and %llu spam steps, "
      "%zu of 2^%u slots used, alpha %g beta %g l1 %g l2 %g%s\n",
      ham_messages, spam_messages, files.size(), request.epochs,
      static_cast<unsigned long long>(model->ham_messages()), static_cast<unsigned long long>(model->spam_messages()),
      model->used_slots(), o.bits, o.alpha, o.beta, o.l1, o.l2, options.bigrams ? " (with bigrams)" : "");
  if (files.empty())
    std::fprintf(stderr, "ringmail: warning: no message files found under --ham or --spam: nothing was trained\n");
  return failures == 0 ? 0 : 2;
}

int spam_score_ftrl(const spam_score_request& request) {
  auto loaded = load_model(request.token_stores.at(0));
  if (!loaded) {
    std::fprintf(stderr, "ringmail: spam score: %s\n", loaded.error().c_str());
    return 1;
  }
  const filter::ftrl_model model = std::move(*loaded);
  return score_files(request.files, request.threads, options_for(model),
                     [&](std::span<const std::uint64_t> unique, std::vector<double>&) {
                       double logit = model.predict_logit(unique);
                       return filter::spam_score{filter::sigmoid(logit), filter::spam_level_of_logit(logit),
                                                 unique.size(), logit};
                     });
}

int spam_score_averaged(const spam_score_request& request) {
  auto fail = [](const std::string& why) {
    std::fprintf(stderr, "ringmail: spam score: %s\n", why.c_str());
    return 1;
  };
  const std::string& first = request.token_stores.at(0);
  const std::string& second = request.token_stores.at(1);
  bool first_is_ftrl = is_ftrl_model_file(first);
  if (first_is_ftrl == is_ftrl_model_file(second))
    return fail("two --token-store files must be one Bayesian token store and one FTRL model, not two " +
                std::string(first_is_ftrl ? "FTRL models" : "Bayesian stores"));
  const std::string& model_path = first_is_ftrl ? first : second;
  const std::string& store_path = first_is_ftrl ? second : first;
  auto model_loaded = load_model(model_path);
  if (!model_loaded) return fail(model_loaded.error());
  auto store_loaded = load_token_store_file(store_path, true);
  if (!store_loaded) return fail(store_loaded.error());
  const filter::ftrl_model model = std::move(*model_loaded);
  const filter::token_store store = std::move(*store_loaded);
  // One tokenization feeds both, so both must have learnt the same features.
  if (model.feature_flags() != store.feature_flags())
    return fail(store_path + " and " + model_path +
                " were trained with different features (--bigrams, --case-tokens): train both the same way");
  const filter::classifier_options classifier;
  return score_files(request.files, request.threads, options_for(model),
                     [&](std::span<const std::uint64_t> unique, std::vector<double>& scratch) {
                       filter::spam_score bayes = filter::classify(unique, store, nullptr, classifier, scratch);
                       double mean = (bayes.log_odds + model.predict_logit(unique)) / 2.0;
                       return filter::spam_score{filter::sigmoid(mean), filter::spam_level_of_logit(mean), bayes.clues,
                                                 mean};
                     });
}

}  // namespace appliance
