#include "mmtp/relax.hpp"

#include <fmt/core.h>

#include <LBFGS.h>
#include <stdexcept>

namespace mmtp {
namespace {

/// Thrown from inside the objective to end the solver early once the absolute criterion on
/// max |gradient| holds (LBFGS++ 0.1 tests only the 2-norm).
struct Converged {};

}  // namespace

const char* to_string(RelaxStatus s) {
  switch (s) {
    case RelaxStatus::converged: return "converged";
    case RelaxStatus::max_steps: return "max_steps";
    case RelaxStatus::line_search_failed: return "line_search_failed";
  }
  return "?";
}

void MomentRelaxOptions::validate() const {
  if (!(mmax > 0)) throw std::invalid_argument(fmt::format("mmax = {} must be positive", mmax));
  if (max_steps < 0) throw std::invalid_argument(fmt::format("max_steps = {} must be >= 0", max_steps));
}

MomentRelaxReport relax_moments(const Ensemble& model, Structure& s, const MomentRelaxOptions& options) {
  options.validate();
  if (!s.has_magmoms()) throw std::invalid_argument("relaxing moments needs initial moments");
  MomentRelaxReport report;
  const NeighborList nl = NeighborList::build(s, model.cutoff());
  Structure trial = s;
  double best_energy = std::numeric_limits<double>::infinity();
  auto objective = [&](const Eigen::VectorXd& m, Eigen::VectorXd& grad) -> double {
    trial.magmoms = m;
    EnsembleResult r = model.evaluate(trial, nl, options.mode);
    ++report.evaluations;
    grad = r.mean.dE_dm;
    const double e = r.mean.energy, gmax = grad.cwiseAbs().maxCoeff();
    const bool converged = gmax <= options.mmax;
    if (e < best_energy || converged) {
      best_energy = e;
      s.magmoms = m;
      report.mmax = gmax;
      report.result = std::move(r);
    }
    if (converged) throw Converged{};
    return e;
  };
  LBFGSpp::LBFGSParam<double> param;  // the solver keeps a reference: it must outlive it
  param.epsilon = 0.0;
  param.epsilon_rel = 0.0;
  param.max_iterations = options.max_steps;
  LBFGSpp::LBFGSSolver<double> solver(param);
  Eigen::VectorXd x = s.magmoms;
  double fx = 0.0;
  try {
    solver.minimize(objective, x, fx);
    report.status = RelaxStatus::max_steps;
  } catch (const Converged&) {
    report.status = RelaxStatus::converged;
  } catch (const std::exception&) {
    report.status = RelaxStatus::line_search_failed;
  }
  return report;
}

}  // namespace mmtp
