#pragma once
#include <Eigen/Core>
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "mmtp/structure.hpp"

/// i-PI wire format (shared/docs/ipi-protocol.md §2-5): 12-byte space-padded ASCII headers,
/// native-endian int32 and float64, atomic units. The only place where Bohr and Hartree meet
/// mmtp's Å and eV.
namespace mmtp::ipi::wire {

inline constexpr std::size_t header_size = 12;
using Header = std::array<char, header_size>;

/// "STATUS" → "STATUS      ".
Header header(std::string_view name);
/// The header as printable text for messages (trailing spaces dropped, bytes escaped).
std::string printable(const Header& h);

/// POSDATA payload → cell [Å] (columns = lattice vectors) and positions [Å] (3×nat).
/// `h_bohr`: 9 doubles, C order, h[i][j] = component i of lattice vector j [Bohr];
/// `q_bohr`: 3·nat doubles, atom-major [Bohr]. The inverse cell is not used.
void decode_positions(const double* h_bohr, const double* q_bohr, Index nat, Eigen::Matrix3d& cell,
                      Eigen::Matrix3Xd& positions);

/// The complete FORCEREADY message: header, energy [Ha], nat, forces [Ha/Bohr] atom-major,
/// virial −∂E/∂ε [Ha] symmetrised (i-PI keeps the upper, ASE 3.22 the lower triangle),
/// extras length and bytes. Throws mmtp::Error when a number is not finite.
std::vector<char> force_ready(const Result& r, std::string_view extras);

/// What a request's extras say beyond numbers.
struct ExtrasNotes {
  std::string extrapolation;      ///< why the point lies outside the trained region; empty inside
  std::string moment_relaxation;  ///< outcome of the per-request moment relaxation; empty with fixed moments
  std::vector<Index> moments_pushed_out;  ///< 0-based atoms the relaxation left on a range bound, pushed outwards
};

/// One JSON object for the extras: `magmom` [μB], `dE_dm` [Ha/μB], `short_pairs`,
/// `moments_out_of_range`, `extrapolation` (text, "" inside the trained region), with moment
/// relaxation `moment_relaxation` (its outcome) and `moments_pushed_out` (0-based atoms); with ≥ 2 members also `committee_pot` [K] (Ha),
/// `committee_force` [K][3N] (Ha/Bohr) and `committee_virial` [K][9] (Ha), the layout of
/// i-PI's `<ffcommittee><parse_json>true</parse_json>`. Never uses the keys i-PI reserves
/// (`raw`, `pot`, `force`, `virial`, `uncertainty`). Throws mmtp::Error on non-finite numbers.
std::string extras_json(const Result& mean, const std::vector<Result>& members, const Eigen::VectorXd& magmoms,
                        const ExtrasNotes& notes = {});

}  // namespace mmtp::ipi::wire
