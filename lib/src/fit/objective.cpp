#include "mmtp/fit/objective.hpp"

#include "mmtp/error.hpp"

#include <fmt/core.h>
#include <omp.h>

#include <Eigen/Cholesky>
#include <cmath>
#include <exception>
#include <stdexcept>

#include "../equations.hpp"
#include "../parallel.hpp"

namespace mmtp::fit {
namespace {

using equations::Dual;

/// Scratch memory of one thread for the dual-number pass.
struct DualWorkspace {
  equations::DualRows Q, U, G[2], F, A, psi_j;  // G per sign of Eq. 6 (one serves both when mirrored)
  Eigen::Matrix3Xd dvec;
  Eigen::ArrayXd dr;    // δr per neighbour
  RowArray<double> du;  // δr̂, 3×nn
  std::vector<Dual> gradient;
  std::vector<Dual> C, P;
  std::vector<equations::DualPair> mom, adj;  // both signs of Eq. 6 (SignPair)
};

/// A site's geometry in dual numbers along the pair-vector tangents `dvec` (3×nn): Q_ξ(r) and
/// the angular monomials (geometry.hpp) with their derivatives δr = r̂·δr_ij, δr̂ = (δr_ij − r̂ δr)/r.
void lift(const SiteGeometry& g, const AngularMonomials& mono, const Eigen::Matrix3Xd& dvec, DualWorkspace& w) {
  const Index nn = g.nn;
  Eigen::ArrayXd& dr = w.dr;
  RowArray<double>& du = w.du;
  dr.resize(nn);
  du.resize(3, nn);
  for (Index k = 0; k < nn; ++k) {
    dr[k] = g.unit.col(k).matrix().dot(dvec.col(k));
    du.col(k) = (dvec.col(k).array() - g.unit.col(k) * dr[k]) / g.r[k];
  }
  w.Q.v = g.Q;
  w.Q.d = g.dQ.rowwise() * dr.transpose();
  w.U.v = g.U;
  w.U.d.resize(mono.size(), nn);
  w.U.d.row(0).setZero();
  for (int m = 1; m < mono.size(); ++m) {
    const auto& e = mono.list[static_cast<std::size_t>(m)];
    w.U.d.row(m) = w.U.d.row(e.lower[e.axis]) * g.unit.row(e.axis) + g.U.row(e.lower[e.axis]) * du.row(e.axis);
  }
}

/// ∂E/∂θ and its derivative along the direction (δr, δε, δm) — positions r_i + t δr_i, pair
/// vectors (I + t δε) r_ij, moments m_i + t δm_i — added to `grad` in dual numbers: the
/// equations of MagneticMtp (equations.hpp) with every quantity carrying its tangent.
/// `radial` = false skips the radial coefficients (the linear solve needs only the others).
void dual_energy_gradient(const MagneticMtp& model, const equations::MomentScale& scale,
                          const Structure& s, const Geometry& geo, const Eigen::Matrix3Xd& dr, const Eigen::Matrix3d& deps,
                          const Eigen::VectorXd& dm, bool magnetic, bool symmetrized, bool radial, DualWorkspace& w,
                          std::vector<Dual>& grad) {
  const MtpParameters& p = model.parameters();
  const AngularMonomials& mono = model.monomials();
  const auto& schedule = model.contraction_schedule();
  const int R = p.radial_basis_size, NR = p.radial_funcs_count, M = p.magnetic_basis_size, S = p.species_count;
  const int width = magnetic ? R * M : R;
  const equations::SpinInversion inversion(symmetrized);
  for (Index i = 0; i < s.size(); ++i) {
    const SiteGeometry& g = geo.site(i);
    const Index nn = g.nn;
    const int ti = s.species[i];
    w.dvec.resize(3, nn);
    for (Index k = 0; k < nn; ++k) w.dvec.col(k) = dr.col(g.atom[k]) - dr.col(i) + deps * g.vec.col(k).matrix();
    lift(g, mono, w.dvec, w);
    w.F.resize(NR, nn);
    w.psi_j.resize(M, nn);
    Dual psi_i[2][equations::max_magnetic_basis], dpsi[equations::max_magnetic_basis];
    for (int sg = 0; sg < inversion.signs; ++sg) {
      const double sigma = equations::SpinInversion::sigma(sg);
      const bool mirrored = sg == 1 && scale.symmetric;  // the neighbours' basis of sign + serves
      if (magnetic) equations::magnetic_basis(scale, ti, Dual(s.magmoms[i], dm[i]), sigma, M, psi_i[sg], dpsi);
      if (magnetic && !mirrored) {
        w.G[sg].resize(width, nn);
        equations::neighbour_basis<Dual>(
            scale, nn, [&](Index k) { return std::pair{s.species[g.atom[k]], Dual(s.magmoms[g.atom[k]], dm[g.atom[k]])}; },
            sigma, M, R, w.Q, w.psi_j, nullptr, w.G[sg]);
      }
      equations::contract_central<Dual>(p, ti, magnetic, psi_i[sg], nullptr, w.C, nullptr);
      if (magnetic && mirrored) equations::mirror_odd(w.C, M);
      equations::radial_functions(S, NR, width, g.type_start, w.C, magnetic ? w.G[mirrored ? 0 : sg] : w.Q, w.F);
      equations::moment_tensors<Dual>(p, mono, w.F, w.U, nn, sg, w.mom);
    }
    equations::site_energy<Dual>(p, schedule, ti, w.mom, w.adj, inversion.lane_weights());
    w.A.resize(NR, nn);
    for (int sg = 0; sg < inversion.signs; ++sg) {
      const bool mirrored = sg == 1 && scale.symmetric;
      w.A.setZero();
      equations::adjoint_by_monomial<Dual>(p, mono, w.adj, sg, w.P);
      equations::radial_adjoint(p, mono, w.P, w.U, nn, w.A);
      equations::parameter_gradient(p, ti, magnetic, g.type_start, psi_i[sg], magnetic ? w.G[mirrored ? 0 : sg] : w.Q,
                                    w.A, w.mom, sg, inversion.weight, radial, magnetic && mirrored,
                                    grad.data());
    }
  }
}

/// The weights for potential `p`: valid, with a per-species factor for each of its species.
void check_weights(const Weights& w, const MtpParameters& p) {
  w.validate();
  if (!w.magnetic_species.empty() && static_cast<int>(w.magnetic_species.size()) != p.species_count)
    throw InputError(fmt::format("{} per-species dE/dm weights for {} species", w.magnetic_species.size(), p.species_count));
}

}  // namespace

void Weights::validate() const {
  for (auto [v, name] : {std::pair{energy, "energy"}, {force, "force"}, {stress, "stress"}, {magnetic, "magnetic"}, {l2, "l2"}})
    if (!(v >= 0) || !std::isfinite(v)) throw InputError(fmt::format("weight {} = {} must be >= 0", name, v));
  for (double f : magnetic_species)
    if (!(f >= 0) || !std::isfinite(f)) throw InputError(fmt::format("per-species dE/dm weight factor {} must be >= 0", f));
}

Weights::Weighting parse_weighting(const std::string& name) {
  if (name == "per-structure") return Weights::Weighting::per_structure;
  if (name == "vibrations") return Weights::Weighting::vibrations;
  throw InputError(fmt::format("weighting '{}': expected per-structure or vibrations", name));
}

std::string weighting_name(Weights::Weighting weighting) {
  return weighting == Weights::Weighting::vibrations ? "vibrations" : "per-structure";
}

Dataset::Dataset(const MtpParameters& basis, std::vector<Sample> samples) : samples_(std::move(samples)) {
  geometry_.resize(samples_.size());
  FirstError error;
#pragma omp parallel for schedule(dynamic)
  for (std::size_t k = 0; k < samples_.size(); ++k)
    error.run([&] {
      const Structure& s = samples_[k].structure;
      geometry_[k] = Geometry(basis, s, NeighborList::build(s, basis.max_dist));
    });
  error.rethrow();
}

Eigen::VectorXd pack(const MtpParameters& p) {
  Eigen::VectorXd theta(static_cast<Index>(p.parameter_count()));
  Index k = 0;
  for (double c : p.radial_coeffs) theta[k++] = c;
  for (double c : p.species_coeffs) theta[k++] = c;
  for (double c : p.moment_coeffs) theta[k++] = c;
  return theta;
}

void unpack(const Eigen::VectorXd& theta, MtpParameters& p) {
  if (theta.size() != static_cast<Index>(p.parameter_count()))
    throw std::invalid_argument(fmt::format("{} parameters for a potential with {}", theta.size(), p.parameter_count()));
  Index k = 0;
  for (double& c : p.radial_coeffs) c = theta[k++];
  for (double& c : p.species_coeffs) c = theta[k++];
  for (double& c : p.moment_coeffs) c = theta[k++];
}

double structure_objective(const MagneticMtp& model, const Sample& smp, const Geometry& geometry, const Weights& w,
                           EvalMode mode, double multiplicity, Eigen::Ref<Eigen::VectorXd> gradient) {
  const MtpParameters& p = model.parameters();
  const Structure& s = smp.structure;
  const Result r = model.evaluate(s, geometry, mode);
  const Index n = s.size();
  const double nd = static_cast<double>(std::max<Index>(1, n));
  const bool magnetic = p.magnetic && s.has_magmoms();
  double loss = 0.0, energy_coef = 0.0;
  Eigen::Matrix3Xd dr = Eigen::Matrix3Xd::Zero(3, n);
  Eigen::Matrix3d deps = Eigen::Matrix3d::Zero();
  Eigen::VectorXd dm = Eigen::VectorXd::Zero(n);
  if (smp.energy) {
    const double re = (r.energy - *smp.energy) / nd, we = w.energy * w.size_factor(s.size());
    loss += we * re * re;
    energy_coef = 2.0 * we * re / nd;
  }
  if (smp.forces && w.force > 0) {
    const Eigen::Matrix3Xd d = r.forces - *smp.forces;
    loss += w.force * d.squaredNorm();
    dr = -2.0 * w.force * d;  // F = −∂E/∂r
  }
  if (smp.virial && w.stress > 0) {
    const Eigen::Matrix3d d = (r.virial - *smp.virial) / nd;
    const double ws = w.stress * w.size_factor(s.size());
    loss += ws * d.squaredNorm();
    deps = -2.0 * ws * d / nd;  // W = −∂E/∂ε
  }
  if (smp.dE_dm && magnetic && w.magnetic > 0) {
    for (Index i = 0; i < n; ++i) {
      const double d = r.dE_dm[i] - (*smp.dE_dm)[i], wi = w.magnetic_of(s.species[i]);
      loss += wi * d * d;
      dm[i] = 2.0 * wi * d;
    }
  }
  thread_local DualWorkspace work;  // reused by every structure this thread takes
  std::vector<Dual>& g = work.gradient;
  g.assign(p.parameter_count(), Dual(0.0));
  dual_energy_gradient(model, equations::MomentScale(p), s, geometry, dr, deps, dm, magnetic,
                       magnetic && mode == EvalMode::symmetrized, true, work, g);
  for (std::size_t q = 0; q < g.size(); ++q)
    gradient[static_cast<Index>(q)] += multiplicity * (energy_coef * g[q].v + g[q].d);
  return multiplicity * loss;
}

double objective(const MtpParameters& p, const Dataset& data, const Weights& w, EvalMode mode, Eigen::VectorXd* gradient,
                 const std::vector<double>& multiplicity) {
  check_weights(w, p);
  return objective(MagneticMtp(p), data, w, mode, gradient, multiplicity);
}

double objective(const MagneticMtp& model, const Dataset& data, const Weights& w, EvalMode mode, Eigen::VectorXd* gradient,
                 const std::vector<double>& multiplicity) {
  const MtpParameters& p = model.parameters();
  check_weights(w, p);
  if (!multiplicity.empty() && multiplicity.size() != data.size())
    throw std::invalid_argument(fmt::format("{} multiplicities for {} structures", multiplicity.size(), data.size()));
  const Index np = static_cast<Index>(p.parameter_count());
  const int nthreads = omp_get_max_threads();
  std::vector<Eigen::VectorXd> grads(static_cast<std::size_t>(nthreads), Eigen::VectorXd::Zero(np));
  std::vector<double> losses(static_cast<std::size_t>(nthreads), 0.0);
  FirstError error;
#pragma omp parallel num_threads(nthreads)
  {
    const int t = omp_get_thread_num();
#pragma omp for schedule(static)
    for (std::size_t k = 0; k < data.size(); ++k) {
      const double mult = multiplicity.empty() ? 1.0 : multiplicity[k];
      if (mult == 0.0) continue;
      error.run([&] { losses[t] += structure_objective(model, data.samples()[k], data.geometry(k), w, mode, mult, grads[t]); });
    }
  }
  error.rethrow();
  double loss = 0.0;
  Eigen::VectorXd grad = Eigen::VectorXd::Zero(np);
  for (int t = 0; t < nthreads; ++t) {
    loss += losses[t];
    grad += grads[t];
  }
  if (w.l2 > 0) {
    // Radial and moment coefficients; species coefficients carry the energy offset.
    const Eigen::VectorXd theta = pack(p);
    const Index nr = static_cast<Index>(p.radial_coeffs.size()), ns = p.species_count;
    for (Index q = 0; q < np; ++q)
      if (q < nr || q >= nr + ns) {
        loss += w.l2 * theta[q] * theta[q];
        grad[q] += 2.0 * w.l2 * theta[q];
      }
  }
  if (gradient) *gradient = std::move(grad);
  return loss;
}

double solve_linear(MtpParameters& p, const Dataset& data, const Weights& w, EvalMode mode,
                    const std::vector<double>& multiplicity, double ridge) {
  check_weights(w, p);
  if (data.size() == 0) throw InputError("no training data");
  const Index nr = static_cast<Index>(p.radial_coeffs.size()), nl_par = static_cast<Index>(p.species_count) + p.alpha_scalar_moments();
  const MagneticMtp model(p);
  const equations::MomentScale scale(p);
  Eigen::MatrixXd normal = Eigen::MatrixXd::Zero(nl_par, nl_par);
  Eigen::VectorXd rhs = Eigen::VectorXd::Zero(nl_par);
  std::vector<Eigen::MatrixXd> normals;
  std::vector<Eigen::VectorXd> rhss;
#pragma omp parallel
  {
#pragma omp single
    {
      normals.assign(static_cast<std::size_t>(omp_get_num_threads()), Eigen::MatrixXd::Zero(nl_par, nl_par));
      rhss.assign(normals.size(), Eigen::VectorXd::Zero(nl_par));
    }
    Eigen::MatrixXd& my_normal = normals[static_cast<std::size_t>(omp_get_thread_num())];
    Eigen::VectorXd& my_rhs = rhss[static_cast<std::size_t>(omp_get_thread_num())];
    DualWorkspace work;
#pragma omp for schedule(static)
    for (std::size_t k = 0; k < data.size(); ++k) {
      const double mult = multiplicity.empty() ? 1.0 : multiplicity[k];
      if (mult == 0.0) continue;
      auto add_mine = [&](const Eigen::VectorXd& row, double target, double weight) {
        my_normal.noalias() += mult * weight * row * row.transpose();
        my_rhs.noalias() += mult * weight * target * row;
      };
      const Sample& smp = data.samples()[k];
      const Structure& s = smp.structure;
      const Index n = s.size();
      const double nd = static_cast<double>(std::max<Index>(1, n));
      const bool magnetic = p.magnetic && s.has_magmoms();
      const bool sym = magnetic && mode == EvalMode::symmetrized;
      // Direction d → derivative of the linear features (columns of the species and moment part).
      auto features = [&](const Eigen::Matrix3Xd& dr, const Eigen::Matrix3d& deps, const Eigen::VectorXd& dm, Eigen::VectorXd* value) {
        std::vector<Dual> g(p.parameter_count(), Dual(0.0));
        dual_energy_gradient(model, scale, s, data.geometry(k), dr, deps, dm, magnetic, sym, false, work, g);
        Eigen::VectorXd d(nl_par);
        if (value) value->resize(nl_par);
        for (Index q = 0; q < nl_par; ++q) {
          d[q] = g[static_cast<std::size_t>(nr + q)].d;
          if (value) (*value)[q] = g[static_cast<std::size_t>(nr + q)].v;
        }
        return d;
      };
      const Eigen::Matrix3Xd zr = Eigen::Matrix3Xd::Zero(3, n);
      const Eigen::VectorXd zm = Eigen::VectorXd::Zero(n);
      Eigen::VectorXd value;
      features(zr, Eigen::Matrix3d::Zero(), zm, &value);
      if (smp.energy) add_mine(value / nd, *smp.energy / nd, w.energy * w.size_factor(s.size()));
      if (smp.forces && w.force > 0)
        for (Index i = 0; i < n; ++i)
          for (int a = 0; a < 3; ++a) {
            Eigen::Matrix3Xd dr = zr;
            dr(a, i) = 1.0;
            add_mine(-features(dr, Eigen::Matrix3d::Zero(), zm, nullptr), (*smp.forces)(a, i), w.force);
          }
      if (smp.virial && w.stress > 0)
        for (int a = 0; a < 3; ++a)
          for (int b = 0; b < 3; ++b) {
            Eigen::Matrix3d e = Eigen::Matrix3d::Zero();
            e(a, b) = 1.0;
            add_mine(-features(zr, e, zm, nullptr) / nd, (*smp.virial)(a, b) / nd, w.stress * w.size_factor(s.size()));
          }
      if (smp.dE_dm && magnetic && w.magnetic > 0)
        for (Index i = 0; i < n; ++i) {
          Eigen::VectorXd dm = zm;
          dm[i] = 1.0;
          add_mine(features(zr, Eigen::Matrix3d::Zero(), dm, nullptr), (*smp.dE_dm)[i], w.magnetic_of(s.species[i]));
        }
    }
  }
  for (std::size_t t = 0; t < normals.size(); ++t) {  // in thread order: deterministic
    normal += normals[t];
    rhs += rhss[t];
  }
  const double scale_ = std::max(1.0, normal.diagonal().maxCoeff());
  normal.diagonal().array() += ridge * scale_;
  const Eigen::VectorXd x = normal.ldlt().solve(rhs);
  for (int t = 0; t < p.species_count; ++t) p.species_coeffs[t] = x[t];
  for (int a = 0; a < p.alpha_scalar_moments(); ++a) p.moment_coeffs[a] = x[p.species_count + a];
  return objective(p, data, w, mode, nullptr, multiplicity);
}

}  // namespace mmtp::fit
