#include "bench/load/message_pool.h"

#include <openssl/sha.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace bench_load {

size_t parse_size(std::string_view text, bool& ok) {
  size_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  ok = ec == std::errc{};
  std::string_view unit(end, text.data() + text.size() - end);
  if (unit == "k" || unit == "K" || unit == "KB" || unit == "kb") value *= 1024;
  else if (unit == "m" || unit == "M" || unit == "MB" || unit == "mb") value *= 1024 * 1024;
  else if (!unit.empty()) ok = false;
  return value;
}

bool parse_size_distribution(std::string_view text, std::vector<size_weight>& out) {
  out.clear();
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    auto colon = item.find(':');
    bool ok = false;
    size_t bytes = parse_size(item.substr(0, colon), ok);
    if (!ok || bytes == 0) return false;
    unsigned weight = 1;
    if (colon != std::string_view::npos) {
      auto w = item.substr(colon + 1);
      auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), weight);
      if (ec != std::errc{} || end != w.data() + w.size() || weight == 0) return false;
    }
    out.push_back({bytes, weight});
  }
  return !out.empty();
}

namespace {

// A line of the text pool: 76 printable characters. One line in 40 starts
// with a dot (dot-stuffing must round-trip); words vary so SEARCH has
// something to look for.
void fill_text_pool(size_t bytes, std::string& lines, std::vector<uint32_t>& starts) {
  static constexpr std::string_view words[] = {
      "ringmail", "benchmark", "postfix", "dovecot", "message", "delivery", "io_uring", "durable",
      "mailbox", "throughput", "latency", "kernel", "loopback", "segment", "commit", "record"};
  std::mt19937_64 rng(42);
  lines.reserve(bytes + 80);
  uint64_t n = 0;
  while (lines.size() < bytes) {
    starts.push_back(static_cast<uint32_t>(lines.size()));
    std::string line;
    if (n++ % 40 == 7) line = ".";
    while (line.size() < 76) {
      line += words[rng() % std::size(words)];
      line += ' ';
      line += std::to_string(rng() % 100000);
      line += ' ';
    }
    line.resize(76);
    lines += line;
    lines += "\r\n";
  }
  starts.push_back(static_cast<uint32_t>(lines.size()));
}

std::string to_crlf(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 40);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
    out += text[i];
  }
  if (!out.empty() && out.back() != '\n') out += "\r\n";
  return out;
}

}  // namespace

message_pool::message_pool(std::vector<size_weight> sizes, const std::string& corpus_dir, size_t largest_bytes)
    : _sizes(std::move(sizes)), _corpus_dir(corpus_dir) {
  for (auto& s : _sizes) _weight_total += s.weight;
  if (!corpus_dir.empty()) {
    std::vector<std::filesystem::path> files;
    for (auto& entry : std::filesystem::recursive_directory_iterator(corpus_dir))
      if (entry.is_regular_file()) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (auto& path : files) {
      std::ifstream f(path, std::ios::binary);
      std::stringstream ss;
      ss << f.rdbuf();
      auto text = to_crlf(ss.str());
      // Keep the corpus message's own headers, but not the envelope-ish ones
      // our generated header block sets.
      _corpus.push_back(std::move(text));
    }
  } else {
    fill_text_pool(std::max<size_t>(largest_bytes, 1 << 20) + (1 << 20), _lines, _line_starts);
  }
}

void message_pool::make(std::string_view id, std::string_view from, std::string_view to, std::mt19937_64& rng,
                        std::string& out) const {
  out.clear();
  out += "X-Bench-Id: ";
  out += id;
  out += "\r\n";
  if (!_corpus.empty()) {
    // A corpus message keeps its own headers and body; X-Bench-Id goes first.
    out += _corpus[rng() % _corpus.size()];
    return;
  }
  out += "From: <";
  out += from;
  out += ">\r\nTo: <";
  out += to;
  out += ">\r\nSubject: bench message ";
  out += id;
  out += "\r\nMessage-ID: <";
  out += id;
  out += "@bench.test>\r\nDate: Mon, 23 Nov 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
  size_t target = _sizes.front().bytes;
  if (_sizes.size() > 1) {
    auto pick = static_cast<unsigned>(rng() % _weight_total);
    for (auto& s : _sizes) {
      if (pick < s.weight) {
        target = s.bytes;
        break;
      }
      pick -= s.weight;
    }
  }
  size_t body_bytes = target > out.size() ? target - out.size() : 78;
  size_t line_count = std::max<size_t>(1, body_bytes / 78);
  size_t total_lines = _line_starts.size() - 1;
  line_count = std::min(line_count, total_lines);
  size_t first = rng() % (total_lines - line_count + 1);
  out.append(_lines, _line_starts[first], _line_starts[first + line_count] - _line_starts[first]);
}

std::string hash_lf(std::string_view message) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  size_t start = 0;
  for (;;) {
    auto cr = message.find("\r\n", start);
    if (cr == std::string_view::npos) {
      SHA256_Update(&ctx, message.data() + start, message.size() - start);
      break;
    }
    SHA256_Update(&ctx, message.data() + start, cr - start);
    start = cr + 1;  // keep the LF
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256_Final(digest, &ctx);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (auto b : digest) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

void dot_stuff(std::string_view message, std::string& out) {
  out.clear();
  out.reserve(message.size() + message.size() / 32 + 8);
  size_t start = 0;
  while (start < message.size()) {
    auto end = message.find("\r\n", start);
    end = end == std::string_view::npos ? message.size() : end + 2;
    if (message[start] == '.') out += '.';
    out.append(message.substr(start, end - start));
    start = end;
  }
  out += ".\r\n";
}

}  // namespace bench_load
