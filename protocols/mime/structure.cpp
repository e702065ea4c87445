#include "protocols/mime/structure.h"

#include "kernel_io/base/assert.h"

namespace mime {

const part_node* message_tree::child(const part_node& parent, std::uint32_t n) const {
  if (n == 0) return nullptr;
  std::uint32_t id = parent.first_child;
  while (id != no_part && --n > 0) id = parts[id].next_sibling;
  return id == no_part ? nullptr : &parts[id];
}

void tree_builder::on_part_header_begin(const part_info& part) {
  RM_ASSERT(part.id == _tree.parts.size());
  _tree.parts.push_back({part, no_part, no_part, 0});
  _last_child.push_back(no_part);
  if (part.parent != no_part) {
    part_node& parent = _tree.parts[part.parent];
    if (_last_child[part.parent] == no_part) parent.first_child = part.id;
    else _tree.parts[_last_child[part.parent]].next_sibling = part.id;
    _last_child[part.parent] = part.id;
    ++parent.child_count;
  }
}

void tree_builder::on_part_body_begin(const part_info& part) { _tree.parts[part.id].info = part; }

void tree_builder::on_part_end(const part_info& part) { _tree.parts[part.id].info = part; }

message_tree tree_builder::take(std::size_t message_size, std::uint32_t defects) {
  _tree.message_size = message_size;
  _tree.defects = defects;
  _last_child.clear();
  return std::move(_tree);
}

message_tree parse_message(std::string_view message, const limits& lim) {
  tree_builder builder;
  stream_options options;
  options.lim = lim;
  options.decode_text = false;
  stream_parser parser(builder, options);
  parser.feed(message);
  parser.finish();
  return builder.take(message.size(), parser.defects());
}

}  // namespace mime
