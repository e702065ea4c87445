// echo_bench: the runtime benchmark. In one run, on loopback:
//
//   * an echo server on ringmail's runtime (one reactor pinned to a CPU,
//     a session_stream per connection, plain and implicit-TLS listeners),
//   * a minimal epoll echo server on the same CPU (the baseline),
//   * one load-generator thread on another CPU,
//
// and for each case (64-byte line round trips, 64 KB block echo, each plain
// and TLS; full TLS handshakes) it runs both servers `repeats` times,
// interleaved, and prints the medians: throughput, the server's CPU per
// operation, and ringmail/epoll ratios. Beside them, the physical limits
// measured in the same run: AES-GCM seal speed per core (BoringSSL EVP_AEAD
// over 16 KB records) and the loopback TCP bandwidth ceiling.
//
// The machine is shared and small, so wall-clock figures are noisy; the
// server CPU per operation and the ratios taken in the same run are the
// figures to read.
//
// usage: echo_bench [--seconds S] [--repeats R] [--connections N]
//                   [--line-bytes B] [--block-bytes B] [--limit-seconds S]
//                   [--server-cpu C] [--client-cpu C] [--epoll-buffer B]
//                   [--cases line,line_tls,block,block_tls,handshake]
//                   [--markdown PATH]

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <openssl/aead.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "bench/runtime/echo_common.h"
#include "bench/runtime/epoll_echo_server.h"
#include "bench/runtime/load_client.h"
#include "bench/runtime/ringmail_echo_server.h"
#include "protocols/tls/context.h"
#include "protocols/tls/self_signed.h"

namespace echo_bench {
namespace {

struct options {
  double seconds = 3.0;
  unsigned repeats = 3;
  unsigned connections = 16;
  size_t line_bytes = 64;
  size_t block_bytes = 64 * 1024;
  double limit_seconds = 1.0;
  int server_cpu = 0;
  int client_cpu = 1;
  size_t epoll_buffer_bytes = 16 * 1024;
  std::string cases = "line,line_tls,block,block_tls,handshake";
  std::string markdown_path;
  std::string command_line;
};

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "echo_bench: %s\n(see the comment at the top of bench/runtime/echo_bench.cpp)\n", why.c_str());
  std::exit(2);
}

options parse_options(int argc, char** argv) {
  options o;
  for (int i = 0; i < argc; ++i) {
    if (i) o.command_line += ' ';
    o.command_line += argv[i];
  }
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) usage_error("missing value after " + flag);
    std::string value = argv[++i];
    if (flag == "--seconds") o.seconds = std::atof(value.c_str());
    else if (flag == "--repeats") o.repeats = unsigned(std::atoi(value.c_str()));
    else if (flag == "--connections") o.connections = unsigned(std::atoi(value.c_str()));
    else if (flag == "--line-bytes") o.line_bytes = size_t(std::atol(value.c_str()));
    else if (flag == "--block-bytes") o.block_bytes = size_t(std::atol(value.c_str()));
    else if (flag == "--limit-seconds") o.limit_seconds = std::atof(value.c_str());
    else if (flag == "--server-cpu") o.server_cpu = std::atoi(value.c_str());
    else if (flag == "--client-cpu") o.client_cpu = std::atoi(value.c_str());
    else if (flag == "--epoll-buffer") o.epoll_buffer_bytes = size_t(std::atol(value.c_str()));
    else if (flag == "--cases") o.cases = value;
    else if (flag == "--markdown") o.markdown_path = value;
    else usage_error("unknown option " + flag);
  }
  // Bounds, so a typo cannot start a run that never ends or a line the
  // servers refuse.
  if (o.seconds <= 0 || o.seconds > 600) usage_error("--seconds must be in (0, 600]");
  if (o.repeats < 1 || o.repeats > 50) usage_error("--repeats must be in [1, 50]");
  if (o.connections < 1 || o.connections > 1000) usage_error("--connections must be in [1, 1000]");
  if (o.line_bytes < 2 || o.line_bytes > line_length_max) usage_error("--line-bytes must be in [2, 1000]");
  if (o.block_bytes < 1 || o.block_bytes > 16 * 1024 * 1024) usage_error("--block-bytes must be in [1, 16 MB]");
  if (o.limit_seconds <= 0 || o.limit_seconds > 60) usage_error("--limit-seconds must be in (0, 60]");
  if (o.epoll_buffer_bytes < 1024 || o.epoll_buffer_bytes > 1024 * 1024) usage_error("--epoll-buffer must be in [1 KB, 1 MB]");
  return o;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t middle = values.size() / 2;
  return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

// --- physical limits ----------------------------------------------------------

// MB/s of one core sealing 16 KB records (TLS's largest) with EVP_AEAD: what
// BoringSSL's record layer can do at best, per core. CPU time, not wall time,
// so a neighbour's load does not lower it.
double aead_seal_mb_per_second(const EVP_AEAD* aead, double seconds, int cpu) {
  double result = 0;
  std::thread t([&] {
    pin_to_cpu(cpu);
    constexpr size_t record_bytes = 16 * 1024;
    std::vector<uint8_t> key(EVP_AEAD_key_length(aead));
    RAND_bytes(key.data(), key.size());
    EVP_AEAD_CTX ctx;
    if (!EVP_AEAD_CTX_init(&ctx, aead, key.data(), key.size(), EVP_AEAD_DEFAULT_TAG_LENGTH, nullptr)) return;
    const size_t nonce_bytes = EVP_AEAD_nonce_length(aead);
    std::vector<uint8_t> plaintext(record_bytes), sealed(record_bytes + EVP_AEAD_max_overhead(aead));
    std::vector<uint8_t> nonce(nonce_bytes, 0);
    const uint8_t additional[13] = {0, 0, 0, 0, 0, 0, 0, 0, 23, 3, 3, 0x40, 0x11};
    RAND_bytes(plaintext.data(), plaintext.size());
    uint64_t records = 0;
    const double start = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
    double elapsed = 0;
    do {
      for (int i = 0; i < 64; ++i) {  // look at the clock once per MB
        std::memcpy(nonce.data(), &records, std::min(sizeof records, nonce_bytes));
        size_t sealed_length = 0;
        if (!EVP_AEAD_CTX_seal(&ctx, sealed.data(), &sealed_length, sealed.size(), nonce.data(), nonce_bytes,
                               plaintext.data(), plaintext.size(), additional, sizeof additional))
          return;
        ++records;
      }
      elapsed = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - start;
    } while (elapsed < seconds);
    EVP_AEAD_CTX_cleanup(&ctx);
    result = double(records * record_bytes) / elapsed / 1e6;
  });
  t.join();
  return result;
}

struct loopback_figures {
  double mb_per_second = 0;     // one direction, one connection
  double cpu_us_per_mb = 0;     // sender + receiver CPU
};

// The loopback TCP ceiling: a blocking sender on the server CPU pushing 64 KB
// writes to a blocking receiver on the client CPU, one connection. No
// protocol, no event loop: the kernel's copy-in, TCP and copy-out alone.
loopback_figures loopback_tcp(double seconds, int sender_cpu, int receiver_cpu) {
  loopback_figures figures;
  int listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(listen_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) < 0 || ::listen(listen_fd, 1) < 0 ||
      ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&address), &length) < 0) {
    ::close(listen_fd);
    return figures;
  }
  uint64_t received = 0;
  double receiver_cpu_seconds = 0, sender_cpu_seconds = 0, wall = 0;
  std::thread receiver([&] {
    pin_to_cpu(receiver_cpu);
    int fd = ::accept(listen_fd, nullptr, nullptr);
    if (fd < 0) return;
    std::vector<char> buffer(64 * 1024);
    const double cpu_start = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
    for (;;) {
      ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
      if (n <= 0) break;
      received += uint64_t(n);
    }
    receiver_cpu_seconds = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
    ::close(fd);
  });
  std::thread sender([&] {
    pin_to_cpu(sender_cpu);
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) < 0) {
      ::close(fd);
      return;
    }
    std::vector<char> buffer(64 * 1024, 'x');
    const double cpu_start = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
    const double start = wall_seconds();
    while (wall_seconds() - start < seconds) {
      if (::send(fd, buffer.data(), buffer.size(), MSG_NOSIGNAL) <= 0) break;
    }
    sender_cpu_seconds = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
    wall = wall_seconds() - start;
    ::shutdown(fd, SHUT_WR);
    ::close(fd);
  });
  sender.join();
  receiver.join();
  ::close(listen_fd);
  if (wall > 0 && received > 0) {
    figures.mb_per_second = double(received) / 1e6 / wall;
    figures.cpu_us_per_mb = (sender_cpu_seconds + receiver_cpu_seconds) * 1e6 / (double(received) / 1e6);
  }
  return figures;
}

// --- the cases ----------------------------------------------------------------

struct case_def {
  std::string key;     // for --cases
  std::string title;   // for the table
  workload kind;
  echo_mode mode;
  bool tls;
  size_t message_bytes;
  bool per_megabyte;   // rate in MB/s and CPU per MB (else per operation)
  std::string rate_unit;
  std::string cpu_unit;
};

struct run_figures {
  double rate = 0;               // ops/s or MB/s
  double server_cpu_per_op = 0;  // µs per op or per MB
  double server_busy = 0;        // server CPU / wall
  double client_busy = 0;        // client CPU / wall
  double io_worker_share = 0;    // server CPU outside the server thread / server CPU
  double calls_per_op = 0;       // ringmail: io_uring_enter; epoll: epoll_wait + read + write
  double cqes_per_op = 0;        // ringmail only
};

struct case_result {
  const case_def* def;
  std::vector<run_figures> runs[2];  // [0] ringmail, [1] epoll
  std::string cipher;
  std::string error;
};

run_figures figures_of(const case_def& def, const load_result& r) {
  run_figures f;
  // Everything the process burnt that the client did not: the server thread,
  // plus any kernel worker (io-wq) threads the runtime made work for. The
  // idle other server and the sleeping main thread add nothing measurable.
  const double server_cpu = std::max(0.0, r.process_cpu_seconds - r.client_cpu_seconds);
  const double units = def.per_megabyte ? double(r.echoed_bytes) / 1e6 : double(r.operations);
  f.rate = units / r.wall_seconds;
  f.server_cpu_per_op = units > 0 ? server_cpu * 1e6 / units : 0;
  f.server_busy = server_cpu / r.wall_seconds;
  f.client_busy = r.client_cpu_seconds / r.wall_seconds;
  f.io_worker_share = server_cpu > 0 ? std::max(0.0, server_cpu - r.server_thread_cpu_seconds) / server_cpu : 0;
  return f;
}

std::string machine_description() {
  std::string model = "unknown CPU";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname u{};
  uname(&u);
  return model + ", " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " online CPUs, Linux " + u.release;
}

std::string format(const char* fmt, double value) {
  char text[64];
  std::snprintf(text, sizeof text, fmt, value);
  return text;
}

}  // namespace
}  // namespace echo_bench

int main(int argc, char** argv) {
  using namespace echo_bench;
  ::signal(SIGPIPE, SIG_IGN);  // BoringSSL's socket BIO writes with write(2)
  const options opt = parse_options(argc, argv);

  // The certificate both servers present: ECDSA P-256, as a real deployment.
  const std::string hostnames[] = {"bench.ringmail.test"};
  auto pems = tls::generate_self_signed(hostnames, 30);
  if (!pems) {
    std::fprintf(stderr, "echo_bench: generate_self_signed: %s\n", pems.error().reason.c_str());
    return 1;
  }
  tls::server_config tls_config;
  tls_config.certificates.push_back({pems->cert_pem, pems->key_pem, {}});
  auto server_tls = tls::server_context::create(tls_config);
  if (!server_tls) {
    std::fprintf(stderr, "echo_bench: server_context: %s\n", server_tls.error().reason.c_str());
    return 1;
  }
  SSL_CTX* client_tls = make_client_tls_context();

  std::string error;
  auto ringmail = ringmail_echo_server::start(*server_tls, opt.server_cpu, error);
  if (!ringmail) {
    std::fprintf(stderr, "echo_bench: %s\n", error.c_str());
    return 1;
  }
  auto epoll = epoll_echo_server::start(*server_tls, opt.server_cpu, opt.epoll_buffer_bytes, error);
  if (!epoll) {
    std::fprintf(stderr, "echo_bench: %s\n", error.c_str());
    return 1;
  }

  const std::string line_title = "line " + std::to_string(opt.line_bytes) + " B";
  const std::string block_title =
      opt.block_bytes % 1024 == 0 ? "block " + std::to_string(opt.block_bytes / 1024) + " KB"
                                  : "block " + std::to_string(opt.block_bytes) + " B";
  const std::vector<case_def> all_cases = {
      {"line", line_title + " plain", workload::echo, echo_mode::line, false, opt.line_bytes, false, "round trips/s",
       "µs/round trip"},
      {"line_tls", line_title + " TLS", workload::echo, echo_mode::line, true, opt.line_bytes, false,
       "round trips/s", "µs/round trip"},
      {"block", block_title + " plain", workload::echo, echo_mode::block, false, opt.block_bytes, true,
       "MB/s each way", "µs/MB"},
      {"block_tls", block_title + " TLS", workload::echo, echo_mode::block, true, opt.block_bytes, true,
       "MB/s each way", "µs/MB"},
      {"handshake", "TLS handshake + line + close", workload::handshake, echo_mode::line, true, opt.line_bytes,
       false, "handshakes/s", "µs/handshake"},
  };
  std::vector<case_result> results;
  for (const auto& def : all_cases)
    if (("," + opt.cases + ",").find("," + def.key + ",") != std::string::npos) results.push_back({&def, {}, {}, {}});
  if (results.empty()) usage_error("--cases selects nothing");

  std::fprintf(stderr, "echo_bench: %s\n", machine_description().c_str());
  std::fprintf(stderr, "echo_bench: servers on CPU %d, client on CPU %d, %u connections, %.1f s x %u per case\n",
               opt.server_cpu, opt.client_cpu, opt.connections, opt.seconds, opt.repeats);

  // Physical limits first, while nothing else of ours runs.
  std::vector<double> aes128, aes256, loop_mb, loop_cpu;
  for (unsigned rep = 0; rep < opt.repeats; ++rep) {
    aes128.push_back(aead_seal_mb_per_second(EVP_aead_aes_128_gcm(), opt.limit_seconds / 2, opt.server_cpu));
    aes256.push_back(aead_seal_mb_per_second(EVP_aead_aes_256_gcm(), opt.limit_seconds / 2, opt.server_cpu));
    auto loop = loopback_tcp(opt.limit_seconds, opt.server_cpu, opt.client_cpu);
    loop_mb.push_back(loop.mb_per_second);
    loop_cpu.push_back(loop.cpu_us_per_mb);
  }

  const char* server_names[2] = {"ringmail", "epoll"};
  for (unsigned rep = 0; rep < opt.repeats; ++rep) {
    for (auto& cr : results) {
      if (!cr.error.empty()) continue;
      const case_def& def = *cr.def;
      // Alternate which server goes first, so a slow drift of the machine's
      // load does not always land on the same one.
      for (unsigned k = 0; k < 2; ++k) {
        unsigned which = (rep % 2 == 0) ? k : 1 - k;
        load_spec spec;
        spec.kind = def.kind;
        spec.tls = def.tls;
        spec.port = which == 0 ? ringmail->ports().port(def.mode, def.tls) : epoll->ports().port(def.mode, def.tls);
        spec.message_bytes = def.message_bytes;
        spec.connections = opt.connections;
        spec.seconds = opt.seconds;
        spec.cpu = opt.client_cpu;
        spec.client_tls = client_tls;
        spec.server_clock = which == 0 ? ringmail->cpu_clock() : epoll->cpu_clock();
        // System calls per operation explain most CPU differences between
        // the two loops, so count them around the run.
        const kio::reactor_stats ring_before = which == 0 ? ringmail->stats() : kio::reactor_stats{};
        const auto epoll_before = epoll->stats();
        load_result r = run_load(spec);
        const kio::reactor_stats ring_after = which == 0 ? ringmail->stats() : kio::reactor_stats{};
        const auto epoll_after = epoll->stats();
        if (!r.ok) {
          cr.error = std::string(server_names[which]) + ": " + r.error;
          std::fprintf(stderr, "echo_bench: %s: %s\n", def.title.c_str(), cr.error.c_str());
          break;
        }
        if (!r.cipher.empty()) cr.cipher = r.cipher;
        run_figures f = figures_of(def, r);
        if (r.operations > 0) {
          const double ops = double(r.operations);
          if (which == 0) {
            f.calls_per_op = double(ring_after.submits - ring_before.submits) / ops;
            f.cqes_per_op = double(ring_after.cqes - ring_before.cqes) / ops;
          } else {
            f.calls_per_op = double((epoll_after.waits - epoll_before.waits) + (epoll_after.reads - epoll_before.reads) +
                                    (epoll_after.writes - epoll_before.writes)) /
                             ops;
          }
        }
        cr.runs[which].push_back(f);
        std::fprintf(stderr,
                     "  run %u %-30s %-8s %12.1f %-14s server %8.2f %-14s (server busy %3.0f%%, io-wq %2.0f%%, "
                     "client busy %3.0f%%, %.2f %s/op%s)\n",
                     rep + 1, def.title.c_str(), server_names[which], f.rate, def.rate_unit.c_str(),
                     f.server_cpu_per_op, def.cpu_unit.c_str(), f.server_busy * 100, f.io_worker_share * 100,
                     f.client_busy * 100, f.calls_per_op,
                     which == 0 ? "io_uring_enter" : "epoll_wait+read+write",
                     which == 0 ? (", " + format("%.2f", f.cqes_per_op) + " CQEs/op").c_str() : "");
      }
    }
  }
  ringmail->stop();
  epoll->stop();
  SSL_CTX_free(client_tls);

  // --- the report -------------------------------------------------------------
  std::ostringstream text, md;
  char row[512];
  text << "\nRuntime echo benchmark — medians of " << opt.repeats << " runs of " << opt.seconds << " s, "
       << opt.connections << " connections, servers on CPU " << opt.server_cpu << ", client on CPU "
       << opt.client_cpu << "\n";
  std::snprintf(row, sizeof row, "%-30s %-9s %12s %-14s %12s %-14s %7s %7s %9s %10s %10s\n", "case", "server", "rate",
                "", "server CPU", "", "srv%", "cli%", "calls/op", "rm/ep rate", "rm/ep CPU");
  text << row;
  md << "| case | server | rate | server CPU per op | server busy | client busy | server syscalls per op | "
        "ringmail/epoll rate | ringmail/epoll CPU per op |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& cr : results) {
    const case_def& def = *cr.def;
    if (!cr.error.empty()) {
      text << def.title << ": FAILED: " << cr.error << "\n";
      md << "| " << def.title << " | FAILED: " << cr.error << " | | | | | | | |\n";
      continue;
    }
    double rate[2], cpu[2], busy[2], client[2], calls[2];
    for (int s = 0; s < 2; ++s) {
      std::vector<double> r, c, b, cl, k;
      for (const auto& f : cr.runs[s]) {
        r.push_back(f.rate);
        c.push_back(f.server_cpu_per_op);
        b.push_back(f.server_busy);
        cl.push_back(f.client_busy);
        k.push_back(f.calls_per_op);
      }
      calls[s] = median(k);
      rate[s] = median(r);
      cpu[s] = median(c);
      busy[s] = median(b);
      client[s] = median(cl);
    }
    for (int s = 0; s < 2; ++s) {
      std::string rate_ratio = s == 0 && rate[1] > 0 ? format("%.2f", rate[0] / rate[1]) : "";
      std::string cpu_ratio = s == 0 && cpu[1] > 0 ? format("%.2f", cpu[0] / cpu[1]) : "";
      std::snprintf(row, sizeof row, "%-30s %-9s %12.1f %-14s %12.2f %-14s %6.0f%% %6.0f%% %9.2f %10s %10s\n",
                    s == 0 ? def.title.c_str() : "", server_names[s], rate[s], def.rate_unit.c_str(), cpu[s],
                    def.cpu_unit.c_str(), busy[s] * 100, client[s] * 100, calls[s], rate_ratio.c_str(),
                    cpu_ratio.c_str());
      text << row;
      md << "| " << (s == 0 ? def.title : "") << " | " << server_names[s] << " | " << format("%.1f", rate[s]) << " "
         << def.rate_unit << " | " << format("%.2f", cpu[s]) << " " << def.cpu_unit << " | "
         << format("%.0f%%", busy[s] * 100) << " | " << format("%.0f%%", client[s] * 100) << " | "
         << format("%.2f", calls[s]) << " | " << rate_ratio
         << " | " << cpu_ratio << " |\n";
    }
  }
  std::string ciphers;
  for (const auto& cr : results)
    if (!cr.cipher.empty() && ciphers.find(cr.cipher) == std::string::npos) ciphers += (ciphers.empty() ? "" : ", ") + cr.cipher;

  std::ostringstream limits;
  limits << "AES-128-GCM seal, 16 KB records, 1 core: " << format("%.0f", median(aes128)) << " MB/s ("
         << format("%.0f", 1e6 / median(aes128)) << " µs/MB)\n";
  limits << "AES-256-GCM seal, 16 KB records, 1 core: " << format("%.0f", median(aes256)) << " MB/s ("
         << format("%.0f", 1e6 / median(aes256)) << " µs/MB)\n";
  limits << "loopback TCP, 1 connection, 64 KB blocking writes, one way: " << format("%.0f", median(loop_mb))
         << " MB/s (" << format("%.0f", median(loop_cpu)) << " µs of sender+receiver CPU per MB)\n";
  text << "\nTLS negotiated: " << (ciphers.empty() ? "n/a" : ciphers) << "\nPhysical limits (medians, same run):\n"
       << limits.str();
  std::fputs(text.str().c_str(), stdout);

  if (!opt.markdown_path.empty()) {
    std::ofstream out(opt.markdown_path);
    std::time_t now = std::time(nullptr);
    char date[64];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    out << "Measured " << date << " on " << machine_description() << ".\n\n"
        << "Command: `" << opt.command_line << "`\n\n"
        << "Medians of " << opt.repeats << " runs of " << opt.seconds << " s per case and server, " << opt.connections
        << " connections, servers on CPU " << opt.server_cpu << ", client on CPU " << opt.client_cpu
        << ". TLS negotiated: " << (ciphers.empty() ? "n/a" : ciphers) << ".\n\n"
        << md.str() << "\nPhysical limits measured in the same run (medians):\n\n";
    std::istringstream lines(limits.str());
    for (std::string line; std::getline(lines, line);) out << "- " << line << "\n";
  }
  for (const auto& cr : results)
    if (!cr.error.empty()) return 1;
  return 0;
}
