#pragma once
// A token store as a file: read whole and parsed (magic, version, checksum
// checked), written whole and replaced atomically (temp file, fsync,
// rename, fsync of the directory), so a crash or kill -9 at any point
// leaves the old or the new store, never a torn one. Used by the CLI and
// by the daemon at start.

#include <string>
#include <string_view>

#include "filter/classifier/token_store.h"
#include "kernel_io/base/result.h"

namespace appliance {

// The store at `path`; when the file does not exist, an empty store, or an
// error if must_exist.
kio::result<filter::token_store, std::string> load_token_store_file(const std::string& path, bool must_exist);
kio::result<void, std::string> save_token_store_file(const filter::token_store& store, const std::string& path);
// The replacement itself (also the FTRL model file's, ftrl_cli.h).
kio::result<void, std::string> write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace appliance
