#pragma once
#include <string>
#include <vector>

#include "mmtp/ensemble.hpp"

namespace mmtp::driver {

/// Reads the potentials given with -p and attaches element names: `species_csv` ("Fe,Al",
/// type 0 = Fe) when given, otherwise the names stored in the first potential.
/// Throws mmtp::Error / ParseError.
Ensemble load_ensemble(const std::vector<std::string>& paths, const std::string& species_csv);

int run_eval(const std::vector<std::string>& args);
int run_serve(const std::vector<std::string>& args);
int run_relax(const std::vector<std::string>& args);

}  // namespace mmtp::driver
