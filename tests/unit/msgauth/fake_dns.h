#pragma once
// A table-driven dns_resolver for the msgauth unit tests: answers come from
// maps filled by the test, and every question asked is recorded, so tests
// can check what (and how much) an evaluator looked up.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "protocols/msgauth/dns.h"

namespace msgauth::test {

class fake_dns final : public dns_resolver {
 public:
  std::map<std::string, txt_answer> txt_records;
  std::map<std::string, address_answer> a_records, aaaa_records;
  std::map<std::string, mx_answer> mx_records;
  std::map<std::string, name_answer> ptr_records;  // keyed by reverse name
  std::vector<std::string> asked;                  // "TXT name", "A name", ...

  void add_txt(const std::string& name, std::vector<std::string> records) {
    txt_records[name] = {dns_status::ok, std::move(records)};
  }
  void add_a(const std::string& name, const std::vector<std::string>& addresses) {
    auto& answer = addresses.empty() || addresses[0].find(':') == std::string::npos ? a_records[name] : aaaa_records[name];
    answer.status = dns_status::ok;
    for (const auto& a : addresses) answer.addresses.push_back(*ip_address::parse(a));
  }
  void add_mx(const std::string& name, std::vector<mx_record> records) {
    mx_records[name] = {dns_status::ok, std::move(records)};
  }

  kio::task<txt_answer> txt(std::string name) override {
    asked.push_back("TXT " + name);
    co_return find(txt_records, name);
  }
  kio::task<address_answer> a(std::string name) override {
    asked.push_back("A " + name);
    co_return find(a_records, name);
  }
  kio::task<address_answer> aaaa(std::string name) override {
    asked.push_back("AAAA " + name);
    co_return find(aaaa_records, name);
  }
  kio::task<mx_answer> mx(std::string name) override {
    asked.push_back("MX " + name);
    co_return find(mx_records, name);
  }
  kio::task<name_answer> ptr(ip_address address) override {
    std::string name = address.reverse_name();
    asked.push_back("PTR " + name);
    co_return find(ptr_records, name);
  }

 private:
  template <class Map>
  static typename Map::mapped_type find(const Map& map, const std::string& name) {
    auto it = map.find(name);
    if (it != map.end()) return it->second;
    typename Map::mapped_type none;
    none.status = dns_status::nxdomain;
    return none;
  }
};

// Runs a task that never suspends on a real event (the fake answers at
// once) to completion, and returns its value.
template <class T>
T run(kio::task<T> t) {
  std::optional<T> out;
  auto driver = [](kio::task<T>& inner, std::optional<T>& result) -> kio::detached {
    result.emplace(co_await inner);
  };
  driver(t, out).handle.resume();
  return std::move(*out);
}

}  // namespace msgauth::test
