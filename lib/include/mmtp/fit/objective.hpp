#pragma once
#include <Eigen/Core>
#include <algorithm>
#include <string>
#include <vector>

#include "mmtp/geometry.hpp"
#include "mmtp/mtp.hpp"

namespace mmtp::fit {

/// Weights of the training objective (Kotykhov et al., Sci. Rep. 2023, Eq. 5, with the magnetic
/// force term of Kotykhov et al. 2024). Per structure k with N_k atoms, X̄ the symmetrized
/// model value (E(M)+E(−M))/2 and its derivatives:
///   w_e (Ē_k/N_k − E_k/N_k)²                       energy per atom [eV]
/// + w_f Σ_i |F̄_i − F_i|²                            forces [eV/Å], every component
/// + w_s Σ_ab ((W̄ − W)_ab / N_k)²                    virial per atom [eV] (= stress × volume per atom)
/// + w_m Σ_i (∂Ē/∂m_i − ∂E/∂m_i)²                    magnetic forces [eV/μB]; ∂Ē/∂m = (g(M) − g(−M))/2
/// summed over structures (each times its multiplicity), plus l2 Σ θ² over radial and moment
/// coefficients. A label a structure lacks (no forces, no virial, no dE/dm) drops its term.
/// With Weighting::vibrations the energy and virial terms are multiplied by N_k.
struct Weights {
  /// How structures of different sizes share the energy and virial terms (MLIP-3's `weighting`).
  enum class Weighting {
    /// Each structure's per-atom energy and virial count once, whatever its size (mmtp's default).
    per_structure,
    /// Times N_k: every atom counts once, so an 8-atom cell's energy weighs as much as four 2-atom
    /// cells' (MLIP-3's default, `weighting = vibrations`; its forces are already per atom).
    vibrations,
  };
  Weighting weighting = Weighting::per_structure;
  double energy = 1.0;
  double force = 0.01;    ///< [Å²]
  double stress = 0.001;
  double magnetic = 0.01; ///< [μB²/Å² · Å²]: same scale as forces
  /// Factor on `magnetic` per species (type order; empty: 1 for every species), e.g. to weigh
  /// down the dE/dm residuals of a species with small, stiff moments (Al).
  std::vector<double> magnetic_species;
  double l2 = 0.0;
  /// The dE/dm weight of an atom of type t: magnetic · magnetic_species[t] (or magnetic).
  double magnetic_of(int t) const {
    return magnetic_species.empty() ? magnetic : magnetic * magnetic_species[static_cast<std::size_t>(t)];
  }
  /// The factor on the energy and virial terms of a structure of n atoms: 1 or n (`weighting`).
  double size_factor(Index n) const {
    return weighting == Weighting::vibrations ? static_cast<double>(std::max<Index>(1, n)) : 1.0;
  }
  void validate() const;  ///< throws InputError naming the field
};
/// "per-structure" or "vibrations" → Weights::Weighting; throws InputError for another name.
Weights::Weighting parse_weighting(const std::string& name);
/// The name parse_weighting reads.
std::string weighting_name(Weights::Weighting weighting);

/// Labelled structures with their geometry (neighbour list, radial basis, angular monomials)
/// computed once for one basis: the objective reuses it at every evaluation of a fit.
class Dataset {
 public:
  /// Throws what NeighborList::build and Geometry throw (a bad structure, coincident atoms).
  Dataset(const MtpParameters& basis, std::vector<Sample> samples);
  const std::vector<Sample>& samples() const { return samples_; }
  const Geometry& geometry(std::size_t k) const { return geometry_[k]; }
  std::size_t size() const { return samples_.size(); }

 private:
  std::vector<Sample> samples_;
  std::vector<Geometry> geometry_;
};

/// Parameter vector θ of a potential: radial_coeffs, then species_coeffs, then moment_coeffs.
Eigen::VectorXd pack(const MtpParameters& p);
/// Writes θ back into `p` (sizes must match pack(p)). Throws std::invalid_argument.
void unpack(const Eigen::VectorXd& theta, MtpParameters& p);

/// One structure's objective term and its exact gradient with respect to θ, added to
/// `gradient` (size pack(p).size()) times `multiplicity`. The derivative terms use one
/// directional derivative: the force, virial and magnetic residuals form a single direction
/// (δr, δε, δm) along which the model's equations (lib/src/equations.hpp) are evaluated in
/// dual numbers, and their reverse sweep gives ∂/∂θ of both E and that directional derivative.
/// Throws what MagneticMtp::evaluate throws.
double structure_objective(const MagneticMtp& model, const Sample& sample, const Geometry& geometry, const Weights& w,
                           EvalMode mode, double multiplicity, Eigen::Ref<Eigen::VectorXd> gradient);

/// Σ multiplicity_k · structure_objective_k plus the L2 term; `gradient` (optional) receives the
/// full gradient. `multiplicity` (size data.size(), or empty = all 1) weights structures: a
/// bootstrap resample without copies. Parallel over structures (OpenMP, deterministic for a
/// thread count). Throws std::invalid_argument for a basis other than the data's.
double objective(const MtpParameters& p, const Dataset& data, const Weights& w, EvalMode mode, Eigen::VectorXd* gradient,
                 const std::vector<double>& multiplicity = {});
/// Same for a model built once (MagneticMtp::set_coefficients between evaluations).
double objective(const MagneticMtp& model, const Dataset& data, const Weights& w, EvalMode mode, Eigen::VectorXd* gradient,
                 const std::vector<double>& multiplicity = {});

/// Solves the species and moment coefficients of `p` exactly by weighted linear least squares
/// at fixed radial coefficients (the model is linear in them; MLIP's initialisation), with a
/// small ridge `ridge`·I for stability. Design rows come from one dual-number directional
/// derivative per force component, virial component and moment. Returns the objective after
/// the solve. Throws InputError on empty data.
double solve_linear(MtpParameters& p, const Dataset& data, const Weights& w, EvalMode mode,
                    const std::vector<double>& multiplicity = {}, double ridge = 1e-10);

}  // namespace mmtp::fit
