#pragma once
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "mmtp/ensemble.hpp"

namespace mmtp {

/// How a relaxation ended. Every outcome keeps a point: the converged one, or the lowest
/// enthalpy found inside the trained region.
enum class RelaxStatus {
  converged,           ///< every absolute criterion holds
  max_steps,           ///< the step limit was reached first
  line_search_failed,  ///< no descent even after a restart with fresh memory (and, for moments, Newton)
  extrapolation,       ///< an evaluated point left the trained region (RelaxReport::extrapolation says how)
};
const char* to_string(RelaxStatus s);

/// Which cell degrees of freedom move (as the deformation gradient F of ASE's cell filters:
/// cell = F·cell₀, positions r = F·q).
enum class CellMode { none, hydrostatic, full };
/// "none", "hydrostatic" or "full" as a CellMode; throws mmtp::Error naming `what` otherwise.
CellMode parse_cell_mode(const std::string& text, const std::string& what = "cell mode");

/// Settings of a joint relaxation of positions, cell and collinear magnetic moments, treated
/// as one coordinate vector (the moments as extra coordinates with magnetic force −∂E/∂m;
/// Kotykhov et al., Sci. Rep. 2023). Internal units: eV, Å, μB.
struct RelaxOptions {
  double fmax = 0.01;        ///< converged when max_i |F_i| ≤ fmax over free atoms [eV/Å]
  double mmax = 0.01;        ///< … and max_i |∂E/∂m_i| ≤ mmax over free moments [eV/μB] (projected on the bounds)
  double smax = 6.2415e-5;   ///< … and max |W/V − p·I| ≤ smax when the cell moves [eV/Å³] (0.01 GPa)
  int max_steps = 500;       ///< quasi-Newton iterations
  CellMode cell = CellMode::none;
  double pressure = 0.0;     ///< external pressure p [eV/Å³]; the enthalpy E + pV is minimised
  bool relax_moments = true;
  std::vector<bool> fixed_atoms;    ///< per atom, true = does not move (size N or empty)
  std::vector<bool> fixed_moments;  ///< per atom, true = moment held (size N or empty)
  /// Joint-coordinate scale [Å/μB]: the optimiser sees y = moment_scale·m, so one μB weighs as
  /// moment_scale Å in a step. See README for the measurement behind the default.
  double moment_scale = 1.0;
  /// Largest change of one step (ASE's maxstep): atom displacement [Å], moment [μB] and
  /// deformation-gradient component |ΔF_ab| (strain). A longer quasi-Newton step is scaled down.
  double max_displacement = 0.2;
  double max_moment_step = 0.2;
  double max_strain_step = 0.03;
  /// Keep every moment inside the range its species was trained on (Ensemble::moment_bounds).
  bool bound_moments = true;
  /// Stop with RelaxStatus::extrapolation as soon as an evaluated point leaves the trained
  /// region (see TrainedRegion); the report keeps the last accepted point, which is inside. A
  /// start outside the region may relax into it, but stops as soon as a point is further outside
  /// than the start (more short pairs or moments out of range, or a committee std above both the
  /// start's and max_std); a run that ends outside it (never entered) has status extrapolation too.
  bool stop_on_extrapolation = true;
  TrainedRegion region;
  EvalMode mode = EvalMode::symmetrized;
  /// Throws InputError naming the field; `natoms` checks the mask sizes.
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
  int restarts = 0;       ///< times the quasi-Newton memory was discarded after a failed line search
  double enthalpy = 0, fmax = 0, mmax = 0, smax = 0;  ///< at the returned point
  std::string extrapolation;  ///< why the run left the trained region (status extrapolation), else empty
  /// Free atoms whose moment ends on its trained-range bound with |∂E/∂m| > mmax pointing out
  /// of the range (bounded moment relaxation only): the model's minimum for them lies beyond
  /// the data. 0-based indices into `structure`.
  std::vector<Index> moments_pushed_out;
  Structure structure;    ///< the converged point, or the best (lowest enthalpy) accepted point
  EnsembleResult result;  ///< its evaluation
};

/// Relaxes `start` jointly over the free positions, the cell (per options.cell) and the free
/// moments by a bounded-step L-BFGS (two-loop recursion, Nocedal & Wright Alg. 7.4) with an
/// Armijo backtracking line search, moment bounds by projection, and a restart with fresh
/// memory after a failed line search. Throws InputError for bad options, a
/// structure that does not validate, or moment relaxation without moments; mmtp::Error if the
/// evaluator fails at the starting point (e.g. coincident atoms). A failure later in the run
/// (a singular cell, coincident atoms) counts as a failed trial step.
RelaxReport relax(const Ensemble& model, const Structure& start, const RelaxOptions& options,
                  const RelaxObserver& observe = {});

/// Settings of a relaxation of the moments alone at fixed positions and cell.
struct MomentRelaxOptions {
  double mmax = 1e-4;   ///< converged when max |∂E/∂m_i| ≤ mmax [eV/μB] (projected on the bounds)
  int max_steps = 500;  ///< L-BFGS iterations (then as many projected Newton iterations)
  double max_moment_step = 0.5;  ///< largest moment change of one step [μB]
  EvalMode mode = EvalMode::symmetrized;
  bool bound_moments = true;  ///< as RelaxOptions::bound_moments
  bool newton = false;        ///< projected Newton from the start (otherwise the fallback of L-BFGS)
  void validate() const;      ///< throws InputError naming the field
};

struct MomentRelaxReport {
  RelaxStatus status = RelaxStatus::max_steps;
  int evaluations = 0;    ///< moment-only evaluations (E and ∂E/∂m), plus one full one at the end
  bool newton = false;    ///< L-BFGS failed and projected Newton on the moment block was used
  double mmax = 0.0;      ///< max |∂E/∂m| at the returned point, projected on the bounds [eV/μB]
  std::vector<Index> moments_pushed_out;  ///< as RelaxReport::moments_pushed_out (bounded moments only)
  EnsembleResult result;  ///< full evaluation (forces, virial) at the returned moments
};

/// The atoms among `atoms` (0-based) whose moment lies on its trained-range bound (Ensemble::
/// moment_bounds for `mode`) with |dE_dm| > mmax [eV/μB] pointing out of the range: where the
/// model's minimum lies beyond the data. Empty when `s` has no moments or dE_dm has another size.
std::vector<Index> moments_pushed_out(const Ensemble& model, const Structure& s, const Eigen::VectorXd& dE_dm,
                                      EvalMode mode, const std::vector<Index>& atoms, double mmax);

/// The moments along one trajectory (an i-PI bead, an ASE calculator, an MD run), carried from
/// one relax_moments call to the next: the last three relaxed moments, whose quadratic
/// extrapolation starts the next relaxation, and the quasi-Newton memory of the moment block.
struct MomentTrajectory {
  std::deque<Eigen::VectorXd> last;  ///< the last converged moments [μB], newest first (at most 3)
  std::deque<Eigen::VectorXd> s, y;  ///< L-BFGS steps [μB] and gradient changes [eV/μB]
  /// The start of the next relaxation: 3m₁ − 3m₂ + m₃ (2m₁ − m₂ with two, m₁ with one), or
  /// `current` with none or for another atom count.
  Eigen::VectorXd predict(const Eigen::VectorXd& current) const;
  /// After a relaxation: converged moments join `last`; an unconverged relaxation clears
  /// everything (no warm start from it).
  void record(const Eigen::VectorXd& moments, bool converged);
};

/// The extrapolation of MomentTrajectory::predict for one value from its last `count` values
/// (newest first, count ≤ 3); `values[0]` for count 1. (LAMMPS keeps them per atom.)
double extrapolate_moment(const double* values, int count);

/// Minimises E over the free moments of `s` at fixed positions and cell; on return s.magmoms
/// holds the result. The geometry (neighbour list, radial and angular basis) is computed once;
/// each step evaluates only E and ∂E/∂m, and forces and virial are computed once at the end.
/// They are then total derivatives (envelope theorem: ∂E/∂m = 0 for free moments, moments at a
/// bound stay there). L-BFGS first; after a failed line search it restarts with fresh memory,
/// and if that fails too, projected Newton with the finite-difference moment Hessian takes
/// over. All-zero moments are a stationary point of the symmetrized energy: starting there
/// stays non-magnetic. `trajectory`, when given, starts from its prediction instead of
/// s.magmoms, carries the L-BFGS memory from one call to the next (MD: the moment Hessian changes
/// slowly) and records the result. Throws InputError if `s` has no moments or the options are bad.
MomentRelaxReport relax_moments(const Ensemble& model, Structure& s, const MomentRelaxOptions& options,
                                MomentTrajectory* trajectory = nullptr);

}  // namespace mmtp
