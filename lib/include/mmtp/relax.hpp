#pragma once
#include "mmtp/ensemble.hpp"

namespace mmtp {

/// How a relaxation ended. Every outcome keeps the best point found.
enum class RelaxStatus { converged, max_steps, line_search_failed };
const char* to_string(RelaxStatus s);

/// Settings of a relaxation of the magnetic moments at fixed positions and cell.
struct MomentRelaxOptions {
  double mmax = 1e-4;   ///< converged when max_i |∂E/∂m_i| ≤ mmax [eV/μB]
  int max_steps = 500;  ///< L-BFGS iterations
  EvalMode mode = EvalMode::symmetrized;
  void validate() const;  ///< throws std::invalid_argument naming the field
};

struct MomentRelaxReport {
  RelaxStatus status = RelaxStatus::max_steps;
  int evaluations = 0;  ///< energy evaluations
  double mmax = 0.0;    ///< max |∂E/∂m| at the returned point [eV/μB]
  EnsembleResult result;  ///< evaluation at the returned point
};

/// Minimises the (committee-mean) energy over the magnetic moments of `s` at fixed positions
/// and cell with L-BFGS (LBFGS++), starting from s.magmoms; on return s.magmoms holds the
/// best point. Forces and virial in the report are then total derivatives (∂E/∂m = 0,
/// envelope theorem). All-zero moments are a stationary point of the symmetrized energy:
/// starting there stays non-magnetic. Throws std::invalid_argument if `s` has no moments.
MomentRelaxReport relax_moments(const Ensemble& model, Structure& s, const MomentRelaxOptions& options);

}  // namespace mmtp
