#pragma once
// The part tree of a whole message, for IMAP (BODYSTRUCTURE, BODY[section])
// and anyone who has the full message in memory. Built by running the
// stream parser over the buffer, so it cannot disagree with the spam
// filter's streaming view. The tree holds offsets and parsed types only;
// header values are read from the message bytes on demand.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "protocols/mime/limits.h"
#include "protocols/mime/stream_parser.h"

namespace mime {

inline constexpr std::uint32_t no_part = no_parent;

struct part_node {
  part_info info;
  std::uint32_t first_child = no_part;
  std::uint32_t next_sibling = no_part;
  std::uint32_t child_count = 0;
};

struct message_tree {
  std::vector<part_node> parts;  // pre-order; parts[0] is the message itself
  std::size_t message_size = 0;
  std::uint32_t defects = defect_none;

  const part_node& root() const { return parts[0]; }
  const part_node& operator[](std::uint32_t id) const { return parts[id]; }
  // The n-th child (1-based) or nullptr.
  const part_node* child(const part_node& parent, std::uint32_t n) const;
};

// Parses the structure of a whole message. Never fails: broken input yields
// a best-effort tree and defect bits. An mbox "From " first line is skipped
// (the root's header_start is after it).
message_tree parse_message(std::string_view message, const limits& lim = {});

// Builds a tree from stream events; parse_message() is this handler fed
// with one chunk. Exposed for the streaming consistency tests and for
// callers that stream and still want a tree at the end.
class tree_builder final : public stream_handler {
 public:
  void on_part_header_begin(const part_info& part) override;
  void on_part_body_begin(const part_info& part) override;
  void on_part_end(const part_info& part) override;
  message_tree take(std::size_t message_size, std::uint32_t defects);

 private:
  message_tree _tree;
  std::vector<std::uint32_t> _last_child;
};

}  // namespace mime
