// Golden and corpus tests. The committed sample (tests/corpus/mime/*.eml)
// always runs: each message's rendered tree/ENVELOPE/BODYSTRUCTURE must
// equal its .ref file, and the shared invariants must hold. The whole
// SpamAssassin corpus runs when tests/corpus/fetch_spamassassin.sh has
// fetched it (MIME_SPAMASSASSIN_DIR or $RINGMAIL_SPAMASSASSIN_DIR).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "protocols/mime/imap_render.h"
#include "tests/unit/mime/mime_check.h"
#include "tests/unit/mime/mime_golden.h"

using namespace mime;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<fs::path> files_with_extension(const fs::path& dir, std::string_view ext) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ext) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(mime_golden, committed_sample_matches_ref_files) {
  auto files = files_with_extension(MIME_CORPUS_DIR, ".eml");
  ASSERT_GE(files.size(), 25u) << "the committed sample is missing";
  for (const auto& f : files) {
    std::string msg = read_file(f);
    fs::path ref = f;
    ref.replace_extension(".ref");
    ASSERT_TRUE(fs::exists(ref)) << ref;
    EXPECT_EQ(golden::render(msg), read_file(ref)) << f;
    EXPECT_EQ(check::check_message(msg, 3), "") << f;
  }
}

TEST(mime_corpus, spamassassin_consistency) {
  const char* env = std::getenv("RINGMAIL_SPAMASSASSIN_DIR");
  fs::path dir = env != nullptr ? fs::path(env) : fs::path(MIME_SPAMASSASSIN_DIR);
  auto files = files_with_extension(dir, ".txt");
  if (files.empty()) GTEST_SKIP() << "SpamAssassin corpus not fetched (tests/corpus/fetch_spamassassin.sh)";
  std::size_t parts = 0, failures = 0, with_defects = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    std::string msg = read_file(files[i]);
    // Chunking checks are costly; every message gets the tree invariants,
    // one in eight also two random chunkings.
    std::string err = check::check_message(msg, i % 8 == 0 ? 2 : 0);
    if (!err.empty() && ++failures <= 10) ADD_FAILURE() << files[i] << ": " << err;
    message_tree t = parse_message(msg);
    parts += t.parts.size();
    if (t.defects != 0) ++with_defects;
    // Rendering must not fail hard either, and every part's sections resolve.
    std::string bs = render_bodystructure(t, msg, true);
    ASSERT_FALSE(bs.empty());
    auto text = section_bytes(t, msg, "TEXT");
    ASSERT_TRUE(text.has_value());
    EXPECT_EQ(text->bytes().size(), t.parts[0].info.body_size());
  }
  std::printf("spamassassin: %zu messages, %zu parts, %zu with defects, %zu failures\n", files.size(), parts,
              with_defects, failures);
  EXPECT_EQ(failures, 0u);
}
