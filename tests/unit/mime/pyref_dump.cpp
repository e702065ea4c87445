// mime_pyref_dump PATH...: one line per message file (*.eml, *.txt, or any
// file named directly): "path<TAB>type/subtype type/subtype ...", the
// content types of all parts in pre-order, as Python's Message.walk() lists
// them. tests/corpus/compare_python_email.py compares these with Python.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "protocols/mime/structure.h"

namespace fs = std::filesystem;

static void dump(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string msg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  mime::message_tree t = mime::parse_message(msg);
  std::cout << p.string() << '\t';
  for (std::size_t i = 0; i < t.parts.size(); ++i) {
    if (i > 0) std::cout << ' ';
    std::cout << t.parts[i].info.type.type << '/' << t.parts[i].info.type.subtype;
  }
  std::cout << '\n';
}

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    fs::path arg(argv[i]);
    if (!fs::is_directory(arg)) {
      dump(arg);
      continue;
    }
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(arg))
      if (e.is_regular_file() && (e.path().extension() == ".eml" || e.path().extension() == ".txt"))
        files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) dump(f);
  }
  return 0;
}
