// ringmail: the one binary. Subcommands are added here as the services land;
// `serve` runs the daemon.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "appliance/demo/line_server.h"
#include "kernel_io/shard/runtime.h"
#include "protocols/tls/context.h"
#include "protocols/tls/self_signed.h"

namespace {

struct serve_options {
  std::string data_dir = "./var";
  unsigned cores = 0;
  std::string plain = "127.0.0.1:7070";
  std::string tls = "127.0.0.1:7071";
  size_t line_length_max = 1000;
  uint64_t idle_timeout_ms = 300'000;
  uint64_t shutdown_grace_ms = 10'000;
};

// The certificate the server presents: DATA/tls/cert.pem + key.pem, made
// self-signed on first start so the default config runs on a laptop.
kio::result<std::shared_ptr<const tls::server_context>, std::string> load_or_make_certificate(const std::string& data_dir) {
  std::filesystem::path dir = std::filesystem::path(data_dir) / "tls";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return kio::fail("cannot create " + dir.string() + ": " + ec.message());
  auto cert = dir / tls::cert_file_name, key = dir / tls::key_file_name;
  if (!std::filesystem::exists(cert) || !std::filesystem::exists(key)) {
    std::vector<std::string> names = {"localhost"};
    auto made = tls::generate_self_signed(names, 825);
    if (!made) return kio::fail("cannot generate a certificate: " + made.error().reason);
    if (auto w = tls::write_pem_files(*made, dir.string()); !w) return kio::fail(w.error().reason);
    std::printf("ringmail: generated a self-signed certificate in %s\n", dir.c_str());
  }
  auto loaded = tls::load_certificate_files(cert.string(), key.string());
  if (!loaded) return kio::fail(loaded.error().reason);
  tls::server_config config;
  config.certificates.push_back(std::move(*loaded));
  auto context = tls::server_context::create(config);
  if (!context) return kio::fail(context.error().reason);
  return *context;
}

int serve(const serve_options& options) {
  auto context = load_or_make_certificate(options.data_dir);
  if (!context) {
    std::fprintf(stderr, "ringmail: %s\n", context.error().c_str());
    return 1;
  }
  appliance::demo::line_server_shared shared;
  shared.tls = *context;
  shared.config.plain_address = kio::socket_address::parse(options.plain);
  shared.config.tls_address = kio::socket_address::parse(options.tls);
  if (!shared.config.plain_address || !shared.config.tls_address) {
    std::fprintf(stderr, "ringmail: bad listen address (want HOST:PORT or [V6]:PORT)\n");
    return 1;
  }
  shared.config.line_length_max = options.line_length_max;
  shared.config.connection.idle_timeout_ms = options.idle_timeout_ms;

  kio::runtime_config config;
  config.cores = options.cores;
  config.shutdown_grace_ms = options.shutdown_grace_ms;
  kio::runtime rt(config);
  std::printf("ringmail: demo line server on %s (STARTTLS) and %s (TLS), %u cores\n", options.plain.c_str(),
              options.tls.c_str(), rt.cores());
  std::printf("ringmail: try  openssl s_client -quiet -connect %s\n", options.tls.c_str());
  std::fflush(stdout);
  int rc = rt.run([&](kio::reactor& r) { return appliance::demo::run_line_server(r, shared); });
  if (rc != 0) std::fprintf(stderr, "ringmail: %s\n", rt.start_error().c_str());
  else std::printf("ringmail: stopped\n");
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ringmail: one fast, secure mail appliance"};
  app.require_subcommand(1);
  serve_options so;
  auto* serve_cmd = app.add_subcommand("serve", "Run the daemon");
  serve_cmd->add_option("--data-dir", so.data_dir, "Data directory")->capture_default_str();
  serve_cmd->add_option("--cores", so.cores, "Reactor threads (0 = one per CPU)")->capture_default_str();
  serve_cmd->add_option("--listen-plain", so.plain, "Plaintext + STARTTLS address")->capture_default_str();
  serve_cmd->add_option("--listen-tls", so.tls, "Implicit TLS address")->capture_default_str();
  serve_cmd->add_option("--line-length-max", so.line_length_max, "Longest command line")->capture_default_str();
  serve_cmd->add_option("--idle-timeout-ms", so.idle_timeout_ms, "Idle timeout per read")->capture_default_str();
  serve_cmd->add_option("--shutdown-grace-ms", so.shutdown_grace_ms, "Grace period on SIGTERM")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (*serve_cmd) return serve(so);
  return 0;
}
