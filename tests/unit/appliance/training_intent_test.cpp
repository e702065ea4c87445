// The Junk training intent (appliance/spam/training_intent.h): the record an
// IMAP move into or out of Junk writes in its own group commit, read back by
// the training worker at every start until a durable delta has applied it.
// A torn, truncated or corrupted intent must come back as an error (the
// worker logs it and removes it), never as a crash or a huge allocation.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <string>

#include "appliance/spam/training_intent.h"

using appliance::decode_training_intent;
using appliance::encode_training_intent;
using appliance::intent_errc;
using appliance::training_intent;

namespace {

training_intent sample(std::size_t items) {
  training_intent t;
  t.account = 12345;
  t.sequence = 0x1122334455667788ull;
  t.spam = true;
  for (std::size_t i = 0; i < items; ++i)
    t.blobs.push_back(store::blob_key{0xabcdef00ull + i, 0x5555ull * (i + 1), static_cast<std::uint32_t>(i % 2),
                                      static_cast<std::uint32_t>(i % 3)});
  return t;
}

}  // namespace

TEST(training_intent, round_trip) {
  for (std::size_t items : {0u, 1u, 3u, 1000u}) {
    for (bool spam : {true, false}) {
      training_intent t = sample(items);
      t.spam = spam;
      std::string bytes;
      encode_training_intent(t, bytes);
      EXPECT_EQ(bytes.size(), 40 + 24 * items + 8);
      EXPECT_TRUE(appliance::is_training_intent(bytes));
      auto back = decode_training_intent(bytes);
      ASSERT_TRUE(back.has_value());
      EXPECT_EQ(back->account, t.account);
      EXPECT_EQ(back->sequence, t.sequence);
      EXPECT_EQ(back->spam, spam);
      EXPECT_EQ(back->blobs, t.blobs);
    }
  }
}

TEST(training_intent, every_truncation_is_an_error) {
  std::string bytes;
  encode_training_intent(sample(5), bytes);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto cut = decode_training_intent(std::string_view(bytes).substr(0, n));
    EXPECT_FALSE(cut.has_value()) << n;
  }
  EXPECT_EQ(decode_training_intent(bytes.substr(0, 10)).error(), intent_errc::truncated);
}

TEST(training_intent, every_flipped_byte_is_an_error) {
  std::string bytes;
  encode_training_intent(sample(3), bytes);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x40);
    EXPECT_FALSE(decode_training_intent(bad).has_value()) << i;
  }
}

// Fields checked behind a valid checksum (a writer's bug, or the fuzzer).
TEST(training_intent, inconsistent_fields_are_errors) {
  auto resum = [](std::string s) {
    s.resize(s.size() - 8);
    // The format's rule: XXH3-64 of every byte before it.
    std::uint64_t sum = XXH3_64bits(s.data(), s.size());
    s.append(reinterpret_cast<const char*>(&sum), 8);
    return s;
  };
  std::string bytes;
  encode_training_intent(sample(2), bytes);
  ASSERT_TRUE(decode_training_intent(resum(bytes)).has_value());
  std::string s = bytes;
  s[32] = 3;  // verdict neither spam nor ham
  EXPECT_EQ(decode_training_intent(resum(s)).error(), intent_errc::bad_field);
  s = bytes;
  s[33] = 1;  // reserved
  EXPECT_EQ(decode_training_intent(resum(s)).error(), intent_errc::bad_field);
  s = bytes;
  s[36] = 3;  // item count above the bytes present
  EXPECT_EQ(decode_training_intent(resum(s)).error(), intent_errc::bad_size);
  s = bytes;
  s[36] = 0;
  s[37] = 0;
  s[38] = 0;
  s[39] = static_cast<char>(0xff);  // a count that would be 100 GB: refused before any allocation
  EXPECT_EQ(decode_training_intent(resum(s)).error(), intent_errc::bad_size);
  s = bytes;
  s[8] = 2;  // version
  EXPECT_EQ(decode_training_intent(resum(s)).error(), intent_errc::bad_version);
  s = bytes;
  s[12] = 39;  // header size below the fields
  EXPECT_EQ(decode_training_intent(resum(s)).error(), intent_errc::bad_size);
  s = bytes;
  s[0] = 'X';
  EXPECT_EQ(decode_training_intent(resum(s)).error(), intent_errc::bad_magic);
  EXPECT_FALSE(appliance::is_training_intent(s));
}
