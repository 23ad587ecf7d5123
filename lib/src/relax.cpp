#include "mmtp/relax.hpp"

#include <fmt/core.h>

#include <Eigen/Eigenvalues>
#include <Eigen/LU>
#include <cmath>
#include <deque>
#include <limits>
#include <stdexcept>

#include "mmtp/error.hpp"
#include "mmtp/optimizer.hpp"

namespace mmtp {
namespace {

using Eigen::VectorXd;

using optimize::active_set;
using optimize::Lbfgs;
using optimize::Outcome;
using optimize::Problem;
using optimize::projected_max;

/// Maps the optimiser's vector to a structure and back (the coordinates of ASE's cell filters:
/// q = F⁻¹r for free atoms, c = N·(F − I) for the full cell, c = √3·N·(F₁₁ − 1) for the
/// hydrostatic one, so that a unit step changes F by the same Frobenius norm in both modes;
/// y = scale·m for free moments).
class Coordinates {
 public:
  Coordinates(const Structure& s, const RelaxOptions& o) : start_(s), o_(o) {
    const Index n = s.size();
    for (Index i = 0; i < n; ++i) {
      if (o.fixed_atoms.empty() || !o.fixed_atoms[i]) free_atoms_.push_back(i);
      if (o.relax_moments && (o.fixed_moments.empty() || !o.fixed_moments[i])) free_moments_.push_back(i);
    }
    cell_vars_ = o.cell == CellMode::none ? 0 : (o.cell == CellMode::hydrostatic ? 1 : 9);
    cell_factor_ = static_cast<double>(std::max<Index>(1, n)) * (cell_vars_ == 1 ? std::sqrt(3.0) : 1.0);
  }
  Index size() const { return moment_offset() + static_cast<Index>(free_moments_.size()); }
  Index moment_offset() const { return 3 * static_cast<Index>(free_atoms_.size()) + cell_vars_; }
  const std::vector<Index>& free_atoms() const { return free_atoms_; }
  const std::vector<Index>& free_moments() const { return free_moments_; }

  VectorXd initial() const {
    VectorXd x = VectorXd::Zero(size());
    Index k = 0;
    for (Index i : free_atoms_) x.segment<3>(3 * k++) = start_.positions.col(i);
    for (std::size_t q = 0; q < free_moments_.size(); ++q)
      x[moment_offset() + static_cast<Index>(q)] = o_.moment_scale * start_.magmoms[free_moments_[q]];
    return x;
  }

  Eigen::Matrix3d deformation(const VectorXd& x) const {
    const Index c0 = 3 * static_cast<Index>(free_atoms_.size());
    if (cell_vars_ == 0) return Eigen::Matrix3d::Identity();
    if (cell_vars_ == 1) return (1.0 + x[c0] / cell_factor_) * Eigen::Matrix3d::Identity();
    return Eigen::Matrix3d::Identity() + Eigen::Map<const Eigen::Matrix3d>(x.data() + c0) / cell_factor_;
  }

  Structure decode(const VectorXd& x) const {
    Structure s = start_;
    const Eigen::Matrix3d F = deformation(x);
    s.cell = F * start_.cell;
    s.positions = F * start_.positions;  // fixed atoms follow the cell homogeneously
    Index k = 0;
    for (Index i : free_atoms_) s.positions.col(i) = F * x.segment<3>(3 * k++);
    for (std::size_t q = 0; q < free_moments_.size(); ++q)
      s.magmoms[free_moments_[q]] = x[moment_offset() + static_cast<Index>(q)] / o_.moment_scale;
    return s;
  }

  /// Gradient of H = E + pV with respect to x.
  VectorXd gradient(const VectorXd& x, const Structure& s, const Result& r) const {
    VectorXd g(size());
    const Eigen::Matrix3d F = deformation(x);
    Index k = 0;
    for (Index i : free_atoms_) g.segment<3>(3 * k++) = -F.transpose() * r.forces.col(i);
    const Index c0 = 3 * static_cast<Index>(free_atoms_.size());
    if (cell_vars_) {
      const Eigen::Matrix3d dH_dF = (-r.virial + o_.pressure * volume(s) * Eigen::Matrix3d::Identity()) * F.inverse().transpose();
      if (cell_vars_ == 1) g[c0] = dH_dF.trace() / cell_factor_;
      else Eigen::Map<Eigen::Matrix3d>(g.data() + c0) = dH_dF / cell_factor_;
    }
    for (std::size_t q = 0; q < free_moments_.size(); ++q)
      g[moment_offset() + static_cast<Index>(q)] = r.dE_dm[free_moments_[q]] / o_.moment_scale;
    return g;
  }

  /// Largest α such that α·d respects the step caps of the options.
  double step_limit(const VectorXd& x, const VectorXd& d) const {
    const Eigen::Matrix3d F = deformation(x);
    double disp = 0.0, strain = 0.0, dm = 0.0;
    for (std::size_t k = 0; k < free_atoms_.size(); ++k)
      disp = std::max(disp, (F * d.segment<3>(3 * static_cast<Index>(k))).norm());
    if (cell_vars_) strain = d.segment(3 * static_cast<Index>(free_atoms_.size()), cell_vars_).cwiseAbs().maxCoeff() / cell_factor_;
    if (!free_moments_.empty()) dm = d.tail(static_cast<Index>(free_moments_.size())).cwiseAbs().maxCoeff() / o_.moment_scale;
    double alpha = std::numeric_limits<double>::infinity();
    if (disp > 0) alpha = std::min(alpha, o_.max_displacement / disp);
    if (strain > 0) alpha = std::min(alpha, o_.max_strain_step / strain);
    if (dm > 0) alpha = std::min(alpha, o_.max_moment_step / dm);
    return alpha;
  }

 private:
  const Structure& start_;
  const RelaxOptions& o_;
  std::vector<Index> free_atoms_, free_moments_;
  Index cell_vars_ = 0;
  double cell_factor_ = 1.0;
};

/// Bounds of the moment block [μB] for the given atoms.
void moment_box(const Ensemble& model, const Structure& s, EvalMode mode, bool bound, const std::vector<Index>& atoms,
                double scale, VectorXd& lb, VectorXd& ub) {
  const Index n = static_cast<Index>(atoms.size());
  lb = VectorXd::Constant(n, -std::numeric_limits<double>::infinity());
  ub = -lb;
  if (!bound) return;
  const auto [lo, hi] = model.moment_bounds(s, mode);
  for (Index q = 0; q < n; ++q) {
    lb[q] = scale * lo[atoms[q]];
    ub[q] = scale * hi[atoms[q]];
  }
}

/// E and ∂E/∂m of the committee mean at fixed positions and cell: the geometry (neighbour
/// list, radial basis, angular monomials) is computed once per distinct member basis.
class MomentEvaluator {
 public:
  MomentEvaluator(const Ensemble& model, const Structure& s, EvalMode mode)
      : model_(model), s_(s), mode_(mode), geometry_(model.geometry(s, NeighborList::build(s, model.cutoff()))) {}
  /// E [eV] at moments m [μB]; g = ∂E/∂m [eV/μB] (committee means, all members in one pass).
  double evaluate(const VectorXd& m, VectorXd& g) const {
    s_.magmoms = m;
    EnsembleResult r = model_.evaluate(s_, geometry_, mode_, Derivatives::moments);
    g = std::move(r.mean.dE_dm);
    return r.mean.energy;
  }

 private:
  const Ensemble& model_;
  mutable Structure s_;
  EvalMode mode_;
  std::vector<Geometry> geometry_;
};

}  // namespace

const char* to_string(RelaxStatus s) {
  switch (s) {
    case RelaxStatus::converged: return "converged";
    case RelaxStatus::max_steps: return "max_steps";
    case RelaxStatus::line_search_failed: return "line_search_failed";
    case RelaxStatus::extrapolation: return "extrapolation";
  }
  return "?";
}

CellMode parse_cell_mode(const std::string& text, const std::string& what) {
  if (text == "none") return CellMode::none;
  if (text == "hydrostatic") return CellMode::hydrostatic;
  if (text == "full") return CellMode::full;
  throw Error(fmt::format("{} '{}' is not none, hydrostatic or full", what, text));
}

void RelaxOptions::validate(Index natoms) const {
  auto fail = [](const std::string& what) { throw InputError(what); };
  if (!(fmax > 0)) fail(fmt::format("fmax = {} must be positive", fmax));
  if (!(mmax > 0)) fail(fmt::format("mmax = {} must be positive", mmax));
  if (!(smax > 0)) fail(fmt::format("smax = {} must be positive", smax));
  if (max_steps < 0) fail(fmt::format("max_steps = {} must be >= 0", max_steps));
  if (!std::isfinite(pressure)) fail("pressure is not finite");
  if (!(moment_scale > 0) || !std::isfinite(moment_scale)) fail(fmt::format("moment_scale = {} must be positive", moment_scale));
  for (auto [v, name] : {std::pair{max_displacement, "max_displacement"}, {max_moment_step, "max_moment_step"},
                         {max_strain_step, "max_strain_step"}})
    if (!(v > 0) || !std::isfinite(v)) fail(fmt::format("{} = {} must be positive", name, v));
  region.validate();
  if (!fixed_atoms.empty() && static_cast<Index>(fixed_atoms.size()) != natoms)
    fail(fmt::format("fixed_atoms has {} entries for {} atoms", fixed_atoms.size(), natoms));
  if (!fixed_moments.empty() && static_cast<Index>(fixed_moments.size()) != natoms)
    fail(fmt::format("fixed_moments has {} entries for {} atoms", fixed_moments.size(), natoms));
}

std::vector<Index> moments_pushed_out(const Ensemble& model, const Structure& s, const VectorXd& dE_dm, EvalMode mode,
                                      const std::vector<Index>& atoms, double mmax) {
  std::vector<Index> out;
  if (!s.has_magmoms() || dE_dm.size() != s.size()) return out;
  const auto [lo, hi] = model.moment_bounds(s, mode);
  for (Index i : atoms) {
    const double m = s.magmoms[i], tol = 1e-9 * std::max(1.0, hi[i] - lo[i]);
    if ((m <= lo[i] + tol && dE_dm[i] > mmax) || (m >= hi[i] - tol && dE_dm[i] < -mmax)) out.push_back(i);
  }
  return out;
}

namespace {

/// Whether a relaxation has left the trained region (RelaxOptions::stop_on_extrapolation): a
/// run that starts outside may walk into it; once inside, the first point outside stops it.
/// Until it is inside, the first point further outside than the start stops it: more short
/// pairs or moments out of range, or a larger committee std.
class RegionWatch {
 public:
  explicit RegionWatch(const TrainedRegion& region) : region_(region) {}
  /// Looks at the point of evaluation `evaluation` (1 = the start); returns why it is outside
  /// the region ("" inside). stop() then says whether the run must end.
  std::string observe(const EnsembleResult& r, Index natoms, int evaluation) {
    const auto& x = r.mean.extrapolation;
    const double per_atom = r.energy_std / static_cast<double>(std::max<Index>(1, natoms));
    if (evaluation == 1) start_ = {x.short_pairs, x.moments_out_of_range, per_atom};
    std::string outside = extrapolation_cause(r, natoms, region_);
    if (entered_) {
      left_ = !outside.empty();
    } else if (std::string worse = worse_than_start(x, per_atom); !worse.empty()) {
      left_ = true;
      outside = std::move(worse);
    }
    entered_ = entered_ || outside.empty();
    return outside;
  }
  bool stop() const { return left_; }
  bool entered() const { return entered_; }

 private:
  std::string worse_than_start(const Extrapolation& x, double per_atom) const {
    if (x.short_pairs > start_.short_pairs)
      return fmt::format("{} pair distances below min_dist (shortest {:.3f} Å; {} at the start)", x.short_pairs, x.min_distance,
                         start_.short_pairs);
    if (x.moments_out_of_range > start_.moments_out_of_range)
      return fmt::format("{} moments outside their species' trained range ({} at the start)", x.moments_out_of_range,
                         start_.moments_out_of_range);
    if (region_.max_std > 0 && per_atom > std::max(region_.max_std, start_.std_per_atom))
      return fmt::format("committee std {:.4f} eV/atom above the start's {:.4f} and max_std {:.4f}", per_atom,
                         start_.std_per_atom, region_.max_std);
    return {};
  }
  struct Start {
    int short_pairs = 0, moments_out_of_range = 0;
    double std_per_atom = 0;
  };
  const TrainedRegion& region_;
  Start start_;
  bool entered_ = false, left_ = false;
};

/// One joint relaxation: the optimiser's problem (evaluate, converged, step caps, stop) over
/// the coordinates of `coords`, the last evaluated point and the report.
class JointRelaxation {
 public:
  JointRelaxation(const Ensemble& model, const Structure& start, const RelaxOptions& o, const RelaxObserver& observe)
      : model_(model), o_(o), observe_(observe), coords_(start, o), watch_(o.region) {
    p_.lb = VectorXd::Constant(coords_.size(), -std::numeric_limits<double>::infinity());
    p_.ub = -p_.lb;
    if (!coords_.free_moments().empty()) {
      VectorXd lo, hi;
      moment_box(model, start, o.mode, o.bound_moments, coords_.free_moments(), o.moment_scale, lo, hi);
      p_.lb.tail(lo.size()) = lo;
      p_.ub.tail(hi.size()) = hi;
    }
    p_.evaluate = [this](const VectorXd& x, double& h, VectorXd& g) { return evaluate(x, h, g); };
    p_.converged = [this](const VectorXd&, const VectorXd&) {
      return last_.fmax <= o_.fmax && last_.mmax <= o_.mmax && last_.smax <= o_.smax;
    };
    p_.step_limit = [this](const VectorXd& x, const VectorXd& d) { return coords_.step_limit(x, d); };
    p_.stop = [this] { return watch_.stop(); };
    p_.accepted = [this] { keep(); };
  }

  RelaxReport run() {
    VectorXd x = coords_.initial().cwiseMax(p_.lb).cwiseMin(p_.ub), g;
    double h = 0.0;
    evaluate(x, h, g);
    keep();
    Lbfgs solver;
    solver.diagonal_scaling = true;
    switch (solver.minimize(p_, x, h, g, o_.max_steps)) {
      case Outcome::converged: report_.status = RelaxStatus::converged; break;
      case Outcome::max_steps: report_.status = RelaxStatus::max_steps; break;
      case Outcome::line_search_failed: report_.status = RelaxStatus::line_search_failed; break;
      case Outcome::stopped:
        report_.status = RelaxStatus::extrapolation;
        report_.extrapolation =
            watch_.entered() ? fmt::format("evaluation {} left the trained region: {}", report_.evaluations, last_.outside)
                             : fmt::format("evaluation {} went further outside the trained region than its start: {}",
                                           report_.evaluations, last_.outside);
        break;
    }
    if (report_.status != RelaxStatus::extrapolation && !kept_outside_.empty()) {
      report_.status = RelaxStatus::extrapolation;
      report_.extrapolation = "the run started outside the trained region and ended there: " + kept_outside_;
    }
    report_.restarts = solver.restarts;
    if (o_.bound_moments)
      report_.moments_pushed_out = moments_pushed_out(model_, report_.structure, report_.result.mean.dE_dm, o_.mode,
                                                      coords_.free_moments(), o_.mmax);
    return std::move(report_);
  }

 private:
  /// H = E + pV and its gradient at x; false for a point that cannot be evaluated (a failed
  /// trial step, never the start).
  bool evaluate(const VectorXd& x, double& h, VectorXd& g) {
    Structure s = coords_.decode(x);
    EnsembleResult r;
    try {
      r = model_.evaluate(s, o_.mode);
    } catch (const std::exception&) {
      if (report_.evaluations == 0) throw;  // the starting point itself cannot be evaluated
      return false;                         // e.g. coincident atoms or a singular cell
    }
    ++report_.evaluations;
    const Result& m = r.mean;
    const double v = volume(s);
    const Index m0 = coords_.moment_offset(), nm = coords_.size() - m0;
    h = m.energy + (o_.cell == CellMode::none ? 0.0 : o_.pressure * v);
    g = coords_.gradient(x, s, m);
    last_.fmax = 0;
    for (Index i : coords_.free_atoms()) last_.fmax = std::max(last_.fmax, m.forces.col(i).norm());
    last_.mmax = projected_max(x.tail(nm), g.tail(nm), p_.lb.tail(nm), p_.ub.tail(nm)) * o_.moment_scale;
    last_.smax = 0;
    if (o_.cell == CellMode::full) last_.smax = (m.virial / v - o_.pressure * Eigen::Matrix3d::Identity()).cwiseAbs().maxCoeff();
    if (o_.cell == CellMode::hydrostatic) last_.smax = std::abs(m.virial.trace() / (3 * v) - o_.pressure);
    last_.h = h;
    if (observe_) observe_(RelaxStep{report_.evaluations, h, last_.fmax, last_.mmax, last_.smax, &s, &r});
    last_.outside = o_.stop_on_extrapolation ? watch_.observe(r, s.size(), report_.evaluations) : std::string();
    last_.s = std::move(s);
    last_.r = std::move(r);
    return true;
  }

  /// The last evaluated point became the current one: it is what the report returns so far.
  void keep() {
    report_.enthalpy = last_.h;
    report_.fmax = last_.fmax;
    report_.mmax = last_.mmax;
    report_.smax = last_.smax;
    report_.structure = last_.s;
    report_.result = last_.r;
    kept_outside_ = last_.outside;
  }

  struct Evaluated {
    Structure s;
    EnsembleResult r;
    double h = 0, fmax = 0, mmax = 0, smax = 0;
    std::string outside;  // why the point is outside the trained region; empty inside
  };
  const Ensemble& model_;
  const RelaxOptions& o_;
  const RelaxObserver& observe_;
  const Coordinates coords_;
  RegionWatch watch_;
  Problem p_;
  Evaluated last_;
  std::string kept_outside_;
  RelaxReport report_;
};

}  // namespace

RelaxReport relax(const Ensemble& model, const Structure& start, const RelaxOptions& o, const RelaxObserver& observe) {
  start.validate();
  o.validate(start.size());
  if (start.size() == 0) throw InputError("empty structure");
  if (o.cell != CellMode::none && !(start.pbc[0] && start.pbc[1] && start.pbc[2]))
    throw InputError("the cell can move only for a structure periodic in all three directions");
  if (o.relax_moments && !start.has_magmoms()) throw InputError("relaxing moments needs initial moments");
  return JointRelaxation(model, start, o, observe).run();
}

void MomentRelaxOptions::validate() const {
  if (!(mmax > 0)) throw InputError(fmt::format("mmax = {} must be positive", mmax));
  if (max_steps < 0) throw InputError(fmt::format("max_steps = {} must be >= 0", max_steps));
  if (!(max_moment_step > 0) || !std::isfinite(max_moment_step))
    throw InputError(fmt::format("max_moment_step = {} must be positive", max_moment_step));
}

double extrapolate_moment(const double* m, int count) {
  if (count >= 3) return 3.0 * m[0] - 3.0 * m[1] + m[2];
  if (count == 2) return 2.0 * m[0] - m[1];
  return m[0];
}

VectorXd MomentTrajectory::predict(const VectorXd& current) const {
  if (last.empty() || last.front().size() != current.size()) return current;
  VectorXd out(current.size());
  for (Index i = 0; i < current.size(); ++i) {
    double h[3];
    for (std::size_t k = 0; k < last.size() && k < 3; ++k) h[k] = last[k][i];
    out[i] = extrapolate_moment(h, static_cast<int>(std::min<std::size_t>(last.size(), 3)));
  }
  return out;
}

void MomentTrajectory::record(const VectorXd& moments, bool converged) {
  if (!converged || (!last.empty() && last.front().size() != moments.size())) {
    last.clear(), s.clear(), y.clear();
    if (!converged) return;
  }
  last.push_front(moments);
  if (last.size() > 3) last.pop_back();
}

MomentRelaxReport relax_moments(const Ensemble& model, Structure& s, const MomentRelaxOptions& o, MomentTrajectory* trajectory) {
  o.validate();
  if (!s.has_magmoms()) throw InputError("relaxing moments needs initial moments");
  const Index n = s.size();
  std::vector<Index> atoms(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) atoms[i] = i;
  Problem p;
  moment_box(model, s, o.mode, o.bound_moments, atoms, 1.0, p.lb, p.ub);
  const MomentEvaluator energy(model, s, o.mode);  // geometry once; E and ∂E/∂m per step

  MomentRelaxReport report;
  p.evaluate = [&](const VectorXd& m, double& e, VectorXd& g) {
    ++report.evaluations;
    e = energy.evaluate(m, g);
    return std::isfinite(e);
  };
  p.converged = [&](const VectorXd& m, const VectorXd& g) { return projected_max(m, g, p.lb, p.ub) <= o.mmax; };
  p.step_limit = [&](const VectorXd&, const VectorXd& d) {
    const double big = d.cwiseAbs().maxCoeff();
    return big > 0 ? o.max_moment_step / big : std::numeric_limits<double>::infinity();
  };

  VectorXd m = (trajectory ? trajectory->predict(s.magmoms) : s.magmoms).cwiseMax(p.lb).cwiseMin(p.ub), g;
  double e = 0.0;
  p.evaluate(m, e, g);
  Lbfgs solver(trajectory ? &trajectory->s : nullptr, trajectory ? &trajectory->y : nullptr);
  solver.initial_inverse_curvature = 1.0;  // moment curvatures are of order 1 eV/μB²
  solver.diagonal_scaling = true;
  Outcome outcome = o.newton ? Outcome::line_search_failed : solver.minimize(p, m, e, g, o.max_steps);
  if (outcome == Outcome::line_search_failed) {
    // Projected Newton on the moment block: at fixed positions the Hessian is small (N×N) and
    // each column costs two moment-only evaluations (central differences of ∂E/∂m).
    report.newton = true;
    outcome = Outcome::max_steps;
    const double h = 1e-4;
    for (int it = 0; it < std::max(1, o.max_steps); ++it) {
      if (p.converged(m, g)) {
        outcome = Outcome::converged;
        break;
      }
      const auto active = active_set(m, g, p.lb, p.ub);
      Eigen::MatrixXd H(n, n);
      VectorXd gp, gm;
      for (Index j = 0; j < n; ++j) {
        VectorXd mp = m, mm = m;
        mp[j] += h;
        mm[j] -= h;
        energy.evaluate(mp, gp);
        energy.evaluate(mm, gm);
        report.evaluations += 2;
        H.col(j) = (gp - gm) / (2 * h);
      }
      H = 0.5 * (H + H.transpose()).eval();
      for (Index i = 0; i < n; ++i)
        if (active[i]) {
          H.row(i).setZero();
          H.col(i).setZero();
          H(i, i) = 1.0;
        }
      VectorXd gf = g;
      for (Index i = 0; i < n; ++i)
        if (active[i]) gf[i] = 0.0;
      // Levenberg shift: a descent direction also where the Hessian is indefinite.
      const double lowest = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(H, Eigen::EigenvaluesOnly).eigenvalues().minCoeff();
      const double shift = std::max(0.0, 1e-3 - lowest);
      const VectorXd d = -(H + shift * Eigen::MatrixXd::Identity(n, n)).ldlt().solve(gf);
      if (optimize::line_search(p, m, e, g, d, gf) != Outcome::converged) {
        outcome = Outcome::line_search_failed;
        break;
      }
    }
  }
  report.status = outcome == Outcome::converged ? RelaxStatus::converged
                  : outcome == Outcome::max_steps ? RelaxStatus::max_steps
                                                  : RelaxStatus::line_search_failed;
  report.mmax = projected_max(m, g, p.lb, p.ub);
  s.magmoms = m;
  if (trajectory) trajectory->record(m, report.status == RelaxStatus::converged);
  report.result = model.evaluate(s, o.mode);  // forces and virial once, at the result
  if (o.bound_moments) report.moments_pushed_out = moments_pushed_out(model, s, report.result.mean.dE_dm, o.mode, atoms, o.mmax);
  return report;
}

}  // namespace mmtp
