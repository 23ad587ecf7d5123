#pragma once
// i-PI's committee `active_output` file: the structures an FFCommittee with `active_thresh`
// found uncertain, which mmtp-learn takes as candidates (explore.ipi-active).
#include <string>
#include <vector>

#include "mmtp/structure.hpp"

namespace mmtp::io {

/// One record: the template with the record's positions and cell, and the committee std of its
/// energy [eV].
struct ActiveRecord {
  Structure structure;
  double energy_std = 0.0;
};

/// Parses the concatenated JSON records i-PI ≥ 3 writes to `active_output`
/// (`{"position": [3N, Bohr], "cell": [9, Bohr, h row-major, lattice vectors as columns],
/// "uncertainty": Hartree}`, one after the other without separators), converting to Å and eV.
/// Species, periodicity and moments come from `tmpl`. Throws ParseError(source, 0, …) for a
/// malformed record or an atom count other than the template's.
std::vector<ActiveRecord> read_ipi_active_output(const std::string& text, const Structure& tmpl, const std::string& source);

}  // namespace mmtp::io
