#pragma once
// message_pool: the messages a load generator sends, made unique and
// checkable. Each message starts with an `X-Bench-Id:` header that names it
// and carries a body taken from a pool of text lines (some starting with a
// dot, so DATA's dot-stuffing is exercised) or from a corpus file.
//
// Arrival is verified by content, not by the server's word: every message's
// SHA-256 is taken over its bytes with CRLF turned into LF, from the
// X-Bench-Id line to the end (servers add trace headers above it and Maildir
// stores LF line ends), and written to the manifest when the server accepts
// it. bench/verify_arrival.py hashes what each server delivered the same way.
//
// Immutable after construction; shared read-only by every client thread.

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace bench_load {

struct size_weight {
  size_t bytes;
  unsigned weight;
};
// "4096" or "1024:50,4096:30,1048576:5" (size suffixes k and m allowed).
bool parse_size_distribution(std::string_view text, std::vector<size_weight>& out);
size_t parse_size(std::string_view text, bool& ok);

class message_pool {
 public:
  // Either a size distribution or a corpus directory (every regular file).
  message_pool(std::vector<size_weight> sizes, const std::string& corpus_dir, size_t largest_bytes);

  // Builds message `id` (CRLF line ends) for the envelope given, choosing its
  // size with `rng`. Appends into `out` (cleared first).
  void make(std::string_view id, std::string_view from, std::string_view to, std::mt19937_64& rng,
            std::string& out) const;

  bool corpus_empty() const { return !_corpus_dir.empty() && _corpus.empty(); }

 private:
  std::vector<size_weight> _sizes;
  unsigned _weight_total = 0;
  std::string _corpus_dir;
  std::vector<std::string> _corpus;       // header-less body of each file, CRLF
  std::string _lines;                      // the text pool, CRLF lines
  std::vector<uint32_t> _line_starts;      // offset of every line in _lines
};

// SHA-256 (hex) of `message` with every CRLF turned into LF.
std::string hash_lf(std::string_view message);
// Dot-stuffs a CRLF message for DATA and appends the end-of-data line.
void dot_stuff(std::string_view message, std::string& out);

}  // namespace bench_load
