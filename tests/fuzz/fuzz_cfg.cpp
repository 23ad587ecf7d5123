// libFuzzer target: the MLIP `.cfg` reader (io::read_cfg), the evaluator on what it read, and
// the writer (round trip).
#include "mmtp/io/cfg.hpp"
#include "round_trip.hpp"

using namespace mmtp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::MemoryFile file;
  std::vector<Sample> samples;
  try {
    samples = io::read_cfg(file.set(data, size));
  } catch (const Error&) {
    return 0;
  }
  for (std::size_t k = 0; k < samples.size() && k < 4; ++k) fuzz::evaluate_if_possible(samples[k].structure);
  fuzz::require_round_trip(
      samples, [](const std::string& path, const std::vector<Sample>& s) { io::write_cfg(path, s); },
      [](const std::string& path) { return io::read_cfg(path); }, "cfg");
  return 0;
}
