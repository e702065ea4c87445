// Fuzz target for the pure parsers of protocols/msgauth.
// Properties checked (any violation aborts):
//  1. a tag list that parses, written back as "name=value;", parses to the
//     same tags;
//  2. body canonicalization gives the same bytes whether the input comes in
//     one piece or cut at an arbitrary point, and relaxed canonicalization
//     is idempotent;
//  3. header field splitting returns fields that are pieces of the input,
//     in order;
//  4. the DKIM-Signature, key record, SPF and DMARC parsers and the whole
//     DKIM verifier (with a resolver that knows no names) never crash.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/msgauth/canonical.h"
#include "protocols/msgauth/dkim.h"
#include "protocols/msgauth/dmarc.h"
#include "protocols/msgauth/message.h"
#include "protocols/msgauth/spf.h"
#include "protocols/msgauth/tag_list.h"

#define CHECK(cond)       \
  do {                    \
    if (!(cond)) {        \
      __builtin_trap();   \
    }                     \
  } while (0)

namespace {

class no_dns final : public msgauth::dns_resolver {
  template <class A>
  static A none() {
    A a;
    a.status = msgauth::dns_status::nxdomain;
    return a;
  }

 public:
  kio::task<msgauth::txt_answer> txt(std::string) override { co_return none<msgauth::txt_answer>(); }
  kio::task<msgauth::address_answer> a(std::string) override { co_return none<msgauth::address_answer>(); }
  kio::task<msgauth::address_answer> aaaa(std::string) override { co_return none<msgauth::address_answer>(); }
  kio::task<msgauth::mx_answer> mx(std::string) override { co_return none<msgauth::mx_answer>(); }
  kio::task<msgauth::name_answer> ptr(msgauth::ip_address) override { co_return none<msgauth::name_answer>(); }
};

kio::detached drive(msgauth::dkim_verifier& verifier, msgauth::dns_resolver& dns, bool& done) {
  auto results = co_await verifier.verify(dns);
  (void)results;
  done = true;
}

std::string canon(msgauth::canonicalization c, std::string_view in, size_t cut) {
  msgauth::body_canonicalizer b(c);
  std::string out;
  b.feed(in.substr(0, cut), out);
  b.feed(in.substr(cut), out);
  b.finish(out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  // 1.
  if (auto tags = msgauth::parse_tag_list(input)) {
    std::string written;
    for (const auto& t : *tags) {
      written.append(t.name);
      written += '=';
      written.append(t.value);
      written += ';';
    }
    auto again = msgauth::parse_tag_list(written);
    CHECK(again && again->size() == tags->size());
    for (size_t i = 0; i < tags->size(); ++i) {
      CHECK((*again)[i].name == (*tags)[i].name);
      CHECK((*again)[i].value == (*tags)[i].value);
    }
  }

  // 2.
  const size_t cut = input.empty() ? 0 : selector % (input.size() + 1);
  for (auto c : {msgauth::canonicalization::simple, msgauth::canonicalization::relaxed}) {
    std::string whole = canon(c, input, input.size());
    CHECK(canon(c, input, cut) == whole);
    if (c == msgauth::canonicalization::relaxed) CHECK(canon(c, whole, whole.size()) == whole);
  }

  // 3.
  if (auto fields = msgauth::split_header_fields(input)) {
    const char* previous_end = input.data();
    for (const auto& f : *fields) {
      CHECK(f.raw.data() >= previous_end);
      CHECK(f.raw.data() + f.raw.size() <= input.data() + input.size());
      previous_end = f.raw.data() + f.raw.size();
    }
  }

  // 4.
  (void)msgauth::parse_dkim_signature(input);
  (void)msgauth::parse_dkim_key(input);
  (void)msgauth::parse_spf_record(input);
  (void)msgauth::parse_dmarc_record(input);
  msgauth::spf_context context{*msgauth::ip_address::parse("192.0.2.1"), "a@b.example", "h.example", "r"};
  (void)msgauth::spf_expand(input, context, "d.example", selector & 1);
  msgauth::dkim_verifier verifier({});
  verifier.feed(input.substr(0, cut));
  verifier.feed(input.substr(cut));
  no_dns dns;
  bool done = false;
  drive(verifier, dns, done).handle.resume();
  CHECK(done);
  return 0;
}
