#pragma once
#include <string>

#include <vector>

#include "mmtp/mtp_parameters.hpp"
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



}  // namespace mmtp::io
