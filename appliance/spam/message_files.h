#pragma once
// Where `ringmail spam train` and `score` find messages: a Maildir (its
// cur/ and new/), an mbox file, or a directory of message files, walked
// recursively with symlinks followed (an evaluation split is a directory of
// links). Hidden files and Maildir's tmp/ are skipped. A file is an mbox
// when it starts with a "From " line: it is split at every "From " line
// that follows an empty line; a single message with an mbox first line (the
// SpamAssassin corpus) is then simply an mbox of one.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernel_io/base/result.h"

namespace appliance {

// Every message file under `path` (or `path` itself), sorted, deduplicated.
kio::result<std::vector<std::string>, std::string> list_message_files(const std::string& path);

// Reads a whole file. Files larger than size_max are refused.
kio::result<std::string, std::string> read_message_file(const std::string& path, std::size_t size_max);

// The same into a buffer reused from file to file (scoring thousands of
// files: no allocation or zero-filling per file). The view is valid until
// the next read. Read to the end (a read that returns 0), so a pipe or a
// FIFO arrives whole too. The directory of the last file stays open: a file in the
// same directory (an evaluation split, a Maildir) is opened relative to it,
// so the kernel walks one path component instead of the whole path.
// A regular file larger than `map_from` bytes is mapped instead of copied
// into a buffer that large (an mbox of a whole folder can be gigabytes:
// training reads it with a limit far above any message's).
class message_file_reader {
 public:
  static constexpr std::size_t default_map_from = std::size_t{64} << 20;
  explicit message_file_reader(std::size_t map_from = default_map_from) : _map_from(map_from) {}
  message_file_reader(const message_file_reader&) = delete;
  message_file_reader& operator=(const message_file_reader&) = delete;
  ~message_file_reader();

  kio::result<std::string_view, std::string> read(const std::string& path, std::size_t size_max);

 private:
  int open_file(const std::string& path);
  void grow(std::size_t capacity, std::size_t keep);
  void unmap();

  // Most mail is far smaller; the buffer grows for the rest, once.
  static constexpr std::size_t initial_capacity = std::size_t{256} << 10;
  std::unique_ptr<char[]> _buffer;
  std::size_t _capacity = 0;
  std::string _directory;  // of the last file, "" = none open
  int _directory_fd = -1;
  std::size_t _map_from;
  void* _mapped = nullptr;  // the last file, when it was mapped
  std::size_t _mapped_size = 0;
};

// Calls `each` with every message of a file's contents (see above).
void for_each_message(std::string_view contents, const std::function<void(std::string_view)>& each);

// Whether a file's contents can be mail: its first line is an mbox "From "
// line or a header field ("Name:", RFC 5322). Training skips other files,
// such as the .json files beside each message of the SpamAssassin corpus's
// npm package: they would be learnt as ham or spam.
bool looks_like_message(std::string_view contents);

}  // namespace appliance
