#include "protocols/tls/error.h"

#include <openssl/err.h>

namespace tls {

std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::pem_invalid: return "pem_invalid";
    case errc::key_mismatch: return "key_mismatch";
    case errc::file_unreadable: return "file_unreadable";
    case errc::file_unwritable: return "file_unwritable";
    case errc::config_invalid: return "config_invalid";
    case errc::library_failure: return "library_failure";
    case errc::handshake_failed: return "handshake_failed";
    case errc::certificate_verify_failed: return "certificate_verify_failed";
    case errc::protocol_error: return "protocol_error";
    case errc::input_limit_exceeded: return "input_limit_exceeded";
    case errc::closed: return "closed";
  }
  return "unknown";
}

namespace detail {

error make_error(errc code, std::string_view what) {
  error e{code, std::string(what)};
  // The queue is bounded by BoringSSL (16 entries), so this loop is too.
  while (unsigned long packed = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(packed, buffer, sizeof(buffer));
    e.reason += e.reason.empty() ? "" : ": ";
    e.reason += buffer;
  }
  ERR_clear_error();
  return e;
}

}  // namespace detail
}  // namespace tls
