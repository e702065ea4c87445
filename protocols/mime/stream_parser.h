#pragma once
// The push parser: MIME structure from bytes as they arrive (SMTP DATA/BDAT
// chunks of any size), as events. It is the one structure engine of the
// module: parse_message() (structure.h) runs it over a whole buffer, so the
// streaming and whole-message views of a message cannot disagree.
//
// Lifecycle: construct (or reset()), feed() chunks in order, finish() once. Single owner;
// no threads, no I/O. Buffering is bounded: one header field (capped by
// limits::header_field_size_max), the start of one body line while deciding
// whether it is a boundary (2 + the longest active boundary), a held-back
// line break, and decoder state. Leaf body bytes are passed through as views
// of the caller's chunk, not copied.
//
// Boundary rules follow Dovecot's, the most battle-tested: a line is a
// boundary when it starts with "--" + the boundary of any open multipart (the
// rest of the line is ignored); when several match, the longest wins, so
// boundaries that prefix each other work; the line break before a boundary
// belongs to the boundary (RFC 2046 §5.1.1). A part without its final
// boundary runs to the end of the message.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mime/content_type.h"
#include "protocols/mime/limits.h"
#include "protocols/mime/transfer.h"

namespace mime {

inline constexpr std::uint32_t no_parent = std::numeric_limits<std::uint32_t>::max();

enum class part_kind : std::uint8_t {
  leaf,       // a body of bytes
  multipart,  // multipart/* with a usable boundary: children are its parts
  message,    // message/rfc822 (7bit/8bit/binary): one child, the embedded message
};

// One part as the parser sees it. Offsets are absolute stream offsets (the
// index into the whole message). header_start..body_start is the header
// block incl. its blank line (BODY[n.MIME]); body_start..body_end is the body
// (BODY[n]); for a multipart child the line break before the next boundary
// is excluded.
struct part_info {
  std::uint32_t id = 0;  // pre-order index; the root is 0
  std::uint32_t parent = no_parent;
  std::uint32_t depth = 0;
  part_kind kind = part_kind::leaf;
  std::size_t header_start = 0;
  std::size_t body_start = 0;
  std::size_t body_end = 0;
  std::size_t header_lines = 0;  // LFs in the header block
  // Text lines of the body: its LFs, plus one for a final line without LF.
  std::size_t body_lines = 0;
  content_type type;  // defaults applied (RFC 2045 §5.2, digest)
  transfer_encoding encoding = transfer_encoding::seven_bit;
  bool has_content_type = false;  // the part had a parsable Content-Type
  std::uint32_t defects = defect_none;

  std::size_t header_size() const { return body_start - header_start; }
  std::size_t body_size() const { return body_end - body_start; }
};

struct stream_header_field {
  std::string_view name;   // as written, blanks before the colon trimmed
  std::string_view value;  // raw: after the colon, folds kept, final EOL excluded
  std::size_t offset = 0;      // absolute field start
  std::size_t end_offset = 0;  // absolute, one past the final EOL
  bool truncated = false;      // value cut at header_field_size_max
};

// Events. Views are valid only during the call. Order per part:
// part_header_begin, header_field*, part_body_begin, (body, decoded_body)*,
// children..., part_end. A child's events nest between its parent's
// part_body_begin and part_end.
class stream_handler {
 public:
  virtual ~stream_handler() = default;
  virtual void on_part_header_begin(const part_info& part) {}
  virtual void on_header_field(const part_info& part, const stream_header_field& field) {}
  virtual void on_part_body_begin(const part_info& part) {}
  // Raw body bytes of a leaf part, `offset` is the absolute offset of raw[0].
  virtual void on_body(const part_info& part, std::string_view raw, std::size_t offset) {}
  // Transfer-decoded bytes of a base64/QP leaf (see stream_options).
  virtual void on_decoded_body(const part_info& part, std::string_view decoded) {}
  virtual void on_part_end(const part_info& part) {}
};

struct stream_options {
  limits lim;
  bool decode_text = true;   // decode base64/QP bodies of text/* leaves
  bool decode_all = false;   // decode base64/QP bodies of every leaf
};

class stream_parser {
 public:
  stream_parser(stream_handler& handler, const stream_options& options = {});
  ~stream_parser();
  stream_parser(const stream_parser&) = delete;
  stream_parser& operator=(const stream_parser&) = delete;

  void feed(std::string_view chunk);
  void finish();
  // Ready for the next message, as if just constructed, keeping the
  // buffers' capacity (a parser reused per core allocates nothing once warm).
  void reset();

  std::size_t offset() const { return _offset; }
  std::uint32_t defects() const { return _defects; }
  std::uint32_t part_count() const { return _next_id; }

 private:
  struct open_part;
  enum class mode : std::uint8_t { header_line, line_start, body_line, skip_line, body_all };
  enum class after_skip : std::uint8_t { open_child, epilogue };

  std::size_t feed_header(std::string_view chunk, std::size_t i);
  std::size_t feed_line_start(std::string_view chunk, std::size_t i);
  std::size_t feed_body_line(std::string_view chunk, std::size_t i);
  std::size_t feed_skip_line(std::string_view chunk, std::size_t i);
  std::size_t feed_body_all(std::string_view chunk, std::size_t i);

  // `in_chunk`: `line` is a view of the chunk being fed (not a copy).
  void process_header_line(std::string_view line, std::size_t line_start, std::size_t line_size, std::size_t eol_size,
                           bool in_chunk);
  void flush_field();
  // Copies a field that is still a view of the chunk: the chunk is about to end.
  void keep_field();
  void end_header(std::size_t body_start, bool closing);
  void open_part_at(std::size_t header_start, std::uint32_t parent_index);
  // Index into _stack of the multipart whose boundary `line` starts with, or -1.
  int match_boundary(std::string_view line, bool& close) const;
  void close_parts_above(std::size_t stack_index, std::size_t eol_start, bool eol_pending);
  void close_top(std::size_t end, std::size_t lf_at_end, bool last_byte_lf);
  void after_boundary(after_skip action, std::size_t line_end, std::size_t eol_size);
  void set_body_mode();
  void recompute_lookahead();

  bool leaf_body_active() const;
  void emit(std::string_view raw, std::size_t offset, bool from_chunk);
  void flush_emit();
  void decode(open_part& top, std::string_view raw);
  void body_line_done(std::size_t eol_size);

  stream_handler& _handler;
  stream_options _options;
  std::vector<open_part> _stack;
  mode _mode = mode::header_line;
  after_skip _after_skip = after_skip::open_child;
  std::uint32_t _skip_parent = 0;

  std::string_view _chunk;        // the chunk being fed
  std::size_t _offset = 0;        // absolute offset of _chunk[0]
  std::size_t _lf_count = 0;      // LFs consumed so far
  char _last_byte = 0;            // last byte of the previous chunk
  bool _any_input = false;

  // Current header line (copied, capped) and current field.
  std::string _line;
  std::string _line_done;         // the line being processed (swapped with _line)
  std::size_t _line_start = 0;
  std::size_t _line_size = 0;     // true size, may exceed _line.size()
  // The current field, name ':' value, capped: a view of the chunk while
  // all its lines are there (most fields: no copy), else copied into
  // _field_copy (a field that spans chunks, or a line that did).
  std::string_view _field;
  std::string _field_copy;
  std::size_t _field_colon = 0;   // in _field
  std::size_t _field_name_start = 0, _field_name_size = 0;  // in _field, blanks trimmed
  bool _field_in_chunk = false;
  std::size_t _field_start = 0;
  std::size_t _field_end = 0;
  bool _field_open = false;
  bool _field_truncated = false;

  // Body line state.
  std::string _carry;             // start of a line that may be a boundary
  std::size_t _carry_start = 0;
  std::size_t _lookahead = 0;     // bytes needed to classify a line
  std::size_t _prev_eol_size = 0; // line break that ended the previous line
  bool _eol_pending = false;      // that line break is held back from the body
  bool _prev_line_empty = false;  // the previous line had no content
  bool _cr_pending = false;       // a CR at a chunk end, maybe half a CRLF
  bool _line_has_content = false;

  // Coalesced emission of chunk views.
  std::size_t _emit_start = 0, _emit_end = 0;  // absolute
  bool _emit_open = false;
  std::string _decoded;  // decoder output, see decode()

  std::uint32_t _next_id = 0;
  std::uint32_t _defects = defect_none;
};

}  // namespace mime
