#include "mmtp/relax.hpp"

#include <fmt/core.h>

#include <Eigen/LU>
#include <LBFGSB.h>
#include <cmath>
#include <stdexcept>

namespace mmtp {
namespace {

/// Thrown from the objective once the absolute criteria hold: LBFGS++ can only test one norm
/// of the whole (mixed-unit) gradient.
struct Converged {};

/// Maps the optimiser's vector to a structure and back (the coordinates of ASE's cell filters:
/// q = F⁻¹r for free atoms, c = N·(F − I) for the cell, y = scale·m for free moments).
class Coordinates {
 public:
  Coordinates(const Structure& s, const RelaxOptions& o) : start_(s), o_(o) {
    const Index n = s.size();
    for (Index i = 0; i < n; ++i) {
      if (o.fixed_atoms.empty() || !o.fixed_atoms[i]) free_atoms_.push_back(i);
      if (o.relax_moments && (o.fixed_moments.empty() || !o.fixed_moments[i])) free_moments_.push_back(i);
    }
    cell_vars_ = o.cell == CellMode::none ? 0 : (o.cell == CellMode::hydrostatic ? 1 : 9);
    cell_factor_ = static_cast<double>(std::max<Index>(1, n));
  }
  Index size() const { return 3 * static_cast<Index>(free_atoms_.size()) + cell_vars_ + static_cast<Index>(free_moments_.size()); }
  const std::vector<Index>& free_atoms() const { return free_atoms_; }
  const std::vector<Index>& free_moments() const { return free_moments_; }

  Eigen::VectorXd initial() const {
    Eigen::VectorXd x = Eigen::VectorXd::Zero(size());
    Index k = 0;
    for (Index i : free_atoms_) x.segment<3>(3 * k++) = start_.positions.col(i);
    const Index m0 = 3 * static_cast<Index>(free_atoms_.size()) + cell_vars_;
    for (std::size_t q = 0; q < free_moments_.size(); ++q) x[m0 + static_cast<Index>(q)] = o_.moment_scale * start_.magmoms[free_moments_[q]];
    return x;
  }

  Eigen::Matrix3d deformation(const Eigen::VectorXd& x) const {
    const Index c0 = 3 * static_cast<Index>(free_atoms_.size());
    if (cell_vars_ == 0) return Eigen::Matrix3d::Identity();
    if (cell_vars_ == 1) return (1.0 + x[c0] / cell_factor_) * Eigen::Matrix3d::Identity();
    return Eigen::Matrix3d::Identity() + Eigen::Map<const Eigen::Matrix3d>(x.data() + c0) / cell_factor_;
  }

  Structure decode(const Eigen::VectorXd& x) const {
    Structure s = start_;
    const Eigen::Matrix3d F = deformation(x);
    s.cell = F * start_.cell;
    s.positions = F * start_.positions;  // fixed atoms follow the cell homogeneously
    Index k = 0;
    for (Index i : free_atoms_) s.positions.col(i) = F * x.segment<3>(3 * k++);
    const Index m0 = 3 * static_cast<Index>(free_atoms_.size()) + cell_vars_;
    for (std::size_t q = 0; q < free_moments_.size(); ++q) s.magmoms[free_moments_[q]] = x[m0 + static_cast<Index>(q)] / o_.moment_scale;
    return s;
  }

  /// Gradient of H = E + pV with respect to x.
  Eigen::VectorXd gradient(const Eigen::VectorXd& x, const Structure& s, const Result& r) const {
    Eigen::VectorXd g(size());
    const Eigen::Matrix3d F = deformation(x);
    Index k = 0;
    for (Index i : free_atoms_) g.segment<3>(3 * k++) = -F.transpose() * r.forces.col(i);
    const Index c0 = 3 * static_cast<Index>(free_atoms_.size());
    if (cell_vars_) {
      const double v = volume(s);
      const Eigen::Matrix3d dH_dF = (-r.virial + o_.pressure * v * Eigen::Matrix3d::Identity()) * F.inverse().transpose();
      if (cell_vars_ == 1) g[c0] = dH_dF.trace() / cell_factor_;
      else Eigen::Map<Eigen::Matrix3d>(g.data() + c0) = dH_dF / cell_factor_;
    }
    const Index m0 = c0 + cell_vars_;
    for (std::size_t q = 0; q < free_moments_.size(); ++q) g[m0 + static_cast<Index>(q)] = r.dE_dm[free_moments_[q]] / o_.moment_scale;
    return g;
  }

 private:
  const Structure& start_;
  const RelaxOptions& o_;
  std::vector<Index> free_atoms_, free_moments_;
  Index cell_vars_ = 0;
  double cell_factor_ = 1.0;
};

/// Moment bounds every magnetic member supports.
std::pair<double, double> moment_bounds(const Ensemble& model, EvalMode mode) {
  double lo = -std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& member : model.members()) {
    const auto& p = member.parameters();
    if (!p.magnetic) continue;
    const double sym = std::min(std::abs(p.min_val), std::abs(p.max_val));
    lo = std::max(lo, mode == EvalMode::raw ? p.min_val : -sym);
    hi = std::min(hi, mode == EvalMode::raw ? p.max_val : sym);
  }
  return {lo, hi};
}

}  // namespace

const char* to_string(RelaxStatus s) {
  switch (s) {
    case RelaxStatus::converged: return "converged";
    case RelaxStatus::max_steps: return "max_steps";
    case RelaxStatus::line_search_failed: return "line_search_failed";
  }
  return "?";
}

void RelaxOptions::validate(Index natoms) const {
  auto fail = [](const std::string& what) { throw std::invalid_argument(what); };
  if (!(fmax > 0)) fail(fmt::format("fmax = {} must be positive", fmax));
  if (!(mmax > 0)) fail(fmt::format("mmax = {} must be positive", mmax));
  if (!(smax > 0)) fail(fmt::format("smax = {} must be positive", smax));
  if (max_steps < 0) fail(fmt::format("max_steps = {} must be >= 0", max_steps));
  if (!std::isfinite(pressure)) fail("pressure is not finite");
  if (!(moment_scale > 0) || !std::isfinite(moment_scale)) fail(fmt::format("moment_scale = {} must be positive", moment_scale));
  if (!fixed_atoms.empty() && static_cast<Index>(fixed_atoms.size()) != natoms)
    fail(fmt::format("fixed_atoms has {} entries for {} atoms", fixed_atoms.size(), natoms));
  if (!fixed_moments.empty() && static_cast<Index>(fixed_moments.size()) != natoms)
    fail(fmt::format("fixed_moments has {} entries for {} atoms", fixed_moments.size(), natoms));
}

RelaxReport relax(const Ensemble& model, const Structure& start, const RelaxOptions& o, const RelaxObserver& observe) {
  start.validate();
  o.validate(start.size());
  if (start.size() == 0) throw std::invalid_argument("empty structure");
  if (o.cell != CellMode::none && !(start.pbc[0] && start.pbc[1] && start.pbc[2]))
    throw std::invalid_argument("the cell can move only for a structure periodic in all three directions");
  if (o.relax_moments && !start.has_magmoms()) throw std::invalid_argument("relaxing moments needs initial moments");
  const Coordinates coords(start, o);
  const Index m0 = coords.size() - static_cast<Index>(coords.free_moments().size());

  Eigen::VectorXd lb = Eigen::VectorXd::Constant(coords.size(), -std::numeric_limits<double>::infinity());
  Eigen::VectorXd ub = -lb;
  if (o.bound_moments) {
    const auto [lo, hi] = moment_bounds(model, o.mode);
    lb.tail(coords.size() - m0).setConstant(o.moment_scale * lo);
    ub.tail(coords.size() - m0).setConstant(o.moment_scale * hi);
  }
  Eigen::VectorXd x = coords.initial().cwiseMax(lb).cwiseMin(ub);

  RelaxReport report;
  bool have_best = false;
  auto objective = [&](const Eigen::VectorXd& xv, Eigen::VectorXd& grad) -> double {
    const Structure s = coords.decode(xv);
    EnsembleResult r = model.evaluate(s, o.mode);
    ++report.evaluations;
    const Result& m = r.mean;
    const double v = volume(s);
    const double h = m.energy + (o.cell == CellMode::none ? 0.0 : o.pressure * v);
    grad = coords.gradient(xv, s, m);
    double fmax = 0, mmax = 0, smax = 0;
    for (Index i : coords.free_atoms()) fmax = std::max(fmax, m.forces.col(i).norm());
    // Moments at a bound with the gradient pushing outwards count as converged.
    const Eigen::VectorXd gm = grad.tail(coords.size() - m0);
    const Eigen::VectorXd ym = xv.tail(coords.size() - m0);
    const Eigen::VectorXd proj = (ym - gm).cwiseMax(lb.tail(gm.size())).cwiseMin(ub.tail(gm.size())) - ym;
    if (proj.size()) mmax = proj.cwiseAbs().maxCoeff() * o.moment_scale;
    if (o.cell == CellMode::full) smax = (m.virial / v - o.pressure * Eigen::Matrix3d::Identity()).cwiseAbs().maxCoeff();
    if (o.cell == CellMode::hydrostatic) smax = std::abs(m.virial.trace() / (3 * v) - o.pressure);
    if (observe) observe(RelaxStep{report.evaluations, h, fmax, mmax, smax, &s, &r});
    const bool converged = fmax <= o.fmax && mmax <= o.mmax && smax <= o.smax;
    if (!have_best || h < report.enthalpy || converged) {
      have_best = true;
      report.enthalpy = h;
      report.fmax = fmax;
      report.mmax = mmax;
      report.smax = smax;
      report.structure = s;
      report.result = std::move(r);
    }
    if (converged) throw Converged{};
    return h;
  };
  LBFGSpp::LBFGSBParam<double> param;  // the solver keeps a reference: it must outlive it
  param.epsilon = 0.0;                  // our own absolute criteria end the run (Converged)
  param.epsilon_rel = 0.0;              // the default would scale with |x|
  param.past = 0;                       // no stop on a small relative energy change
  param.max_iterations = std::max(1, o.max_steps);
  LBFGSpp::LBFGSBSolver<double> solver(param);
  double fx = 0.0;
  try {
    solver.minimize(objective, x, fx, lb, ub);
    report.status = RelaxStatus::max_steps;
  } catch (const Converged&) {
    report.status = RelaxStatus::converged;
  } catch (const std::exception&) {
    if (!have_best) throw;  // the starting point itself cannot be evaluated
    report.status = RelaxStatus::line_search_failed;
  }
  return report;
}

void MomentRelaxOptions::validate() const {
  if (!(mmax > 0)) throw std::invalid_argument(fmt::format("mmax = {} must be positive", mmax));
  if (max_steps < 0) throw std::invalid_argument(fmt::format("max_steps = {} must be >= 0", max_steps));
}

MomentRelaxReport relax_moments(const Ensemble& model, Structure& s, const MomentRelaxOptions& options) {
  options.validate();
  if (!s.has_magmoms()) throw std::invalid_argument("relaxing moments needs initial moments");
  RelaxOptions o;
  o.mmax = options.mmax;
  o.max_steps = options.max_steps;
  o.mode = options.mode;
  o.bound_moments = options.bound_moments;
  o.fixed_atoms.assign(static_cast<std::size_t>(s.size()), true);
  RelaxReport r = relax(model, s, o);
  s.magmoms = r.structure.magmoms;
  return MomentRelaxReport{r.status, r.evaluations, r.mmax, std::move(r.result)};
}

}  // namespace mmtp
