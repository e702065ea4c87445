#pragma once
// The golden text of a message: its part tree, ENVELOPE, BODY and
// BODYSTRUCTURE, one item per line, so a .ref diff points at what changed.

#include <string>
#include <string_view>

#include "protocols/mime/imap_render.h"
#include "protocols/mime/structure.h"

namespace mime::golden {

inline std::string section_name(const message_tree& tree, std::uint32_t id) {
  // IMAP part numbers: position among siblings, with the embedded message
  // of a message/rfc822 part not adding a level (it is marked "(message)").
  std::string name;
  std::string suffix;
  if (id != 0 && tree.parts[tree.parts[id].info.parent].info.kind == part_kind::message) suffix = "(message)";
  while (id != 0) {
    const part_node& node = tree.parts[id];
    const part_node& parent = tree.parts[node.info.parent];
    if (parent.info.kind == part_kind::message) {
      id = parent.info.id;
      continue;
    }
    std::uint32_t n = 1;
    for (std::uint32_t c = parent.first_child; c != id; c = tree.parts[c].next_sibling) ++n;
    name = std::to_string(n) + (name.empty() ? "" : "." + name);
    id = parent.info.id;
  }
  return (name.empty() ? "ROOT" : name) + suffix;
}

inline std::string render(std::string_view msg) {
  message_tree tree = parse_message(msg);
  std::string out;
  for (const part_node& node : tree.parts) {
    const part_info& p = node.info;
    out += "part " + section_name(tree, p.id) + " " + p.type.type + "/" + p.type.subtype + " header " +
           std::to_string(p.header_start) + "+" + std::to_string(p.header_size()) + " body " +
           std::to_string(p.body_start) + "+" + std::to_string(p.body_size()) + " lines " +
           std::to_string(p.body_lines) + " defects " + std::to_string(p.defects) + "\n";
  }
  out += "ENVELOPE " + render_envelope(tree, msg, 0) + "\n";
  out += "BODY " + render_bodystructure(tree, msg, false) + "\n";
  out += "BODYSTRUCTURE " + render_bodystructure(tree, msg, true) + "\n";
  return out;
}

}  // namespace mime::golden
