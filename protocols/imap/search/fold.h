#pragma once
// Case folding for SEARCH (RFC 9051 6.4.4: matching is case-insensitive).
// A simple fold of valid UTF-8: ASCII, Latin-1, Latin Extended-A, Greek and
// Cyrillic capitals become small letters (the scripts mail in Europe is
// written in); everything else is kept. Not the full Unicode casemap: its
// tables would be a dependency of their own, and these ranges cover the
// letters whose case users type differently from the sender.

#include <string>
#include <string_view>

namespace imap::search {

// Appends the folded form of valid UTF-8 `text` (invalid bytes are copied).
void append_folded(std::string_view text, std::string& out);
std::string folded(std::string_view text);

}  // namespace imap::search
