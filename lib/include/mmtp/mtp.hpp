#pragma once
#include <vector>

#include "mmtp/mtp_parameters.hpp"
#include "mmtp/neighbor_list.hpp"
#include "mmtp/structure.hpp"

namespace mmtp {

/// How the moments enter the energy.
enum class EvalMode {
  raw,          ///< E(M), exactly what MLIP-3 computes
  symmetrized,  ///< E_symm(M) = (E(M) + E(−M))/2 (Kotykhov et al., Sci. Rep. 2023, Eq. 6)
};

/// Evaluator of an MLIP-3 (magnetic) moment tensor potential: energy, site energies, forces,
/// virial and dE/dm, in one pass over atoms (OpenMP, deterministic for a given thread count).
///
/// In symmetrized mode both signs of M share the neighbour list, distances, radial basis and
/// angular monomials; only the magnetic basis values and the moment contractions are done per
/// sign. Without a magnetic basis, or when the structure has no moments (MLIP-3 then sets all
/// magnetic basis functions to 1), both modes give the raw result.
class MagneticMtp {
 public:
  /// Takes a trained potential. Throws std::invalid_argument if `p` does not validate or
  /// has no coefficients.
  explicit MagneticMtp(MtpParameters p);

  const MtpParameters& parameters() const { return p_; }
  double cutoff() const { return p_.max_dist; }  ///< [Å]

  /// Builds the neighbour list and evaluates. Throws std::invalid_argument if the structure
  /// does not validate, or has a species index ≥ species_count; mmtp::Error if two atoms
  /// coincide or the numbers overflow (e.g. moments of 10⁶ μB: never inf or NaN out). Pairs
  /// closer than min_dist and moments outside [min_val, max_val] are evaluated (the Chebyshev
  /// basis extrapolates) and counted in Result::extrapolation.
  Result evaluate(const Structure& s, EvalMode mode = EvalMode::symmetrized) const;
  /// Same with a neighbour list built for `s` with a cutoff ≥ cutoff().
  Result evaluate(const Structure& s, const NeighborList& nl, EvalMode mode = EvalMode::symmetrized) const;

 private:
  struct Monomial {
    int a, b, c;     ///< powers of x̂, ŷ, ẑ
    int lower[3];    ///< index of the monomial with one power less along x, y, z (−1 if none)
  };
  struct Workspace;
  double site(const Structure& s, const NeighborList& nl, Index i, bool magnetic, bool symmetrized, Workspace& w,
            Result& out) const;

  MtpParameters p_;
  std::vector<Monomial> monomials_;  ///< all x̂^a ŷ^b ẑ^c with a+b+c ≤ max rank, parents first
  std::vector<int> basic_mu_;        ///< radial function of each basic moment
  std::vector<int> basic_monomial_;  ///< monomial of each basic moment
  std::vector<int> used_monomials_;  ///< monomials that appear in a basic moment
};

}  // namespace mmtp
