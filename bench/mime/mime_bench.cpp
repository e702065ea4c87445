// MB/s of the MIME parser over real mail: the SpamAssassin corpus when
// fetched (tests/corpus/fetch_spamassassin.sh), else the committed sample.
// Run: mime_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "protocols/mime/imap_render.h"
#include "protocols/mime/stream_parser.h"
#include "protocols/mime/structure.h"

namespace fs = std::filesystem;

namespace {

const std::vector<std::string>& corpus() {
  static std::vector<std::string> messages = [] {
    std::vector<std::string> out;
    const char* env = std::getenv("RINGMAIL_SPAMASSASSIN_DIR");
    for (fs::path dir : {env ? fs::path(env) : fs::path(MIME_SPAMASSASSIN_DIR), fs::path(MIME_CORPUS_DIR)}) {
      if (!fs::is_directory(dir)) continue;
      for (const auto& e : fs::recursive_directory_iterator(dir)) {
        auto ext = e.path().extension();
        if (!e.is_regular_file() || (ext != ".txt" && ext != ".eml")) continue;
        std::ifstream in(e.path(), std::ios::binary);
        out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      }
      if (!out.empty()) break;
    }
    return out;
  }();
  return messages;
}

std::size_t corpus_bytes() {
  std::size_t n = 0;
  for (const auto& m : corpus()) n += m.size();
  return n;
}

void bm_parse_message(benchmark::State& state) {
  const auto& msgs = corpus();
  for (auto _ : state)
    for (const auto& m : msgs) benchmark::DoNotOptimize(mime::parse_message(m));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus_bytes()));
  state.counters["messages"] = static_cast<double>(msgs.size());
}
BENCHMARK(bm_parse_message)->Unit(benchmark::kMillisecond);

struct counting_handler final : mime::stream_handler {
  std::size_t decoded = 0, fields = 0;
  void on_header_field(const mime::part_info&, const mime::stream_header_field&) override { ++fields; }
  void on_decoded_body(const mime::part_info&, std::string_view d) override { decoded += d.size(); }
};

// The spam filter's path: 16 KiB chunks, base64/QP text decoded.
void bm_stream_16k_decode_text(benchmark::State& state) {
  const auto& msgs = corpus();
  for (auto _ : state) {
    for (const auto& m : msgs) {
      counting_handler h;
      mime::stream_parser p(h);
      for (std::size_t pos = 0; pos < m.size(); pos += 16384) p.feed(std::string_view(m).substr(pos, 16384));
      p.finish();
      benchmark::DoNotOptimize(h.decoded);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus_bytes()));
}
BENCHMARK(bm_stream_16k_decode_text)->Unit(benchmark::kMillisecond);

void bm_parse_and_bodystructure(benchmark::State& state) {
  const auto& msgs = corpus();
  for (auto _ : state) {
    for (const auto& m : msgs) {
      auto t = mime::parse_message(m);
      benchmark::DoNotOptimize(mime::render_bodystructure(t, m, true));
      benchmark::DoNotOptimize(mime::render_envelope(t, m, 0));
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus_bytes()));
}
BENCHMARK(bm_parse_and_bodystructure)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
