// libFuzzer target: the ABINIT output reader (io::read_abinit), lenient and strict, and the
// evaluator on the structures it accepted.
#include "mmtp/io/abinit.hpp"
#include "fuzz_input.hpp"

using namespace mmtp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::MemoryFile file;
  const std::string& path = file.set(data, size);
  for (const bool strict : {false, true}) {
    std::vector<std::string> species{"Fe", "Al"};
    io::AbinitOptions options;
    options.strict = strict;
    io::AbinitResult r;
    try {
      r = io::read_abinit(path, species, options);
    } catch (const Error&) {
      continue;
    }
    for (const auto& s : r.samples) {
      fuzz::require_finite(s.structure.positions, "positions");
      if (s.energy) fuzz::require_finite(*s.energy, "energy");
      if (s.forces) fuzz::require_finite(*s.forces, "forces");
      if (s.virial) fuzz::require_finite(*s.virial, "virial");
      if (s.dE_dm) fuzz::require_finite(*s.dE_dm, "dE/dm");
    }
    if (!r.samples.empty()) fuzz::evaluate_if_possible(r.samples.front().structure);
  }
  return 0;
}
