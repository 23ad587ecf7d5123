#pragma once
#include "mmtp/ensemble.hpp"

namespace mmtp {

/// How a relaxation ended. Every outcome keeps the best point found.
enum class RelaxStatus { converged, max_steps, line_search_failed };
const char* to_string(RelaxStatus s);

/// Settings of a relaxation of the magnetic moments at fixed positions and cell.
struct MomentRelaxOptions {
  double mmax = 1e-4;   ///< converged when max_i |∂E/∂m_i| ≤ mmax [eV/μB] (projected on the bounds)
  int max_steps = 500;  ///< L-BFGS iterations
  EvalMode mode = EvalMode::symmetrized;
  /// Keep moments where every member was trained: m ∈ [min_val, max_val] (raw mode) or
  /// |m| ≤ min(|min_val|, max_val) (symmetrized: E(−M) is evaluated too).
  bool bound_moments = true;
  void validate() const;  ///< throws std::invalid_argument naming the field
};

struct MomentRelaxReport {
  RelaxStatus status = RelaxStatus::max_steps;
  int evaluations = 0;  ///< energy evaluations
  double mmax = 0.0;    ///< max |∂E/∂m| at the returned point, projected on the bounds [eV/μB]
  EnsembleResult result;  ///< evaluation at the returned point
};

/// Minimises the (committee-mean) energy over the magnetic moments of `s` at fixed positions
/// and cell with L-BFGS-B (LBFGS++), starting from s.magmoms; on return s.magmoms holds the
/// best point. Forces and virial in the report are then total derivatives (envelope theorem:
/// ∂E/∂m = 0 for free moments, and moments held at a bound do not move). All-zero moments are a stationary point of the symmetrized energy:
/// starting there stays non-magnetic. Throws std::invalid_argument if `s` has no moments.
MomentRelaxReport relax_moments(const Ensemble& model, Structure& s, const MomentRelaxOptions& options);

}  // namespace mmtp
