#include "mmtp/mtp.hpp"

#include <fmt/core.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <map>
#include <stdexcept>

#include "mmtp/error.hpp"

namespace mmtp {
namespace {

using RowArray = Eigen::Array<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Chebyshev polynomials T_k(x) and dT_k/dx, k < size.
void chebyshev(double x, int size, double* t, double* dt) {
  t[0] = 1.0;
  dt[0] = 0.0;
  if (size > 1) {
    t[1] = x;
    dt[1] = 1.0;
  }
  for (int k = 2; k < size; ++k) {
    t[k] = 2.0 * x * t[k - 1] - t[k - 2];
    dt[k] = 2.0 * t[k - 1] + 2.0 * x * dt[k - 1] - dt[k - 2];
  }
}

}  // namespace

/// Scratch memory of one thread; columns are neighbours, rows are features.
struct MagneticMtp::Workspace {
  Eigen::ArrayXd r, inv_r;
  Eigen::Array3Xd unit;
  RowArray Q, dQ;       // radial basis and d/dr, R × nn
  RowArray U;           // angular monomials, n_monomials × nn
  RowArray F[2], dF[2], dFmj[2], dFmi[2];  // radial functions and derivatives, per sign, NR × nn
  RowArray A[2];        // ∂E/∂f_μ(r_ij) per sign, NR × nn
  RowArray B;           // Σ_k adj_k f_μk, per monomial, both signs, n_monomials × nn
  RowArray Tj[2], dTj[2];  // neighbour magnetic basis, M × nn
  std::vector<double> C[2], Cd[2];  // coefficients contracted with the central atom's basis
  Eigen::VectorXd mom[2], adj[2];
  std::vector<double> g, gr, gm;

  void resize(Index nn, const MtpParameters& p, int n_monomials) {
    if (r.size() >= nn && U.rows() == n_monomials) return;
    const Index cap = std::max<Index>(nn, 2 * r.size());
    const int R = p.radial_basis_size, NR = p.radial_funcs_count, M = p.magnetic_basis_size;
    r.resize(cap);
    inv_r.resize(cap);
    unit.resize(3, cap);
    Q.resize(R, cap);
    dQ.resize(R, cap);
    U.resize(n_monomials, cap);
    B.resize(n_monomials, cap);
    for (int s = 0; s < 2; ++s) {
      for (RowArray* a : {&F[s], &dF[s], &dFmj[s], &dFmi[s], &A[s]}) a->resize(NR, cap);
      Tj[s].resize(M, cap);
      dTj[s].resize(M, cap);
      C[s].resize(static_cast<std::size_t>(p.species_count) * NR * R * M);
      Cd[s].resize(C[s].size());
      mom[s].resize(p.alpha_moments_count);
      adj[s].resize(p.alpha_moments_count);
    }
    g.resize(static_cast<std::size_t>(R) * M);
    gr.resize(g.size());
    gm.resize(g.size());
  }
};

MagneticMtp::MagneticMtp(MtpParameters p) : p_(std::move(p)) {
  p_.validate(/*require_coefficients=*/true);
  int max_rank = 0;
  for (const auto& b : p_.alpha_index_basic) max_rank = std::max(max_rank, b[1] + b[2] + b[3]);
  // Monomials ordered by rank, so that every monomial's lower ones come before it.
  std::map<std::array<int, 3>, int> index;
  for (int n = 0; n <= max_rank; ++n)
    for (int a = n; a >= 0; --a)
      for (int b = n - a; b >= 0; --b) {
        const int c = n - a - b;
        Monomial m{a, b, c, {-1, -1, -1}};
        if (a) m.lower[0] = index.at({a - 1, b, c});
        if (b) m.lower[1] = index.at({a, b - 1, c});
        if (c) m.lower[2] = index.at({a, b, c - 1});
        index[{a, b, c}] = static_cast<int>(monomials_.size());
        monomials_.push_back(m);
      }
  std::vector<bool> used(monomials_.size(), false);
  for (const auto& b : p_.alpha_index_basic) {
    const int m = index.at({b[1], b[2], b[3]});
    basic_mu_.push_back(b[0]);
    basic_monomial_.push_back(m);
    used[m] = true;
  }
  for (std::size_t m = 0; m < used.size(); ++m)
    if (used[m] && m > 0) used_monomials_.push_back(static_cast<int>(m));
}

Result MagneticMtp::evaluate(const Structure& s, EvalMode mode) const {
  s.validate();
  return evaluate(s, NeighborList::build(s, cutoff()), mode);
}

Result MagneticMtp::evaluate(const Structure& s, const NeighborList& nl, EvalMode mode) const {
  const Index n = s.size();
  if (static_cast<Index>(nl.offsets.size()) != n + 1 || nl.cutoff < cutoff())
    throw std::invalid_argument("neighbour list does not match the structure or its cutoff is too short");
  for (Index i = 0; i < n; ++i)
    if (s.species[i] >= p_.species_count)
      throw std::invalid_argument(fmt::format("atom {} has species {} but the potential has {} species", i + 1,
                                              s.species[i], p_.species_count));
  const bool magnetic = p_.magnetic && s.has_magmoms();
  const bool symmetrized = magnetic && mode == EvalMode::symmetrized;

  Result res;
  res.site_energies = Eigen::VectorXd::Zero(n);
  const int nthreads = omp_get_max_threads();
  std::vector<Result> partial(static_cast<std::size_t>(nthreads));
  std::exception_ptr error;
#pragma omp parallel num_threads(nthreads)
  {
    const int t = omp_get_thread_num();
    Result& mine = partial[static_cast<std::size_t>(t)];
    mine.forces = Eigen::Matrix3Xd::Zero(3, n);
    mine.dE_dm = Eigen::VectorXd::Zero(magnetic ? n : 0);
    mine.virial.setZero();
    Workspace w;
#pragma omp for schedule(static)
    for (Index i = 0; i < n; ++i) {
      try {
        res.site_energies[i] = site(s, nl, i, magnetic, symmetrized, w, mine);
      } catch (...) {
#pragma omp critical
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);

  // Reduce in thread order: deterministic for a given thread count.
  res.forces = partial[0].forces;
  res.dE_dm = partial[0].dE_dm;
  res.virial = partial[0].virial;
  res.extrapolation = partial[0].extrapolation;
  for (std::size_t t = 1; t < partial.size(); ++t) {
    res.forces += partial[t].forces;
    res.dE_dm += partial[t].dE_dm;
    res.virial += partial[t].virial;
    auto& x = res.extrapolation;
    const auto& y = partial[t].extrapolation;
    x.short_pairs += y.short_pairs;
    x.min_distance = std::min(x.min_distance, y.min_distance);
  }
  res.energy = res.site_energies.sum();
  if (magnetic)
    for (Index i = 0; i < n; ++i)
      if (s.magmoms[i] < p_.min_val || s.magmoms[i] > p_.max_val ||
          (symmetrized && (-s.magmoms[i] < p_.min_val || -s.magmoms[i] > p_.max_val)))
        ++res.extrapolation.moments_out_of_range;
  return res;
}

/// Site energy of atom i and its derivatives (Shapeev 2016 Eqs. 2-5; magnetic radial
/// functions of Novikov et al. 2022 Eq. 4; symmetrization of Kotykhov et al. 2023 Eq. 6).
/// Forward: radial functions f_μ, basic moments, products; backward: adjoints of all moments,
/// then ∂E_i/∂r_ij and ∂E_i/∂m through the basic moments. Accumulates into `out`
/// (forces, dE_dm, virial, extrapolation) and returns E_i [eV].
double MagneticMtp::site(const Structure& s, const NeighborList& nl, Index i, bool magnetic, bool symmetrized,
                       Workspace& w, Result& out) const {
  const Index begin = nl.offsets[i];
  const Index nn = nl.offsets[i + 1] - begin;
  const int ti = s.species[i];
  const int R = p_.radial_basis_size, NR = p_.radial_funcs_count, M = p_.magnetic_basis_size;
  const int S = p_.species_count;
  const int nsign = symmetrized ? 2 : 1;
  const double weight = symmetrized ? 0.5 : 1.0;
  const int n_mono = static_cast<int>(monomials_.size());
  w.resize(nn, p_, n_mono);

  // Distances, unit vectors, extrapolation flags.
  for (Index k = 0; k < nn; ++k) {
    const double r = nl.vectors.col(begin + k).norm();
    if (r < 1e-8)
      throw Error(fmt::format("atoms {} and {} coincide (distance {:.3g} Å)", i + 1, nl.index[begin + k] + 1, r));
    w.r[k] = r;
    w.inv_r[k] = 1.0 / r;
    w.unit.col(k) = nl.vectors.col(begin + k) / r;
    if (r < p_.min_dist) ++out.extrapolation.short_pairs;
    out.extrapolation.min_distance = std::min(out.extrapolation.min_distance, r);
  }
  const auto r = w.r.head(nn);

  // Radial basis Q_ξ(r) = scaling·T_ξ(ρ)·(R_cut − r)² and dQ/dr, by the Chebyshev recurrence
  // applied to the products (it is linear, so the smoothing factor carries through).
  {
    const double span = p_.max_dist - p_.min_dist, drho = 2.0 / span;
    const Eigen::ArrayXd rho = (2.0 * r - (p_.min_dist + p_.max_dist)) / span;
    const Eigen::ArrayXd cut = p_.max_dist - r;
    w.Q.row(0).head(nn) = p_.scaling * cut.square();
    w.dQ.row(0).head(nn) = -2.0 * p_.scaling * cut;
    if (R > 1) {
      w.Q.row(1).head(nn) = rho.transpose() * w.Q.row(0).head(nn);
      w.dQ.row(1).head(nn) = drho * w.Q.row(0).head(nn) + rho.transpose() * w.dQ.row(0).head(nn);
    }
    for (int x = 2; x < R; ++x) {
      w.Q.row(x).head(nn) = 2.0 * rho.transpose() * w.Q.row(x - 1).head(nn) - w.Q.row(x - 2).head(nn);
      w.dQ.row(x).head(nn) = 2.0 * (drho * w.Q.row(x - 1).head(nn) + rho.transpose() * w.dQ.row(x - 1).head(nn)) -
                             w.dQ.row(x - 2).head(nn);
    }
  }

  // Angular monomials x̂^a ŷ^b ẑ^c.
  w.U.row(0).head(nn).setOnes();
  for (int m = 1; m < n_mono; ++m) {
    const auto& mono = monomials_[m];
    const int axis = mono.a ? 0 : (mono.b ? 1 : 2);
    w.U.row(m).head(nn) = w.U.row(mono.lower[axis]).head(nn) * w.unit.row(axis).head(nn);
  }

  // Magnetic basis per sign σ: T_a(x(σ m)); x' = dx/dm for the chain rule.
  const double mspan = p_.max_val - p_.min_val;
  double Ti[2][64], dTi[2][64], dx_dm[2] = {0.0, 0.0};
  for (int sg = 0; sg < nsign; ++sg) {
    const double sigma = sg == 0 ? 1.0 : -1.0;
    if (magnetic) {
      dx_dm[sg] = 2.0 * sigma / mspan;
      const auto x = [&](double m) { return (2.0 * sigma * m - (p_.min_val + p_.max_val)) / mspan; };
      chebyshev(x(s.magmoms[i]), M, Ti[sg], dTi[sg]);
      for (Index k = 0; k < nn; ++k) {
        double t[64], dt[64];
        chebyshev(x(s.magmoms[nl.index[begin + k]]), M, t, dt);
        for (int b = 0; b < M; ++b) {
          w.Tj[sg](b, k) = t[b];
          w.dTj[sg](b, k) = dt[b];
        }
      }
    } else {
      // No magnetic basis (M = 1, T_0 = 1), or no moments given: MLIP-3 sets all to 1.
      std::fill(Ti[sg], Ti[sg] + M, 1.0);
      std::fill(dTi[sg], dTi[sg] + M, 0.0);
    }
    // Contract the central atom's magnetic index: C[tj][μ][ξ·M + b] = Σ_a c[..a..] T_a(x_i).
    // Without moments every T is 1, so the neighbour's index is summed too: C[tj][μ][ξ].
    const int Mj = magnetic ? M : 1;
    for (int tj = 0; tj < S; ++tj)
      for (int mu = 0; mu < NR; ++mu)
        for (int x = 0; x < R; ++x)
          for (int b = 0; b < Mj; ++b) {
            double c = 0.0, cd = 0.0;
            for (int a = 0; a < M; ++a)
              for (int bb = magnetic ? b : 0; bb < (magnetic ? b + 1 : M); ++bb) {
                const double coef = p_.radial_coeffs[p_.radial_coeff_index(ti, tj, mu, x, a, bb)];
                c += coef * Ti[sg][a];
                cd += coef * dTi[sg][a];
              }
            const std::size_t at = ((static_cast<std::size_t>(tj) * NR + mu) * R + x) * Mj + b;
            w.C[sg][at] = c;
            w.Cd[sg][at] = cd * dx_dm[sg];
          }
  }

  // Radial functions f_μ(r_ij, m_i, m_j) and their derivatives in r (and m_j, m_i).
  const int RM = R * M;
  for (int sg = 0; sg < nsign; ++sg)
    for (Index k = 0; k < nn; ++k) {
      const int tj = s.species[nl.index[begin + k]];
      if (!magnetic) {
        // f_μ = Σ_ξ C_μξ Q_ξ.
        for (int mu = 0; mu < NR; ++mu) {
          const double* c = &w.C[sg][(static_cast<std::size_t>(tj) * NR + mu) * R];
          double f = 0, fr = 0;
          for (int x = 0; x < R; ++x) {
            f += c[x] * w.Q(x, k);
            fr += c[x] * w.dQ(x, k);
          }
          w.F[sg](mu, k) = f;
          w.dF[sg](mu, k) = fr;
        }
        continue;
      }
      const std::size_t row0 = static_cast<std::size_t>(tj) * NR * RM;
      for (int x = 0; x < R; ++x)
        for (int b = 0; b < M; ++b) {
          w.g[x * M + b] = w.Q(x, k) * w.Tj[sg](b, k);
          w.gr[x * M + b] = w.dQ(x, k) * w.Tj[sg](b, k);
          w.gm[x * M + b] = w.Q(x, k) * w.dTj[sg](b, k) * dx_dm[sg];
        }
      for (int mu = 0; mu < NR; ++mu) {
        const double* c = &w.C[sg][row0 + static_cast<std::size_t>(mu) * RM];
        const double* cd = &w.Cd[sg][row0 + static_cast<std::size_t>(mu) * RM];
        double f = 0, fr = 0, fmj = 0, fmi = 0;
        for (int q = 0; q < RM; ++q) {
          f += c[q] * w.g[q];
          fr += c[q] * w.gr[q];
          fmj += c[q] * w.gm[q];
          fmi += cd[q] * w.g[q];
        }
        w.F[sg](mu, k) = f;
        w.dF[sg](mu, k) = fr;
        w.dFmj[sg](mu, k) = fmj;
        w.dFmi[sg](mu, k) = fmi;
      }
    }

  // Forward and backward through the moments, per sign.
  const int n_basic = static_cast<int>(basic_mu_.size());
  w.B.topLeftCorner(n_mono, nn).setZero();
  double energy = 0.0;
  for (int sg = 0; sg < nsign; ++sg) {
    auto& mom = w.mom[sg];
    auto& adj = w.adj[sg];
    for (int kb = 0; kb < n_basic; ++kb)
      mom[kb] = (w.F[sg].row(basic_mu_[kb]).head(nn) * w.U.row(basic_monomial_[kb]).head(nn)).sum();
    mom.tail(p_.alpha_moments_count - n_basic).setZero();
    for (const auto& t : p_.alpha_index_times) mom[t[3]] += t[2] * mom[t[0]] * mom[t[1]];
    double e = p_.species_coeffs[ti];
    adj.setZero();
    for (int a = 0; a < p_.alpha_scalar_moments(); ++a) {
      e += p_.moment_coeffs[a] * mom[p_.alpha_moment_mapping[a]];
      adj[p_.alpha_moment_mapping[a]] += weight * p_.moment_coeffs[a];
    }
    energy += weight * e;
    for (auto t = p_.alpha_index_times.rbegin(); t != p_.alpha_index_times.rend(); ++t) {
      const double g = (*t)[2] * adj[(*t)[3]];
      if (g == 0.0) continue;
      adj[(*t)[0]] += g * mom[(*t)[1]];
      adj[(*t)[1]] += g * mom[(*t)[0]];
    }
    w.A[sg].topLeftCorner(NR, nn).setZero();
    for (int kb = 0; kb < n_basic; ++kb) {
      const double a = adj[kb];
      if (a == 0.0) continue;
      w.A[sg].row(basic_mu_[kb]).head(nn) += a * w.U.row(basic_monomial_[kb]).head(nn);
      w.B.row(basic_monomial_[kb]).head(nn) += a * w.F[sg].row(basic_mu_[kb]).head(nn);
    }
  }

  // ∂E_i/∂r_ij = r̂ Σ_μ A_μ f'_μ + (1/r)[Σ_m B_m ∇_û(û^m) − r̂ Σ_m |m| B_m û^m].
  Eigen::ArrayXd radial = Eigen::ArrayXd::Zero(nn), dmj = Eigen::ArrayXd::Zero(nn);
  double dmi = 0.0;
  for (int sg = 0; sg < nsign; ++sg)
    for (int mu = 0; mu < NR; ++mu) {
      radial += (w.A[sg].row(mu).head(nn) * w.dF[sg].row(mu).head(nn)).transpose();
      if (magnetic) {
        dmj += (w.A[sg].row(mu).head(nn) * w.dFmj[sg].row(mu).head(nn)).transpose();
        dmi += (w.A[sg].row(mu).head(nn) * w.dFmi[sg].row(mu).head(nn)).sum();
      }
    }
  Eigen::Array3Xd ang = Eigen::Array3Xd::Zero(3, nn);
  Eigen::ArrayXd rank_sum = Eigen::ArrayXd::Zero(nn);
  for (int m : used_monomials_) {
    const auto& mono = monomials_[m];
    const auto Bm = w.B.row(m).head(nn);
    const int pw[3] = {mono.a, mono.b, mono.c};
    for (int d = 0; d < 3; ++d)
      if (pw[d]) ang.row(d) += pw[d] * Bm * w.U.row(mono.lower[d]).head(nn);
    rank_sum += ((mono.a + mono.b + mono.c) * Bm * w.U.row(m).head(nn)).transpose();
  }
  for (Index k = 0; k < nn; ++k) {
    const Eigen::Vector3d u = w.unit.col(k);
    const Eigen::Vector3d grad = u * radial[k] + w.inv_r[k] * (ang.col(k).matrix() - u * rank_sum[k]);
    const int j = nl.index[begin + k];
    out.forces.col(i) += grad;
    out.forces.col(j) -= grad;
    out.virial.noalias() -= grad * nl.vectors.col(begin + k).transpose();
    if (magnetic) out.dE_dm[j] += dmj[k];
  }
  if (magnetic) out.dE_dm[i] += dmi;
  return energy;
}

}  // namespace mmtp
