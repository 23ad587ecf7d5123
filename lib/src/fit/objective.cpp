#include "mmtp/fit/objective.hpp"

#include <fmt/core.h>
#include <omp.h>

#include <Eigen/Cholesky>
#include <cmath>
#include <map>
#include <stdexcept>
#include <unsupported/Eigen/AutoDiff>

namespace mmtp::fit {
namespace {

using Dual = Eigen::AutoDiffScalar<Eigen::Matrix<double, 1, 1>>;

Dual dual(double value, double derivative = 0.0) { return Dual(value, Eigen::Matrix<double, 1, 1>(derivative)); }

/// Chebyshev T_k(x), k < size, in dual numbers.
void chebyshev(const Dual& x, int size, std::vector<Dual>& t) {
  t.assign(static_cast<std::size_t>(size), dual(1.0));
  if (size > 1) t[1] = x;
  for (int k = 2; k < size; ++k) t[k] = 2.0 * x * t[k - 1] - t[k - 2];
}

/// Monomial table x̂^a ŷ^b ẑ^c up to the largest rank of the basic moments (parents first).
struct Monomials {
  std::vector<std::array<int, 3>> powers;
  std::vector<std::array<int, 2>> parent;  // {lower monomial, axis}
  std::vector<int> of_basic;
  explicit Monomials(const MtpParameters& p) {
    int rank = 0;
    for (const auto& b : p.alpha_index_basic) rank = std::max(rank, b[1] + b[2] + b[3]);
    std::map<std::array<int, 3>, int> index;
    for (int n = 0; n <= rank; ++n)
      for (int a = n; a >= 0; --a)
        for (int b = n - a; b >= 0; --b) {
          const std::array<int, 3> pw{a, b, n - a - b};
          const int axis = a ? 0 : (b ? 1 : 2);
          std::array<int, 3> low = pw;
          if (n) --low[axis];
          parent.push_back({n ? index.at(low) : -1, axis});
          index[pw] = static_cast<int>(powers.size());
          powers.push_back(pw);
        }
    for (const auto& b : p.alpha_index_basic) of_basic.push_back(index.at({b[1], b[2], b[3]}));
  }
};

/// Adds ∂E/∂θ to `g` in dual numbers, where the dual part is the derivative along the
/// direction (δr, δε, δm): positions r_i + t δr_i, pair vectors (I + t δε) r_ij, moments
/// m_i + t δm_i. Same model as MagneticMtp (raw or symmetrized), written for clarity.
void energy_gradient(const MtpParameters& p, const Monomials& mono, const Structure& s, const NeighborList& nl,
                     const Eigen::Matrix3Xd& dr, const Eigen::Matrix3d& deps, const Eigen::VectorXd& dm, bool magnetic,
                     bool symmetrized, std::vector<Dual>& g) {
  const int R = p.radial_basis_size, NR = p.radial_funcs_count, M = p.magnetic_basis_size, S = p.species_count;
  const std::size_t species0 = p.radial_coeffs.size(), moment0 = species0 + static_cast<std::size_t>(S);
  const int nsign = symmetrized ? 2 : 1;
  const double weight = symmetrized ? 0.5 : 1.0;
  const double span = p.max_dist - p.min_dist, mspan = p.max_val - p.min_val;
  const int n_basic = static_cast<int>(p.alpha_index_basic.size());
  std::vector<Dual> Q, U, Ti, mom, adj, t;
  std::vector<std::vector<Dual>> Tj;
  for (Index i = 0; i < s.size(); ++i) {
    const Index begin = nl.offsets[i], nn = nl.offsets[i + 1] - begin;
    const int ti = s.species[i];
    Q.assign(static_cast<std::size_t>(R * nn), dual(0));
    U.assign(mono.powers.size() * static_cast<std::size_t>(nn), dual(1));
    std::vector<int> tj(static_cast<std::size_t>(nn));
    for (Index k = 0; k < nn; ++k) {
      const int j = nl.index[begin + k];
      tj[k] = s.species[j];
      const Eigen::Vector3d v = nl.vectors.col(begin + k);
      const Eigen::Vector3d vd = dr.col(j) - dr.col(i) + deps * v;
      const Dual x = dual(v[0], vd[0]), y = dual(v[1], vd[1]), z = dual(v[2], vd[2]);
      const Dual r = sqrt(x * x + y * y + z * z);
      const Dual u[3] = {x / r, y / r, z / r};
      const Dual rho = (2.0 * r - (p.min_dist + p.max_dist)) / span;
      const Dual cut = p.max_dist - r;
      Q[k * R] = p.scaling * cut * cut;
      if (R > 1) Q[k * R + 1] = rho * Q[k * R];
      for (int q = 2; q < R; ++q) Q[k * R + q] = 2.0 * rho * Q[k * R + q - 1] - Q[k * R + q - 2];
      for (std::size_t m = 1; m < mono.powers.size(); ++m)
        U[m * nn + k] = U[mono.parent[m][0] * nn + k] * u[mono.parent[m][1]];
    }
    for (int sg = 0; sg < nsign; ++sg) {
      const double sigma = sg == 0 ? 1.0 : -1.0;
      // Explicit Dual return: AutoDiff expressions must not outlive their operands.
      auto x_of = [&](Index atom) -> Dual {
        return (2.0 * sigma * dual(s.magmoms[atom], dm[atom]) - (p.min_val + p.max_val)) / mspan;
      };
      if (magnetic) chebyshev(x_of(i), M, Ti);
      else Ti.assign(static_cast<std::size_t>(M), dual(1));
      Tj.resize(static_cast<std::size_t>(nn));
      for (Index k = 0; k < nn; ++k) {
        if (magnetic) chebyshev(x_of(nl.index[begin + k]), M, Tj[k]);
        else Tj[k].assign(static_cast<std::size_t>(M), dual(1));
      }
      // Radial functions and basic moments.
      std::vector<Dual> f(static_cast<std::size_t>(NR * nn), dual(0));
      for (Index k = 0; k < nn; ++k)
        for (int mu = 0; mu < NR; ++mu) {
          Dual acc = dual(0);
          for (int x = 0; x < R; ++x)
            for (int a = 0; a < M; ++a)
              for (int b = 0; b < M; ++b) {
                const double c = p.radial_coeffs[p.radial_coeff_index(ti, tj[k], mu, x, a, b)];
                if (c != 0.0) acc += c * Q[k * R + x] * Ti[a] * Tj[k][b];
              }
          f[mu * nn + k] = acc;
        }
      mom.assign(static_cast<std::size_t>(p.alpha_moments_count), dual(0));
      for (int kb = 0; kb < n_basic; ++kb) {
        const int mu = p.alpha_index_basic[kb][0];
        const std::size_t m = static_cast<std::size_t>(mono.of_basic[kb]);
        for (Index k = 0; k < nn; ++k) mom[kb] += f[mu * nn + k] * U[m * nn + k];
      }
      for (const auto& tt : p.alpha_index_times) mom[tt[3]] += static_cast<double>(tt[2]) * mom[tt[0]] * mom[tt[1]];
      // ∂E/∂(species, moment coefficients); adjoints for the radial ones.
      g[species0 + static_cast<std::size_t>(ti)] += dual(weight);
      adj.assign(mom.size(), dual(0));
      for (int a = 0; a < p.alpha_scalar_moments(); ++a) {
        g[moment0 + static_cast<std::size_t>(a)] += weight * mom[p.alpha_moment_mapping[a]];
        adj[p.alpha_moment_mapping[a]] += dual(weight * p.moment_coeffs[a]);
      }
      for (auto tt = p.alpha_index_times.rbegin(); tt != p.alpha_index_times.rend(); ++tt) {
        const Dual gk = static_cast<double>((*tt)[2]) * adj[(*tt)[3]];
        adj[(*tt)[0]] += gk * mom[(*tt)[1]];
        adj[(*tt)[1]] += gk * mom[(*tt)[0]];
      }
      for (Index k = 0; k < nn; ++k)
        for (int mu = 0; mu < NR; ++mu) {
          Dual A = dual(0);
          for (int kb = 0; kb < n_basic; ++kb)
            if (p.alpha_index_basic[kb][0] == mu) A += adj[kb] * U[static_cast<std::size_t>(mono.of_basic[kb]) * nn + k];
          for (int x = 0; x < R; ++x)
            for (int a = 0; a < M; ++a)
              for (int b = 0; b < M; ++b) g[p.radial_coeff_index(ti, tj[k], mu, x, a, b)] += A * Q[k * R + x] * Ti[a] * Tj[k][b];
        }
    }
  }
}

}  // namespace

void Weights::validate() const {
  for (auto [v, name] : {std::pair{energy, "energy"}, {force, "force"}, {stress, "stress"}, {magnetic, "magnetic"}, {l2, "l2"}})
    if (!(v >= 0) || !std::isfinite(v)) throw std::invalid_argument(fmt::format("weight {} = {} must be >= 0", name, v));
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

double structure_objective(const MagneticMtp& model, const Sample& smp, const Weights& w, EvalMode mode,
                           Eigen::Ref<Eigen::VectorXd> gradient) {
  const MtpParameters& p = model.parameters();
  const Structure& s = smp.structure;
  const NeighborList nl = NeighborList::build(s, model.cutoff());
  const Result r = model.evaluate(s, nl, mode);
  const Index n = s.size();
  const double nd = static_cast<double>(std::max<Index>(1, n));
  const bool magnetic = p.magnetic && s.has_magmoms();
  double loss = 0.0, energy_coef = 0.0;
  Eigen::Matrix3Xd dr = Eigen::Matrix3Xd::Zero(3, n);
  Eigen::Matrix3d deps = Eigen::Matrix3d::Zero();
  Eigen::VectorXd dm = Eigen::VectorXd::Zero(n);
  if (smp.energy) {
    const double re = (r.energy - *smp.energy) / nd;
    loss += w.energy * re * re;
    energy_coef = 2.0 * w.energy * re / nd;
  }
  if (smp.forces && w.force > 0) {
    const Eigen::Matrix3Xd d = r.forces - *smp.forces;
    loss += w.force * d.squaredNorm();
    dr = -2.0 * w.force * d;  // F = −∂E/∂r
  }
  if (smp.virial && w.stress > 0) {
    const Eigen::Matrix3d d = (r.virial - *smp.virial) / nd;
    loss += w.stress * d.squaredNorm();
    deps = -2.0 * w.stress * d / nd;  // W = −∂E/∂ε
  }
  if (smp.dE_dm && magnetic && w.magnetic > 0) {
    const Eigen::VectorXd d = r.dE_dm - *smp.dE_dm;
    loss += w.magnetic * d.squaredNorm();
    dm = 2.0 * w.magnetic * d;
  }
  std::vector<Dual> g(p.parameter_count(), dual(0));
  energy_gradient(p, Monomials(p), s, nl, dr, deps, dm, magnetic, magnetic && mode == EvalMode::symmetrized, g);
  for (std::size_t q = 0; q < g.size(); ++q) gradient[static_cast<Index>(q)] += energy_coef * g[q].value() + g[q].derivatives()[0];
  return loss;
}

double objective(const MtpParameters& p, const std::vector<Sample>& data, const Weights& w, EvalMode mode,
                 Eigen::VectorXd* gradient) {
  w.validate();
  const MagneticMtp model(p);
  const Index np = static_cast<Index>(p.parameter_count());
  const int nthreads = omp_get_max_threads();
  std::vector<Eigen::VectorXd> grads(static_cast<std::size_t>(nthreads), Eigen::VectorXd::Zero(np));
  std::vector<double> losses(static_cast<std::size_t>(nthreads), 0.0);
  std::exception_ptr error;
#pragma omp parallel num_threads(nthreads)
  {
    const int t = omp_get_thread_num();
#pragma omp for schedule(static)
    for (std::size_t k = 0; k < data.size(); ++k) {
      try {
        losses[t] += structure_objective(model, data[k], w, mode, grads[t]);
      } catch (...) {
#pragma omp critical
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
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

double solve_linear(MtpParameters& p, const std::vector<Sample>& data, const Weights& w, EvalMode mode, double ridge) {
  w.validate();
  if (data.empty()) throw std::invalid_argument("no training data");
  const Index nr = static_cast<Index>(p.radial_coeffs.size()), nl_par = static_cast<Index>(p.species_count) + p.alpha_scalar_moments();
  const MagneticMtp model(p);
  const Monomials mono(p);
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
    auto add_mine = [&](const Eigen::VectorXd& row, double target, double weight) {
      my_normal.noalias() += weight * row * row.transpose();
      my_rhs.noalias() += weight * target * row;
    };
#pragma omp for schedule(static)
    for (std::size_t k = 0; k < data.size(); ++k) {
      const Sample& smp = data[k];
      const Structure& s = smp.structure;
      const Index n = s.size();
      const double nd = static_cast<double>(std::max<Index>(1, n));
      const bool magnetic = p.magnetic && s.has_magmoms();
      const bool sym = magnetic && mode == EvalMode::symmetrized;
      const NeighborList nl = NeighborList::build(s, model.cutoff());
      // Direction d → derivative of the linear features (columns of the species and moment part).
      auto features = [&](const Eigen::Matrix3Xd& dr, const Eigen::Matrix3d& deps, const Eigen::VectorXd& dm, Eigen::VectorXd* value) {
        std::vector<Dual> g(p.parameter_count(), dual(0));
        energy_gradient(p, mono, s, nl, dr, deps, dm, magnetic, sym, g);
        Eigen::VectorXd d(nl_par);
        if (value) value->resize(nl_par);
        for (Index q = 0; q < nl_par; ++q) {
          d[q] = g[static_cast<std::size_t>(nr + q)].derivatives()[0];
          if (value) (*value)[q] = g[static_cast<std::size_t>(nr + q)].value();
        }
        return d;
      };
      const Eigen::Matrix3Xd zr = Eigen::Matrix3Xd::Zero(3, n);
      const Eigen::VectorXd zm = Eigen::VectorXd::Zero(n);
      Eigen::VectorXd value;
      features(zr, Eigen::Matrix3d::Zero(), zm, &value);
      if (smp.energy) add_mine(value / nd, *smp.energy / nd, w.energy);
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
            add_mine(-features(zr, e, zm, nullptr) / nd, (*smp.virial)(a, b) / nd, w.stress);
          }
      if (smp.dE_dm && magnetic && w.magnetic > 0)
        for (Index i = 0; i < n; ++i) {
          Eigen::VectorXd dm = zm;
          dm[i] = 1.0;
          add_mine(features(zr, Eigen::Matrix3d::Zero(), dm, nullptr), (*smp.dE_dm)[i], w.magnetic);
        }
    }
  }
  for (std::size_t t = 0; t < normals.size(); ++t) {  // in thread order: deterministic
    normal += normals[t];
    rhs += rhss[t];
  }
  const double scale = std::max(1.0, normal.diagonal().maxCoeff());
  normal.diagonal().array() += ridge * scale;
  const Eigen::VectorXd x = normal.ldlt().solve(rhs);
  for (int t = 0; t < p.species_count; ++t) p.species_coeffs[t] = x[t];
  for (int a = 0; a < p.alpha_scalar_moments(); ++a) p.moment_coeffs[a] = x[p.species_count + a];
  return objective(p, data, w, mode, nullptr);
}

}  // namespace mmtp::fit
