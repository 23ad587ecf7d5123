#pragma once
// Round-trip oracle shared by the file-format targets: whatever a reader accepts, the matching
// writer must write, and the reader read back, so that writing again gives the same bytes.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "fuzz_input.hpp"

namespace mmtp::fuzz {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// `write(path, value)` and `read(path)`: value → file A → value' → file B; A and B must be
/// identical. A writer may refuse (mmtp::Error, e.g. a periodicity cfg cannot express); a
/// reader must not refuse what the writer wrote.
template <class T, class Write, class Read>
void require_round_trip(const T& value, Write write, Read read, const char* name) {
  const std::string a = scratch_dir() + "/a." + name, b = scratch_dir() + "/b." + name;
  try {
    write(a, value);
  } catch (const Error&) {
    return;
  }
  try {
    write(b, read(a));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "round trip: reading back what the %s writer wrote failed: %s\n", name, e.what());
    std::abort();
  }
  if (slurp(a) != slurp(b)) {
    std::fprintf(stderr, "round trip: the %s writer's output changed after reading it back\n", name);
    std::abort();
  }
}

}  // namespace mmtp::fuzz
