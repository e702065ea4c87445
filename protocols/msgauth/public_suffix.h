#pragma once
// The organizational domain (RFC 7489 §3.2) from the Public Suffix List.
// The appliance reads Debian's copy (/usr/share/publicsuffix/
// public_suffix_list.dat, package publicsuffix) once at start and hands the
// text to parse(); without it the list is empty and only the default rule
// "*" applies (the organizational domain is the last two labels), which is
// wrong for domains under multi-label suffixes such as co.uk.

#include <string>
#include <string_view>
#include <unordered_set>

namespace msgauth {

class public_suffix_list {
 public:
  // Parses the list's text format: one rule per line, "//" comments,
  // "*.x" wildcards, "!x" exceptions. Rules are lowercased.
  static public_suffix_list parse(std::string_view text);
  // The registrable ("organizational") domain of `domain`, lowercased: its
  // public suffix plus one label; the domain itself if it is a suffix.
  std::string organizational_domain(std::string_view domain) const;
  size_t rule_count() const { return _rules.size() + _wildcards.size() + _exceptions.size(); }

 private:
  std::unordered_set<std::string> _rules;       // "co.uk"
  std::unordered_set<std::string> _wildcards;   // "ck" for "*.ck"
  std::unordered_set<std::string> _exceptions;  // "www.ck" for "!www.ck"
};

}  // namespace msgauth
