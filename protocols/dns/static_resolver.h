#pragma once
// static_resolver: a dns::resolver that answers from tables filled by the
// test. A name with no entry of the asked type answers no_data if the name
// appears anywhere in the tables and not_found otherwise; a name put in
// `temporary_failures` answers temporary for every type. Lookups complete
// without suspending. For unit tests of code written against dns::resolver.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "protocols/dns/resolver.h"

namespace dns {

class static_resolver final : public resolver {
 public:
  std::map<std::string, std::vector<mx_record>> mx_records;
  std::map<std::string, std::vector<ip_address>> a_records;
  std::map<std::string, std::vector<ip_address>> aaaa_records;
  std::map<std::string, std::vector<txt_record>> txt_records;
  std::map<std::string, std::vector<std::string>> ptr_records;  // key: reverse_name()
  std::set<std::string> temporary_failures;
  size_t queries = 0;  // how many lookups were asked (SPF lookup-limit tests)

  kio::task<lookup<std::vector<mx_record>>> mx(std::string name) override { co_return find(mx_records, name); }
  kio::task<lookup<std::vector<ip_address>>> a(std::string name) override { co_return find(a_records, name); }
  kio::task<lookup<std::vector<ip_address>>> aaaa(std::string name) override {
    co_return find(aaaa_records, name);
  }
  kio::task<lookup<std::vector<txt_record>>> txt(std::string name) override { co_return find(txt_records, name); }
  kio::task<lookup<std::vector<std::string>>> ptr(ip_address address) override {
    co_return find(ptr_records, reverse_name(address));
  }

 private:
  template <class T>
  lookup<std::vector<T>> find(const std::map<std::string, std::vector<T>>& table, const std::string& raw) {
    ++queries;
    auto name = to_a_label(raw);
    if (!name) return kio::fail(name.error());
    if (temporary_failures.count(*name)) return kio::fail(errc::temporary);
    if (auto it = table.find(*name); it != table.end() && !it->second.empty()) return it->second;
    if (known(*name)) return kio::fail(errc::no_data);
    return kio::fail(errc::not_found);
  }
  bool known(const std::string& name) const {
    return mx_records.count(name) || a_records.count(name) || aaaa_records.count(name) ||
           txt_records.count(name) || ptr_records.count(name);
  }
};

}  // namespace dns
