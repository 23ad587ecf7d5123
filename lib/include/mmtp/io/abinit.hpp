#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "mmtp/structure.hpp"

namespace mmtp::io {

struct AbinitOptions {
  /// Warn when a constrained moment differs from its sphere moment (`Diff(up-dn)`) by more [μB].
  double moment_tolerance = 0.01;
  /// Turn every skip (unconverged SCF, missing block, unsupported constraint) into a ParseError.
  bool strict = false;
};

/// ABINIT's two markers in the text of an output (the one place they are known in C++; the
/// Python tools have tools/abinit-cdft's abo_status): `completed` when the run ended ("Calculation
/// completed."), `converged` when it did and no SCF stopped at nstep ("was not enough SCF cycles
/// to converge").
struct AbinitStatus {
  bool completed = false, converged = false;
};
AbinitStatus abinit_status(std::string_view text);
/// True when `line` is ABINIT's warning that an SCF stopped at nstep.
bool abinit_scf_unconverged(std::string_view line);

/// What reading an ABINIT output gave: one sample per usable dataset, and the warnings for the
/// datasets that were skipped or look suspicious (each names the file and dataset).
struct AbinitResult {
  std::vector<Sample> samples;
  std::vector<std::string> warnings;
};

/// Reads an ABINIT 9.x/10.x text output (`.abo`/`.out`), multi-dataset files included
/// (`jdtset`, two-digit `udtset` suffixes), from the final `-outvars: echo values of variables
/// after computation` section (full precision): cell from `acell` [Bohr] and `rprim` (rows =
/// lattice vectors), positions `xcart` [Bohr], species `typat`/`znucl`, `etotal` [Ha] (not
/// `total_energy_dc`, which differs under cDFT), `fcart` [Ha/Bohr], `strten` [Ha/Bohr³, order
/// 11 22 33 32 31 21; ABINIT's sign: (1/V)∂E/∂ε]. Converted here (and only here) to eV, Å and
/// the virial W = −σV [eV].
/// Moments (collinear `nsppol 2` or `nspden 2`): for atoms whose type has `constraint_kind`
/// 1 or 11 the cDFT target, the z component of `spinat` [μB], with dE/dm = z of `grspin`
/// (the Lagrange multiplier T(z), +∂E/∂m [Ha/μB]); cross-checked against the sphere moment
/// `Diff(up-dn)` of "Integrated electronic and magnetization densities in atomic spheres".
/// ABINIT's echo omits all-zero arrays: a missing `spinat` or `grspin` reads as zeros.
/// Unconstrained atoms (kind 0, 10) take the sphere moment with dE/dm = 0 (self-consistent).
/// Skipped with a warning (or ParseError when strict): datasets whose SCF did not converge
/// ("was not enough SCF cycles"), that lack a block, that are non-collinear (`nspinor 2` /
/// `nspden 4`) or use partial constraints (kinds 2, 3, 12, 13, …).
/// Element symbols map to types through `species_names`; elements not yet listed are
/// appended. Throws mmtp::Error if unreadable, ParseError if it is not ABINIT output.
/// Format notes: shared/data/abinit-feal/README.md, shared/data/abinit-refs/README.md.
AbinitResult read_abinit(const std::string& path, std::vector<std::string>& species_names, const AbinitOptions& options = {});

/// True when the file starts like ABINIT output (a `.Version … of ABINIT` line near the top).
bool is_abinit_output(const std::string& path);

/// Element symbol of atomic number z (1..103); throws InputError otherwise.
std::string element_symbol(int z);

}  // namespace mmtp::io
