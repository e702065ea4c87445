#include "protocols/imap/search/thread.h"

#include <algorithm>
#include <limits>
#include <map>
#include <unordered_map>

namespace imap::search {

std::vector<std::string> parse_message_ids(std::string_view value, std::size_t limit) {
  std::vector<std::string> ids;
  std::size_t i = 0;
  while (ids.size() < limit) {
    std::size_t open = value.find('<', i);
    if (open == std::string_view::npos) break;
    std::size_t close = value.find('>', open + 1);
    if (close == std::string_view::npos) break;
    std::string id;
    for (std::size_t k = open; k <= close; ++k)
      if (value[k] != ' ' && value[k] != '\t' && value[k] != '\r' && value[k] != '\n') id += value[k];
    if (id.size() > 2 && id.find('<', 1) == std::string::npos) ids.push_back(std::move(id));
    i = close + 1;
  }
  return ids;
}

namespace {

constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
// A parent chain longer than this is not extended: it bounds the walks that
// keep the graph acyclic and the recursion over the finished tree.
constexpr std::size_t depth_max = 512;

struct container {
  std::size_t message = none;  // index into the messages, or none for a dummy
  std::size_t parent = none;
  std::vector<std::size_t> children;
};

class threader {
 public:
  explicit threader(std::span<const message_keys> messages) : _m(messages) {}

  std::string run() {
    link_all();
    std::vector<std::size_t> roots;
    for (std::size_t c = 0; c < _c.size(); ++c)
      if (_c[c].parent == none) roots.push_back(c);
    roots = prune(roots, true);
    sort_siblings(roots, 0);
    roots = group_by_subject(roots);
    sort_siblings(roots, 0);
    std::string out;
    for (auto r : roots) format(r, out);
    return out;
  }

 private:
  std::size_t get(const std::string& id) {
    auto [it, fresh] = _ids.try_emplace(id, _c.size());
    if (fresh) _c.emplace_back();
    return it->second;
  }
  std::size_t fresh() {
    _c.emplace_back();
    return _c.size() - 1;
  }
  // True when `a` is `b` or one of b's ancestors, or b's chain is too long
  // to add to (both mean: do not make a a child of b).
  bool refuses_child(std::size_t a, std::size_t b) const {
    std::size_t steps = 0;
    for (std::size_t x = b; x != none; x = _c[x].parent) {
      if (x == a || ++steps > depth_max) return true;
    }
    return false;
  }
  void unlink(std::size_t c) {
    auto& siblings = _c[_c[c].parent].children;
    siblings.erase(std::find(siblings.begin(), siblings.end(), c));
    _c[c].parent = none;
  }
  void link(std::size_t parent, std::size_t child) {
    _c[child].parent = parent;
    _c[parent].children.push_back(child);
  }

  // RFC 5256 REFERENCES step 1.
  void link_all() {
    for (std::size_t k = 0; k < _m.size(); ++k) {
      const auto& m = _m[k];
      std::size_t c = none;
      if (!m.message_id.empty()) {
        c = get(m.message_id);
        if (_c[c].message != none) c = fresh();  // a duplicate id: a message of its own
      } else {
        c = fresh();
      }
      _c[c].message = k;
      std::size_t previous = none;
      for (const auto& reference : m.references) {
        std::size_t r = get(reference);
        if (previous != none && r != previous && _c[r].parent == none && !refuses_child(r, previous)) link(previous, r);
        previous = r;
      }
      if (_c[c].parent != none) unlink(c);
      if (previous != none && previous != c && !refuses_child(c, previous)) link(previous, c);
    }
  }

  // Step 3. `depth` counts levels below the root set.
  std::vector<std::size_t> prune(const std::vector<std::size_t>& list, bool root_level, std::size_t depth = 0) {
    std::vector<std::size_t> out;
    for (auto c : list) {
      if (depth < depth_max * 2) _c[c].children = prune(_c[c].children, false, depth + 1);
      if (_c[c].message == none) {
        if (_c[c].children.empty()) continue;
        if (!root_level || _c[c].children.size() == 1) {
          for (auto child : _c[c].children) {
            _c[child].parent = _c[c].parent;
            out.push_back(child);
          }
          continue;
        }
      }
      out.push_back(c);
    }
    return out;
  }

  // The message that stands for a container: itself, or a dummy's first child's.
  std::size_t representative(std::size_t c) const {
    std::size_t steps = 0;
    while (_c[c].message == none && !_c[c].children.empty() && ++steps < depth_max * 4) c = _c[c].children.front();
    return _c[c].message;
  }
  bool earlier(std::size_t a, std::size_t b) const {
    std::size_t ma = representative(a), mb = representative(b);
    if (ma == none || mb == none) return ma != none && mb == none;
    if (_m[ma].sent_seconds != _m[mb].sent_seconds) return _m[ma].sent_seconds < _m[mb].sent_seconds;
    return _m[ma].number < _m[mb].number;
  }
  // Steps 4 and 6: children before parents, so a dummy's first child is known.
  void sort_siblings(std::vector<std::size_t>& list, std::size_t depth) {
    if (depth < depth_max * 4)
      for (auto c : list) sort_siblings(_c[c].children, depth + 1);
    std::stable_sort(list.begin(), list.end(), [&](std::size_t a, std::size_t b) { return earlier(a, b); });
  }

  // Step 5: roots with the same base subject are gathered.
  std::vector<std::size_t> group_by_subject(std::vector<std::size_t> roots) {
    auto subject_of = [&](std::size_t c) -> const message_keys* {
      std::size_t m = representative(c);
      return m == none ? nullptr : &_m[m];
    };
    std::map<std::string, std::size_t> table;
    for (auto r : roots) {
      const auto* k = subject_of(r);
      if (!k || k->base_subject.empty()) continue;
      auto [it, fresh_entry] = table.try_emplace(k->base_subject, r);
      if (fresh_entry) continue;
      std::size_t old = it->second;
      bool old_dummy = _c[old].message == none, this_dummy = _c[r].message == none;
      if ((this_dummy && !old_dummy) ||
          (!old_dummy && !this_dummy && _m[_c[old].message].reply_or_forward && !k->reply_or_forward))
        it->second = r;
    }
    std::vector<std::size_t> out;
    for (auto r : roots) {
      const auto* k = subject_of(r);
      if (!k || k->base_subject.empty()) {
        out.push_back(r);
        continue;
      }
      std::size_t& t = table.at(k->base_subject);
      if (_c[r].parent != none) continue;  // already gathered under a new dummy
      if (t == r) {
        out.push_back(r);
        continue;
      }
      bool table_dummy = _c[t].message == none, this_dummy = _c[r].message == none;
      if (table_dummy && this_dummy) {
        for (auto child : _c[r].children) link(t, child);
        _c[r].children.clear();
      } else if (table_dummy) {
        link(t, r);
      } else if (k->reply_or_forward && !_m[_c[t].message].reply_or_forward) {
        link(t, r);
      } else {
        // Neither is a reply of the other: siblings under a new dummy,
        // which takes the table entry's place in the root set.
        std::size_t d = fresh();
        std::size_t previous = t;
        link(d, previous);
        link(d, r);
        t = d;
        bool replaced = false;
        for (auto& o : out)
          if (o == previous) o = d, replaced = true;
        if (!replaced) out.push_back(d);  // the table entry comes later in the root set
      }
    }
    return out;
  }

  void format(std::size_t c, std::string& out, std::size_t depth = 0) const {
    out += '(';
    bool first = true;
    std::size_t x = c;
    while (true) {
      if (_c[x].message != none) {
        if (!first) out += ' ';
        out += std::to_string(_m[_c[x].message].number);
        first = false;
      }
      if (_c[x].children.size() == 1 && _c[x].message != none) {
        x = _c[x].children.front();
        continue;
      }
      if (!_c[x].children.empty()) {
        if (!first) out += ' ';
        for (auto child : _c[x].children) format(child, out, depth + 1);
      }
      break;
    }
    out += ')';
  }

  std::span<const message_keys> _m;
  std::vector<container> _c;
  std::unordered_map<std::string, std::size_t> _ids;
};

}  // namespace

std::string thread_references(std::span<const message_keys> messages) {
  threader t(messages);
  return t.run();
}

std::string thread_ordered_subject(std::span<const message_keys> messages) {
  // Sorted by base subject, then date; each subject's first message is the
  // parent of the others (RFC 5256 ORDEREDSUBJECT).
  std::vector<std::size_t> order(messages.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto by_date = [&](std::size_t a, std::size_t b) {
    if (messages[a].sent_seconds != messages[b].sent_seconds) return messages[a].sent_seconds < messages[b].sent_seconds;
    return messages[a].number < messages[b].number;
  };
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (messages[a].base_subject != messages[b].base_subject) return messages[a].base_subject < messages[b].base_subject;
    return by_date(a, b);
  });
  std::vector<std::vector<std::size_t>> threads;
  for (auto i : order) {
    if (threads.empty() || messages[threads.back().front()].base_subject != messages[i].base_subject)
      threads.emplace_back();
    threads.back().push_back(i);
  }
  std::stable_sort(threads.begin(), threads.end(),
                   [&](const auto& a, const auto& b) { return by_date(a.front(), b.front()); });
  std::string out;
  for (const auto& t : threads) {
    out += '(';
    out += std::to_string(messages[t.front()].number);
    if (t.size() == 2) {
      out += ' ';
      out += std::to_string(messages[t[1]].number);
    } else if (t.size() > 2) {
      out += ' ';
      for (std::size_t k = 1; k < t.size(); ++k) out += '(' + std::to_string(messages[t[k]].number) + ')';
    }
    out += ')';
  }
  return out;
}

}  // namespace imap::search
