#pragma once
// What `ringmail spam train` and `spam score` do whatever the model
// (spam_cli.cpp: the Bayesian token store; ftrl_cli.cpp: an FTRL model):
// message files are read and tokenized on several threads, each with its
// own scanner reused from message to message.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "filter/classifier/classifier.h"
#include "filter/tokenizer/message_tokenizer.h"

namespace appliance {

// A message file larger than this is refused (and reported), not read.
inline constexpr std::size_t message_file_size_max = 256u << 20;
// Training reads mbox files, a whole folder each: far larger files are
// read (mapped, see message_file_reader), message by message.
inline constexpr std::size_t training_file_size_max = std::size_t{1} << 40;

// `requested` threads (0: one per CPU), never more than there is work.
unsigned thread_count(unsigned requested, std::size_t work);

// Training: tokenizes every message of every file in `paths` (an mbox file
// holds several) on exactly `threads` threads; on_message(thread, file
// index, unique hashes) runs on the thread that tokenized it. A file that
// cannot be read is reported on stderr and counted; returns that count.
// Files that are not messages (looks_like_message) are skipped, and their
// number reported on stderr.
using message_features_sink =
    std::function<void(unsigned thread, std::size_t file, std::span<const std::uint64_t> unique_hashes)>;
std::size_t tokenize_files(const std::vector<std::string>& paths, unsigned threads,
                           const filter::tokenizer_options& options, const message_features_sink& on_message);

// Scoring: scores one message from its unique token hashes; called on several
// threads at once (the model must be read-only), `scratch` is the calling
// thread's own.
using features_scorer = std::function<filter::spam_score(std::span<const std::uint64_t> unique_hashes,
                                                         std::vector<double>& scratch)>;

// Prints "PATH\tPROBABILITY\tLEVEL" per file (errors on stderr); returns 0,
// or 2 when a file could not be read.
int score_files(const std::vector<std::string>& files, unsigned requested_threads,
                const filter::tokenizer_options& options, const features_scorer& score);

}  // namespace appliance
