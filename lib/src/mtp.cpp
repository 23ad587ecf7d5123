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
  Eigen::Array3Xd unit, vec;  // r̂_ij and r_ij in type-sorted neighbour order
  std::vector<int> atom;      // neighbour atom index, type-sorted
  std::vector<Index> type_start;  // neighbours of type t are type_start[t]..type_start[t+1]-1
  RowArray G, Gr, Gm;         // Q_ξ T_b, Q'_ξ T_b, Q_ξ T'_b dx/dm: (R·M) × nn
  RowArray Q, dQ;       // radial basis and d/dr, R × nn
  RowArray U;           // angular monomials, n_monomials × nn
  RowArray F[2], dF[2], dFmj[2], dFmi[2];  // radial functions and derivatives, per sign, NR × nn
  RowArray A[2];        // ∂E/∂f_μ(r_ij) per sign, NR × nn
  RowArray B;           // Σ_k adj_k f_μk, per monomial, both signs, n_monomials × nn
  RowArray Tj[2], dTj[2];  // neighbour magnetic basis, M × nn
  std::vector<double> C[2], Cd[2];  // coefficients contracted with the central atom's basis
  Eigen::VectorXd mom[2], adj[2];

  void resize(Index nn, const MtpParameters& p, int n_monomials) {
    if (r.size() >= nn && U.rows() == n_monomials) return;
    // At least one column: an isolated atom (nn = 0) then takes empty head(0) blocks of
    // allocated arrays, never offsets into a null one.
    const Index cap = std::max<Index>({nn, 2 * r.size(), 1});
    const int R = p.radial_basis_size, NR = p.radial_funcs_count, M = p.magnetic_basis_size;
    r.resize(cap);
    inv_r.resize(cap);
    unit.resize(3, cap);
    vec.resize(3, cap);
    atom.resize(static_cast<std::size_t>(cap));
    G.resize(R * M, cap);
    Gr.resize(R * M, cap);
    Gm.resize(R * M, cap);
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
  return evaluate(s, NeighborList::build(s, cutoff()), mode);  // build() validates s
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
  // The team size is known only inside the region (1 when called from another parallel
  // region, since nesting is off), so each thread's accumulator is made there.
  std::vector<Result> partial;
  std::exception_ptr error;
#pragma omp parallel
  {
#pragma omp single
    partial.resize(static_cast<std::size_t>(omp_get_num_threads()));
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
  // Extrapolation far outside the trained region (moments of 10⁶ μB, coefficients that
  // overflow) can leave double range: refuse rather than hand on inf or NaN.
  if (!std::isfinite(res.energy) || !res.forces.allFinite() || !res.virial.allFinite() || !res.dE_dm.allFinite())
    throw Error(fmt::format("the energy or its derivatives overflow (E = {}): the structure is far outside the potential's "
                            "trained region ({} moments outside [{}, {}] μB, shortest pair {:.3g} Å)",
                            res.energy, res.extrapolation.moments_out_of_range, p_.min_val, p_.max_val,
                            res.extrapolation.min_distance));
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

  // Neighbours sorted by type (counting sort), so that radial functions are computed for
  // contiguous runs of one coefficient set. Distances, unit vectors, extrapolation flags.
  w.type_start.assign(static_cast<std::size_t>(S + 1), 0);
  for (Index k = 0; k < nn; ++k) ++w.type_start[s.species[nl.index[begin + k]] + 1];
  for (int t = 0; t < S; ++t) w.type_start[t + 1] += w.type_start[t];
  {
    std::vector<Index> fill(w.type_start.begin(), w.type_start.end() - 1);
    for (Index k = 0; k < nn; ++k) {
      const int j = nl.index[begin + k];
      const Index q = fill[s.species[j]]++;
      const double r = nl.vectors.col(begin + k).norm();
      if (r < 1e-8) throw Error(fmt::format("atoms {} and {} coincide (distance {:.3g} Å)", i + 1, j + 1, r));
      w.atom[q] = j;
      w.vec.col(q) = nl.vectors.col(begin + k);
      w.r[q] = r;
      w.inv_r[q] = 1.0 / r;
      w.unit.col(q) = nl.vectors.col(begin + k) / r;
      if (r < p_.min_dist) ++out.extrapolation.short_pairs;
      out.extrapolation.min_distance = std::min(out.extrapolation.min_distance, r);
    }
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
        chebyshev(x(s.magmoms[w.atom[k]]), M, t, dt);
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

  // Radial functions f_μ(r_ij, m_i, m_j) and their derivatives in r (and m_j, m_i), as sums
  // of basis rows over each run of neighbours of one type (vectorised over neighbours).
  const int RM = R * M;
  for (int sg = 0; sg < nsign; ++sg) {
    if (magnetic)
      for (int x = 0; x < R; ++x)
        for (int b = 0; b < M; ++b) {
          w.G.row(x * M + b).head(nn) = w.Q.row(x).head(nn) * w.Tj[sg].row(b).head(nn);
          w.Gr.row(x * M + b).head(nn) = w.dQ.row(x).head(nn) * w.Tj[sg].row(b).head(nn);
          w.Gm.row(x * M + b).head(nn) = dx_dm[sg] * w.Q.row(x).head(nn) * w.dTj[sg].row(b).head(nn);
        }
    const RowArray& basis = magnetic ? w.G : w.Q;
    const RowArray& dbasis = magnetic ? w.Gr : w.dQ;
    const int width = magnetic ? RM : R;
    for (int t = 0; t < S; ++t) {
      const Index k0 = w.type_start[t], len = w.type_start[t + 1] - k0;
      if (len == 0) continue;
      for (int mu = 0; mu < NR; ++mu) {
        const std::size_t at = (static_cast<std::size_t>(t) * NR + mu) * width;
        const double* c = &w.C[sg][at];
        auto f = w.F[sg].row(mu).segment(k0, len);
        auto fr = w.dF[sg].row(mu).segment(k0, len);
        f = c[0] * basis.row(0).segment(k0, len);
        fr = c[0] * dbasis.row(0).segment(k0, len);
        for (int q = 1; q < width; ++q) {
          f += c[q] * basis.row(q).segment(k0, len);
          fr += c[q] * dbasis.row(q).segment(k0, len);
        }
        if (!magnetic) continue;
        const double* cd = &w.Cd[sg][at];
        auto fmj = w.dFmj[sg].row(mu).segment(k0, len);
        auto fmi = w.dFmi[sg].row(mu).segment(k0, len);
        fmj = c[0] * w.Gm.row(0).segment(k0, len);
        fmi = cd[0] * w.G.row(0).segment(k0, len);
        for (int q = 1; q < width; ++q) {
          fmj += c[q] * w.Gm.row(q).segment(k0, len);
          fmi += cd[q] * w.G.row(q).segment(k0, len);
        }
      }
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

  if (nn == 0) return energy;  // an isolated atom: E_i = the species coefficient, no gradient

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
    const int j = w.atom[k];
    out.forces.col(i) += grad;
    out.forces.col(j) -= grad;
    out.virial.noalias() -= grad * w.vec.col(k).matrix().transpose();
    if (magnetic) out.dE_dm[j] += dmj[k];
  }
  if (magnetic) out.dE_dm[i] += dmi;
  return energy;
}

}  // namespace mmtp
