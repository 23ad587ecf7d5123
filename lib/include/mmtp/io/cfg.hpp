#pragma once
#include <string>
#include <vector>

#include "mmtp/structure.hpp"

namespace mmtp::io {

/// Reads every configuration of an MLIP `.cfg` file (MLIP-3 manual, "cfg format"):
/// `Size`, optional `Supercell` (rows = lattice vectors [Å]; k rows = periodic along the first
/// k), `AtomData` with `id type` and `cartes_x..z` [Å] or `direct_x..z` (fractional), optional
/// `fx..fz` [eV/Å], `magmom_x..z` [μB] (collinear: only x is used), `en_der_mx..` [eV/μB],
/// then optional `Energy` [eV], `PlusStress` (virial −∂E/∂ε [eV], order xx yy zz yz xz xy)
/// and `Feature name value` lines. Type indices are the potential's (0-based).
/// Throws ParseError("FILE:LINE: ...") on malformed input.
std::vector<Sample> read_cfg(const std::string& path);

/// Writes samples in the same format, numbers with 17 significant digits, atomically.
/// Per-atom `arrays` are not written (cfg has no place for them). Throws mmtp::Error when a
/// periodicity cannot be expressed (cfg only knows "periodic along the first k vectors").
void write_cfg(const std::string& path, const std::vector<Sample>& samples);

}  // namespace mmtp::io
