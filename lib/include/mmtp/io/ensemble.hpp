#pragma once
// A committee read from MLIP-3 potential files (io::read_mtp for each member).
#include <string>
#include <vector>

#include "mmtp/ensemble.hpp"

namespace mmtp::io {

/// A committee from potential files: element names from `species` (type 0 = species[0]) when
/// given, otherwise those stored in the files; the committee's α is `committee_alpha` when
/// positive, else the one stored in the files (when they all agree), else 1; the error floor
/// is the files' (when they agree) with their α, else 0 (a given α means α·spread alone). Throws
/// ParseError / mmtp::Error, InputError when `species` does not match a file or the members
/// do not fit together, and for an untrained template.
Ensemble read_ensemble(const std::vector<std::string>& paths, const std::vector<std::string>& species = {},
                       double committee_alpha = 0.0);

}  // namespace mmtp::io
