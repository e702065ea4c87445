#pragma once
// The only file I/O of the TLS module: reading PEM files at configuration
// time and writing a generated certificate at first start. Never called on
// a reactor's data path (they block), only at start-up and reload.

#include <cstddef>
#include <string>

#include "protocols/tls/error.h"

namespace tls::detail {

// Reads a whole file, failing with file_unreadable if it is larger than
// size_max_bytes (a PEM bundle is kilobytes; a huge file is a mistake).
result<std::string> read_file_bounded(const std::string& path, std::size_t size_max_bytes);

// Writes `contents` to `path` with `mode` through a temporary file, fsync
// and rename, so a crash leaves either the old file or the complete new one.
result<void> write_file_atomic(const std::string& path, const std::string& contents, unsigned mode);

}  // namespace tls::detail
