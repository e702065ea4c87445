#pragma once
// Passwords: the policy a new password must meet, and Argon2id hashing
// (libargon2) in the PHC string format ("$argon2id$v=19$m=65536,t=3,p=1$
// salt$hash"), which carries its own parameters so old hashes keep
// verifying after the configured parameters change.
//
// hash_password() and verify_password() cost tens of milliseconds and
// tens of MiB by design: call them on the worker pool (kio::worker_pool::run),
// never on a reactor. They are plain functions, safe on any thread.

#include <optional>
#include <string>
#include <string_view>

#include "appliance/config/config.h"

namespace appliance {

// Why a password was refused, in words for the operator; nullopt if it is
// acceptable. `account` (the e-mail address) is refused as part of the
// password too, since it is the first thing an attacker tries.
std::optional<std::string> check_password_policy(std::string_view password, const password_policy_config& policy,
                                                 std::string_view account = {});

// The strength estimate behind the policy, in bits: a conservative guess of
// log2(guesses) that charges repeats, sequences, keyboard runs and
// dictionary words at a small fraction of random characters.
double estimate_password_entropy_bits(std::string_view password);

// Argon2id with a fresh 16-byte salt from getrandom(). An error (out of
// memory for the configured memory_kib) is a message.
struct hash_outcome {
  std::string encoded;  // empty on error
  std::string error;
};
hash_outcome hash_password(std::string_view password, const argon2_config& params);

// True if `password` matches the PHC string. A malformed string is false.
bool verify_password(std::string_view password, const std::string& encoded);

// Cheap syntax check for hashes read from the directory file.
bool looks_like_argon2id(std::string_view encoded);

}  // namespace appliance
