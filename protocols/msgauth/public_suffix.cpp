#include "protocols/msgauth/public_suffix.h"

#include <vector>

#include "protocols/msgauth/tag_list.h"

namespace msgauth {

public_suffix_list public_suffix_list::parse(std::string_view text) {
  public_suffix_list list;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    // A rule ends at the first whitespace.
    size_t space = line.find_first_of(" \t\r");
    line = line.substr(0, space);
    if (line.empty() || line.starts_with("//")) continue;
    if (line.starts_with("!")) list._exceptions.insert(to_lower(line.substr(1)));
    else if (line.starts_with("*.")) list._wildcards.insert(to_lower(line.substr(2)));
    else list._rules.insert(to_lower(line));
  }
  return list;
}

std::string public_suffix_list::organizational_domain(std::string_view domain_in) const {
  std::string domain = to_lower(domain_in);
  while (!domain.empty() && domain.back() == '.') domain.pop_back();
  // Label start offsets, left to right.
  std::vector<size_t> starts{0};
  for (size_t i = 0; i < domain.size(); ++i)
    if (domain[i] == '.') starts.push_back(i + 1);
  size_t labels = starts.size();
  // The longest matching rule decides the suffix's label count; an
  // exception rule's suffix is the rule minus its leftmost label.
  size_t suffix_labels = 1;  // the default rule "*"
  for (size_t k = 0; k < labels; ++k) {
    std::string_view candidate = std::string_view(domain).substr(starts[k]);
    size_t candidate_labels = labels - k;
    if (_exceptions.count(std::string(candidate))) {
      suffix_labels = candidate_labels - 1;
      break;
    }
    if (_rules.count(std::string(candidate))) suffix_labels = std::max(suffix_labels, candidate_labels);
    if (k + 1 < labels && _wildcards.count(std::string(std::string_view(domain).substr(starts[k + 1]))))
      suffix_labels = std::max(suffix_labels, candidate_labels);
  }
  if (suffix_labels >= labels) return domain;
  return domain.substr(starts[labels - suffix_labels - 1]);
}

}  // namespace msgauth
