#include "mmtp/mtp.hpp"

#include <fmt/core.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <stdexcept>

#include "equations.hpp"
#include "mmtp/error.hpp"

namespace mmtp {

/// Scratch memory of one thread; columns are neighbours, rows are features.
struct MagneticMtp::Workspace {
  SiteGeometry geometry;  // the site's geometry when none was computed beforehand
  RowArray<double> G, Gr, Gm;  // Q_ξ ψ_b, Q'_ξ ψ_b, Q_ξ ψ'_b: (R·M) × nn
  RowArray<double> F[2], dF[2], dFmj[2], dFmi[2];  // radial functions and derivatives per sign, NR × nn
  RowArray<double> A[2];  // ∂E/∂f_μ(r_ij) per sign, NR × nn
  RowArray<double> B;     // Σ_k adj_k f_μk per monomial, both signs, n_monomials × nn
  RowArray<double> ang;   // Σ_m B_m ∇_û(û^m), 3 × nn
  RowArray<double> per_pair;  // rows: ∂E_i/∂m_j, Σ_μ A_μ f'_μ, Σ_m |m| B_m û^m; 3 × nn
  RowArray<double> psi_j[2], dpsi_j[2];  // neighbour magnetic basis, M × nn
  std::vector<double> C[2], Cd[2];       // coefficients contracted with the central atom's basis
  std::vector<double> P;                 // adjoints by radial function and monomial
  std::vector<equations::SignPair<double>> mom, adj;  // moments and their adjoints, both signs

  void resize(Index nn, const MtpParameters& p, int n_monomials) {
    if (G.cols() >= nn && B.rows() == n_monomials && G.cols() > 0) return;
    // At least one column: an isolated atom (nn = 0) then takes empty head(0) blocks of
    // allocated arrays, never offsets into a null one.
    const Index cap = std::max<Index>({nn, 2 * G.cols(), 1});
    const int R = p.radial_basis_size, NR = p.radial_funcs_count, M = p.magnetic_basis_size;
    for (RowArray<double>* a : {&G, &Gr, &Gm}) a->resize(R * M, cap);
    B.resize(n_monomials, cap);
    ang.resize(3, cap);
    per_pair.resize(3, cap);
    for (int s = 0; s < 2; ++s) {
      for (RowArray<double>* a : {&F[s], &dF[s], &dFmj[s], &dFmi[s], &A[s]}) a->resize(NR, cap);
      psi_j[s].resize(M, cap);
      dpsi_j[s].resize(M, cap);
    }
  }
};

MagneticMtp::MagneticMtp(MtpParameters p)
    : p_((p.validate(/*require_coefficients=*/true), std::move(p))), monomials_(p_), schedule_(equations::contraction_schedule(p_)) {}

Result MagneticMtp::evaluate(const Structure& s, EvalMode mode) const {
  return evaluate(s, NeighborList::build(s, cutoff()), mode);  // build() validates s
}

Result MagneticMtp::evaluate(const Structure& s, const NeighborList& nl, EvalMode mode) const {
  if (static_cast<Index>(nl.offsets.size()) != s.size() + 1 || nl.cutoff < cutoff())
    throw std::invalid_argument("neighbour list does not match the structure or its cutoff is too short");
  return evaluate_sites(s, mode, Derivatives::all, [&](Index i, Workspace& w) -> const SiteGeometry& {
    w.geometry.build(p_, monomials_, s, nl, i);
    return w.geometry;
  });
}

Result MagneticMtp::evaluate(const Structure& s, const Geometry& g, EvalMode mode, Derivatives what) const {
  if (g.size() != s.size() || !g.fits(p_)) throw std::invalid_argument("the geometry was computed for another structure or basis");
  return evaluate_sites(s, mode, what, [&](Index i, Workspace&) -> const SiteGeometry& { return g.site(i); });
}

/// Eq. 1: E = Σ_i E_i, with the derivatives of every site accumulated per thread.
template <class SiteOf>
Result MagneticMtp::evaluate_sites(const Structure& s, EvalMode mode, Derivatives what, const SiteOf& site_of) const {
  const Index n = s.size();
  for (Index i = 0; i < n; ++i)
    if (s.species[i] >= p_.species_count)
      throw InputError(fmt::format("atom {} has species {} but the potential has {} species", i + 1,
                                              s.species[i], p_.species_count));
  const bool magnetic = p_.magnetic && s.has_magmoms();
  const bool symmetrized = magnetic && mode == EvalMode::symmetrized;
  const equations::MomentScale scale(p_);

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
    Result& mine = partial[static_cast<std::size_t>(omp_get_thread_num())];
    mine.forces = Eigen::Matrix3Xd::Zero(3, what == Derivatives::all ? n : 0);
    mine.dE_dm = Eigen::VectorXd::Zero(magnetic ? n : 0);
    mine.virial.setZero();
    Workspace w;
#pragma omp for schedule(static)
    for (Index i = 0; i < n; ++i) {
      try {
        const SiteGeometry& g = site_of(i, w);
        res.site_energies[i] = site(s, g, i, magnetic, symmetrized, what, scale, w, mine);
        mine.extrapolation.short_pairs += g.short_pairs;
        mine.extrapolation.min_distance = std::min(mine.extrapolation.min_distance, g.min_distance);
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
    res.extrapolation.short_pairs += partial[t].extrapolation.short_pairs;
    res.extrapolation.min_distance = std::min(res.extrapolation.min_distance, partial[t].extrapolation.min_distance);
  }
  if (what != Derivatives::all) res.forces = Eigen::Matrix3Xd::Zero(3, n);
  res.energy = res.site_energies.sum();
  if (magnetic)
    for (Index i = 0; i < n; ++i) {
      const auto [lo, hi] = p_.moment_range(s.species[i]);
      const double m = s.magmoms[i];
      if (m < lo || m > hi || (symmetrized && (-m < lo || -m > hi))) ++res.extrapolation.moments_out_of_range;
    }
  // Extrapolation far outside the trained region (moments of 10⁶ μB, coefficients that
  // overflow) can leave double range: refuse rather than hand on inf or NaN.
  if (!std::isfinite(res.energy) || !res.forces.allFinite() || !res.virial.allFinite() || !res.dE_dm.allFinite())
    throw Error(fmt::format("the energy or its derivatives overflow (E = {}): the structure is far outside the potential's "
                            "trained region ({} moments outside their range, shortest pair {:.3g} Å)",
                            res.energy, res.extrapolation.moments_out_of_range, res.extrapolation.min_distance));
  return res;
}

/// Site energy E_i of atom i (Eq. 2, through Eqs. 3, 4 and 6 of equations.hpp) and its
/// derivatives: ∂E_i/∂m always (when magnetic), forces and virial when `what` is all.
/// Accumulates into `out` and returns E_i [eV].
double MagneticMtp::site(const Structure& s, const SiteGeometry& g, Index i, bool magnetic, bool symmetrized,
                         Derivatives what, const equations::MomentScale& scale, Workspace& w, Result& out) const {
  const Index nn = g.nn;
  const int ti = s.species[i];
  const int R = p_.radial_basis_size, NR = p_.radial_funcs_count, M = p_.magnetic_basis_size, S = p_.species_count;
  const int width = magnetic ? R * M : R;
  const bool forces = what == Derivatives::all;
  const equations::SpinInversion inversion(symmetrized);
  w.resize(nn, p_, monomials_.size());

  double psi_i[2][equations::max_magnetic_basis], dpsi_i[2][equations::max_magnetic_basis];
  for (int sg = 0; sg < inversion.signs; ++sg) {
    const double sigma = equations::SpinInversion::sigma(sg);
    const bool mirrored = sg == 1 && scale.symmetric;  // the neighbours' basis of sign + serves
    if (magnetic) equations::magnetic_basis(scale, ti, s.magmoms[i], sigma, M, psi_i[sg], dpsi_i[sg]);
    if (magnetic && !mirrored) {
      for (Index k = 0; k < nn; ++k) {
        double t[equations::max_magnetic_basis], dt[equations::max_magnetic_basis];
        const int j = g.atom[k];
        equations::magnetic_basis(scale, s.species[j], s.magmoms[j], sigma, M, t, dt);
        for (int b = 0; b < M; ++b) {
          w.psi_j[sg](b, k) = t[b];
          w.dpsi_j[sg](b, k) = dt[b];
        }
      }
      for (int x = 0; x < R; ++x)
        for (int b = 0; b < M; ++b) {
          w.G.row(x * M + b).head(nn) = g.Q.row(x) * w.psi_j[sg].row(b).head(nn);
          if (forces) w.Gr.row(x * M + b).head(nn) = g.dQ.row(x) * w.psi_j[sg].row(b).head(nn);
          w.Gm.row(x * M + b).head(nn) = g.Q.row(x) * w.dpsi_j[sg].row(b).head(nn);
        }
    }
    equations::contract_central<double>(p_, ti, magnetic, psi_i[sg], dpsi_i[sg], w.C[sg], magnetic ? &w.Cd[sg] : nullptr);
    if (magnetic && mirrored) {
      equations::mirror_odd(w.C[sg], M);
      equations::mirror_odd(w.Cd[sg], M);
    }
    // Without moments the radial basis itself is G (the neighbour's ψ_b are all 1).
    const RowArray<double>& G = magnetic ? w.G : g.Q;
    equations::radial_functions(S, NR, width, g.type_start, w.C[sg], G, w.F[sg]);
    if (forces) equations::radial_functions(S, NR, width, g.type_start, w.C[sg], magnetic ? w.Gr : g.dQ, w.dF[sg]);
    if (magnetic) {
      equations::radial_functions(S, NR, width, g.type_start, w.C[sg], w.Gm, w.dFmj[sg]);
      equations::radial_functions(S, NR, width, g.type_start, w.Cd[sg], w.G, w.dFmi[sg]);
    }
  }

  // Forward and backward through the moments (Eqs. 3 and 2), both signs (Eq. 6) at once.
  for (int sg = 0; sg < inversion.signs; ++sg)
    equations::moment_tensors<double>(p_, monomials_, w.F[sg], g.U, nn, sg, w.mom);
  const double energy = equations::site_energy<double>(p_, schedule_, ti, w.mom, w.adj, inversion.lane_weights());
  if (forces) w.B.topLeftCorner(monomials_.size(), nn).setZero();
  for (int sg = 0; sg < inversion.signs; ++sg) {
    w.A[sg].topLeftCorner(NR, nn).setZero();
    equations::adjoint_by_monomial<double>(p_, monomials_, w.adj, sg, w.P);
    equations::radial_adjoint(p_, monomials_, w.P, g.U, nn, w.A[sg]);
    if (forces)  // B_m(j) += Σ_μ P(μ, m)·f_μ(j)
      w.B.matrix().topLeftCorner(monomials_.size(), nn).noalias() +=
          Eigen::Map<const equations::RowMatrix>(w.P.data(), NR, monomials_.size()).transpose() *
          w.F[sg].matrix().topLeftCorner(NR, nn);
  }
  if (nn == 0) return energy;  // an isolated atom: E_i = the species coefficient, no gradient

  if (magnetic) {
    auto dmj = w.per_pair.row(0).head(nn);
    dmj.setZero();
    double dmi = 0.0;
    for (int sg = 0; sg < inversion.signs; ++sg)
      for (int mu = 0; mu < NR; ++mu) {
        dmj += w.A[sg].row(mu).head(nn) * w.dFmj[sg].row(mu).head(nn);
        dmi += (w.A[sg].row(mu).head(nn) * w.dFmi[sg].row(mu).head(nn)).sum();
      }
    for (Index k = 0; k < nn; ++k) out.dE_dm[g.atom[k]] += dmj[k];
    out.dE_dm[i] += dmi;
  }
  if (!forces) return energy;

  // ∂E_i/∂r_ij = r̂ Σ_μ A_μ f'_μ + (1/r)[Σ_m B_m ∇_û(û^m) − r̂ Σ_m |m| B_m û^m].
  auto radial = w.per_pair.row(1).head(nn);
  auto rank_sum = w.per_pair.row(2).head(nn);
  auto ang = w.ang.leftCols(nn);
  radial.setZero(), rank_sum.setZero(), ang.setZero();
  for (int sg = 0; sg < inversion.signs; ++sg)
    for (int mu = 0; mu < NR; ++mu) radial += w.A[sg].row(mu).head(nn) * w.dF[sg].row(mu).head(nn);
  for (int m : monomials_.used) {
    const auto& mono = monomials_.list[static_cast<std::size_t>(m)];
    const auto Bm = w.B.row(m).head(nn);
    for (int d = 0; d < 3; ++d)
      if (mono.power[d]) ang.row(d) += mono.power[d] * Bm * g.U.row(mono.lower[d]);
    rank_sum += (mono.power[0] + mono.power[1] + mono.power[2]) * Bm * g.U.row(m);
  }
  for (Index k = 0; k < nn; ++k) {
    const Eigen::Vector3d u = g.unit.col(k);
    const Eigen::Vector3d grad = u * radial[k] + (ang.col(k).matrix() - u * rank_sum[k]) / g.r[k];
    const int j = g.atom[k];
    out.forces.col(i) += grad;
    out.forces.col(j) -= grad;
    out.virial.noalias() -= grad * g.vec.col(k).matrix().transpose();
  }
  return energy;
}

}  // namespace mmtp
