#pragma once
// The measured alternative to the Bayesian classifier: online logistic
// regression trained with FTRL-Proximal (McMahan et al., "Ad Click
// Prediction: a View from the Trenches", KDD 2013, Algorithm 1), over the
// same per-message unique token hashes (features.h), each hashed into one
// of 2^bits weight slots, plus a bias.
//
// Per slot i the model keeps z_i and n_i (float each, 8 bytes a slot).
//   w_i   = 0                                            if |z_i| <= l1
//         = -(z_i - sgn(z_i) l1) / ((beta + sqrt n_i) / alpha + l2)   else
//   p     = sigmoid(w_bias + sum over the message's tokens of w_slot(token))
//   level = spam_level_of_logit(the same sum) (spam_level.h)
//   train on label y (1 spam, 0 ham): g = p - y, and for every token's slot
//   (and the bias):  sigma = (sqrt(n + g^2) - sqrt n) / alpha
//                    z += g - sigma * w;  n += g^2
// The bias has the same update without l1 and l2 (it is not regularized).
// A feature is 1 when the token is in the message (each token once); two of
// a message's tokens that share a slot give that slot two updates in a row
// (rare: a few hundred tokens in 2^20 slots).
//
// Serialized form (little-endian; the CLI's --token-store file when the
// model is FTRL):
//   magic "RMFTRL01" (8) | version u32 (1) | header_size u32 (88: readers
//   skip unknown trailing header fields) | bits u32 (slots = 2^bits) |
//   feature_flags u32 (as token_store's: bit 0 body bigrams) | alpha f64 |
//   beta f64 | l1 f64 | l2 f64 | spam_messages u64 | ham_messages u64
//   (training steps taken, epochs included) | bias z f32 | bias n f32 |
//   slot_count u64 (slots with n > 0) | then per such slot, ascending
//   index: index u32, z f32, n f32 | XXH3-64 of everything before it (u64).
// Pure: no I/O, no allocation per message (the slots are allocated once).
// Lifecycle: a value type, single owner.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernel_io/base/result.h"

namespace filter {

// The defaults were chosen on bench/spam/evaluate.py's 5-fold split
// (filter/README.md, "FTRL (measured option)").
struct ftrl_options {
  unsigned bits = 20;   // 2^bits weight slots (bits_min..bits_max)
  double alpha = 0.3;   // learning rate scale
  double beta = 1.0;    // learning rate smoothing
  double l1 = 1.0;      // L1: a slot whose |z| stays below it weighs 0
  double l2 = 1.0;      // L2

  static constexpr unsigned bits_min = 10;
  static constexpr unsigned bits_max = 24;  // 128 MiB of slots
  // Empty when usable, else what is wrong.
  std::string_view invalid() const;
};

enum class ftrl_errc : std::uint8_t { truncated = 1, bad_magic, bad_version, bad_checksum, bad_size, bad_value };
std::string_view ftrl_errc_name(ftrl_errc e);

class ftrl_model {
 public:
  // options must be valid (ftrl_options::invalid() empty).
  explicit ftrl_model(const ftrl_options& options = {});

  const ftrl_options& options() const { return _options; }
  std::uint32_t slot_of(std::uint64_t hash) const { return static_cast<std::uint32_t>(hash >> (64 - _options.bits)); }

  // The spam probability of a message given its unique token hashes.
  double predict(std::span<const std::uint64_t> unique_hashes) const;
  // Its log-odds (predict() = sigmoid(logit), which saturates past |35|):
  // the level comes from it (spam_level_of_logit), ordered where p is 1.0.
  double predict_logit(std::span<const std::uint64_t> unique_hashes) const;
  double predict_slots(std::span<const std::uint32_t> slots) const;
  // One FTRL-Proximal step on one message; returns the probability it had
  // before the step.
  double train(std::span<const std::uint64_t> unique_hashes, bool spam);
  double train_slots(std::span<const std::uint32_t> slots, bool spam);

  // Inspection (tests, the model file).
  double weight(std::uint32_t slot) const;
  double bias_weight() const;
  float z(std::uint32_t slot) const { return _slots[slot].z; }
  float n(std::uint32_t slot) const { return _slots[slot].n; }
  float bias_z() const { return _bias.z; }
  float bias_n() const { return _bias.n; }
  std::size_t used_slots() const;  // slots with n > 0

  std::uint64_t spam_messages() const { return _spam_messages; }
  std::uint64_t ham_messages() const { return _ham_messages; }
  std::uint32_t feature_flags() const { return _feature_flags; }
  void set_feature_flags(std::uint32_t flags) { _feature_flags = flags; }

  void serialize(std::string& out) const;
  static kio::result<ftrl_model, ftrl_errc> parse(std::string_view bytes);
  static constexpr std::string_view magic = "RMFTRL01";

 private:
  struct slot {
    float z = 0;
    float n = 0;
  };
  double weight_of(const slot& s, double l1, double l2) const;
  double logit(std::span<const std::uint32_t> slots) const;
  void step(slot& s, double g, double l1, double l2);

  ftrl_options _options;
  std::vector<slot> _slots;  // 2^bits
  slot _bias;
  std::uint64_t _spam_messages = 0;
  std::uint64_t _ham_messages = 0;
  std::uint32_t _feature_flags = 0;
};

double sigmoid(double x);

}  // namespace filter
