#include "bench/load/reply_reader.h"

#include <charconv>
#include <cstring>

namespace bench_load {

namespace {

std::string_view as_text(std::span<std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// "{123}" or "{123+}" at the end of an IMAP line: the literal's length.
std::optional<size_t> literal_length(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  auto open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  auto digits = line.substr(open + 1, line.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
  size_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  return n;
}

}  // namespace

kio::task<std::optional<std::string>> read_line_copy(proto::session_stream& s, std::string& error) {
  auto line = co_await s.read_line();
  if (!line) {
    error = line.error().describe();
    co_return std::nullopt;
  }
  if (line->too_long) {
    error = "reply line too long";
    co_return std::nullopt;
  }
  co_return std::optional<std::string>(std::string(line->text));
}

kio::task<std::optional<smtp_reply>> read_smtp_reply(proto::session_stream& s, std::string& error) {
  smtp_reply reply;
  for (;;) {
    auto line = co_await s.read_line();
    if (!line) {
      error = line.error().describe();
      co_return std::nullopt;
    }
    auto text = line->text;
    if (line->too_long || text.size() < 3) {
      error = "malformed SMTP reply";
      co_return std::nullopt;
    }
    int code = 0;
    std::from_chars(text.data(), text.data() + 3, code);
    if (!reply.text.empty()) reply.text += '\n';
    reply.text.append(text);
    reply.code = code;
    if (text.size() == 3 || text[3] == ' ') co_return std::optional<smtp_reply>(std::move(reply));
    if (text[3] != '-') {
      error = "malformed SMTP reply: " + std::string(text);
      co_return std::nullopt;
    }
  }
}

kio::task<std::optional<imap_response>> read_imap_response(proto::session_stream& s, const std::string& tag,
                                                           const imap_read_options& options, std::string& error) {
  imap_response response;
  std::string current;  // an untagged line being assembled around literals
  for (;;) {
    auto line = co_await s.read_line();
    if (!line) {
      error = line.error().describe();
      co_return std::nullopt;
    }
    if (line->too_long) {
      error = "IMAP response line too long";
      co_return std::nullopt;
    }
    std::string_view text = line->text;
    bool continuing = !current.empty();
    if (!continuing && text.size() > tag.size() && text.substr(0, tag.size()) == tag && text[tag.size()] == ' ') {
      response.tagged = std::string(text);
      auto rest = text.substr(tag.size() + 1);
      response.status = std::string(rest.substr(0, rest.find(' ')));
      co_return std::optional<imap_response>(std::move(response));
    }
    auto literal = literal_length(text);
    if (options.keep_untagged) current.append(text);
    else if (!continuing) current = "*";  // marks "inside a response" without keeping it
    if (!literal) {
      ++response.untagged_count;
      if (options.keep_untagged && response.untagged.size() < options.keep_max)
        response.untagged.push_back(std::move(current));
      current.clear();
      continue;
    }
    // Read the literal's bytes (they may span many receive buffers).
    size_t left = *literal;
    std::string captured;
    bool keep = options.keep_literals && response.literals.size() < options.keep_max;
    if (keep) captured.reserve(left);
    while (left > 0) {
      auto chunk = co_await s.read_some();
      if (!chunk) {
        error = chunk.error().describe();
        co_return std::nullopt;
      }
      size_t take = std::min(left, chunk->size());
      if (keep) captured.append(as_text(chunk->first(take)));
      s.consume(take);
      left -= take;
    }
    response.literal_bytes += *literal;
    if (keep) response.literals.push_back(std::move(captured));
  }
}

kio::task<std::optional<std::string>> read_pop3_status(proto::session_stream& s, std::string& error) {
  auto line = co_await read_line_copy(s, error);
  if (!line) co_return std::nullopt;
  co_return line;
}

kio::task<bool> read_pop3_multiline(proto::session_stream& s, std::string* body, size_t& bytes, std::string& error) {
  for (;;) {
    auto line = co_await s.read_line();
    if (!line) {
      error = line.error().describe();
      co_return false;
    }
    if (line->too_long) {
      error = "POP3 line too long";
      co_return false;
    }
    auto text = line->text;
    if (text == ".") co_return true;
    if (!text.empty() && text[0] == '.') text.remove_prefix(1);
    bytes += text.size() + 2;
    if (body) {
      body->append(text);
      body->append("\r\n");
    }
  }
}

}  // namespace bench_load
