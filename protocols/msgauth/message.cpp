#include "protocols/msgauth/message.h"

#include "protocols/msgauth/tag_list.h"

namespace msgauth {

std::string_view header_field::value() const {
  size_t colon = raw.find(':');
  std::string_view v = colon == std::string_view::npos ? std::string_view() : raw.substr(colon + 1);
  if (v.size() >= 2 && v.substr(v.size() - 2) == "\r\n") v.remove_suffix(2);
  else if (!v.empty() && v.back() == '\n') v.remove_suffix(1);
  return v;
}

std::optional<std::vector<header_field>> split_header_fields(std::string_view header, size_t fields_max) {
  std::vector<header_field> fields;
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find('\n', pos);
    end = end == std::string_view::npos ? header.size() : end + 1;
    std::string_view line = header.substr(pos, end - pos);
    if (line == "\r\n" || line == "\n") break;  // the empty line ends the header
    if (is_wsp(line[0])) {
      // A continuation of the previous field (or junk before the first one).
      if (!fields.empty()) {
        auto& last = fields.back();
        last.raw = std::string_view(last.raw.data(), last.raw.size() + line.size());
      }
    } else {
      size_t colon = line.find(':');
      if (colon != std::string_view::npos && colon > 0) {
        if (fields.size() >= fields_max) return std::nullopt;
        fields.push_back({trim(line.substr(0, colon)), line});
      }
    }
    pos = end;
  }
  return fields;
}

size_t header_collector::feed(std::string_view bytes) {
  if (_complete || _overflowed) return 0;
  // An empty first line means an empty header section.
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (_header.size() >= _max) {
      _overflowed = true;
      return i;
    }
    _header += bytes[i];
    size_t n = _header.size();
    bool blank = (n == 2 && _header == "\r\n") || (n >= 4 && _header.compare(n - 4, 4, "\r\n\r\n") == 0) ||
                 (n == 1 && _header[0] == '\n') || (n >= 2 && _header.compare(n - 2, 2, "\n\n") == 0);
    if (blank) {
      _complete = true;
      return i + 1;
    }
  }
  return bytes.size();
}

}  // namespace msgauth
