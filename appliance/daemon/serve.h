#pragma once
// `ringmail serve`: the daemon.
//
// Start-up, in order: data dir and its lock; the config (file or embedded
// default); root handling (resolve server.user, refuse to stay root); the
// certificate (self-signed on first start); the directory (demo domain and
// account on first start); the admin socket; then the runtime. Every core
// binds its listeners; when all have, the process drops root (if it was
// root) and tells systemd READY=1. SIGHUP reloads config, certificates and
// policies without touching open connections; SIGTERM stops gracefully.

#include <cstdint>
#include <string>

namespace appliance {

struct serve_options {
  std::string data_dir = "./var";
  std::string config_path;  // empty: DATA/ringmail.toml if present, else embedded
  unsigned cores = 0;       // 0: the config's server.cores
  // The demo line server (appliance/demo) keeps its own ports until the mail
  // listeners are wired.
  std::string demo_plain = "127.0.0.1:7070";
  std::string demo_tls = "127.0.0.1:7071";
  size_t line_length_max = 1000;
  uint64_t idle_timeout_ms = 300'000;
  int64_t shutdown_grace_ms = -1;  // -1: the config's server.shutdown_grace_ms
};

int serve(const serve_options& options);

// The config file serve and the CLI read: the explicit path, else
// DATA/ringmail.toml if it exists, else "" (embedded default).
std::string config_path_for(const std::string& data_dir, const std::string& explicit_path);

}  // namespace appliance
