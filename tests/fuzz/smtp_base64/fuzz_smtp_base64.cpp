// Fuzz target for protocols/common base64 and SASL decoding.
// Properties checked (any violation aborts):
//  1. encode then strict-decode returns the input, for any bytes.
//  2. if strict decoding accepts a text, lenient decoding accepts it too and
//     gives the same bytes, and re-encoding gives back the very same text
//     (strict means canonical: one spelling per byte string).
//  3. lenient decoding never writes more than base64_decoded_size_max.
//  4. SASL PLAIN decoding either fails or yields fields within the limits
//     that re-assemble to the decoded message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocols/common/base64.h"
#include "protocols/common/sasl.h"

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      __builtin_trap();                                               \
    }                                                                 \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // 1.
  const std::string encoded = proto::base64_encode(input);
  CHECK(encoded.size() == proto::base64_encoded_size(size));
  auto back = proto::base64_decode(encoded, proto::base64_mode::strict, size);
  CHECK(back && *back == input);

  // 2. and 3.
  auto strict = proto::base64_decode(input, proto::base64_mode::strict, proto::base64_decoded_size_max(size));
  auto lenient = proto::base64_decode(input, proto::base64_mode::lenient, proto::base64_decoded_size_max(size));
  if (strict) {
    CHECK(lenient && *lenient == *strict);
    CHECK(proto::base64_encode(*strict) == input);
  }
  if (lenient) CHECK(lenient->size() <= proto::base64_decoded_size_max(size));

  // 4.
  const proto::sasl_limits limits;
  auto credentials = proto::decode_sasl_plain(input, limits);
  if (credentials) {
    CHECK(credentials->authcid.size() <= limits.field_size_max && !credentials->authcid.empty());
    CHECK(credentials->password.size() <= limits.field_size_max && !credentials->password.empty());
    CHECK(credentials->authzid.size() <= limits.field_size_max);
    std::string joined = credentials->authzid;
    joined += '\0';
    joined += credentials->authcid;
    joined += '\0';
    joined += credentials->password;
    CHECK(joined == input);
    auto via_base64 = proto::decode_sasl_plain_response(encoded, limits);
    CHECK(via_base64 && via_base64->password == credentials->password);
  }
  (void)proto::decode_sasl_login_response(input, proto::sasl_login_field::username, limits);
  return 0;
}
