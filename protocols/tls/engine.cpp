#include "protocols/tls/engine.h"

#include <arpa/inet.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <deque>
#include <optional>
#include <vector>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kernel_io/base/assert.h"

namespace tls {
namespace {

// Outgoing ciphertext lives in fixed-capacity chunks that never reallocate,
// so the span pending_output() returns stays valid while an io_uring send
// reads from it, even if the owner encrypts more meanwhile (appends go to
// the tail or to a new chunk).
struct output_chunk {
  std::unique_ptr<std::byte[]> data;
  std::size_t capacity = 0;
  std::size_t begin = 0;  // first unsent byte
  std::size_t end = 0;    // one past the last written byte
};

// First chunk small (an SMTP reply is a few dozen bytes), later ones large
// enough for four full 16 KB records, so a 64 KB body goes out in one send.
constexpr std::size_t output_chunk_first_bytes = 4 * 1024;
constexpr std::size_t output_chunk_large_bytes = 4 * (16 * 1024 + 256);

}  // namespace

struct engine::state {
  // The contexts are declared before `ssl`, so the SSL (whose callbacks use
  // the context) is destroyed first.
  std::shared_ptr<const server_context> server;
  std::shared_ptr<const client_context> client;
  bssl::UniquePtr<SSL> ssl;
  engine_limits limits;

  std::vector<std::byte> input;  // [input_begin, size) is unconsumed ciphertext
  std::size_t input_begin = 0;
  std::deque<output_chunk> output;

  std::optional<error> failure;  // the first fatal error, returned ever after
  std::string client_server_name;
  bool handshake_done = false;
  bool shutdown_sent = false;
  bool close_notify_received = false;

  std::size_t input_buffered() const noexcept { return input.size() - input_begin; }

  void append_output(const std::byte* bytes, std::size_t length) {
    while (length > 0) {
      // A drained tail (nothing in flight refers to it) that is too small
      // for this record is replaced, so large writes go out in large sends.
      if (!output.empty() && output.back().begin == output.back().end && output.back().capacity < length) {
        output.pop_back();
      }
      if (output.empty() || output.back().end == output.back().capacity) {
        output_chunk chunk;
        chunk.capacity = (output.empty() && length <= output_chunk_first_bytes) ? output_chunk_first_bytes
                                                                                : output_chunk_large_bytes;
        chunk.data.reset(new std::byte[chunk.capacity]);  // uninitialised on purpose: written before read
        output.push_back(std::move(chunk));
      }
      output_chunk& tail = output.back();
      const std::size_t take = std::min(length, tail.capacity - tail.end);
      std::memcpy(tail.data.get() + tail.end, bytes, take);
      tail.end += take;
      bytes += take;
      length -= take;
    }
  }

  error fail_with(error e) {
    failure = e;
    return e;
  }
};

namespace {

// A BIO over engine::state: reads take from `input`, writes append to
// `output`. Cheaper than BIO_s_mem, whose reads memmove the rest of the
// buffer each time, and it lets the output keep stable chunks.
int bio_read(BIO* bio, char* out, int length) {
  auto* s = static_cast<engine::state*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  const std::size_t available = s->input_buffered();
  if (available == 0) {
    BIO_set_retry_read(bio);  // "no data yet", not end of stream
    return -1;
  }
  const std::size_t take = std::min(available, static_cast<std::size_t>(length));
  std::memcpy(out, s->input.data() + s->input_begin, take);
  s->input_begin += take;
  if (s->input_begin == s->input.size()) {
    s->input.clear();
    s->input_begin = 0;
  }
  return static_cast<int>(take);
}

int bio_write(BIO* bio, const char* in, int length) {
  auto* s = static_cast<engine::state*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  s->append_output(reinterpret_cast<const std::byte*>(in), static_cast<std::size_t>(length));
  return length;
}

long bio_ctrl(BIO* bio, int command, long, void*) {
  switch (command) {
    case BIO_CTRL_FLUSH: return 1;  // writes are already "sent" to the buffer
    default: return 0;
  }
}

const BIO_METHOD* engine_bio_method() {
  static const BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ringmail_tls_engine");
    RM_ASSERT(m != nullptr);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_ctrl(m, bio_ctrl);
    return m;
  }();
  return method;
}

// An IP literal is not a valid SNI (RFC 6066 section 3).
bool is_ip_literal(std::string_view name) {
  std::string copy(name);
  unsigned char buffer[16];
  return inet_pton(AF_INET, copy.c_str(), buffer) == 1 || inet_pton(AF_INET6, copy.c_str(), buffer) == 1;
}

result<std::unique_ptr<engine::state>> make_state(SSL_CTX* ctx, engine_limits limits) {
  auto s = std::make_unique<engine::state>();
  s->limits = limits;
  s->ssl.reset(SSL_new(ctx));
  if (!s->ssl) return kio::fail(detail::make_error(errc::library_failure, "SSL_new"));
  BIO* bio = BIO_new(engine_bio_method());
  if (!bio) return kio::fail(detail::make_error(errc::library_failure, "BIO_new"));
  BIO_set_data(bio, s.get());
  BIO_set_init(bio, 1);
  SSL_set_bio(s->ssl.get(), bio, bio);  // one reference, used for both directions
  // The handshake configuration (certificates, verify store pointers) is not
  // needed after the handshake; shedding it saves memory per connection.
  SSL_set_shed_handshake_config(s->ssl.get(), 1);
  return s;
}

}  // namespace

engine::engine(std::unique_ptr<state> s) noexcept : _state(std::move(s)) {}
engine::engine(engine&&) noexcept = default;
engine& engine::operator=(engine&&) noexcept = default;
engine::~engine() = default;

result<engine> engine::create_server(std::shared_ptr<const server_context> context, engine_limits limits) {
  RM_ASSERT(context != nullptr);
  auto s = make_state(context->native_handle(), limits);
  if (!s) return kio::fail(s.error());
  (*s)->server = std::move(context);
  SSL_set_accept_state((*s)->ssl.get());
  return engine(std::move(*s));
}

result<engine> engine::create_client(std::shared_ptr<const client_context> context, std::string_view server_name,
                                     engine_limits limits) {
  RM_ASSERT(context != nullptr);
  if (context->mode() == verify_mode::verify && server_name.empty()) {
    return kio::fail(error{errc::config_invalid, "verify mode needs the server's name"});
  }
  auto s = make_state(context->native_handle(), limits);
  if (!s) return kio::fail(s.error());
  SSL* ssl = (*s)->ssl.get();
  (*s)->client_server_name = std::string(server_name);
  const std::string& name = (*s)->client_server_name;
  if (!name.empty() && !is_ip_literal(name) && !SSL_set_tlsext_host_name(ssl, name.c_str())) {
    return kio::fail(detail::make_error(errc::config_invalid, "bad server name for SNI"));
  }
  if (context->mode() == verify_mode::verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    // Wildcards match one whole label only; IP literals are checked as IPs.
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int ok = is_ip_literal(name) ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                                       : X509_VERIFY_PARAM_set1_host(param, name.data(), name.size());
    if (!ok) return kio::fail(detail::make_error(errc::config_invalid, "bad server name for verification"));
  }
  SSL_set_renegotiate_mode(ssl, ssl_renegotiate_never);
  (*s)->client = std::move(context);
  SSL_set_connect_state(ssl);
  return engine(std::move(*s));
}

result<void> engine::feed(std::span<const std::byte> ciphertext) {
  state& s = *_state;
  if (ciphertext.size() > input_space_bytes()) {
    return kio::fail(error{errc::input_limit_exceeded,
                           "peer sent more than " + std::to_string(s.limits.input_buffered_max_bytes) +
                               " bytes of unprocessed ciphertext"});
  }
  if (s.input_begin > 0) {  // compact: the unconsumed tail is at most one partial read
    s.input.erase(s.input.begin(), s.input.begin() + static_cast<std::ptrdiff_t>(s.input_begin));
    s.input_begin = 0;
  }
  s.input.insert(s.input.end(), ciphertext.begin(), ciphertext.end());
  return {};
}

std::size_t engine::input_space_bytes() const noexcept {
  const std::size_t buffered = _state->input_buffered();
  const std::size_t max = _state->limits.input_buffered_max_bytes;
  return buffered >= max ? 0 : max - buffered;
}

std::size_t engine::input_buffered_bytes() const noexcept { return _state->input_buffered(); }

result<handshake_status> engine::handshake() {
  state& s = *_state;
  if (s.failure) return kio::fail(*s.failure);
  if (s.handshake_done) return handshake_status::done;
  const int rc = SSL_do_handshake(s.ssl.get());
  if (rc == 1) {
    s.handshake_done = true;
    // Drop the input buffer's burst capacity now that the handshake is over.
    if (s.input.empty() && s.input.capacity() > s.limits.buffer_keep_max_bytes) std::vector<std::byte>().swap(s.input);
    return handshake_status::done;
  }
  const int reason = SSL_get_error(s.ssl.get(), rc);
  if (reason == SSL_ERROR_WANT_READ) return handshake_status::want_input;
  if (s.client && s.client->mode() == verify_mode::verify) {
    const long verify = SSL_get_verify_result(s.ssl.get());
    if (verify != X509_V_OK) {
      error e = detail::make_error(errc::certificate_verify_failed, X509_verify_cert_error_string(verify));
      return kio::fail(s.fail_with(std::move(e)));
    }
  }
  return kio::fail(s.fail_with(detail::make_error(errc::handshake_failed, "handshake")));
}

bool engine::handshake_done() const noexcept { return _state->handshake_done; }

result<read_outcome> engine::read(std::span<std::byte> plaintext_out) {
  state& s = *_state;
  RM_ASSERT_MSG(s.handshake_done, "tls::engine::read before the handshake is done");
  RM_ASSERT(!plaintext_out.empty());
  if (s.failure) return kio::fail(*s.failure);
  if (s.close_notify_received) return read_outcome{read_status::closed, 0};
  const int length = static_cast<int>(std::min<std::size_t>(plaintext_out.size(), INT_MAX));
  const int rc = SSL_read(s.ssl.get(), plaintext_out.data(), length);
  if (rc > 0) return read_outcome{read_status::data, static_cast<std::size_t>(rc)};
  switch (SSL_get_error(s.ssl.get(), rc)) {
    case SSL_ERROR_WANT_READ: return read_outcome{read_status::want_input, 0};
    case SSL_ERROR_ZERO_RETURN:
      s.close_notify_received = true;
      return read_outcome{read_status::closed, 0};
    default: return kio::fail(s.fail_with(detail::make_error(errc::protocol_error, "read")));
  }
}

result<void> engine::write(std::span<const std::byte> plaintext) {
  state& s = *_state;
  RM_ASSERT_MSG(s.handshake_done, "tls::engine::write before the handshake is done");
  if (s.failure) return kio::fail(*s.failure);
  if (s.shutdown_sent) return kio::fail(error{errc::closed, "write after shutdown"});
  // BoringSSL cuts the buffer into full records; chunks of 1 GiB only keep
  // the length within an int.
  constexpr std::size_t slice_max_bytes = std::size_t{1} << 30;
  while (!plaintext.empty()) {
    const std::size_t slice = std::min(plaintext.size(), slice_max_bytes);
    const int rc = SSL_write(s.ssl.get(), plaintext.data(), static_cast<int>(slice));
    if (rc <= 0) return kio::fail(s.fail_with(detail::make_error(errc::protocol_error, "write")));
    // Our BIO accepts every byte, so a successful SSL_write is complete.
    RM_ASSERT(static_cast<std::size_t>(rc) == slice);
    plaintext = plaintext.subspan(slice);
  }
  return {};
}

result<void> engine::shutdown() {
  state& s = *_state;
  if (s.failure) return kio::fail(*s.failure);
  if (s.shutdown_sent) return {};
  if (!s.handshake_done) return kio::fail(error{errc::closed, "shutdown before the handshake is done"});
  if (SSL_shutdown(s.ssl.get()) < 0) {
    return kio::fail(s.fail_with(detail::make_error(errc::protocol_error, "shutdown")));
  }
  s.shutdown_sent = true;
  return {};
}

bool engine::close_notify_received() const noexcept { return _state->close_notify_received; }

std::span<const std::byte> engine::pending_output() const noexcept {
  const auto& output = _state->output;
  if (output.empty()) return {};
  const output_chunk& head = output.front();
  return {head.data.get() + head.begin, head.end - head.begin};
}

void engine::consume_output(std::size_t bytes) {
  auto& output = _state->output;
  RM_ASSERT(bytes <= pending_output().size());
  if (bytes == 0) return;
  output_chunk& head = output.front();
  head.begin += bytes;
  if (head.begin < head.end) return;
  if (output.size() > 1) {
    output.pop_front();
  } else if (head.capacity > _state->limits.buffer_keep_max_bytes) {
    output.clear();  // a burst is over: do not keep its memory
  } else {
    head.begin = head.end = 0;  // keep a small chunk for the next reply
  }
}

std::string_view engine::version_name() const noexcept {
  return _state->handshake_done ? SSL_get_version(_state->ssl.get()) : "";
}

std::string_view engine::cipher_name() const noexcept {
  const SSL_CIPHER* cipher = SSL_get_current_cipher(_state->ssl.get());
  return cipher ? SSL_CIPHER_standard_name(cipher) : "";
}

int engine::cipher_bits() const noexcept {
  const SSL_CIPHER* cipher = SSL_get_current_cipher(_state->ssl.get());
  return cipher ? SSL_CIPHER_get_bits(cipher, nullptr) : 0;
}

std::string_view engine::group_name() const noexcept {
  const uint16_t id = SSL_get_curve_id(_state->ssl.get());
  if (id == 0) return "";
  const char* name = SSL_get_curve_name(id);
  return name ? name : "";
}

std::string_view engine::server_name() const noexcept {
  if (_state->client) return _state->client_server_name;
  const char* sni = SSL_get_servername(_state->ssl.get(), TLSEXT_NAMETYPE_host_name);
  return sni ? sni : "";
}

bool engine::session_resumed() const noexcept { return SSL_session_reused(_state->ssl.get()) == 1; }
bool engine::is_server() const noexcept { return _state->server != nullptr; }
ssl_st* engine::native_handle() const noexcept { return _state->ssl.get(); }

}  // namespace tls
