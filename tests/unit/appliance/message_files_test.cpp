// Where `ringmail spam train` finds messages: which file contents count as
// mail, how an mbox splits, and how the reader reads files of any size.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdio>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "appliance/spam/message_files.h"
#include "appliance/spam/scan_files.h"

namespace appliance {
namespace {

TEST(message_files, a_message_starts_with_a_header_field_or_an_mbox_line) {
  EXPECT_TRUE(looks_like_message("From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n"));
  EXPECT_TRUE(looks_like_message("Return-Path: <a@example.org>\n"));
  EXPECT_TRUE(looks_like_message("From a@example.org Thu Aug 22 13:17:22 2002\nFrom: a@example.org\n"));
  EXPECT_TRUE(looks_like_message("X-Old-Style  : value\n"));  // RFC 5322 obs-optional
  EXPECT_FALSE(looks_like_message("{\"id\": 1, \"group\": \"easy-ham-1\"}\n"));
  EXPECT_FALSE(looks_like_message("Hello there: this is a body\n"));
  EXPECT_FALSE(looks_like_message(":no name\n"));
  EXPECT_FALSE(looks_like_message("\r\nFrom: after an empty line\r\n"));
  EXPECT_FALSE(looks_like_message("Subject"));
  EXPECT_FALSE(looks_like_message(""));
}

TEST(message_files, an_mbox_splits_at_from_lines_with_a_date) {
  std::string mbox =
      "From a@example.org Thu Aug 22 13:17:22 2002\nSubject: one\n\nFrom here on, a body line\n\n"
      "From b@example.org Fri Aug 23 10:00:00 2002\nSubject: two\n\nbody\n";
  std::vector<std::string> messages;
  for_each_message(mbox, [&](std::string_view m) { messages.emplace_back(m); });
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_TRUE(messages[0].find("From here on") != std::string::npos);
  EXPECT_TRUE(messages[1].starts_with("From b@example.org"));
}


// A directory reached again through a symlink (a loop such as sub/up -> ..,
// or a second link to the same directory) is listed once: before, the loop
// was followed until the kernel's ELOOP, and the one message in it was
// listed (and trained) 41 times.
TEST(message_files, a_symlink_loop_lists_each_file_once) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("ringmail-loop-" + std::to_string(::getpid()));
  fs::create_directories(dir / "sub");
  std::ofstream(dir / "sub" / "a.eml") << "From: a@example.org\n\nbody\n";
  fs::create_directory_symlink("..", dir / "sub" / "up");
  fs::create_directory_symlink("sub", dir / "again");
  auto files = list_message_files(dir.string());
  fs::remove_all(dir);
  ASSERT_TRUE(files) << files.error();
  ASSERT_EQ(files->size(), 1u);
  EXPECT_TRUE((*files)[0].ends_with("/a.eml")) << (*files)[0];
}

// A directory that cannot be listed is an error naming it, not skipped in
// silence: `spam train --ham DIR` with DIR (or a folder in it) unreadable
// trained nothing from it and exited 0. Root reads every directory: the
// listing runs in a child, as nobody when the test runs as root.
TEST(message_files, an_unreadable_directory_is_an_error) {
  namespace fs = std::filesystem;
  {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(3);
      fs::path dir = fs::temp_directory_path() / ("ringmail-perm-" + std::to_string(::getpid()));
      fs::create_directories(dir / "ok");
      fs::create_directories(dir / "locked");
      std::ofstream(dir / "ok" / "a.eml") << "From: a@example.org\n\nbody\n";
      std::ofstream(dir / "locked" / "b.eml") << "From: b@example.org\n\nbody\n";
      ::chmod((dir / "locked").c_str(), 0);
      auto whole = list_message_files(dir.string());
      auto locked = list_message_files((dir / "locked").string());
      ::chmod((dir / "locked").c_str(), 0700);
      fs::remove_all(dir);
      bool ok = !whole && whole.error().find("locked") != std::string::npos &&
                whole.error().find("Permission denied") != std::string::npos && !locked &&
                locked.error().find("Permission denied") != std::string::npos;
      if (!ok)
        std::fprintf(stderr, "%s / %s\n", whole ? "listed" : whole.error().c_str(),
                     locked ? "listed" : locked.error().c_str());
      ::_exit(ok ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_NE(WEXITSTATUS(status), 3) << "cannot become nobody";
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
}

// The split is linear in the mbox: each cut looked for the next "\n\nFrom "
// and the next "\n\r\nFrom " from the last cut, and in an LF mbox the
// second is never found, so every message scanned the rest of the file (a
// 280 MB mbox of 3,860 messages took 141 s to train). 40,000 messages of
// ~90 bytes: ~40 ms linear, tens of seconds quadratic; also LF and CRLF
// messages mixed split at each.
TEST(message_files, an_mbox_splits_in_one_pass) {
  std::string mbox;
  constexpr int n = 40000;
  for (int i = 0; i < n; ++i) {
    if (i != 0) mbox += (i % 2 == 0 && i > n - 4) ? "\r\n" : "\n";
    mbox += "From a@example.org Thu Aug 22 13:17:22 2002\nSubject: m" + std::to_string(i) + "\n\nbody\n";
  }
  int messages = 0;
  auto start = std::chrono::steady_clock::now();
  for_each_message(mbox, [&](std::string_view m) {
    EXPECT_TRUE(m.starts_with("From a@example.org")) << messages;
    ++messages;
  });
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(messages, n);
  EXPECT_LT(seconds, 5.0);
}

// The reader asks for as many bytes as its buffer holds and reads until a
// read returns 0, growing the buffer when it fills: files below, at, just
// above and far above the first buffer's size, in any order, read back
// whole.
class message_file_reader_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() / ("ringmail-reader-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir / "sub");
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::string write(const std::string& name, std::size_t size) {
    std::string bytes(size, '\0');
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return bytes;
  }
  std::filesystem::path dir;
};

TEST_F(message_file_reader_test, reads_files_of_every_size_whole) {
  constexpr std::size_t k = 1024;
  const std::size_t sizes[] = {0, 1, 4 * k, 256 * k - 1, 256 * k, 256 * k + 1, 3 * 256 * k + 5, 10, 2 * 256 * k};
  message_file_reader reader;
  int n = 0;
  for (std::size_t size : sizes) {
    std::string name = (n % 2 ? "sub/" : "") + std::to_string(n);
    ++n;
    std::string bytes = write(name, size);
    auto got = reader.read((dir / name).string(), 256u << 20);
    ASSERT_TRUE(got) << size;
    EXPECT_EQ(got->size(), size);
    EXPECT_TRUE(*got == bytes) << size;
  }
}

TEST_F(message_file_reader_test, a_file_above_the_limit_is_refused_and_one_at_it_is_read) {
  message_file_reader reader;
  std::string at = write("at", 300000);
  write("above", 300001);
  auto refused = reader.read((dir / "above").string(), 300000);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("larger than 300000 bytes"), std::string::npos);
  auto read = reader.read((dir / "at").string(), 300000);
  ASSERT_TRUE(read);
  EXPECT_TRUE(*read == at);
  auto small = message_file_reader().read((dir / "at").string(), 10);
  EXPECT_FALSE(small);
}

TEST_F(message_file_reader_test, a_missing_file_or_a_directory_is_an_error) {
  message_file_reader reader;
  auto missing = reader.read((dir / "missing").string(), 1000);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("No such file"), std::string::npos);
  auto directory = reader.read((dir / "sub").string(), 1000);
  ASSERT_FALSE(directory);
  EXPECT_NE(directory.error().find("Is a directory"), std::string::npos);
  std::string bytes = write("later", 100);
  auto later = reader.read((dir / "later").string(), 1000);
  ASSERT_TRUE(later);
  EXPECT_TRUE(*later == bytes);
}

// `ringmail spam score FILE` takes any path: a FIFO, or a pipe such as
// /dev/stdin or a shell's <(zcat msg.gz), hands over at each read what its
// writer has put in (at most the pipe's 64 KiB), so a read shorter than
// asked for is not the end there. The message must arrive whole, not cut
// after its first read (nor empty, as when the size came from fstat).
template <class Read>
void expect_a_fifo_read_to_its_end(const std::filesystem::path& dir, Read read) {
  std::string fifo = (dir / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string bytes(200000, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>('a' + i % 23);
  // A reader that stops early closes the pipe: the writer then gets EPIPE.
  struct sigaction ignore {}, previous {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &previous);
  std::thread writer([&] {
    int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    for (std::size_t done = 0; done < bytes.size();) {
      ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
  });
  auto got = read(fifo);
  writer.join();
  ::sigaction(SIGPIPE, &previous, nullptr);
  ASSERT_TRUE(got) << got.error();
  EXPECT_EQ(got->size(), bytes.size());
  EXPECT_TRUE(*got == bytes);
}

TEST_F(message_file_reader_test, a_fifo_is_read_to_its_end) {
  message_file_reader reader;
  expect_a_fifo_read_to_its_end(dir, [&](const std::string& path) { return reader.read(path, 256u << 20); });
}

// read_message_file (an FTRL model's file) reads through the same reader:
// a FIFO whole (its size by fstat was 0), a file past the first buffer
// whole, one above the limit refused.
TEST_F(message_file_reader_test, read_message_file_reads_the_same_way) {
  expect_a_fifo_read_to_its_end(dir, [](const std::string& path) { return read_message_file(path, 256u << 20); });
  std::string big = write("big", 600000);
  auto got = read_message_file((dir / "big").string(), 600000);
  ASSERT_TRUE(got);
  EXPECT_TRUE(*got == big);
  auto refused = read_message_file((dir / "big").string(), 599999);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("larger than 599999 bytes"), std::string::npos);
}

// A regular file past the reader's map_from is mapped, not copied: read
// whole, refused above the limit as before, and the next (small) file after
// it is read as usual. A FIFO cannot be mapped and still arrives whole.
TEST_F(message_file_reader_test, a_large_file_is_mapped_whole) {
  message_file_reader reader(4096);
  std::string big = write("big", 300000);
  auto got = reader.read((dir / "big").string(), 256u << 20);
  ASSERT_TRUE(got) << got.error();
  EXPECT_EQ(got->size(), big.size());
  EXPECT_TRUE(*got == big);
  auto refused = reader.read((dir / "big").string(), 299999);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("larger than 299999 bytes"), std::string::npos);
  std::string small = write("small", 100);
  auto next = reader.read((dir / "small").string(), 256u << 20);
  ASSERT_TRUE(next);
  EXPECT_TRUE(*next == small);
  message_file_reader fifo_reader(4096);
  expect_a_fifo_read_to_its_end(dir, [&](const std::string& path) { return fifo_reader.read(path, 256u << 20); });
}

// `spam train` takes an mbox of a whole folder: one larger than the 256 MB
// a message file may have was refused ("larger than 268435456 bytes", exit
// 2, nothing trained from it). A sparse file of 300 MB: two messages.
TEST_F(message_file_reader_test, training_reads_an_mbox_larger_than_a_message_file) {
  std::string path = (dir / "big.mbox").string();
  {
    std::ofstream out(path, std::ios::binary);
    out << "From a@example.org Thu Aug 22 13:17:22 2002\nFrom: a@example.org\nSubject: one\n\nfirst\n";
    out.seekp(std::streamoff{300} << 20);
    out << "\n\nFrom b@example.org Fri Aug 23 10:00:00 2002\nFrom: b@example.org\nSubject: two\n\nsecond\n";
  }
  std::atomic<int> messages{0};
  filter::tokenizer_options options;
  std::size_t failures = tokenize_files({path}, 1, options, [&](unsigned, std::size_t, std::span<const std::uint64_t>) {
    ++messages;
  });
  EXPECT_EQ(failures, 0u);
  EXPECT_EQ(messages.load(), 2);
}

}  // namespace
}  // namespace appliance
