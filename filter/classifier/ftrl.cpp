#include "filter/classifier/ftrl.h"

#include <xxhash.h>

#include <cmath>

#include "filter/classifier/wire_bytes.h"
#include "kernel_io/base/assert.h"

namespace filter {

namespace {

using wire::get_at;
using wire::put;

constexpr std::uint32_t format_version = 1;
constexpr std::uint32_t header_size = 88;      // magic .. slot_count
constexpr std::size_t entry_size = 12;         // index u32, z f32, n f32
constexpr double logit_max = 35;               // sigmoid(35) = 1 - 6e-16

}  // namespace

double sigmoid(double x) {
  if (std::isnan(x)) return 0.5;  // a model file with extreme values: +inf and -inf weights met
  if (x > logit_max) x = logit_max;
  if (x < -logit_max) x = -logit_max;
  return 1.0 / (1.0 + std::exp(-x));
}

std::string_view ftrl_options::invalid() const {
  if (bits < bits_min || bits > bits_max) return "bits must be 10..24";
  if (!(alpha > 0) || !std::isfinite(alpha)) return "alpha must be > 0";
  if (!(beta >= 0) || !std::isfinite(beta)) return "beta must be >= 0";
  if (!(l1 >= 0) || !std::isfinite(l1)) return "l1 must be >= 0";
  if (!(l2 >= 0) || !std::isfinite(l2)) return "l2 must be >= 0";
  return {};
}

std::string_view ftrl_errc_name(ftrl_errc e) {
  switch (e) {
    case ftrl_errc::truncated: return "truncated";
    case ftrl_errc::bad_magic: return "not an FTRL model (bad magic)";
    case ftrl_errc::bad_version: return "unsupported version";
    case ftrl_errc::bad_checksum: return "checksum mismatch";
    case ftrl_errc::bad_size: return "size does not match the slot count";
    case ftrl_errc::bad_value: return "invalid setting or slot";
  }
  return "unknown";
}

ftrl_model::ftrl_model(const ftrl_options& options) : _options(options) {
  RM_ASSERT(options.invalid().empty());
  _slots.resize(std::size_t{1} << options.bits);
}

double ftrl_model::weight_of(const slot& s, double l1, double l2) const {
  double z = s.z;
  if (std::fabs(z) <= l1) return 0;
  double shrunk = z > 0 ? z - l1 : z + l1;
  return -shrunk / ((_options.beta + std::sqrt(static_cast<double>(s.n))) / _options.alpha + l2);
}

double ftrl_model::weight(std::uint32_t slot) const { return weight_of(_slots[slot], _options.l1, _options.l2); }
double ftrl_model::bias_weight() const { return weight_of(_bias, 0, 0); }

double ftrl_model::logit(std::span<const std::uint32_t> slots) const {
  double sum = bias_weight();
  for (auto s : slots) sum += weight_of(_slots[s], _options.l1, _options.l2);
  return sum;
}

double ftrl_model::predict_slots(std::span<const std::uint32_t> slots) const { return sigmoid(logit(slots)); }

double ftrl_model::predict_logit(std::span<const std::uint64_t> unique_hashes) const {
  double sum = bias_weight();
  for (auto h : unique_hashes) sum += weight_of(_slots[slot_of(h)], _options.l1, _options.l2);
  return sum;
}

double ftrl_model::predict(std::span<const std::uint64_t> unique_hashes) const {
  return sigmoid(predict_logit(unique_hashes));
}

void ftrl_model::step(slot& s, double g, double l1, double l2) {
  double w = weight_of(s, l1, l2);
  double n = s.n;
  double n_after = n + g * g;
  double sigma = (std::sqrt(n_after) - std::sqrt(n)) / _options.alpha;
  s.z = static_cast<float>(s.z + g - sigma * w);
  s.n = static_cast<float>(n_after);
}

double ftrl_model::train_slots(std::span<const std::uint32_t> slots, bool spam) {
  double p = predict_slots(slots);
  double g = p - (spam ? 1.0 : 0.0);
  step(_bias, g, 0, 0);
  for (auto s : slots) step(_slots[s], g, _options.l1, _options.l2);
  ++(spam ? _spam_messages : _ham_messages);
  return p;
}

double ftrl_model::train(std::span<const std::uint64_t> unique_hashes, bool spam) {
  double p = predict(unique_hashes);
  double g = p - (spam ? 1.0 : 0.0);
  step(_bias, g, 0, 0);
  for (auto h : unique_hashes) step(_slots[slot_of(h)], g, _options.l1, _options.l2);
  ++(spam ? _spam_messages : _ham_messages);
  return p;
}

std::size_t ftrl_model::used_slots() const {
  std::size_t used = 0;
  for (const auto& s : _slots) used += s.n > 0;
  return used;
}

void ftrl_model::serialize(std::string& out) const {
  std::size_t start = out.size();
  out.append(magic);
  put<std::uint32_t>(out, format_version);
  put<std::uint32_t>(out, header_size);
  put<std::uint32_t>(out, _options.bits);
  put<std::uint32_t>(out, _feature_flags);
  put<double>(out, _options.alpha);
  put<double>(out, _options.beta);
  put<double>(out, _options.l1);
  put<double>(out, _options.l2);
  put<std::uint64_t>(out, _spam_messages);
  put<std::uint64_t>(out, _ham_messages);
  put<float>(out, _bias.z);
  put<float>(out, _bias.n);
  std::size_t used = used_slots();
  put<std::uint64_t>(out, used);
  RM_ASSERT(out.size() - start == header_size);
  out.reserve(out.size() + used * entry_size + 8);
  for (std::uint32_t i = 0; i < _slots.size(); ++i) {
    if (!(_slots[i].n > 0)) continue;
    put<std::uint32_t>(out, i);
    put<float>(out, _slots[i].z);
    put<float>(out, _slots[i].n);
  }
  put<std::uint64_t>(out, XXH3_64bits(out.data() + start, out.size() - start));
}

kio::result<ftrl_model, ftrl_errc> ftrl_model::parse(std::string_view in) {
  if (in.size() < 16) return kio::fail(ftrl_errc::truncated);
  if (in.substr(0, 8) != magic) return kio::fail(ftrl_errc::bad_magic);
  if (get_at<std::uint32_t>(in, 8) != format_version) return kio::fail(ftrl_errc::bad_version);
  std::uint32_t hsize = get_at<std::uint32_t>(in, 12);
  if (hsize < header_size) return kio::fail(ftrl_errc::bad_size);
  if (in.size() < std::size_t{hsize} + 8) return kio::fail(ftrl_errc::truncated);
  std::size_t end = in.size() - 8;
  if (XXH3_64bits(in.data(), end) != get_at<std::uint64_t>(in, end)) return kio::fail(ftrl_errc::bad_checksum);
  ftrl_options o;
  o.bits = get_at<std::uint32_t>(in, 16);
  std::uint32_t flags = get_at<std::uint32_t>(in, 20);
  o.alpha = get_at<double>(in, 24);
  o.beta = get_at<double>(in, 32);
  o.l1 = get_at<double>(in, 40);
  o.l2 = get_at<double>(in, 48);
  if (!o.invalid().empty()) return kio::fail(ftrl_errc::bad_value);
  std::uint64_t used = get_at<std::uint64_t>(in, 80);
  if (used > (std::uint64_t{1} << o.bits) || used * entry_size != end - hsize) return kio::fail(ftrl_errc::bad_size);
  auto finite_slot = [](float z, float n) { return std::isfinite(z) && std::isfinite(n) && n > 0; };
  float bz = get_at<float>(in, 72), bn = get_at<float>(in, 76);
  if (!std::isfinite(bz) || !std::isfinite(bn) || bn < 0) return kio::fail(ftrl_errc::bad_value);
  ftrl_model m(o);
  m._feature_flags = flags;
  m._spam_messages = get_at<std::uint64_t>(in, 56);
  m._ham_messages = get_at<std::uint64_t>(in, 64);
  m._bias = {bz, bn};
  std::size_t at = hsize;
  std::int64_t previous = -1;
  for (std::uint64_t k = 0; k < used; ++k, at += entry_size) {
    std::uint32_t index = get_at<std::uint32_t>(in, at);
    float z = get_at<float>(in, at + 4), n = get_at<float>(in, at + 8);
    if (static_cast<std::int64_t>(index) <= previous || index >= m._slots.size() || !finite_slot(z, n))
      return kio::fail(ftrl_errc::bad_value);
    previous = index;
    m._slots[index] = {z, n};
  }
  return m;
}

}  // namespace filter
