#pragma once
#include <vector>

#include "mmtp/mtp.hpp"

namespace mmtp {

/// Results of a committee of K potentials on one structure.
struct EnsembleResult {
  Result mean;                  ///< member average of every quantity (flags: worst member)
  std::vector<Result> members;  ///< size K, in the order the potentials were given
  double energy_std = 0.0;      ///< population standard deviation (1/K) of E [eV]
  Eigen::Matrix3Xd forces_std;  ///< per component [eV/Å], 3×N
  Eigen::Matrix3d virial_std = Eigen::Matrix3d::Zero();  ///< per component [eV]
  Eigen::VectorXd dE_dm_std;    ///< [eV/μB], size N (0 without moments)
};

/// A committee (ensemble) of moment tensor potentials evaluated on one shared neighbour list.
class Ensemble {
 public:
  /// Throws std::invalid_argument when `members` is empty or the members disagree on
  /// species_count or species names.
  explicit Ensemble(std::vector<MagneticMtp> members);
  const std::vector<MagneticMtp>& members() const { return members_; }
  double cutoff() const { return cutoff_; }  ///< largest member cutoff [Å]
  /// Throws like MagneticMtp::evaluate.
  EnsembleResult evaluate(const Structure& s, EvalMode mode = EvalMode::symmetrized) const;
  /// Same with a neighbour list built for `s` with a cutoff ≥ cutoff().
  EnsembleResult evaluate(const Structure& s, const NeighborList& nl, EvalMode mode) const;

 private:
  std::vector<MagneticMtp> members_;
  double cutoff_ = 0.0;
};

}  // namespace mmtp
