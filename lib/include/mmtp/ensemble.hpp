#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mmtp/mtp.hpp"

namespace mmtp {

/// Results of a committee of K potentials on one structure.
struct EnsembleResult {
  Result mean;                  ///< member average of every quantity (flags: worst member)
  std::vector<Result> members;  ///< size K, in the order the potentials were given
  /// Committee std of E [eV]: sqrt((α·σ_E)² + (N·s0)²), σ_E the population standard deviation
  /// (1/K) of the members' energies, N sites (atoms), s0 the error floor [eV/atom] (0 by default).
  double energy_std = 0.0;
  Eigen::Matrix3Xd forces_std;  ///< per component [eV/Å], 3×N
  Eigen::Matrix3d virial_std = Eigen::Matrix3d::Zero();  ///< per component [eV]
  Eigen::VectorXd dE_dm_std;    ///< [eV/μB], size N (0 without moments)
};

/// The trained region of a committee, as far as one result can tell.
struct TrainedRegion {
  /// Committee std of the energy per atom [eV/atom] above which a result is an extrapolation
  /// (0 = not checked; a single potential has std 0).
  double max_std = 0.05;
  void validate() const;  ///< throws InputError naming the field
};

/// A committee (ensemble) of moment tensor potentials evaluated on one shared neighbour list.
class Ensemble {
 public:
  /// `committee_alpha` calibrates the spread (the α of i-PI's `<ffcommittee><alpha>`): every
  /// std is multiplied by it, and so is each member's deviation from the mean in
  /// EnsembleResult::members. `committee_floor` s0 [eV/atom] is the part of the error no
  /// spread ranks (fit::calibrate): it enters the energy std only, in quadrature, N·s0 for N
  /// atoms; the members and the other stds are α-scaled spreads. Throws InputError when
  /// `members` is empty, the members disagree on species_count or species names, α is not
  /// positive, or s0 is negative.
  explicit Ensemble(std::vector<MagneticMtp> members, double committee_alpha = 1.0, double committee_floor = 0.0);
  const std::vector<MagneticMtp>& members() const { return members_; }
  double cutoff() const { return cutoff_; }  ///< largest member cutoff [Å]
  double committee_alpha() const { return alpha_; }
  double committee_floor() const { return floor_; }  ///< [eV/atom]
  /// Per atom, the moment range [μB] every magnetic member was trained on for that atom's
  /// species (raw mode: [lo, hi]; symmetrized: ±min(|lo|, hi), since E(−M) is evaluated too).
  /// ±inf when no member is magnetic. Returns (lower, upper), each of size N.
  std::pair<Eigen::VectorXd, Eigen::VectorXd> moment_bounds(const Structure& s, EvalMode mode) const;
  /// Throws like MagneticMtp::evaluate.
  EnsembleResult evaluate(const Structure& s, EvalMode mode = EvalMode::symmetrized) const;
  /// Same with a neighbour list built for `s` with a cutoff ≥ cutoff(): the sites are its
  /// first nl.offsets.size() − 1 atoms (NeighborList::build with `sites`; the others only
  /// neighbours: their forces and dE/dm are accumulated, their site energies stay 0). `what` =
  /// moments skips forces and virial (left zero, as their stds).
  EnsembleResult evaluate(const Structure& s, const NeighborList& nl, EvalMode mode,
                          Derivatives what = Derivatives::all) const;
  /// The geometry of `s` for each group of members with one basis (basis_groups()), computed
  /// once for evaluations in which only the moments change.
  std::vector<Geometry> geometry(const Structure& s, const NeighborList& nl) const;
  /// Same as above with that geometry. Throws std::invalid_argument when it is another committee's.
  EnsembleResult evaluate(const Structure& s, const std::vector<Geometry>& geometry, EvalMode mode, Derivatives what) const;

  /// Members that share one basis (species, R_min, R_cut, radial and magnetic basis sizes,
  /// moment ranges, level) are evaluated in one pass: geometry and magnetic basis once, their
  /// sums batched. basis_groups() > 1 means several passes (members with different bases).
  std::size_t basis_groups() const { return groups_.size(); }

 private:
  /// Mean and stds of the members' results on `natoms` sites.
  EnsembleResult summarize(std::vector<Result> members, Index natoms) const;

  std::vector<MagneticMtp> members_;
  std::vector<std::vector<std::size_t>> groups_;  ///< member indices of each basis
  std::vector<std::shared_ptr<const SitePass>> passes_;  ///< one per group
  double cutoff_ = 0.0;
  double alpha_ = 1.0;
  double floor_ = 0.0;  ///< [eV/atom]
};

/// Why `r` (a result for `natoms` atoms) lies outside the trained region, as one line: pairs
/// closer than min_dist, moments outside their species' range, or a committee std of E above
/// region.max_std per atom. Empty when it lies inside.
std::string extrapolation_cause(const EnsembleResult& r, Index natoms, const TrainedRegion& region);

}  // namespace mmtp
