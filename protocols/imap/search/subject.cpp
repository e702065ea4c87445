#include "protocols/imap/search/subject.h"

#include <cctype>

#include "protocols/mime/encoded_word.h"

namespace imap::search {

namespace {

bool blank(char c) { return c == ' ' || c == '\t'; }

void trim_leading_blanks(std::string& s) {
  std::size_t i = 0;
  while (i < s.size() && blank(s[i])) ++i;
  s.erase(0, i);
}

// Step 2: trailing "(fwd)" and white space, repeatedly.
bool remove_trailers(std::string& s) {
  bool removed = false;
  while (true) {
    while (!s.empty() && blank(s.back())) s.pop_back();
    if (s.size() >= 5 && s.compare(s.size() - 5, 5, "(FWD)") == 0) {
      s.erase(s.size() - 5);
      removed = true;
      continue;
    }
    return removed;
  }
}

// subj-blob = "[" *BLOBCHAR "]" *WSP; returns its length at `at`, or 0.
std::size_t blob_length(const std::string& s, std::size_t at) {
  if (at >= s.size() || s[at] != '[') return 0;
  std::size_t i = at + 1;
  while (i < s.size() && s[i] != '[' && s[i] != ']') ++i;
  if (i >= s.size() || s[i] != ']') return 0;
  ++i;
  while (i < s.size() && blank(s[i])) ++i;
  return i - at;
}

// subj-refwd = ("RE" / ("FW" ["D"])) *WSP [subj-blob] ":"; its length at `at`, or 0.
std::size_t refwd_length(const std::string& s, std::size_t at) {
  std::size_t i = at;
  if (s.compare(i, 2, "RE") == 0) i += 2;
  else if (s.compare(i, 3, "FWD") == 0) i += 3;
  else if (s.compare(i, 2, "FW") == 0) i += 2;
  else return 0;
  while (i < s.size() && blank(s[i])) ++i;
  i += blob_length(s, i);
  if (i >= s.size() || s[i] != ':') return 0;
  return i + 1 - at;
}

enum class leader : unsigned char { none, blank, reply };

// Step 3: one subj-leader = (*subj-blob subj-refwd) / WSP.
leader remove_one_leader(std::string& s) {
  if (!s.empty() && blank(s[0])) {
    trim_leading_blanks(s);
    return leader::blank;
  }
  std::size_t i = 0;
  while (std::size_t n = blob_length(s, i)) i += n;
  if (std::size_t n = refwd_length(s, i)) {
    s.erase(0, i + n);
    return leader::reply;
  }
  return leader::none;
}

}  // namespace

base_subject_result base_subject(std::string_view raw) {
  base_subject_result out;
  // Step 1: decode, collapse white space (folds included), case-map.
  std::string decoded = mime::decode_header_value(raw);
  std::string& s = out.text;
  s.reserve(decoded.size());
  for (char c : decoded) {
    if (c == '\r' || c == '\n' || c == '\t') c = ' ';
    if (c == ' ' && !s.empty() && s.back() == ' ') continue;
    s += char(std::toupper(static_cast<unsigned char>(c)));
  }
  trim_leading_blanks(s);
  while (true) {
    if (remove_trailers(s)) out.reply_or_forward = true;
    // Steps 3-5: leaders and lone blobs until nothing changes.
    while (true) {
      bool changed = false;
      for (leader l; (l = remove_one_leader(s)) != leader::none;) {
        changed = true;
        if (l == leader::reply) out.reply_or_forward = true;
      }
      // Step 4: a leading blob goes if something remains after it.
      if (std::size_t n = blob_length(s, 0); n && n < s.size()) {
        s.erase(0, n);
        changed = true;
      }
      if (!changed) break;
    }
    // Step 6: "[fwd: ...]".
    if (s.size() >= 6 && s.compare(0, 5, "[FWD:") == 0 && s.back() == ']') {
      s = s.substr(5, s.size() - 6);
      out.reply_or_forward = true;
      continue;
    }
    break;
  }
  // Step 3 removed leading blanks; leaders like "Re: " leave one.
  trim_leading_blanks(s);
  return out;
}

}  // namespace imap::search
