#pragma once
// RFC 5256 section 2.1: the "base subject" SORT SUBJECT and THREAD compare:
// decoded to UTF-8, white space collapsed, "Re:", "Fwd:", "[list]" leaders
// and "(fwd)" trailers removed. Pure; linear in the subject's length.

#include <string>
#include <string_view>

namespace imap::search {

struct base_subject_result {
  std::string text;  // the base subject, ASCII letters upper-cased (i;ascii-casemap)
  bool reply_or_forward = false;  // a leader or trailer was removed (THREAD=REFERENCES step 5)
};

// `raw` is the Subject field's value as it is in the message (encoded
// words are decoded here).
base_subject_result base_subject(std::string_view raw);

}  // namespace imap::search
