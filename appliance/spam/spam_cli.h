#pragma once
// `ringmail spam train`, `score` and `explain`: the filter without a
// daemon or data directory, over a token store file (--token-store), so an
// evaluation is one command each. Both use every core: messages are
// tokenized in parallel (training merges per-thread stores, whose counts
// add). The store file is replaced atomically (temp, fsync, rename, fsync
// of the directory), so a crash leaves the old or the new store.

#include <string>
#include <vector>

#include "appliance/config/config.h"
#include "filter/classifier/ftrl.h"
#include "filter/classifier/token_store.h"

namespace appliance {

// Without --token-store, train and stats work on the daemon's store
// (DATA/store, daemon stopped, like export): the global token store, or
// with --account the store of that account (filter_state_store.h).
struct spam_train_request {
  std::string token_store;        // empty: the daemon's store in data_dir
  std::string data_dir;
  std::string account;            // address; empty: the global store
  std::vector<std::string> ham;   // Maildir, mbox or directory of files
  std::vector<std::string> spam;
  bool bigrams = false;           // only when the store is created
  bool case_tokens = false;       // words with capitals also as written; same
  std::uint32_t feature_flags() const {
    return (bigrams ? filter::token_store::feature_bigrams : 0) | (case_tokens ? filter::token_store::feature_case : 0);
  }
  unsigned threads = 0;           // 0: one per core
  // --model: "" (the file's kind; Bayesian when it is created), "bayes" or
  // "ftrl" (the measured alternative, ftrl_cli.h; --token-store only).
  std::string model;
  filter::ftrl_options ftrl;      // only when the FTRL model is created
  unsigned epochs = 3;            // FTRL: passes over the training set
};

struct spam_score_request {
  // One store or model; or two, a Bayesian store and an FTRL model built
  // with the same features, whose log-odds are averaged (filter/README.md,
  // "Two models averaged").
  std::vector<std::string> token_stores;
  std::vector<std::string> files;
  unsigned threads = 0;
};

struct spam_explain_request {
  std::string token_store;
  std::vector<std::string> files;
  std::size_t clues = 30;         // tokens listed per file; 0: every known token
};

struct spam_stats_request {
  std::string data_dir;
  std::string account;            // empty: the global store
};

// Exit codes: 0 ok, 1 usage or store error, 2 some files could not be read.
// `cfg` is needed (and loaded by the caller) only without --token-store.
int spam_train(const spam_train_request& request, const config* cfg);
// One line: store, ham and spam messages, tokens, messages in the
// train-on-error ledger, bytes of deltas since the last snapshot.
int spam_stats(const spam_stats_request& request, const config& cfg);
// One line per file, in the order given: "PATH\tPROBABILITY\tLEVEL".
int spam_score(const spam_score_request& request);
// Per file: "PATH\tPROBABILITY\tLEVEL", a summary line, then its strongest
// known tokens, one a line: "f(w)\tSPAM\tHAM\tclue|-\tTOKEN" (clue: combined
// into the score; "-": too weak, or past the clue cap; control bytes and
// '\\' in TOKEN written as \xNN).
int spam_explain(const spam_explain_request& request);

}  // namespace appliance
