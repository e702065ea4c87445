#pragma once
// Fuzz input for a format whose bytes end in the XXH3-64 checksum of what
// comes before (the FTRL model file, the spam filter's training blobs): the
// fuzzer's bytes with their checksum appended, so it reaches the field
// checks instead of stopping at the checksum.
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

inline std::string with_xxh3_checksum(const std::uint8_t* data, std::size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  std::uint64_t sum = XXH3_64bits(in.data(), in.size());
  char b[sizeof sum];
  std::memcpy(b, &sum, sizeof sum);
  in.append(b, sizeof sum);
  return in;
}
