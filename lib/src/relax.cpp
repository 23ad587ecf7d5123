#include "mmtp/relax.hpp"

#include <fmt/core.h>

#include <LBFGSB.h>
#include <stdexcept>

namespace mmtp {
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
  const Index n = s.size();
  Eigen::VectorXd lb = Eigen::VectorXd::Constant(n, -std::numeric_limits<double>::infinity());
  Eigen::VectorXd ub = -lb;
  if (options.bound_moments)
    for (const auto& member : model.members()) {
      const auto& p = member.parameters();
      if (!p.magnetic) continue;
      const double lo = options.mode == EvalMode::raw ? p.min_val : -std::min(std::abs(p.min_val), std::abs(p.max_val));
      const double hi = options.mode == EvalMode::raw ? p.max_val : std::min(std::abs(p.min_val), std::abs(p.max_val));
      lb = lb.cwiseMax(lo);
      ub = ub.cwiseMin(hi);
    }
  // Start inside the bounds: a moment outside the trained range is brought back to its edge.
  s.magmoms = s.magmoms.cwiseMax(lb).cwiseMin(ub);
  auto projected = [&](const Eigen::VectorXd& m, const Eigen::VectorXd& g) {
    return ((m - g).cwiseMax(lb).cwiseMin(ub) - m).cwiseAbs().maxCoeff();
  };

  MomentRelaxReport report;
  const NeighborList nl = NeighborList::build(s, model.cutoff());
  Structure trial = s;
  double best = std::numeric_limits<double>::infinity();
  auto objective = [&](const Eigen::VectorXd& m, Eigen::VectorXd& grad) -> double {
    trial.magmoms = m;
    EnsembleResult r = model.evaluate(trial, nl, options.mode);
    ++report.evaluations;
    grad = r.mean.dE_dm;
    const double e = r.mean.energy;
    if (e < best) {
      best = e;
      s.magmoms = m;
      report.mmax = projected(m, grad);
      report.result = std::move(r);
    }
    return e;
  };
  LBFGSpp::LBFGSBParam<double> param;  // the solver keeps a reference: it must outlive it
  param.epsilon = options.mmax;         // LBFGS++'s L-BFGS-B tests max |projected gradient|
  param.epsilon_rel = 0.0;              // absolute criterion only, not scaled by |m|
  param.past = 0;                       // no stop on a small relative energy change
  param.max_iterations = options.max_steps;
  LBFGSpp::LBFGSBSolver<double> solver(param);
  Eigen::VectorXd x = s.magmoms;
  double fx = 0.0;
  try {
    solver.minimize(objective, x, fx, lb, ub);
    report.status = report.mmax <= options.mmax ? RelaxStatus::converged : RelaxStatus::max_steps;
  } catch (const std::exception&) {
    // A failed line search keeps the best point seen; it may still meet the criterion.
    report.status = report.mmax <= options.mmax ? RelaxStatus::converged : RelaxStatus::line_search_failed;
  }
  return report;
}

}  // namespace mmtp
