#pragma once
// Invariants of a parsed message, shared by the unit tests, the corpus tests
// and the fuzz target: offsets nest and slice back, line counts match the
// bytes, and the streaming parser fed in any chunking reports the same
// events and the same tree as the whole-message parser. Returns an empty
// string when all hold, else a description of the first violation.

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mime/header.h"
#include "protocols/mime/stream_parser.h"
#include "protocols/mime/structure.h"

namespace mime::check {

inline std::size_t count_lines(std::string_view s) {
  std::size_t n = static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
  if (!s.empty() && s.back() != '\n') ++n;
  return n;
}

inline std::string describe(const part_info& p) {
  return "part " + std::to_string(p.id) + " [" + std::to_string(p.header_start) + "," +
         std::to_string(p.body_start) + "," + std::to_string(p.body_end) + ") " + p.type.type + "/" +
         p.type.subtype;
}

inline std::string check_tree(const message_tree& tree, std::string_view msg) {
  if (tree.parts.empty()) return "no root";
  const part_info& root = tree.parts[0].info;
  if (root.body_end != msg.size()) return "root does not end at the message end";
  if (root.header_start != mbox_from_line_size(msg)) return "root header_start";
  for (const part_node& node : tree.parts) {
    const part_info& p = node.info;
    if (!(p.header_start <= p.body_start && p.body_start <= p.body_end && p.body_end <= msg.size()))
      return "offsets out of order: " + describe(p);
    std::string_view body = msg.substr(p.body_start, p.body_size());
    if (p.body_lines != count_lines(body)) return "body_lines mismatch: " + describe(p);
    std::string_view header = msg.substr(p.header_start, p.header_size());
    if (p.header_lines != static_cast<std::size_t>(std::count(header.begin(), header.end(), '\n')))
      return "header_lines mismatch: " + describe(p);
    std::uint32_t count = 0;
    std::size_t previous_end = p.body_start;
    for (std::uint32_t c = node.first_child; c != no_part; c = tree.parts[c].next_sibling) {
      const part_info& child = tree.parts[c].info;
      ++count;
      if (child.parent != p.id) return "parent link: " + describe(child);
      if (child.header_start < previous_end || child.body_end > p.body_end)
        return "child outside parent or overlapping sibling: " + describe(child);
      previous_end = child.body_end;
      if (p.kind == part_kind::multipart && child.body_end < p.body_end) {
        // A child ends before a boundary line: optional line break, then "--".
        std::string_view after = msg.substr(child.body_end);
        if (after.substr(0, 2) == "\r\n") after.remove_prefix(2);
        else if (after.substr(0, 1) == "\n") after.remove_prefix(1);
        if (after.substr(0, 2) != "--") return "multipart child not followed by a boundary: " + describe(child);
      }
      if (p.kind == part_kind::message && (child.header_start != p.body_start || child.body_end != p.body_end))
        return "embedded message does not fill its part: " + describe(child);
    }
    if (count != node.child_count) return "child_count: " + describe(p);
    if (p.kind == part_kind::leaf && count != 0) return "leaf with children: " + describe(p);
    if (p.kind == part_kind::message && count != 1) return "message/rfc822 without one child: " + describe(p);
  }
  return {};
}

// Records events in a canonical form: body bytes are concatenated per part,
// since their split depends on the chunking.
class recorder final : public stream_handler {
 public:
  explicit recorder(std::string_view msg) : _msg(msg) {}
  std::string log;
  std::string error;
  std::vector<std::string> bodies;

  void on_part_header_begin(const part_info& p) override {
    log += "begin " + std::to_string(p.id) + " parent " + std::to_string(p.parent) + " at " +
           std::to_string(p.header_start) + "\n";
    if (bodies.size() <= p.id) bodies.resize(p.id + 1);
  }
  void on_header_field(const part_info& p, const stream_header_field& f) override {
    log += "field " + std::to_string(p.id) + " " + std::string(f.name) + ":" + std::string(f.value) + " @" +
           std::to_string(f.offset) + "-" + std::to_string(f.end_offset) + (f.truncated ? " truncated" : "") + "\n";
    if (!f.truncated && _msg.substr(f.offset, f.end_offset - f.offset).find(f.value) == std::string_view::npos &&
        error.empty())
      error = "field value not found at its offsets: " + std::string(f.name);
  }
  void on_part_body_begin(const part_info& p) override {
    log += "body " + std::to_string(p.id) + " " + p.type.type + "/" + p.type.subtype + " enc " +
           std::to_string(static_cast<int>(p.encoding)) + " at " + std::to_string(p.body_start) + "\n";
  }
  void on_body(const part_info& p, std::string_view raw, std::size_t offset) override {
    if (_msg.substr(offset, raw.size()) != raw && error.empty())
      error = "body bytes differ from the message at offset " + std::to_string(offset);
    bodies[p.id].append(raw);
  }
  void on_decoded_body(const part_info& p, std::string_view decoded) override {
    _decoded[p.id] += decoded;
  }
  void on_part_end(const part_info& p) override {
    log += "end " + describe(p) + " lines " + std::to_string(p.body_lines) + "/" + std::to_string(p.header_lines) +
           " kind " + std::to_string(static_cast<int>(p.kind)) + " defects " + std::to_string(p.defects) + " body " +
           std::to_string(bodies[p.id].size()) + " decoded " + std::to_string(_decoded[p.id].size()) + "\n";
    if (p.kind == part_kind::leaf && bodies[p.id] != _msg.substr(p.body_start, p.body_size()) && error.empty())
      error = "leaf body events differ from [body_start, body_end): " + describe(p);
  }

 private:
  std::string_view _msg;
  std::vector<std::string> _decoded_store;
  struct decoded_map {
    std::vector<std::string> v;
    std::string& operator[](std::uint32_t id) {
      if (v.size() <= id) v.resize(id + 1);
      return v[id];
    }
  } _decoded;
};

inline std::string tree_text(const message_tree& t) {
  std::string s;
  for (const part_node& n : t.parts) {
    const part_info& p = n.info;
    s += describe(p) + " p" + std::to_string(p.parent) + " l" + std::to_string(p.body_lines) + " h" +
         std::to_string(p.header_lines) + " k" + std::to_string(static_cast<int>(p.kind)) + " c" +
         std::to_string(n.child_count) + " d" + std::to_string(p.defects) + "\n";
  }
  return s;
}

// Feeds `msg` in chunks whose sizes come from `seed` (0: one chunk) and
// returns the event log; `tree` receives the tree built from the events.
inline std::string run_stream(std::string_view msg, std::uint32_t seed, std::string& error, message_tree* tree,
                              const limits& lim = {}) {
  recorder rec(msg);
  tree_builder builder;
  struct tee final : stream_handler {
    stream_handler& a;
    stream_handler& b;
    tee(stream_handler& x, stream_handler& y) : a(x), b(y) {}
    void on_part_header_begin(const part_info& p) override { a.on_part_header_begin(p); b.on_part_header_begin(p); }
    void on_header_field(const part_info& p, const stream_header_field& f) override {
      a.on_header_field(p, f);
      b.on_header_field(p, f);
    }
    void on_part_body_begin(const part_info& p) override { a.on_part_body_begin(p); b.on_part_body_begin(p); }
    void on_body(const part_info& p, std::string_view r, std::size_t o) override { a.on_body(p, r, o); b.on_body(p, r, o); }
    void on_decoded_body(const part_info& p, std::string_view d) override { a.on_decoded_body(p, d); b.on_decoded_body(p, d); }
    void on_part_end(const part_info& p) override { a.on_part_end(p); b.on_part_end(p); }
  } both(rec, builder);
  stream_options options;
  options.lim = lim;
  options.decode_all = true;
  stream_parser parser(both, options);
  if (seed == 0) {
    parser.feed(msg);
  } else {
    std::mt19937 rng(seed);
    std::size_t pos = 0;
    while (pos < msg.size()) {
      // Mostly tiny chunks (they hit every carry-over path), some large.
      std::size_t n = rng() % 4 == 0 ? 1 + rng() % 4096 : 1 + rng() % 8;
      n = std::min(n, msg.size() - pos);
      // Copy so a parser that kept a view into an old chunk would read junk.
      std::string chunk(msg.substr(pos, n));
      parser.feed(chunk);
      pos += n;
    }
  }
  parser.finish();
  error = rec.error;
  if (tree != nullptr) *tree = builder.take(msg.size(), parser.defects());
  return rec.log;
}

// Everything: tree invariants, event/body exactness, chunking equivalence.
inline std::string check_message(std::string_view msg, std::uint32_t seeds = 3, const limits& lim = {}) {
  message_tree tree = parse_message(msg, lim);
  std::string err = check_tree(tree, msg);
  if (!err.empty()) return err;
  message_tree one_tree;
  std::string one = run_stream(msg, 0, err, &one_tree, lim);
  if (!err.empty()) return "one chunk: " + err;
  if (tree_text(one_tree) != tree_text(tree)) return "stream tree differs from parse_message";
  for (std::uint32_t seed = 1; seed <= seeds; ++seed) {
    message_tree chunked_tree;
    std::string chunked = run_stream(msg, seed, err, &chunked_tree, lim);
    if (!err.empty()) return "seed " + std::to_string(seed) + ": " + err;
    if (chunked != one) {
      std::size_t at = 0;
      while (at < chunked.size() && at < one.size() && chunked[at] == one[at]) ++at;
      return "seed " + std::to_string(seed) + ": events differ near: " + one.substr(at > 80 ? at - 80 : 0, 200) +
             " VS " + chunked.substr(at > 80 ? at - 80 : 0, 200);
    }
    if (tree_text(chunked_tree) != tree_text(tree)) return "seed " + std::to_string(seed) + ": tree differs";
  }
  return {};
}

}  // namespace mime::check
