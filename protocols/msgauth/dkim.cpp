#include "protocols/msgauth/dkim.h"

#include <charconv>

#include "protocols/common/base64.h"
#include "protocols/msgauth/tag_list.h"

namespace msgauth {

std::string_view dkim_verdict_name(dkim_verdict v) {
  switch (v) {
    case dkim_verdict::pass: return "pass";
    case dkim_verdict::fail: return "fail";
    case dkim_verdict::neutral: return "neutral";
    case dkim_verdict::temperror: return "temperror";
    case dkim_verdict::permerror: return "permerror";
    case dkim_verdict::policy: return "policy";
  }
  return "permerror";
}

static std::optional<uint64_t> parse_number(std::string_view s, size_t digits_max) {
  if (s.empty() || s.size() > digits_max) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

static std::optional<std::string> decode_base64(std::string_view value, size_t decoded_max) {
  std::string compact = strip_whitespace(value);
  auto decoded = proto::base64_decode(compact, proto::base64_mode::lenient, decoded_max);
  if (!decoded) return std::nullopt;
  return std::move(*decoded);
}

// The domain part of an i= identity ("user@sub.example.org" -> "sub.example.org").
static std::string_view identity_domain(std::string_view identity) {
  size_t at = identity.rfind('@');
  return at == std::string_view::npos ? identity : identity.substr(at + 1);
}

static bool is_same_or_subdomain(std::string_view sub, std::string_view parent) {
  if (iequals(sub, parent)) return true;
  return sub.size() > parent.size() && sub[sub.size() - parent.size() - 1] == '.' &&
         iequals(sub.substr(sub.size() - parent.size()), parent);
}

kio::result<dkim_signature, std::string> parse_dkim_signature(std::string_view value) {
  auto tags = parse_tag_list(value);
  if (!tags) return kio::fail(std::string("malformed tag list"));
  auto get = [&](std::string_view name) { return find_tag(*tags, name); };
  dkim_signature sig;
  auto v = get("v");
  if (!v || *v != "1") return kio::fail(std::string("missing or unsupported v="));
  auto a = get("a");
  if (!a) return kio::fail(std::string("missing a="));
  if (*a == "rsa-sha256") sig.algorithm = key_algorithm::rsa;
  else if (*a == "ed25519-sha256") sig.algorithm = key_algorithm::ed25519;
  else return kio::fail("unsupported a=" + std::string(*a));  // rsa-sha1 included (RFC 8301)
  auto b = get("b"), bh = get("bh"), d = get("d"), h = get("h"), s = get("s");
  if (!b || !bh || !d || !h || !s) return kio::fail(std::string("missing a required tag (b, bh, d, h, s)"));
  if (auto c = get("c")) {
    auto pair = parse_canonicalization(*c);
    if (!pair) return kio::fail("unsupported c=" + std::string(*c));
    sig.canon = *pair;
  }
  if (auto q = get("q"); q && strip_whitespace(*q) != "dns/txt") return kio::fail(std::string("unsupported q="));
  sig.domain = to_lower(trim(*d));
  sig.selector = to_lower(trim(*s));
  if (sig.domain.empty() || sig.selector.empty()) return kio::fail(std::string("empty d= or s="));
  auto decoded_b = decode_base64(*b, 1024);
  auto decoded_bh = decode_base64(*bh, 64);
  if (!decoded_b || decoded_b->empty()) return kio::fail(std::string("malformed b="));
  if (!decoded_bh || decoded_bh->size() != 32) return kio::fail(std::string("malformed bh="));
  sig.signature = std::move(*decoded_b);
  sig.signature_base64 = strip_whitespace(*b);
  sig.body_hash = std::move(*decoded_bh);
  bool signs_from = false;
  std::string_view names = *h;
  while (true) {
    size_t colon = names.find(':');
    std::string name = to_lower(trim(names.substr(0, colon)));
    if (name.empty()) return kio::fail(std::string("malformed h="));
    if (name == "from") signs_from = true;
    sig.signed_headers.push_back(std::move(name));
    if (sig.signed_headers.size() > 256) return kio::fail(std::string("too many h= entries"));
    if (colon == std::string_view::npos) break;
    names = names.substr(colon + 1);
  }
  if (!signs_from) return kio::fail(std::string("From is not signed"));
  if (auto i = get("i")) {
    sig.identity = std::string(trim(*i));
    if (!is_same_or_subdomain(identity_domain(sig.identity), sig.domain))
      return kio::fail(std::string("i= is not within d="));
  } else {
    sig.identity = "@" + sig.domain;
  }
  if (auto l = get("l")) {
    sig.body_length = parse_number(trim(*l), 76);
    if (!sig.body_length) return kio::fail(std::string("malformed l="));
  }
  if (auto t = get("t")) {
    sig.timestamp = parse_number(trim(*t), 12);
    if (!sig.timestamp) return kio::fail(std::string("malformed t="));
  }
  if (auto x = get("x")) {
    sig.expiration = parse_number(trim(*x), 12);
    if (!sig.expiration) return kio::fail(std::string("malformed x="));
    if (sig.timestamp && *sig.expiration < *sig.timestamp) return kio::fail(std::string("x= before t="));
  }
  return sig;
}

kio::result<dkim_key, std::string> parse_dkim_key(std::string_view record) {
  auto tags = parse_tag_list(record);
  if (!tags) return kio::fail(std::string("malformed key record"));
  dkim_key key;
  if (auto v = find_tag(*tags, "v"); v && *v != "DKIM1") return kio::fail(std::string("key record v= is not DKIM1"));
  if (auto k = find_tag(*tags, "k")) {
    if (*k == "rsa") key.algorithm = key_algorithm::rsa;
    else if (*k == "ed25519") key.algorithm = key_algorithm::ed25519;
    else return kio::fail("unsupported key type k=" + std::string(*k));
  }
  if (auto h = find_tag(*tags, "h")) {
    bool sha256 = false;
    std::string list = strip_whitespace(*h);
    std::string_view rest = list;
    while (!rest.empty()) {
      size_t colon = rest.find(':');
      if (rest.substr(0, colon) == "sha256") sha256 = true;
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    }
    if (!sha256) return kio::fail(std::string("key does not allow sha256"));
  }
  if (auto s = find_tag(*tags, "s")) {
    std::string list = strip_whitespace(*s);
    bool email = false;
    std::string_view rest = list;
    while (!rest.empty()) {
      size_t colon = rest.find(':');
      auto item = rest.substr(0, colon);
      if (item == "*" || item == "email") email = true;
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    }
    if (!email) return kio::fail(std::string("key is not for email"));
  }
  if (auto t = find_tag(*tags, "t")) {
    std::string list = strip_whitespace(*t);
    std::string_view rest = list;
    while (!rest.empty()) {
      size_t colon = rest.find(':');
      auto item = rest.substr(0, colon);
      if (item == "y") key.testing = true;
      if (item == "s") key.strict_subdomains = true;
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    }
  }
  auto p = find_tag(*tags, "p");
  if (!p) return kio::fail(std::string("key record has no p="));
  auto decoded = decode_base64(*p, 8192);
  if (!decoded) return kio::fail(std::string("malformed p="));
  key.public_key = std::move(*decoded);
  return key;
}

// The signature field's raw bytes with the b= value (and the whitespace
// around it) removed.
static std::string without_b_value(std::string_view raw) {
  size_t colon = raw.find(':');
  std::string out(raw.substr(0, colon + 1));
  std::string_view value = raw.substr(colon + 1);
  std::string_view ending;
  if (value.size() >= 2 && value.substr(value.size() - 2) == "\r\n") ending = "\r\n";
  value.remove_suffix(ending.size());
  while (true) {
    size_t semicolon = value.find(';');
    std::string_view piece = value.substr(0, semicolon);
    size_t equals = piece.find('=');
    if (equals != std::string_view::npos && trim(piece.substr(0, equals)) == "b") out.append(piece.substr(0, equals + 1));
    else out.append(piece);
    if (semicolon == std::string_view::npos) break;
    out += ';';
    value = value.substr(semicolon + 1);
  }
  out.append(ending);
  return out;
}

std::string dkim_header_hash_input(const std::vector<header_field>& fields, size_t signature_index,
                                   const dkim_signature& signature) {
  std::string out;
  std::vector<bool> used(fields.size(), false);
  for (const std::string& name : signature.signed_headers) {
    for (size_t i = fields.size(); i-- > 0;) {
      if (used[i] || !iequals(fields[i].name, name)) continue;
      used[i] = true;
      canonicalize_header(signature.canon.header, fields[i].raw, out);
      break;
    }
  }
  canonicalize_header(signature.canon.header, without_b_value(fields[signature_index].raw), out);
  out.resize(out.size() - 2);  // the signature field is hashed without its CRLF
  return out;
}

static std::string base64_of(std::string_view bytes) { return proto::base64_encode(bytes); }

std::optional<std::string> dkim_sign(std::string_view message, const dkim_sign_options& options) {
  if (!options.key) return std::nullopt;
  size_t separator = message.find("\r\n\r\n");
  std::string_view header, body;
  if (message.starts_with("\r\n")) {
    body = message.substr(2);
  } else {
    if (separator == std::string_view::npos) return std::nullopt;
    header = message.substr(0, separator + 2);
    body = message.substr(separator + 4);
  }
  auto fields = split_header_fields(header);
  if (!fields) return std::nullopt;

  body_canonicalizer body_canon(canonicalization::relaxed);
  sha256 body_hash;
  std::string chunk;
  for (size_t pos = 0; pos < body.size(); pos += 65536) {
    chunk.clear();
    body_canon.feed(body.substr(pos, 65536), chunk);
    body_hash.update(chunk);
  }
  chunk.clear();
  body_canon.finish(chunk);
  body_hash.update(chunk);
  auto bh = body_hash.finish();

  dkim_signature sig;
  sig.algorithm = options.key->algorithm();
  sig.canon = {canonicalization::relaxed, canonicalization::relaxed};
  for (const std::string& name : options.header_names) {
    size_t count = 0;
    for (const header_field& f : *fields)
      if (iequals(f.name, name)) ++count;
    if (name == "from") ++count;  // over-sign
    for (size_t i = 0; i < count; ++i) sig.signed_headers.push_back(name);
  }

  std::string field = "DKIM-Signature: v=1; a=";
  field += dkim_algorithm_name(sig.algorithm);
  field += "; c=relaxed/relaxed; d=" + options.domain + "; s=" + options.selector + ";\r\n\t";
  if (options.timestamp) field += "t=" + std::to_string(options.timestamp) + "; ";
  field += "h=";
  size_t line = 10;
  for (size_t i = 0; i < sig.signed_headers.size(); ++i) {
    if (i) {
      field += ':';
      ++line;
    }
    if (line + sig.signed_headers[i].size() > 72) {
      field += "\r\n\t";
      line = 1;
    }
    field += sig.signed_headers[i];
    line += sig.signed_headers[i].size();
  }
  field += ";\r\n\tbh=" + base64_of(std::string_view(reinterpret_cast<const char*>(bh.data()), bh.size()));
  field += ";\r\n\tb=";

  std::vector<header_field> with_signature = *fields;
  std::string provisional = field + "\r\n";
  with_signature.push_back({"DKIM-Signature", provisional});
  std::string input = dkim_header_hash_input(with_signature, with_signature.size() - 1, sig);
  sha256 header_hash;
  header_hash.update(input);
  auto signature = options.key->sign_digest(header_hash.finish());
  if (!signature) return std::nullopt;
  std::string b = base64_of(*signature);
  for (size_t i = 0; i < b.size(); i += 72) {
    if (i) field += "\r\n\t ";
    field.append(b, i, 72);
  }
  field += "\r\n";
  return field;
}

// One signature being checked: its parsed tags and its body hash in progress.
struct dkim_verifier::pending {
  dkim_signature signature;
  size_t field_index = 0;
  body_canonicalizer canon;
  sha256 hash;
  uint64_t hashed = 0;  // canonical body bytes hashed so far
  uint64_t total = 0;   // canonical body bytes seen
  std::string scratch;
  pending(dkim_signature s, size_t index) : signature(std::move(s)), field_index(index), canon(signature.canon.body) {}
  void consume() {
    total += scratch.size();
    std::string_view out = scratch;
    if (signature.body_length) {
      uint64_t room = *signature.body_length > hashed ? *signature.body_length - hashed : 0;
      if (out.size() > room) out = out.substr(0, room);
    }
    hash.update(out);
    hashed += out.size();
    scratch.clear();
  }
  void feed(std::string_view bytes) {
    canon.feed(bytes, scratch);
    consume();
  }
  void finish() {
    canon.finish(scratch);
    consume();
  }
};

dkim_verifier::dkim_verifier(dkim_verify_limits limits) : _limits(limits), _headers(limits.header_bytes_max) {}
dkim_verifier::~dkim_verifier() = default;

void dkim_verifier::start_body() {
  _body_started = true;
  if (_headers.overflowed()) return;
  auto fields = split_header_fields(_headers.header());
  if (!fields) return;
  _fields = std::move(*fields);
  for (size_t i = 0; i < _fields.size(); ++i) {
    if (!iequals(_fields[i].name, "DKIM-Signature")) continue;
    auto parsed = parse_dkim_signature(_fields[i].value());
    if (!parsed) {
      dkim_result r;
      r.verdict = dkim_verdict::permerror;
      r.reason = parsed.error();
      _early.push_back(std::move(r));
      continue;
    }
    if (_pending.size() >= _limits.signatures_max) {
      dkim_result r;
      r.verdict = dkim_verdict::neutral;
      r.domain = parsed->domain;
      r.selector = parsed->selector;
      r.reason = "too many signatures, not checked";
      _early.push_back(std::move(r));
      continue;
    }
    _pending.push_back(std::make_unique<pending>(std::move(*parsed), i));
  }
}

void dkim_verifier::feed(std::string_view bytes) {
  if (!_body_started) {
    size_t used = _headers.feed(bytes);
    if (_headers.overflowed()) {
      _body_started = true;  // nothing can be verified; verify() says so
      return;
    }
    if (!_headers.complete()) return;
    bytes.remove_prefix(used);
    start_body();
  }
  for (auto& p : _pending) p->feed(bytes);
}

kio::task<std::vector<dkim_result>> dkim_verifier::verify(dns_resolver& dns) {
  if (!_body_started) start_body();  // a message without a body
  std::vector<dkim_result> results = std::move(_early);
  if (_headers.overflowed()) {
    dkim_result r;
    r.verdict = dkim_verdict::permerror;
    r.reason = "header section too large to verify";
    results.push_back(std::move(r));
    co_return results;
  }
  for (auto& p : _pending) {
    p->finish();
    const dkim_signature& sig = p->signature;
    dkim_result r;
    r.domain = sig.domain;
    r.selector = sig.selector;
    r.identity = sig.identity;
    r.b_prefix = sig.signature_base64.substr(0, 8);
    r.algorithm = sig.algorithm;
    auto finish = [&](dkim_verdict v, std::string reason) {
      r.verdict = v;
      r.reason = std::move(reason);
      results.push_back(r);
    };
    if (_limits.now_seconds && sig.expiration && *sig.expiration < _limits.now_seconds) {
      finish(dkim_verdict::fail, "signature expired");
      continue;
    }
    if (sig.body_length && *sig.body_length > p->total) {
      finish(dkim_verdict::permerror, "l= is longer than the body");
      continue;
    }
    auto answer = co_await dns.txt(sig.selector + "._domainkey." + sig.domain);
    if (answer.status == dns_status::temporary) {
      finish(dkim_verdict::temperror, "key lookup failed");
      continue;
    }
    if (answer.status != dns_status::ok || answer.records.empty()) {
      finish(dkim_verdict::permerror, "no key for signature");
      continue;
    }
    std::optional<dkim_key> key;
    std::string key_error;
    for (const std::string& record : answer.records) {
      auto parsed = parse_dkim_key(record);
      if (parsed) {
        key = std::move(*parsed);
        break;
      }
      key_error = parsed.error();
    }
    if (!key) {
      finish(dkim_verdict::permerror, key_error);
      continue;
    }
    r.testing = key->testing;
    if (key->public_key.empty()) {
      finish(dkim_verdict::permerror, "key revoked");
      continue;
    }
    if (key->algorithm != sig.algorithm) {
      finish(dkim_verdict::permerror, "key type does not match a=");
      continue;
    }
    if (key->strict_subdomains && !iequals(identity_domain(sig.identity), sig.domain)) {
      finish(dkim_verdict::permerror, "i= is a subdomain but the key has t=s");
      continue;
    }
    auto body_hash = p->hash.finish();
    if (std::string_view(reinterpret_cast<const char*>(body_hash.data()), body_hash.size()) != sig.body_hash) {
      finish(dkim_verdict::fail, "body hash did not verify");
      continue;
    }
    sha256 header_hash;
    header_hash.update(dkim_header_hash_input(_fields, p->field_index, sig));
    switch (verify_digest(sig.algorithm, key->public_key, header_hash.finish(), sig.signature, _limits.rsa_bits_min)) {
      case verify_outcome::good: finish(dkim_verdict::pass, ""); break;
      case verify_outcome::bad_signature: finish(dkim_verdict::fail, "signature did not verify"); break;
      case verify_outcome::bad_key: finish(dkim_verdict::permerror, "unusable public key"); break;
      case verify_outcome::weak_key: finish(dkim_verdict::policy, "key too short"); break;
    }
  }
  co_return results;
}

}  // namespace msgauth
