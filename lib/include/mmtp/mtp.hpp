#pragma once
#include <array>
#include <memory>
#include <vector>

#include "mmtp/geometry.hpp"
#include "mmtp/mtp_parameters.hpp"
#include "mmtp/neighbor_list.hpp"
#include "mmtp/structure.hpp"

namespace mmtp {

class SitePass;

/// One product of alpha_index_times: moment[out] += mult·moment[left]·moment[right].
struct Contraction {
  int left, right, out;
  double mult;
};

/// How the moments enter the energy.
enum class EvalMode {
  raw,          ///< E(M), exactly what MLIP-3 computes
  symmetrized,  ///< E_symm(M) = (E(M) + E(−M))/2 (Kotykhov et al., Sci. Rep. 2023, Eq. 6)
};

/// Which derivatives an evaluation computes besides E and the site energies.
enum class Derivatives {
  moments,  ///< ∂E/∂m only (positions fixed: relax_moments); forces and virial are left zero
  all,      ///< forces, virial and ∂E/∂m
  all_and_site_virials,  ///< … and each site's virial Result::site_virials (LAMMPS's per-atom virial)
};

/// Evaluator of an MLIP-3 (magnetic) moment tensor potential: energy, site energies, forces,
/// virial and dE/dm, in one pass over atoms (OpenMP, deterministic for a given thread count).
/// The equations are those of lib/src/equations.hpp (Kotykhov et al. 2023, Eqs. 1–4 and 6),
/// shared with training; lib/README.md describes the design.
///
/// In symmetrized mode both signs of M share the neighbour list, distances, radial basis and
/// angular monomials; only the magnetic basis values and the moment contractions are done per
/// sign. Without a magnetic basis, or when the structure has no moments (MLIP-3 then sets all
/// magnetic basis functions to 1), both modes give the raw result.
class MagneticMtp {
 public:
  /// Takes a trained potential. Throws InputError if `p` does not validate or
  /// has no coefficients.
  explicit MagneticMtp(MtpParameters p);

  const MtpParameters& parameters() const { return p_; }
  /// Replaces the coefficients (radial, species, moment) by those of `p`, which must have this
  /// potential's basis (a fit's next point: the model is built once per fit). Throws InputError
  /// when `p` has another basis or does not validate.
  void set_coefficients(const MtpParameters& p);
  double cutoff() const { return p_.max_dist; }  ///< [Å]
  const AngularMonomials& monomials() const { return monomials_; }
  /// alpha_index_times in the order the contractions are evaluated (equations.hpp).
  const std::vector<Contraction>& contraction_schedule() const { return schedule_; }

  /// Builds the neighbour list and evaluates. Throws InputError if the structure
  /// does not validate, or has a species index ≥ species_count; mmtp::Error if two atoms
  /// coincide or the numbers overflow (e.g. moments of 10⁶ μB: never inf or NaN out). Pairs
  /// closer than min_dist and moments outside their species' range are evaluated (the
  /// Chebyshev basis extrapolates) and counted in Result::extrapolation.
  Result evaluate(const Structure& s, EvalMode mode = EvalMode::symmetrized) const;
  /// Same with a neighbour list built for `s` with a cutoff ≥ cutoff().
  Result evaluate(const Structure& s, const NeighborList& nl, EvalMode mode = EvalMode::symmetrized) const;
  /// Same with the geometry of `s` computed beforehand (Geometry(parameters(), s, nl)): only
  /// the moments may differ from when it was built. `what` = moments skips forces and virial.
  /// Throws std::invalid_argument when `g` was built for another basis or atom count.
  Result evaluate(const Structure& s, const Geometry& g, EvalMode mode, Derivatives what = Derivatives::all) const;

 private:
  MtpParameters p_;
  AngularMonomials monomials_;
  std::vector<Contraction> schedule_;
  std::shared_ptr<const SitePass> pass_;  ///< the evaluation pass over this potential alone
};

}  // namespace mmtp
