#pragma once
#include <functional>
#include <vector>

#include "mmtp/ensemble.hpp"

namespace mmtp {

/// How a relaxation ended. Every outcome keeps the best point found.
enum class RelaxStatus { converged, max_steps, line_search_failed };
const char* to_string(RelaxStatus s);

/// Which cell degrees of freedom move (as the deformation gradient F of ASE's cell filters:
/// cell = F·cell₀, positions r = F·q).
enum class CellMode { none, hydrostatic, full };

/// Settings of a joint relaxation of positions, cell and collinear magnetic moments, treated
/// as one coordinate vector for L-BFGS-B (the moments as extra coordinates with magnetic force
/// −∂E/∂m; Kotykhov et al., Sci. Rep. 2023). Internal units: eV, Å, μB.
struct RelaxOptions {
  double fmax = 0.01;        ///< converged when max_i |F_i| ≤ fmax over free atoms [eV/Å]
  double mmax = 0.01;        ///< … and max_i |∂E/∂m_i| ≤ mmax over free moments [eV/μB]
  double smax = 6.2415e-5;   ///< … and max |W/V − p·I| ≤ smax when the cell moves [eV/Å³] (0.01 GPa)
  int max_steps = 500;       ///< L-BFGS iterations
  CellMode cell = CellMode::none;
  double pressure = 0.0;     ///< external pressure p [eV/Å³]; the enthalpy E + pV is minimised
  bool relax_moments = true;
  std::vector<bool> fixed_atoms;    ///< per atom, true = does not move (size N or empty)
  std::vector<bool> fixed_moments;  ///< per atom, true = moment held (size N or empty)
  /// Joint-coordinate scale [Å/μB]: the optimiser sees y = moment_scale·m, so one μB weighs as
  /// moment_scale Å in a step. See README for the measurement behind the default.
  double moment_scale = 1.0;
  /// Keep moments within the range every member was trained on ([min_val, max_val] in raw mode,
  /// |m| ≤ min(|min_val|, max_val) symmetrized).
  bool bound_moments = false;
  EvalMode mode = EvalMode::symmetrized;
  /// Throws std::invalid_argument naming the field; `natoms` checks the mask sizes.
  void validate(Index natoms) const;
};

/// One energy evaluation during a relaxation (passed to the observer).
struct RelaxStep {
  int evaluation = 0;   ///< 1-based count of energy evaluations
  double enthalpy = 0;  ///< E + pV [eV]
  double fmax = 0, mmax = 0, smax = 0;  ///< residuals as in RelaxOptions [eV/Å, eV/μB, eV/Å³]
  const Structure* structure = nullptr;
  const EnsembleResult* result = nullptr;
};
using RelaxObserver = std::function<void(const RelaxStep&)>;

struct RelaxReport {
  RelaxStatus status = RelaxStatus::max_steps;
  int evaluations = 0;
  double enthalpy = 0, fmax = 0, mmax = 0, smax = 0;  ///< at the returned point
  Structure structure;    ///< the converged, or best (lowest enthalpy), point
  EnsembleResult result;  ///< its evaluation
};

/// Relaxes `start` jointly over the free positions, the cell (per options.cell) and the free
/// moments with LBFGS++'s L-BFGS-B. Throws std::invalid_argument for bad options, a structure
/// that does not validate, or moment relaxation without moments; mmtp::Error if the
/// evaluator fails at the starting point (e.g. coincident atoms). A failure later in the run
/// (a singular cell, coincident atoms) ends it as line_search_failed with the best point.
RelaxReport relax(const Ensemble& model, const Structure& start, const RelaxOptions& options,
                  const RelaxObserver& observe = {});

/// Settings of a relaxation of the moments alone at fixed positions and cell.
struct MomentRelaxOptions {
  double mmax = 1e-4;   ///< converged when max |∂E/∂m_i| ≤ mmax [eV/μB] (projected on the bounds)
  int max_steps = 500;  ///< L-BFGS iterations
  EvalMode mode = EvalMode::symmetrized;
  bool bound_moments = true;  ///< as RelaxOptions::bound_moments
  void validate() const;      ///< throws std::invalid_argument naming the field
};

struct MomentRelaxReport {
  RelaxStatus status = RelaxStatus::max_steps;
  int evaluations = 0;    ///< energy evaluations
  double mmax = 0.0;      ///< max |∂E/∂m| at the returned point, projected on the bounds [eV/μB]
  EnsembleResult result;  ///< evaluation at the returned point
};

/// relax() over the moments of `s` only; on return s.magmoms holds the result. Forces and
/// virial are then total derivatives (envelope theorem: ∂E/∂m = 0 for free moments, moments at
/// a bound stay there). All-zero moments are a stationary point of the symmetrized energy:
/// starting there stays non-magnetic. Throws std::invalid_argument if `s` has no moments.
MomentRelaxReport relax_moments(const Ensemble& model, Structure& s, const MomentRelaxOptions& options);

}  // namespace mmtp
