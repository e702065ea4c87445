// Fuzz target for the transfer decoders. Property: the quoted-printable and
// base64 decoders give, call by call, the same bytes as their first
// byte-at-a-time versions (tests/unit/mime/transfer_reference.h), through
// the string and the pointer interfaces, and the pointer interface stays
// within decoded_size_max(). The first two input bytes choose where the
// rest is cut into pieces (every k-th byte, from an offset).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>

#include "protocols/mime/transfer.h"
#include "tests/unit/mime/transfer_reference.h"

namespace {

template <typename Decoder, typename Reference>
void check(std::string_view in, std::size_t first, std::size_t step) {
  Decoder by_string, by_pointer;
  Reference ref;
  std::string buffer;
  std::size_t at = 0, cut = first;
  while (true) {
    std::size_t to = std::min(cut, in.size());
    std::string_view piece = in.substr(at, to - at);
    std::string want, got;
    ref.decode(piece, want);
    by_string.decode(piece, got);
    std::size_t room;
    if constexpr (std::is_same_v<Decoder, mime::qp_decoder>) room = by_pointer.decoded_size_max(piece.size());
    else room = Decoder::decoded_size_max(piece.size());
    buffer.assign(room + 8, '#');
    char* end = by_pointer.decode(piece, buffer.data());
    std::string_view written(buffer.data(), static_cast<std::size_t>(end - buffer.data()));
    if (got != want || written != want || buffer.compare(room, 8, "########") != 0) {
      std::fprintf(stderr, "transfer decoder differs from the reference\n");
      std::abort();
    }
    if (to == in.size()) break;
    at = to;
    cut = to + step;
  }
  std::string want, got;
  ref.finish(want);
  by_string.finish(got);
  char tail[Decoder::finish_size_max];
  char* end = by_pointer.finish(tail);
  if (got != want || std::string_view(tail, static_cast<std::size_t>(end - tail)) != want) {
    std::fprintf(stderr, "transfer decoder finish differs from the reference\n");
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::size_t first = data[0], step = std::size_t{1} + data[1];
  check<mime::qp_decoder, mime::reference::qp_decoder>(in, first, step);
  check<mime::qp_decoder, mime::reference::qp_decoder>(in, in.size(), step);
  check<mime::base64_decoder, mime::reference::base64_decoder>(in, first, step);
  return 0;
}
