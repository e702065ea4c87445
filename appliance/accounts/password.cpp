#include "appliance/accounts/password.h"

#include <argon2.h>
#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <set>

namespace appliance {

namespace {

// The passwords and fragments every guessing list starts with (the top of
// the public leak corpora, keyboard runs, and mail-specific words). Matched
// after lower-casing and undoing common substitutions, anywhere in the
// password: "P@ssw0rd2024!" is "password" plus a year.
constexpr std::string_view common_words[] = {
    "password", "passwort", "passw", "qwerty", "qwertz", "azerty", "asdfgh", "zxcvbn", "123456", "654321",
    "111111",   "abc123",   "letmein", "welcome", "monkey", "dragon", "master", "sunshine", "princess",
    "football", "baseball", "iloveyou", "admin", "administrator", "login", "secret", "shadow", "superman",
    "batman",   "trustno1", "whatever", "starwars", "freedom", "computer", "internet", "michael", "charlie",
    "jennifer", "jordan",   "hunter",  "ranger", "summer", "winter", "spring", "autumn", "hello", "changeme",
    "default",  "mailbox",  "email",   "ringmail", "example", "test", "guest", "root", "toor", "access",
    "killer",   "cheese",   "cookie",  "flower", "pepper", "ginger", "soccer", "hockey", "tigger", "buster",
    "butterfly", "purple",  "orange",  "matrix", "mustang", "nicole", "daniel", "thomas", "robert", "ashley",
    "jessica",  "pokemon",  "minecraft", "google", "facebook", "samsung", "apple", "love", "money", "secure",
    "abcdef",   "1q2w3e",   "zaq1",    "qazwsx", "asdf", "zxcv", "uiop", "hjkl",
};

// Keyboard rows: a run along one counts like a sequence.
constexpr std::string_view keyboard_rows[] = {"1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "qwertzuiop",
                                              "azertyuiop", "yxcvbnm"};

char unleet(char c) {
  switch (c) {
    case '@': case '4': return 'a';
    case '3': return 'e';
    case '1': case '!': case '|': return 'i';
    case '0': return 'o';
    case '$': case '5': return 's';
    case '7': case '+': return 't';
    default: return char(std::tolower(static_cast<unsigned char>(c)));
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool keyboard_adjacent(char a, char b) {
  for (std::string_view row : keyboard_rows) {
    size_t i = row.find(a), j = row.find(b);
    if (i != std::string_view::npos && j != std::string_view::npos && (i + 1 == j || j + 1 == i)) return true;
  }
  return false;
}

double charset_bits(std::string_view p) {
  bool lower_seen = false, upper_seen = false, digit_seen = false, other_seen = false;
  for (unsigned char c : p) {
    if (std::islower(c)) lower_seen = true;
    else if (std::isupper(c)) upper_seen = true;
    else if (std::isdigit(c)) digit_seen = true;
    else other_seen = true;
  }
  double size = (lower_seen ? 26 : 0) + (upper_seen ? 26 : 0) + (digit_seen ? 10 : 0) + (other_seen ? 33 : 0);
  return std::log2(std::max(size, 2.0));
}

// The shortest unit the password repeats ("abcabcabc" -> 3), or its length.
size_t repeat_unit(std::string_view p) {
  for (size_t unit = 1; unit <= p.size() / 2; ++unit) {
    bool repeats = true;
    for (size_t i = unit; i < p.size() && repeats; ++i) repeats = p[i] == p[i - unit];
    if (repeats) return unit;
  }
  return p.size();
}

}  // namespace

double estimate_password_entropy_bits(std::string_view password) {
  if (password.empty()) return 0;
  std::string norm;
  for (char c : password) norm += unleet(c);
  // Dictionary words: each match is worth about 10 bits (a top-1000 list)
  // instead of its letters.
  std::vector<bool> in_word(norm.size(), false);
  double bits = 0;
  for (std::string_view w : common_words) {
    for (size_t at = norm.find(w); at != std::string::npos; at = norm.find(w, at + 1)) {
      bool fresh = false;
      for (size_t i = at; i < at + w.size(); ++i) fresh |= !in_word[i];
      if (!fresh) continue;
      for (size_t i = at; i < at + w.size(); ++i) in_word[i] = true;
      bits += 10;
    }
  }
  const double per_char = charset_bits(password);
  std::set<char> seen;
  for (size_t i = 0; i < password.size(); ++i) {
    if (in_word[i]) continue;
    char c = password[i];
    char lc = char(std::tolower(static_cast<unsigned char>(c)));
    if (i > 0) {
      char prev = char(std::tolower(static_cast<unsigned char>(password[i - 1])));
      // Repeats, alphabetical/numeric runs and keyboard runs are nearly free.
      if (lc == prev || lc == prev + 1 || lc == prev - 1 || keyboard_adjacent(prev, lc)) {
        bits += 1;
        continue;
      }
    }
    bits += seen.count(lc) ? per_char / 2 : per_char;
    seen.insert(lc);
  }
  // A repeated unit ("abcdabcdabcd") is worth little more than the unit.
  size_t unit = repeat_unit(lower(password));
  if (unit < password.size()) bits = std::min(bits, per_char * double(unit) + 2);
  return bits;
}

std::optional<std::string> check_password_policy(std::string_view password, const password_policy_config& policy,
                                                 std::string_view account) {
  if (password.size() < policy.length_min)
    return "password too short: " + std::to_string(password.size()) + " characters, at least " +
           std::to_string(policy.length_min) + " required";
  if (password.size() > policy.length_max)
    return "password too long: " + std::to_string(password.size()) + " characters, at most " +
           std::to_string(policy.length_max);
  for (unsigned char c : password)
    if (c < 0x20 || c == 0x7f) return "password contains a control character";
  std::string norm;
  for (char c : password) norm += unleet(c);
  std::set<char> distinct(norm.begin(), norm.end());
  if (distinct.size() < 5 || repeat_unit(norm) <= norm.size() / 2)
    return "password too repetitive: it repeats a few characters; use a longer passphrase of unrelated words";
  if (!account.empty()) {
    std::string local = lower(account.substr(0, account.find('@')));
    if (local.size() >= 4 && norm.find(local) != std::string::npos)
      return "password contains the account name \"" + local + "\"";
  }
  // A password that is mostly one common word (with digits or symbols
  // around it) is among the first million guesses whatever its length.
  for (std::string_view w : common_words) {
    if (w.size() >= 5 && norm.find(w) != std::string::npos && norm.size() < w.size() + 8)
      return "password is based on a common password (\"" + std::string(w) + "\"); choose something less guessable";
  }
  double bits = estimate_password_entropy_bits(password);
  if (bits < policy.entropy_bits_min)
    return "password too easy to guess (strength estimate " + std::to_string(int(bits)) + " bits, at least " +
           std::to_string(policy.entropy_bits_min) +
           " required): avoid sequences, keyboard runs and common words; a passphrase of four unrelated words works";
  return std::nullopt;
}

hash_outcome hash_password(std::string_view password, const argon2_config& params) {
  static constexpr size_t salt_bytes = 16, hash_bytes = 32;
  std::array<uint8_t, salt_bytes> salt{};
  size_t got = 0;
  while (got < salt.size()) {
    ssize_t n = ::getrandom(salt.data() + got, salt.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return {"", std::string("getrandom: ") + std::strerror(errno)};
    }
    got += size_t(n);
  }
  size_t length = argon2_encodedlen(params.iterations, params.memory_kib, params.parallelism, salt_bytes, hash_bytes,
                                    Argon2_id);
  std::string encoded(length, '\0');
  int rc = argon2id_hash_encoded(params.iterations, params.memory_kib, params.parallelism, password.data(),
                                 password.size(), salt.data(), salt.size(), hash_bytes, encoded.data(), length);
  if (rc != ARGON2_OK) return {"", std::string("argon2id: ") + argon2_error_message(rc)};
  encoded.resize(std::strlen(encoded.c_str()));
  return {encoded, ""};
}

bool verify_password(std::string_view password, const std::string& encoded) {
  if (!looks_like_argon2id(encoded)) return false;
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

bool looks_like_argon2id(std::string_view encoded) {
  // Bounded so a corrupt directory entry cannot ask libargon2 for 4 GiB.
  static constexpr size_t encoded_length_max = 512;
  if (encoded.size() > encoded_length_max || !encoded.starts_with("$argon2id$v=19$m=")) return false;
  return std::count(encoded.begin(), encoded.end(), '$') == 5;
}

}  // namespace appliance
