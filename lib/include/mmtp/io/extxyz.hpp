#pragma once
#include <string>
#include <vector>

#include "mmtp/structure.hpp"

namespace mmtp::io {

/// Reads every frame of an extended XYZ file as ASE writes and reads it (ase.io.extxyz):
/// `Lattice="ax ay az bx by bz cx cy cz"` [Å] (absent = non-periodic), `pbc="T T T"`,
/// `Properties=species:S:1:pos:R:3[:initial_magmoms:R:1|:magmoms:R:1][:forces:R:3][:dE_dm:R:1]...`,
/// `energy` [eV], `stress` (ASE: (1/V)∂E/∂ε [eV/Å³], 9 or Voigt-6 numbers) or `virial` [eV].
/// Element symbols map to types through `species_names` (type t = species_names[t]).
/// Other per-atom columns (R, I, and L as 1/0) go to Sample::arrays, other info keys to
/// Sample::features.
/// Throws ParseError("FILE:LINE: ...") on malformed input or an unknown element.
std::vector<Sample> read_extxyz(const std::string& path, const std::vector<std::string>& species_names);

/// Writes frames that ASE reads back: positions, `initial_magmoms` (moments [μB]),
/// `forces`, `dE_dm` (+∂E/∂m [eV/μB]), extra arrays; `energy`, `stress` (= −virial/V, 9
/// numbers) for periodic cells or `virial` otherwise; features as info keys. 17 significant
/// digits, written atomically. Throws mmtp::Error when a type has no element name.
void write_extxyz(const std::string& path, const std::vector<Sample>& samples,
                  const std::vector<std::string>& species_names);

}  // namespace mmtp::io
