#pragma once
/// Physical constants and unit ratios. CODATA 2014, the values ASE uses
/// (ase/units.py, `CODATA['2014']`), so that numbers exchanged with ASE agree.
/// Internal units of mmtp: energy eV, length Å, magnetic moment μB.
/// Conversions happen only at boundaries (i-PI wire, ABINIT reader).
namespace mmtp::units {

inline constexpr double angstrom_per_bohr = 0.52917721067;         ///< Bohr radius [Å]
inline constexpr double ev_per_hartree = 27.21138602;              ///< Hartree energy [eV]
inline constexpr double ev_per_angstrom3_per_gpa = 1.0 / 160.21766208;  ///< 1 GPa in eV/Å³
inline constexpr double ev_per_kelvin = 8.6173303e-5;                  ///< Boltzmann constant [eV/K]
/// 1 amu·Å²/fs² in eV (kinetic energy of molecular dynamics): amu·1e10/e.
inline constexpr double ev_per_amu_angstrom2_per_fs2 = 1.660539040e-27 * 1e10 / 1.6021766208e-19;

}  // namespace mmtp::units
