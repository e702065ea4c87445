#include "appliance/spam/message_files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>

namespace appliance {

namespace fs = std::filesystem;

kio::result<std::vector<std::string>, std::string> list_message_files(const std::string& path) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (ec) return kio::fail("cannot read " + path + ": " + ec.message());
  std::vector<std::string> files;
  if (fs::is_regular_file(status)) {
    files.push_back(path);
    return files;
  }
  if (!fs::is_directory(status)) return kio::fail(path + " is neither a file nor a directory");
  // Symlinks are followed, so a directory can be reached again (a link to
  // an ancestor, or two links to one directory): each is listed once, by
  // its device and inode. Following a loop until the kernel's ELOOP listed
  // its files dozens of times, and two such links made the paths, and the
  // memory holding them, grow exponentially.
  std::set<std::pair<dev_t, ino_t>> seen;
  auto first_visit = [&](const fs::path& directory) {
    struct stat st {};
    if (::stat(directory.c_str(), &st) != 0) return true;  // its listing reports the error
    return seen.emplace(st.st_dev, st.st_ino).second;
  };
  first_visit(path);
  // No skip_permission_denied: a directory that cannot be listed is an
  // error, as an unreadable file is, not trained from in silence.
  auto options = fs::directory_options::follow_directory_symlink;
  fs::recursive_directory_iterator it(path, options, ec), end;
  if (ec) return kio::fail("cannot list " + path + ": " + ec.message());
  std::string entered;  // the directory the last increment() went into
  auto failed = [&] { return kio::fail("cannot list " + (entered.empty() ? path : entered) + ": " + ec.message()); };
  // A failed increment() also leaves the iterator at the end: the error is
  // checked after the loop too.
  for (; it != end; it.increment(ec)) {
    if (ec) return failed();
    entered.clear();
    std::string name = it->path().filename().string();
    if (name.starts_with(".")) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory(ec)) {
      // Maildir: messages being delivered sit in tmp/ and are not messages yet.
      if (name == "tmp" && fs::is_directory(it->path().parent_path() / "cur", ec)) {
        it.disable_recursion_pending();
      } else if (!first_visit(it->path())) {
        it.disable_recursion_pending();
      } else {
        entered = it->path().string();
      }
      continue;
    }
    if (it->is_regular_file(ec)) files.push_back(it->path().string());
    ec.clear();
  }
  if (ec) return failed();
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

kio::result<std::string, std::string> read_message_file(const std::string& path, std::size_t size_max) {
  // One way of reading a file (to its end, so a FIFO arrives whole too).
  message_file_reader reader;
  auto data = reader.read(path, size_max);
  if (!data) return kio::fail(data.error());
  return std::string(*data);
}

message_file_reader::~message_file_reader() {
  unmap();
  if (_directory_fd >= 0) ::close(_directory_fd);
}

void message_file_reader::unmap() {
  if (_mapped != nullptr) ::munmap(_mapped, _mapped_size);
  _mapped = nullptr;
  _mapped_size = 0;
}

int message_file_reader::open_file(const std::string& path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == path.size())
    return ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  std::string_view directory(path.data(), slash);
  if (_directory_fd < 0 || directory != _directory) {
    if (_directory_fd >= 0) ::close(_directory_fd);
    _directory.assign(directory);
    _directory_fd = ::open(_directory.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    // Not a directory we can hold: the whole path, and its error, as usual.
    if (_directory_fd < 0) return ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  return ::openat(_directory_fd, path.c_str() + slash + 1, O_RDONLY | O_CLOEXEC);
}

kio::result<std::string_view, std::string> message_file_reader::read(const std::string& path, std::size_t size_max) {
  unmap();  // the last file's view ends here
  int fd = open_file(path);
  if (fd < 0) return kio::fail(path + ": " + std::strerror(errno));
  // No fstat for the size: read() into the room the buffer has until a
  // read returns 0. A read shorter than asked for is the end only of a
  // regular file: a pipe or a FIFO named on the command line (/dev/stdin,
  // a shell's <(...)) hands over what its writer has put in so far, so
  // taking that as the end cut the message. For a regular file the last
  // read costs less than the fstat did (no struct stat to fill and copy
  // out). Only a file that fills the buffer makes it grow (doubling, up to
  // size_max + 1 bytes so that a larger file is told apart).
  if (_capacity == 0) grow(std::min(initial_capacity, size_max + 1), 0);
  std::size_t got = 0;
  while (true) {
    if (got == _capacity) {
      if (got > size_max) break;
      if (got >= _map_from) {
        // A large file: mapped whole if it is a regular one (then its size
        // is known), instead of a buffer as large kept for the next files.
        struct stat st {};
        if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
          auto size = static_cast<std::size_t>(st.st_size);
          if (size > size_max) {
            ::close(fd);
            return kio::fail(path + ": larger than " + std::to_string(size_max) + " bytes");
          }
          void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
          if (p != MAP_FAILED) {
            ::close(fd);
            ::madvise(p, size, MADV_SEQUENTIAL);
            _mapped = p;
            _mapped_size = size;
            return std::string_view(static_cast<const char*>(p), size);
          }
        }
      }
      grow(std::min(2 * _capacity, size_max + 1), got);
    }
    ssize_t n = ::read(fd, _buffer.get() + got, _capacity - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return kio::fail(path + ": " + std::strerror(e));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  // (Also where a buffer grown by an earlier, larger limit held more.)
  if (got > size_max) return kio::fail(path + ": larger than " + std::to_string(size_max) + " bytes");
  return std::string_view(_buffer.get(), got);
}

void message_file_reader::grow(std::size_t capacity, std::size_t keep) {
  // Not zero-filled: read() fills what is used.
  std::unique_ptr<char[]> bigger(new char[capacity]);
  if (keep > 0) std::memcpy(bigger.get(), _buffer.get(), keep);
  _buffer = std::move(bigger);
  _capacity = capacity;
}

namespace {

// "From sender@example.com Thu Aug 22 13:17:22 2002": a sender, then a
// date with a time. A "From " line in a body that was not escaped to
// ">From " has no such date and does not split the message.
bool is_mbox_from_line(std::string_view rest_of_file) {
  std::string_view line = rest_of_file.substr(0, rest_of_file.find('\n'));
  line.remove_prefix(5);
  std::size_t sender_end = line.find(' ');
  if (sender_end == 0 || sender_end == std::string_view::npos) return false;
  std::string_view date = line.substr(sender_end);
  return date.size() >= 20 && date.size() <= 64 && std::count(date.begin(), date.end(), ':') >= 2;
}

}  // namespace

bool looks_like_message(std::string_view contents) {
  if (contents.starts_with("From ")) return true;
  // RFC 5322 allows any printable US-ASCII but ':' in a field name, which
  // a JSON object ({"id": ...) would pass; names in mail are letters,
  // digits and '-' (some '_' or '.'). Then ':' (obsolete syntax allows
  // blanks before it).
  auto name_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  };
  std::size_t i = 0;
  while (i < contents.size() && name_char(contents[i])) ++i;
  if (i == 0) return false;
  while (i < contents.size() && (contents[i] == ' ' || contents[i] == '\t')) ++i;
  return i < contents.size() && contents[i] == ':';
}

void for_each_message(std::string_view contents, const std::function<void(std::string_view)>& each) {
  if (!contents.starts_with("From ")) {
    if (!contents.empty()) each(contents);
    return;
  }
  // mbox: a message starts at a "From " line at the start of the file or
  // after an empty line. The parser skips that first line itself.
  std::size_t start = 0;
  std::size_t pos = 0;
  // The next of each kind of cut at or after pos, searched again only once
  // pos has passed it: in an LF mbox the CRLF one is never found, and
  // searching for it from every cut scanned the rest of the file each time.
  // (npos, not found, is never below pos.)
  std::size_t next = contents.find("\n\nFrom ");
  std::size_t crlf = contents.find("\n\r\nFrom ");
  while (true) {
    if (next < pos) next = contents.find("\n\nFrom ", pos);
    if (crlf < pos) crlf = contents.find("\n\r\nFrom ", pos);
    std::size_t cut = std::min(next, crlf);
    if (cut == std::string_view::npos) break;
    std::size_t from = cut + (cut == next ? 2 : 3);
    pos = from;
    if (!is_mbox_from_line(contents.substr(from))) continue;
    each(contents.substr(start, from - start));
    start = from;
    pos = from;
  }
  if (start < contents.size()) each(contents.substr(start));
}

}  // namespace appliance
