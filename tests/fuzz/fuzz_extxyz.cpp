// libFuzzer target: the extended XYZ reader (io::read_extxyz), the evaluator on what it read,
// and the writer (round trip).
#include "mmtp/io/extxyz.hpp"
#include "round_trip.hpp"

using namespace mmtp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::MemoryFile file;
  static const std::vector<std::string> species{"Fe", "Al", "H"};
  std::vector<Sample> samples;
  try {
    samples = io::read_extxyz(file.set(data, size), species);
  } catch (const Error&) {
    return 0;
  }
  for (std::size_t k = 0; k < samples.size() && k < 4; ++k) fuzz::evaluate_if_possible(samples[k].structure);
  fuzz::require_round_trip(
      samples, [](const std::string& path, const std::vector<Sample>& s) { io::write_extxyz(path, s, species); },
      [](const std::string& path) { return io::read_extxyz(path, species); }, "xyz");
  return 0;
}
