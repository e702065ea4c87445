#include "protocols/common/sasl.h"

#include <cstring>

#include "protocols/common/base64.h"
#include "protocols/common/utf8.h"

namespace proto {

kio::result<std::string, sasl_errc> decode_sasl_response(std::string_view line, const sasl_limits& limits) {
  if (line.size() > limits.response_size_max) return kio::fail(sasl_errc::too_long);
  if (line == "*") return kio::fail(sasl_errc::cancelled);
  if (line == "=") return std::string();
  auto decoded = base64_decode(line, base64_mode::strict, base64_decoded_size_max(line.size()));
  if (!decoded) return kio::fail(sasl_errc::bad_base64);
  return std::move(*decoded);
}

kio::result<sasl_credentials, sasl_errc> decode_sasl_plain(std::string_view message, const sasl_limits& limits) {
  // message = [authzid] NUL authcid NUL passwd: exactly two NULs.
  const std::size_t first = message.find('\0');
  if (first == std::string_view::npos) return kio::fail(sasl_errc::malformed);
  const std::size_t second = message.find('\0', first + 1);
  if (second == std::string_view::npos) return kio::fail(sasl_errc::malformed);
  if (message.find('\0', second + 1) != std::string_view::npos) return kio::fail(sasl_errc::malformed);

  const std::string_view authzid = message.substr(0, first);
  const std::string_view authcid = message.substr(first + 1, second - first - 1);
  const std::string_view password = message.substr(second + 1);
  if (authzid.size() > limits.field_size_max || authcid.size() > limits.field_size_max ||
      password.size() > limits.field_size_max) {
    return kio::fail(sasl_errc::too_long);
  }
  if (authcid.empty()) return kio::fail(sasl_errc::empty_authcid);
  if (password.empty()) return kio::fail(sasl_errc::empty_password);
  if (!utf8_valid(authzid) || !utf8_valid(authcid) || !utf8_valid(password)) {
    return kio::fail(sasl_errc::invalid_utf8);
  }
  return sasl_credentials{std::string(authzid), std::string(authcid), std::string(password)};
}

kio::result<sasl_credentials, sasl_errc> decode_sasl_plain_response(std::string_view line,
                                                                   const sasl_limits& limits) {
  auto message = decode_sasl_response(line, limits);
  if (!message) return kio::fail(message.error());
  return decode_sasl_plain(*message, limits);
}

kio::result<std::string, sasl_errc> decode_sasl_login_response(std::string_view line, sasl_login_field field,
                                                               const sasl_limits& limits) {
  auto value = decode_sasl_response(line, limits);
  if (!value) return kio::fail(value.error());
  if (value->size() > limits.field_size_max) return kio::fail(sasl_errc::too_long);
  if (value->empty()) {
    return kio::fail(field == sasl_login_field::username ? sasl_errc::empty_authcid : sasl_errc::empty_password);
  }
  // A NUL would let "alice\0admin" be checked as one name and logged as another.
  if (std::memchr(value->data(), '\0', value->size()) != nullptr) return kio::fail(sasl_errc::nul_in_field);
  if (!utf8_valid(*value)) return kio::fail(sasl_errc::invalid_utf8);
  return std::move(*value);
}

}  // namespace proto
