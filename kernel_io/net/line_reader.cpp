#include "kernel_io/net/line_reader.h"

#include <cstring>

namespace kio {

line_reader::step line_reader::feed(std::span<const std::byte> input) {
  if (_pending_clear) {
    _partial.clear();
    _pending_clear = false;
  }
  const char* data = reinterpret_cast<const char*>(input.data());
  const size_t size = input.size();
  const void* lf = std::memchr(data, '\n', size);
  if (!lf) {
    // No end of line in this chunk: keep what fits under the cap.
    if (!_skipping) {
      // +1 leaves room for the CR that may precede the LF in the next chunk.
      if (_partial.size() + size > _line_length_max + 1) {
        _partial.clear();
        _skipping = true;
      } else {
        _partial.append(data, size);
      }
    }
    return {status::need_more, {}, size};
  }
  size_t end = size_t(static_cast<const char*>(lf) - data);  // index of LF
  size_t consumed = end + 1;
  if (_skipping) {
    _skipping = false;
    return {status::too_long, {}, consumed};
  }
  std::string_view line;
  if (_partial.empty()) {
    line = std::string_view(data, end);
  } else {
    if (_partial.size() + end > _line_length_max + 1) {
      _partial.clear();
      return {status::too_long, {}, consumed};
    }
    _partial.append(data, end);
    line = _partial;
  }
  bool bare_lf = true;
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
    bare_lf = false;
  }
  if (line.size() > _line_length_max) {
    _partial.clear();
    return {status::too_long, {}, consumed};
  }
  step result{status::line, line, consumed, bare_lf};
  if (!_partial.empty()) {
    // The view points into _partial: keep it alive until the next feed(),
    // which clears it first.
    _pending_clear = true;
  }
  return result;
}

}  // namespace kio
