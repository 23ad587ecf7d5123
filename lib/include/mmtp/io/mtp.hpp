#pragma once
#include <string>

#include <vector>

#include "mmtp/ensemble.hpp"
#include "mmtp/mtp_parameters.hpp"

namespace mmtp::io {

/// Reads an MLIP-3 potential (`.mtp`, `.almtp`, `.mtpr`: text up to a `#MVS_v1.1` line) or
/// the motep `.mmtp` dialect (`min_mag`, `max_mag`, `mag_basis_size` inside the radial block).
/// The format is recognised by content, not by extension. Element names are taken from a
/// `potential_tag` of the form `mmtp:species=Fe,Al` when present.
/// Templates (no coefficients) are read too; check MtpParameters::trained().
/// Throws ParseError("FILE:LINE: ...") on malformed input, mmtp::Error if unreadable.
MtpParameters read_mtp(const std::string& path);

/// Writes MLIP-3 text format (readable by MLIP-3 and read_mtp), numbers with 17 significant
/// digits so that reading back gives bit-identical coefficients. Element names, when known,
/// go into `potential_tag`. Written atomically (temporary file + rename).
/// Throws InputError if `p` does not validate, mmtp::Error on I/O failure.
void write_mtp(const std::string& path, const MtpParameters& p);

/// A committee from potential files: element names from `species` (type 0 = species[0]) when
/// given, otherwise those stored in the files; the committee's α is `committee_alpha` when
/// positive, else the one stored in the files (when they all agree), else 1. Throws
/// ParseError / mmtp::Error, InputError when `species` does not match a file or the members
/// do not fit together, and for an untrained template.
Ensemble read_ensemble(const std::vector<std::string>& paths, const std::vector<std::string>& species = {},
                       double committee_alpha = 0.0);

}  // namespace mmtp::io
