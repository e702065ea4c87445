// mime_dump FILE...: prints what IMAP would send for each message (the
// golden .ref format): the part tree with offsets, ENVELOPE, BODY and
// BODYSTRUCTURE. Used to (re)generate tests/corpus/mime/*.ref; see
// tests/corpus/README.md.
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "protocols/mime/imap_render.h"
#include "protocols/mime/structure.h"
#include "tests/unit/mime/mime_golden.h"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::string msg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::cout << mime::golden::render(msg);
  }
  return 0;
}
