#pragma once
// A fresh directory per test under $TMPDIR (ext4 here), removed afterwards.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace store::testing {
struct test_dir {
  std::string path;
  test_dir() {
    std::string tmpl = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + std::string("/ringmail-store-XXXXXX");
    path = ::mkdtemp(tmpl.data());
  }
  ~test_dir() { std::filesystem::remove_all(path); }
};
}  // namespace store::testing
