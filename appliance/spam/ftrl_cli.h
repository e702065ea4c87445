#pragma once
// `ringmail spam train --model ftrl` and `spam score` on an FTRL model file:
// the measured alternative to the Bayesian token store
// (filter/classifier/ftrl.h; filter/README.md, "FTRL (measured option)").
// The daemon does not use it.
//
// The kind of a --token-store file is its magic: "RMFTRL01" is an FTRL
// model, anything else a token store, so `spam score` needs no flag and
// `spam train` needs --model ftrl only when it creates the file.
//
// Training: messages are tokenized on every core (the features of the
// whole training set are kept, 4 bytes per token per message), then the
// model takes one FTRL step per message, `epochs` times. The order is
// deterministic and interleaves ham and spam: files sorted by XXH3-64 of
// their file name (not the directory), seeded with the epoch number, so
// each epoch visits them in another fixed order; the messages of one mbox
// stay in file order. Settings (bits, alpha, beta, l1, l2) are fixed when
// the file is created and kept in it; training an existing model continues
// from its state with its settings.

#include <string>

#include "appliance/spam/spam_cli.h"

namespace appliance {

// Whether the file at `path` starts with the FTRL model magic (false when
// it is missing or unreadable: the caller's own open reports that).
bool is_ftrl_model_file(const std::string& path);

// Same exit codes and output lines as spam_train / spam_score.
int spam_train_ftrl(const spam_train_request& request);
int spam_score_ftrl(const spam_score_request& request);
// Two models, one Bayesian token store and one FTRL model (either order),
// built with the same features: each message is tokenized once and scored
// by both, and the score is the mean of their log-odds (the Bayesian one
// from its chi-square tails, so neither side saturates): p = sigmoid(mean),
// level = spam_level_of_logit(mean).
int spam_score_averaged(const spam_score_request& request);

}  // namespace appliance
