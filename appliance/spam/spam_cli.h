#pragma once
// `ringmail spam train` and `ringmail spam score`: the filter without a
// daemon or data directory, over a token store file (--token-store), so an
// evaluation is one command each. Both use every core: messages are
// tokenized in parallel (training merges per-thread stores, whose counts
// add). The store file is replaced atomically (temp, fsync, rename, fsync
// of the directory), so a crash leaves the old or the new store.

#include <string>
#include <vector>

namespace appliance {

struct spam_train_request {
  std::string token_store;
  std::vector<std::string> ham;   // Maildir, mbox or directory of files
  std::vector<std::string> spam;
  bool bigrams = false;           // only when the store is created
  unsigned threads = 0;           // 0: one per core
};

struct spam_score_request {
  std::string token_store;
  std::vector<std::string> files;
  unsigned threads = 0;
};

// Exit codes: 0 ok, 1 usage or store error, 2 some files could not be read.
int spam_train(const spam_train_request& request);
// One line per file, in the order given: "PATH\tPROBABILITY\tLEVEL".
int spam_score(const spam_score_request& request);

}  // namespace appliance
