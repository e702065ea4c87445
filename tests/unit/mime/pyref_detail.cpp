// mime_pyref_detail PATH...: one JSON line per message file (*.eml, *.txt,
// or any file named directly) with what tests/corpus/compare_python_email_
// detail.py checks against Python's email package:
//   parts:   per part in pre-order: type, charset parameter, body byte
//            offsets [body_start, body_end) into the file;
//   subject: the Subject field RFC 2047-decoded (UTF-8);
//   from/to/cc: the addr-specs ("mailbox@host") of those fields.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "protocols/mime/address.h"
#include "protocols/mime/encoded_word.h"
#include "protocols/mime/header.h"
#include "protocols/mime/structure.h"

namespace fs = std::filesystem;

static void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += char(c);  // UTF-8 passes through; the reader replaces invalid bytes
    }
  }
  out += '"';
}

static void addresses(std::string& out, const mime::header_block& header, std::string_view name) {
  out += ",\"";
  out += name;
  out += "\":[";
  bool first = true;
  for (const auto& field : header.fields) {
    if (!mime::iequals(field.name, name)) continue;
    for (const auto& a : mime::parse_address_list(field.unfolded_value())) {
      if (a.what != mime::address::kind::mailbox) continue;
      if (!first) out += ',';
      first = false;
      json_string(out, a.host.empty() ? a.mailbox : a.mailbox + "@" + a.host);
    }
    break;  // the first field of that name, as ENVELOPE uses
  }
  out += ']';
}

static void dump(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string msg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  mime::message_tree t = mime::parse_message(msg);
  std::string out = "{\"path\":";
  json_string(out, p.string());
  out += ",\"parts\":[";
  for (std::size_t i = 0; i < t.parts.size(); ++i) {
    const auto& info = t.parts[i].info;
    if (i > 0) out += ',';
    out += "{\"type\":";
    json_string(out, info.type.type + "/" + info.type.subtype);
    out += ",\"charset\":";
    json_string(out, mime::to_lower_ascii(info.type.params.get("charset")));
    out += ",\"body_start\":" + std::to_string(info.body_start) + ",\"body_end\":" + std::to_string(info.body_end) + "}";
  }
  out += "]";
  const auto& root = t.root().info;
  mime::header_block header =
      mime::parse_header_block(std::string_view(msg).substr(root.header_start, root.body_start - root.header_start));
  out += ",\"subject\":";
  const auto* subject = header.find("Subject");
  json_string(out, subject ? mime::decode_header_value(subject->unfolded_value()) : std::string());
  out += ",\"has_subject\":";
  out += subject ? "true" : "false";
  addresses(out, header, "From");
  addresses(out, header, "To");
  addresses(out, header, "Cc");
  out += "}\n";
  std::cout << out;
}

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    fs::path arg(argv[i]);
    if (!fs::is_directory(arg)) {
      dump(arg);
      continue;
    }
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(arg))
      if (e.is_regular_file() && (e.path().extension() == ".eml" || e.path().extension() == ".txt"))
        files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) dump(f);
  }
  return 0;
}
