#pragma once
// Errors of the TLS module. Every fallible call returns tls::result<T>: an
// errc the caller branches on plus a reason string for the log, built from
// BoringSSL's error queue (ERR_error_string_n) at the moment of failure.
// The reason is only allocated on the error path.

#include <string>
#include <string_view>

#include "kernel_io/base/result.h"

namespace tls {

enum class errc {
  pem_invalid,                // a certificate or key PEM did not parse
  key_mismatch,               // a private key does not belong to its certificate
  file_unreadable,            // a PEM file could not be opened or read
  file_unwritable,            // a PEM file could not be written
  config_invalid,             // no certificate, bad name, bad option combination
  library_failure,            // BoringSSL could not allocate or initialise
  handshake_failed,           // the peer or we aborted the handshake
  certificate_verify_failed,  // client: the server's chain or name did not verify
  protocol_error,             // a bad record or alert after the handshake
  input_limit_exceeded,       // the peer sent more ciphertext than we buffer
  closed,                     // write after our close_notify, or after a fatal error
};

std::string_view to_string(errc code) noexcept;

struct error {
  errc code;
  std::string reason;
};

template <class T>
using result = kio::result<T, error>;

namespace detail {
// Builds an error from `code`, `what` and every entry of the calling
// thread's BoringSSL error queue, and empties the queue so the next
// connection on this core does not inherit stale entries.
error make_error(errc code, std::string_view what);
}  // namespace detail

}  // namespace tls
