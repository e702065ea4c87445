#include "protocols/mime/stream_parser.h"

#include <emmintrin.h>

#include <algorithm>
#include <cstring>

#include "kernel_io/base/assert.h"
#include "protocols/common/byte_scan.h"
#include "protocols/mime/header.h"

namespace mime {

struct stream_parser::open_part {
  part_info info;
  bool in_header = true;
  bool in_epilogue = false;
  bool in_digest = false;          // children default to message/rfc822
  std::string boundary;            // multipart only, empty when unusable
  std::string content_type_value;  // first Content-Type, unfolded, capped
  std::string encoding_value;      // first Content-Transfer-Encoding
  bool seen_content_type = false;
  bool seen_encoding = false;
  std::uint32_t header_count = 0;
  std::uint32_t child_count = 0;
  std::size_t header_start_lf = 0;
  std::size_t body_start_lf = 0;
  std::unique_ptr<base64_decoder> base64;
  std::unique_ptr<qp_decoder> qp;

  bool boundary_active() const { return !in_header && !in_epilogue && !boundary.empty(); }
};

namespace {
constexpr std::size_t decode_slice_size = 16 * 1024;  // bounds _decoded
constexpr std::string_view crlf = "\r\n";
}  // namespace

stream_parser::stream_parser(stream_handler& handler, const stream_options& options)
    : _handler(handler), _options(options) {
  _stack.reserve(8);
  open_part_at(0, no_parent);
}

stream_parser::~stream_parser() = default;

void stream_parser::reset() {
  _stack.clear();
  _mode = mode::header_line;
  _after_skip = after_skip::open_child;
  _skip_parent = 0;
  _chunk = {};
  _offset = 0;
  _lf_count = 0;
  _last_byte = 0;
  _any_input = false;
  _line.clear();
  _line_done.clear();
  _line_start = 0;
  _line_size = 0;
  _field = {};
  _field_copy.clear();
  _field_colon = 0;
  _field_name_start = 0;
  _field_name_size = 0;
  _field_in_chunk = false;
  _field_start = 0;
  _field_end = 0;
  _field_open = false;
  _field_truncated = false;
  _carry.clear();
  _carry_start = 0;
  _lookahead = 0;
  _prev_eol_size = 0;
  _eol_pending = false;
  _prev_line_empty = false;
  _cr_pending = false;
  _line_has_content = false;
  _emit_start = 0;
  _emit_end = 0;
  _emit_open = false;
  _next_id = 0;
  _defects = defect_none;
  open_part_at(0, no_parent);
}

void stream_parser::open_part_at(std::size_t header_start, std::uint32_t parent_index) {
  open_part p;
  p.info.id = _next_id++;
  p.info.header_start = header_start;
  p.header_start_lf = _lf_count;
  if (parent_index != no_parent) {
    open_part& parent = _stack[parent_index];
    ++parent.child_count;
    p.info.parent = parent.info.id;
    p.info.depth = parent.info.depth + 1;
    p.in_digest = parent.info.kind == part_kind::multipart && parent.info.type.is("multipart", "digest");
  }
  _stack.push_back(std::move(p));
  _mode = mode::header_line;
  _line.clear();
  _line_size = 0;
  _prev_eol_size = 0;
  _field_open = false;
  _eol_pending = false;
  _prev_line_empty = false;
  recompute_lookahead();
  _handler.on_part_header_begin(_stack.back().info);
}

void stream_parser::recompute_lookahead() {
  _lookahead = 0;
  for (const auto& p : _stack)
    if (p.boundary_active()) _lookahead = std::max(_lookahead, 4 + p.boundary.size());  // "--" b "--"
}

void stream_parser::set_body_mode() {
  recompute_lookahead();
  _mode = _lookahead > 0 ? mode::line_start : mode::body_all;
}

bool stream_parser::leaf_body_active() const {
  const open_part& top = _stack.back();
  return !top.in_header && top.info.kind == part_kind::leaf;
}

// ---- emission -------------------------------------------------------------

void stream_parser::flush_emit() {
  if (!_emit_open) return;
  _emit_open = false;
  std::string_view raw = _chunk.substr(_emit_start - _offset, _emit_end - _emit_start);
  std::size_t start = _emit_start;
  open_part& top = _stack.back();
  _handler.on_body(top.info, raw, start);
  if (top.base64 || top.qp)
    for (std::size_t pos = 0; pos < raw.size(); pos += decode_slice_size) decode(top, raw.substr(pos, decode_slice_size));
}

// _decoded is scratch whose size only grows (to about decode_slice_size):
// the decoders write through a pointer into it, so a warm parser neither
// allocates nor fills it.
void stream_parser::decode(open_part& top, std::string_view raw) {
  std::size_t room = top.base64 ? base64_decoder::decoded_size_max(raw.size()) : top.qp->decoded_size_max(raw.size());
  if (_decoded.size() < room) _decoded.resize(room);
  char* end = top.base64 ? top.base64->decode(raw, _decoded.data()) : top.qp->decode(raw, _decoded.data());
  std::size_t size = static_cast<std::size_t>(end - _decoded.data());
  if (size > 0) _handler.on_decoded_body(top.info, std::string_view(_decoded.data(), size));
}

void stream_parser::emit(std::string_view raw, std::size_t offset, bool from_chunk) {
  if (raw.empty() || !leaf_body_active()) return;
  if (from_chunk) {
    if (_emit_open && _emit_end == offset) {
      _emit_end += raw.size();
      return;
    }
    flush_emit();
    _emit_open = true;
    _emit_start = offset;
    _emit_end = offset + raw.size();
    return;
  }
  // Copied bytes (carry, a held-back line break): deliver now, before the
  // buffer they live in changes.
  flush_emit();
  open_part& top = _stack.back();
  _handler.on_body(top.info, raw, offset);
  if (top.base64 || top.qp) decode(top, raw);
}

// ---- feeding ---------------------------------------------------------------

void stream_parser::feed(std::string_view chunk) {
  if (chunk.empty()) return;
  _any_input = true;
  _chunk = chunk;
  std::size_t i = 0;
  while (i < chunk.size()) {
    switch (_mode) {
      case mode::header_line: i = feed_header(chunk, i); break;
      case mode::line_start: i = feed_line_start(chunk, i); break;
      case mode::body_line: i = feed_body_line(chunk, i); break;
      case mode::skip_line: i = feed_skip_line(chunk, i); break;
      case mode::body_all: i = feed_body_all(chunk, i); break;
    }
  }
  flush_emit();
  keep_field();
  _last_byte = chunk.back();
  _offset += chunk.size();
  _chunk = {};
}

// LFs in s, 16 bytes at a time (SSE2 is the x86-64 baseline; a plain
// std::count is not vectorized at -O2 and was a tenth of the filter's time).
// Per-byte counters (0 - compare result) are summed by SAD every 255 blocks,
// before a byte counter could wrap.
static std::size_t count_lf(std::string_view s) {
  std::size_t n = 0, i = 0;
  const __m128i lf = _mm_set1_epi8('\n');
  while (i + 16 <= s.size()) {
    __m128i counts = _mm_setzero_si128();
    for (int k = 0; k < 255 && i + 16 <= s.size(); ++k, i += 16) {
      __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
      counts = _mm_sub_epi8(counts, _mm_cmpeq_epi8(x, lf));
    }
    __m128i sums = _mm_sad_epu8(counts, _mm_setzero_si128());
    n += static_cast<std::size_t>(_mm_cvtsi128_si32(sums)) + static_cast<std::size_t>(_mm_extract_epi16(sums, 4));
  }
  for (; i < s.size(); ++i) n += s[i] == '\n';
  return n;
}

// iequals(name, lower) for a `lower` of at least 8 bytes with no capitals:
// whole words, the last one overlapping.
static inline bool iequals_lower(std::string_view name, std::string_view lower) {
  const std::size_t n = lower.size();
  RM_ASSERT(n >= 8);
  if (name.size() != n) return false;
  auto word = [](const char* p) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  };
  for (std::size_t i = 0; i + 8 < n; i += 8)
    if (proto::ascii_lower8(word(name.data() + i)) != word(lower.data() + i)) return false;
  return proto::ascii_lower8(word(name.data() + n - 8)) == word(lower.data() + n - 8);
}

static std::size_t find_lf(std::string_view s, std::size_t from, std::size_t to) {
  const void* p = std::memchr(s.data() + from, '\n', to - from);
  return p == nullptr ? std::string_view::npos : static_cast<std::size_t>(static_cast<const char*>(p) - s.data());
}

std::size_t stream_parser::feed_header(std::string_view chunk, std::size_t i) {
  // Keep enough of a long line to classify it and to fill a capped field.
  const std::size_t keep = std::max(_options.lim.header_field_size_max, _options.lim.boundary_size_max + 4);
  std::size_t lf;
  if (_line_size == 0) {
    // Whole lines in the chunk (nearly every header line): processed in
    // place (the chunk stays valid for the call), no copy, one after the
    // other while the header goes on, not a return to feed()'s dispatch
    // per line.
    while (true) {
      // Header lines are short (most under 80 bytes): an inline scan 16
      // bytes at a time costs less than memchr's call and setup.
      lf = proto::find_first_of_bytes<'\n'>(chunk.data(), i, chunk.size());
      if (lf == chunk.size()) {
        lf = std::string_view::npos;
        break;
      }
      const std::size_t n = lf + 1 - i;
      const char before = lf > 0 ? chunk[lf - 1] : _last_byte;
      const std::size_t eol_size = (n >= 2 && before == '\r') ? 2 : 1;
      process_header_line(chunk.substr(i, std::min(n, keep)), _offset + i, n, eol_size, true);
      i = lf + 1;
      if (_mode != mode::header_line || i == chunk.size()) return i;
    }
    _line_start = _offset + i;
  } else {
    lf = find_lf(chunk, i, chunk.size());
  }
  std::size_t end = lf == std::string_view::npos ? chunk.size() : lf + 1;
  std::size_t n = end - i;
  if (_line.size() < keep) _line.append(chunk.data() + i, std::min(n, keep - _line.size()));
  _line_size += n;
  if (lf == std::string_view::npos) return chunk.size();
  char before = lf > 0 ? chunk[lf - 1] : _last_byte;
  std::size_t eol_size = (_line_size >= 2 && before == '\r') ? 2 : 1;
  // Processing may start a new part, which clears _line: the line lives in
  // _line_done meanwhile (both keep their capacity).
  _line_done.swap(_line);
  _line.clear();
  std::size_t start = _line_start, size = _line_size;
  _line_size = 0;
  process_header_line(_line_done, start, size, eol_size, false);
  return end;
}

void stream_parser::keep_field() {
  if (!_field_open || !_field_in_chunk) return;
  _field_copy.assign(_field);
  _field = _field_copy;
  _field_in_chunk = false;
}

void stream_parser::flush_field() {
  if (!_field_open) return;
  _field_open = false;
  open_part& top = _stack.back();
  std::string_view field = _field;
  std::size_t colon = _field_colon;
  RM_ASSERT(colon < field.size() && field[colon] == ':');
  stream_header_field f;
  f.name = field.substr(_field_name_start, _field_name_size);
  f.value = field.substr(colon + 1);
  // The final EOL is not part of the value.
  if (!_field_truncated) {
    if (!f.value.empty() && f.value.back() == '\n') f.value.remove_suffix(1);
    if (!f.value.empty() && f.value.back() == '\r') f.value.remove_suffix(1);
  }
  f.offset = _field_start;
  f.end_offset = _field_end;
  f.truncated = _field_truncated;
  if (_field_truncated) {
    top.info.defects |= defect_header_field_truncated;
    _defects |= defect_header_field_truncated;
  }
  // By length first, then eight bytes at a time (every field of every part
  // asks; iequals' byte loop was ~130 instructions a 12-byte name).
  constexpr std::string_view content_type_name = "content-type", encoding_name = "content-transfer-encoding";
  if (!top.seen_content_type && iequals_lower(f.name, content_type_name)) {
    top.seen_content_type = true;
    unfold_into(f.value, top.content_type_value);
  } else if (!top.seen_encoding && iequals_lower(f.name, encoding_name)) {
    top.seen_encoding = true;
    unfold_into(f.value, top.encoding_value);
  }
  _handler.on_header_field(top.info, f);
}

// Inlined into its callers (feed_header's loop over whole lines, the copied
// line, finish()): called for every header line, its call and the six
// registers it saved were ~22 instructions a line.
__attribute__((always_inline)) inline void stream_parser::process_header_line(std::string_view line,
                                                                            std::size_t line_start,
                                                                            std::size_t line_size,
                                                                            std::size_t eol_size, bool in_chunk) {
  open_part& top = _stack.back();
  const std::size_t line_end = line_start + line_size;
  const bool terminated = !line.empty() && line.back() == '\n' && line.size() == line_size;
  const bool has_lf = line_size > 0 && eol_size > 0;
  std::string_view content = line;
  if (terminated) content.remove_suffix(std::min(eol_size, content.size()));

  // An mbox "From " separator before the root's first field is skipped.
  if (top.info.id == 0 && line_start == top.info.header_start && line_start == 0 && content.substr(0, 5) == "From ") {
    if (has_lf) ++_lf_count;
    top.info.header_start = line_end;
    top.header_start_lf = _lf_count;
    _prev_eol_size = 0;
    return;
  }
  if (_lookahead > 0 && content.size() >= 2 && content[0] == '-' && content[1] == '-') {
    bool close = false;
    int k = match_boundary(content, close);
    if (k >= 0) {
      std::size_t eol_start = line_start - _prev_eol_size;
      close_parts_above(static_cast<std::size_t>(k), eol_start, _prev_eol_size > 0);
      if (has_lf) ++_lf_count;
      after_boundary(close ? after_skip::epilogue : after_skip::open_child, line_end, has_lf ? eol_size : 0);
      return;
    }
  }
  if (has_lf) ++_lf_count;
  if (content.empty() && has_lf) {
    flush_field();
    end_header(line_end, false);
    return;
  }
  _prev_eol_size = has_lf ? eol_size : 0;
  if (content.empty()) return;
  const std::size_t field_cap = _options.lim.header_field_size_max;
  if (content[0] == ' ' || content[0] == '\t') {
    if (!_field_open) {
      if (top.header_count < _options.lim.header_count_max) {
        top.info.defects |= defect_header_line_without_colon;
        _defects |= defect_header_line_without_colon;
      }
      return;
    }
    if (_field.size() < field_cap) {
      std::size_t room = field_cap - _field.size();
      std::string_view more = line.substr(0, std::min(room, line.size()));
      if (_field_in_chunk && in_chunk) {
        // Below the cap the view holds every byte of the field so far, so
        // this line (in the same chunk) follows it directly.
        RM_ASSERT(_field.data() + _field.size() == more.data());
        _field = std::string_view(_field.data(), _field.size() + more.size());
      } else {
        keep_field();
        _field_copy.append(more);
        _field = _field_copy;
      }
      if (line.size() > room || line.size() < line_size) _field_truncated = true;
    } else {
      _field_truncated = true;
    }
    _field_end = line_end;
    return;
  }
  flush_field();
  // A field name is short: its colon is nearly always in the first 16 bytes.
  const std::size_t colon = proto::find_first_of_bytes<':'>(content.data(), 0, content.size());
  const std::string_view name = colon < content.size() ? trim_blanks(content.substr(0, colon)) : std::string_view();
  if (name.empty()) {
    top.info.defects |= defect_header_line_without_colon;
    _defects |= defect_header_line_without_colon;
    return;
  }
  if (colon >= field_cap) {
    // The name alone passes the cap (kept lines are longer when the cap is
    // below boundary_size_max): a field cut before its colon has no name.
    top.info.defects |= defect_header_field_truncated;
    _defects |= defect_header_field_truncated;
    return;
  }
  if (top.header_count >= _options.lim.header_count_max) {
    top.info.defects |= defect_header_count_limit;
    _defects |= defect_header_count_limit;
    return;
  }
  ++top.header_count;
  _field_open = true;
  _field_truncated = line.size() < line_size || line.size() > field_cap;
  _field_colon = colon;
  // Kept for flush_field(), which would otherwise trim it again.
  _field_name_start = static_cast<std::size_t>(name.data() - content.data());
  _field_name_size = name.size();
  _field_in_chunk = in_chunk;
  if (in_chunk) {
    _field = line.substr(0, std::min(line.size(), field_cap));
  } else {
    _field_copy.assign(line.substr(0, std::min(line.size(), field_cap)));
    _field = _field_copy;
  }
  _field_start = line_start;
  _field_end = line_end;
}

void stream_parser::end_header(std::size_t body_start, bool closing) {
  open_part& top = _stack.back();
  top.in_header = false;
  top.info.body_start = body_start;
  top.body_start_lf = _lf_count;
  top.info.header_lines = _lf_count - top.header_start_lf;
  if (top.seen_content_type) {
    top.info.type = parse_content_type(top.content_type_value, top.in_digest, _options.lim);
    top.info.has_content_type = top.info.type.valid;
  } else {
    top.info.type = default_content_type(top.in_digest);
  }
  top.content_type_value.clear();
  top.content_type_value.shrink_to_fit();
  top.info.encoding = parse_transfer_encoding(top.encoding_value);
  top.info.kind = part_kind::leaf;
  const bool deep = top.info.depth >= _options.lim.depth_max;
  if (top.info.type.is_multipart()) {
    std::string_view boundary = top.info.type.params.get("boundary");
    if (boundary.empty() || boundary.size() > _options.lim.boundary_size_max) {
      // RFC 2046 requires a boundary; without one the body is one opaque
      // text part, as Dovecot and Python treat it.
      top.info.defects |= defect_multipart_without_boundary;
      _defects |= defect_multipart_without_boundary;
      top.info.type = default_content_type(false);
    } else if (deep) {
      top.info.defects |= defect_depth_limit;
      _defects |= defect_depth_limit;
    } else {
      top.info.kind = part_kind::multipart;
      if (!closing) top.boundary.assign(boundary);
    }
  } else if (top.info.type.is_message_rfc822()) {
    bool identity = top.info.encoding == transfer_encoding::seven_bit ||
                    top.info.encoding == transfer_encoding::eight_bit ||
                    top.info.encoding == transfer_encoding::binary;
    if (deep) {
      top.info.defects |= defect_depth_limit;
      _defects |= defect_depth_limit;
    } else if (_next_id >= _options.lim.part_count_max) {
      top.info.defects |= defect_part_count_limit;
      _defects |= defect_part_count_limit;
    } else if (identity && !closing) {
      top.info.kind = part_kind::message;
    }
  }
  if (top.info.kind == part_kind::leaf && !closing &&
      (_options.decode_all || (_options.decode_text && top.info.type.type == "text"))) {
    if (top.info.encoding == transfer_encoding::base64) top.base64 = std::make_unique<base64_decoder>();
    if (top.info.encoding == transfer_encoding::quoted_printable) top.qp = std::make_unique<qp_decoder>();
  }
  _handler.on_part_body_begin(top.info);
  _eol_pending = false;
  _prev_eol_size = 0;
  _prev_line_empty = false;
  _line_has_content = false;
  if (closing) return;
  if (top.info.kind == part_kind::message) {
    open_part_at(body_start, static_cast<std::uint32_t>(_stack.size() - 1));
    return;
  }
  set_body_mode();
}

int stream_parser::match_boundary(std::string_view line, bool& close) const {
  int best = -1;
  std::size_t best_size = 0;
  for (std::size_t k = _stack.size(); k-- > 0;) {
    const open_part& p = _stack[k];
    if (!p.boundary_active()) continue;
    const std::string& b = p.boundary;
    if (b.size() > best_size && line.size() >= 2 + b.size() && line.compare(2, b.size(), b) == 0) {
      best = static_cast<int>(k);
      best_size = b.size();
    }
  }
  if (best >= 0) {
    std::string_view rest = line.substr(2 + best_size);
    close = rest.size() >= 2 && rest[0] == '-' && rest[1] == '-';
    if (!close && _next_id >= _options.lim.part_count_max) return -2;
  }
  return best;
}

// Closes every part above _stack[stack_index]: they end where the line
// break before the boundary starts (clamped to their own start).
void stream_parser::close_parts_above(std::size_t stack_index, std::size_t eol_start, bool eol_pending) {
  flush_emit();
  const std::size_t lf_at_eol = _lf_count - (eol_pending ? 1 : 0);
  while (_stack.size() > stack_index + 1) {
    open_part& top = _stack.back();
    if (top.in_header) {
      flush_field();
      std::size_t start = std::max(top.info.header_start, eol_start);
      top.info.defects |= defect_header_without_body;
      _defects |= defect_header_without_body;
      // The header ends where the boundary's line break starts.
      std::size_t lf = start == top.info.header_start ? top.header_start_lf : lf_at_eol;
      std::size_t saved = _lf_count;
      _lf_count = lf;
      end_header(start, true);
      _lf_count = saved;
      close_top(start, lf, false);
      continue;
    }
    if (eol_start <= top.info.body_start) {
      close_top(top.info.body_start, top.body_start_lf, false);
    } else {
      // The last body byte is an LF exactly when the line before the
      // boundary was empty (its LF precedes the boundary's line break), or
      // when no break is held back (the boundary follows a line that is not
      // body, so what precedes it is a complete line).
      close_top(eol_start, lf_at_eol, eol_pending ? _prev_line_empty : true);
    }
  }
}

void stream_parser::close_top(std::size_t end, std::size_t lf_at_end, bool last_byte_lf) {
  open_part& top = _stack.back();
  if (top.base64 || top.qp) {
    static_assert(base64_decoder::finish_size_max <= 2 && qp_decoder::finish_size_max <= 2);
    char tail[2];
    char* end = top.base64 ? top.base64->finish(tail) : top.qp->finish(tail);
    if (end != tail) _handler.on_decoded_body(top.info, std::string_view(tail, static_cast<std::size_t>(end - tail)));
  }
  top.info.body_end = end;
  std::size_t size = end - top.info.body_start;
  top.info.body_lines = lf_at_end - top.body_start_lf + (size > 0 && !last_byte_lf ? 1 : 0);
  if (top.info.kind == part_kind::multipart && !top.in_epilogue) {
    top.info.defects |= defect_missing_final_boundary;
    _defects |= defect_missing_final_boundary;
    if (top.child_count == 0) {
      top.info.defects |= defect_multipart_without_parts;
      _defects |= defect_multipart_without_parts;
    }
  }
  part_info info = std::move(top.info);
  _stack.pop_back();
  _handler.on_part_end(info);
}

// The boundary line's own break is held like a body line's: the line break
// before an outer boundary that follows a close delimiter belongs to that
// outer boundary, not to the multipart.
void stream_parser::after_boundary(after_skip action, std::size_t line_end, std::size_t eol_size) {
  open_part& m = _stack.back();
  _prev_line_empty = false;
  _line_has_content = false;
  if (action == after_skip::epilogue) {
    m.in_epilogue = true;
    set_body_mode();
    _eol_pending = eol_size > 0;
    _prev_eol_size = eol_size;
    return;
  }
  open_part_at(line_end, static_cast<std::uint32_t>(_stack.size() - 1));
}

// At the start of a body line while boundaries are active: decide whether
// the line is a boundary, buffering at most _lookahead bytes to do so.
std::size_t stream_parser::feed_line_start(std::string_view chunk, std::size_t i) {
  const std::size_t line_start = _carry.empty() ? _offset + i : _carry_start;
  std::size_t want = _lookahead - std::min(_lookahead, _carry.size());
  // A line whose first byte is not '-' is no boundary: it is decided now,
  // and its LF is looked for to the chunk's end at once (most body lines;
  // the window and then feed_body_line were two scans, two emits and a
  // return to feed()'s dispatch for every line longer than the window).
  if (_carry.empty() && chunk[i] != '-') want = chunk.size() - i;
  std::size_t window_end = std::min(chunk.size(), i + want);
  std::size_t lf = find_lf(chunk, i, window_end);
  std::size_t prefix_end = lf == std::string_view::npos ? window_end : lf + 1;
  bool decided = lf != std::string_view::npos || prefix_end - i == want;
  if (!decided) {
    if (_carry.empty()) _carry_start = line_start;
    _carry.append(chunk.data() + i, chunk.size() - i);
    return chunk.size();
  }
  std::string_view prefix;
  bool from_carry = !_carry.empty();
  if (from_carry) {
    _carry.append(chunk.data() + i, prefix_end - i);
    prefix = _carry;
  } else {
    prefix = chunk.substr(i, prefix_end - i);
  }
  const bool has_lf = lf != std::string_view::npos;
  std::size_t eol_size = 0;
  if (has_lf) eol_size = prefix.size() >= 2 && prefix[prefix.size() - 2] == '\r' ? 2 : 1;
  std::string_view content = prefix.substr(0, prefix.size() - eol_size);
  if (content.size() >= 2 && content[0] == '-' && content[1] == '-') {
    bool close = false;
    int k = match_boundary(content, close);
    if (k == -2) {
      _defects |= defect_part_count_limit;
      _stack.back().info.defects |= defect_part_count_limit;
    } else if (k >= 0) {
      std::size_t eol_start = line_start - (_eol_pending ? _prev_eol_size : 0);
      close_parts_above(static_cast<std::size_t>(k), eol_start, _eol_pending);
      _carry.clear();
      _skip_parent = static_cast<std::uint32_t>(k);
      _after_skip = close ? after_skip::epilogue : after_skip::open_child;
      if (has_lf) {
        ++_lf_count;
        after_boundary(_after_skip, line_start + prefix.size(), eol_size);
      } else {
        _mode = mode::skip_line;
      }
      return prefix_end;
    }
  }
  // Without its LF yet, a final CR may be half of a CRLF: hold it back.
  if (!has_lf && !content.empty() && content.back() == '\r') {
    content.remove_suffix(1);
    _cr_pending = true;
  }
  // A body line: the held-back break before it is body after all. When
  // both are in the chunk they are adjacent, so one emit() takes both
  // (the same coalesced range as two; one call less a line).
  std::size_t emitted_from = line_start;
  if (_eol_pending) {
    _eol_pending = false;
    std::size_t eol_start = line_start - _prev_eol_size;
    if (eol_start >= _offset && !from_carry) emitted_from = eol_start;
    else if (eol_start >= _offset) emit(chunk.substr(eol_start - _offset, _prev_eol_size), eol_start, true);
    else emit(crlf.substr(2 - _prev_eol_size), eol_start, false);
  }
  if (from_carry) emit(content, line_start, false);
  else emit(chunk.substr(emitted_from - _offset, line_start - emitted_from + content.size()), emitted_from, true);
  _carry.clear();
  _line_has_content = !content.empty();
  if (has_lf) {
    body_line_done(eol_size);
  } else {
    _mode = mode::body_line;
  }
  return prefix_end;
}

void stream_parser::body_line_done(std::size_t eol_size) {
  ++_lf_count;
  _eol_pending = true;
  _prev_eol_size = eol_size;
  _prev_line_empty = !_line_has_content;
  _line_has_content = false;
  _mode = mode::line_start;
}

// Inside a body line already known not to be a boundary.
std::size_t stream_parser::feed_body_line(std::string_view chunk, std::size_t i) {
  if (_cr_pending) {
    _cr_pending = false;
    if (chunk[i] == '\n') {
      body_line_done(2);
      return i + 1;
    }
    emit("\r", _offset + i - 1, false);
    _line_has_content = true;
  }
  std::size_t lf = find_lf(chunk, i, chunk.size());
  if (lf == std::string_view::npos) {
    std::size_t end = chunk.size();
    if (chunk[end - 1] == '\r') {
      _cr_pending = true;
      --end;
    }
    if (end > i) {
      emit(chunk.substr(i, end - i), _offset + i, true);
      _line_has_content = true;
    }
    return chunk.size();
  }
  std::size_t content_end = lf;
  std::size_t eol_size = 1;
  if (lf > i && chunk[lf - 1] == '\r') {
    --content_end;
    eol_size = 2;
  }
  if (content_end > i) {
    emit(chunk.substr(i, content_end - i), _offset + i, true);
    _line_has_content = true;
  }
  body_line_done(eol_size);
  return lf + 1;
}

// The rest of a boundary line after its matching prefix.
std::size_t stream_parser::feed_skip_line(std::string_view chunk, std::size_t i) {
  std::size_t lf = find_lf(chunk, i, chunk.size());
  if (lf == std::string_view::npos) return chunk.size();
  ++_lf_count;
  char before = lf > 0 ? chunk[lf - 1] : _last_byte;
  after_boundary(_after_skip, _offset + lf + 1, before == '\r' ? 2 : 1);
  return lf + 1;
}

// No boundary is active: everything up to the end is the current body.
std::size_t stream_parser::feed_body_all(std::string_view chunk, std::size_t i) {
  std::string_view rest = chunk.substr(i);
  _lf_count += count_lf(rest);
  emit(rest, _offset + i, true);
  return chunk.size();
}

void stream_parser::finish() {
  const std::size_t end = _offset;
  switch (_mode) {
    case mode::header_line:
      if (_line_size > 0) {
        std::string line;
        line.swap(_line);
        std::size_t start = _line_start, size = _line_size;
        _line_size = 0;
        process_header_line(line, start, size, 0, false);
      }
      break;
    case mode::line_start:
      if (!_carry.empty()) {
        // The stream ended inside a short line: classify it as complete.
        std::string carry;
        carry.swap(_carry);
        std::size_t start = _carry_start;
        std::string_view content = carry;
        bool handled = false;
        if (content.size() >= 2 && content[0] == '-' && content[1] == '-') {
          bool close = false;
          int k = match_boundary(content, close);
          if (k >= 0) {
            std::size_t eol_start = start - (_eol_pending ? _prev_eol_size : 0);
            close_parts_above(static_cast<std::size_t>(k), eol_start, _eol_pending);
            after_boundary(close ? after_skip::epilogue : after_skip::open_child, end, 0);
            handled = true;
          }
        }
        if (!handled) {
          if (_eol_pending) {
            _eol_pending = false;
            emit(crlf.substr(2 - _prev_eol_size), start - _prev_eol_size, false);
          }
          emit(content, start, false);
          _line_has_content = true;
        }
      }
      break;
    case mode::skip_line:
      after_boundary(_after_skip, end, 0);
      break;
    case mode::body_line:
    case mode::body_all:
      break;
  }
  if (_eol_pending) {
    _eol_pending = false;
    emit(crlf.substr(2 - _prev_eol_size), end - _prev_eol_size, false);
  }
  if (_cr_pending) {
    _cr_pending = false;
    emit("\r", end - 1, false);
  }
  flush_emit();
  const bool last_lf = _any_input && _last_byte == '\n';
  while (!_stack.empty()) {
    open_part& top = _stack.back();
    if (top.in_header) {
      flush_field();
      if (top.info.header_start < end) {
        top.info.defects |= defect_header_without_body;
        _defects |= defect_header_without_body;
      }
      end_header(end, true);
    }
    close_top(end, _lf_count, last_lf);
  }
}

}  // namespace mime
