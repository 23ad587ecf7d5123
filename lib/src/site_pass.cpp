#include "site_pass.hpp"

#include <fmt/core.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <stdexcept>

#include "equations.hpp"
#include "mmtp/error.hpp"
#include "parallel.hpp"

namespace mmtp {
namespace {

using equations::RowMatrix;
/// Rows × monomials, column-major: the K rows of one (sign, μ) of a monomial are contiguous.
using ColMatrix = Eigen::MatrixXd;
/// Lanes of Eq. 2 (see site_energy_lanes): two fixed for one potential's two signs, else dynamic.
using TwoLanes = Eigen::Array<double, Eigen::Dynamic, 2, Eigen::RowMajor>;
using ManyLanes = RowArray<double>;

}  // namespace

bool SitePass::same_basis(const MtpParameters& a, const MtpParameters& b) {
  bool ranges = a.magnetic == b.magnetic && a.magnetic_basis_size == b.magnetic_basis_size;
  for (int t = 0; ranges && t < a.species_count; ++t) ranges = a.moment_range(t) == b.moment_range(t);
  return ranges && a.species_count == b.species_count && a.min_dist == b.min_dist && a.max_dist == b.max_dist &&
         a.scaling == b.scaling && a.radial_basis_size == b.radial_basis_size &&
         a.radial_funcs_count == b.radial_funcs_count && a.alpha_moments_count == b.alpha_moments_count &&
         a.alpha_index_basic == b.alpha_index_basic && a.alpha_index_times == b.alpha_index_times &&
         a.alpha_moment_mapping == b.alpha_moment_mapping;
}

/// What the pass needs of its members, arranged for batching. Lanes of Eq. 2 are (sign, member):
/// lane s·K + q. Rows of the radial-function arrays are (sign, μ, member): row (s·NR + μ)·K + q.
struct SitePass::Tables {
  MtpParameters basis;  // the first member's parameters: basis and indices (its coefficients unused)
  AngularMonomials mono;
  std::vector<Contraction> schedule;
  equations::MomentScale scale;
  int K;
  /// Per central species: the radial coefficients of every member as a (a) × ((t, μ, q, ξ, b))
  /// matrix, so that the central atom's part of Eq. 4 for all members is M row combinations
  /// (coefficients with ψ_a(m_i)); `mirrored` with the odd b negated (mirror_odd); `plain` the
  /// sums over a and b (structures without moments: every ψ is 1).
  std::vector<RowMatrix> coeffs, mirrored, plain;
  std::vector<Eigen::Array<double, 1, Eigen::Dynamic>> species;  // per central species: s_z per lane
  RowArray<double> xi;                                            // ξ_α per lane, alpha_scalar_moments × 2K
  /// Per axis d: (monomial m, its parent one power less along d, that power), m by rank; and
  /// per radial function the monomials of the derivative's polynomial (a rank prefix).
  struct Derivative {
    int m, lower, power;
  };
  std::array<std::vector<Derivative>, 3> derivative;
  std::vector<int> derivative_prefix;

  explicit Tables(const std::vector<const MtpParameters*>& members)
      : basis(*members.front()),
        mono(basis),
        schedule(equations::contraction_schedule(basis)),
        scale(basis),
        K(static_cast<int>(members.size())) {
    const int S = basis.species_count, NR = basis.radial_funcs_count, R = basis.radial_basis_size,
              M = basis.magnetic_basis_size;
    const Index cols = static_cast<Index>(S) * NR * K * R * M;
    for (int ti = 0; ti < S; ++ti) {
      RowMatrix c(M, cols), mir(M, cols), sum = RowMatrix::Zero(1, static_cast<Index>(S) * NR * K * R);
      for (int t = 0; t < S; ++t)
        for (int mu = 0; mu < NR; ++mu)
          for (int q = 0; q < K; ++q)
            for (int x = 0; x < R; ++x) {
              const Index row = ((static_cast<Index>(t) * NR + mu) * K + q) * R + x;
              for (int a = 0; a < M; ++a)
                for (int b = 0; b < M; ++b) {
                  const double v = members[q]->radial_coeffs[basis.radial_coeff_index(ti, t, mu, x, a, b)];
                  c(a, row * M + b) = v;
                  mir(a, row * M + b) = b % 2 ? -v : v;
                  sum(0, row) += v;
                }
            }
      coeffs.push_back(std::move(c));
      mirrored.push_back(std::move(mir));
      plain.push_back(std::move(sum));
      Eigen::Array<double, 1, Eigen::Dynamic> s0(2 * K);
      for (int q = 0; q < K; ++q) s0[q] = s0[K + q] = members[q]->species_coeffs[static_cast<std::size_t>(ti)];
      species.push_back(s0);
    }
    xi.resize(basis.alpha_scalar_moments(), 2 * K);
    for (int a = 0; a < basis.alpha_scalar_moments(); ++a)
      for (int q = 0; q < K; ++q) xi(a, q) = xi(a, K + q) = members[q]->moment_coeffs[static_cast<std::size_t>(a)];
    for (int m = 1; m < mono.size(); ++m)
      for (int d = 0; d < 3; ++d) {
        const auto& e = mono.list[static_cast<std::size_t>(m)];
        if (e.power[d]) derivative[d].push_back({m, e.lower[d], e.power[d]});
      }
    for (int mu = 0; mu < NR; ++mu) {
      const int used = mono.of_radial[mu];
      int prefix = 0;
      if (used > 1) {
        const auto& top = mono.list[static_cast<std::size_t>(used - 1)].power;
        const int rank = top[0] + top[1] + top[2];
        while (prefix < mono.size()) {
          const auto& p = mono.list[static_cast<std::size_t>(prefix)].power;
          if (p[0] + p[1] + p[2] >= rank) break;
          ++prefix;
        }
      }
      derivative_prefix.push_back(prefix);
    }
  }
};

SitePass::SitePass(const std::vector<const MtpParameters*>& members) {
  if (members.empty()) throw std::invalid_argument("SitePass needs at least one potential");
  for (const MtpParameters* m : members)
    if (!same_basis(*m, *members.front())) throw std::invalid_argument("SitePass: the potentials differ in their basis");
  t_ = std::make_unique<const Tables>(members);
}

SitePass::~SitePass() = default;

std::size_t SitePass::size() const { return static_cast<std::size_t>(t_->K); }

/// Scratch memory of one thread; columns of the row arrays are neighbours.
struct SitePass::Workspace {
  SiteGeometry geometry;                  // the site's geometry when none was computed beforehand
  RowArray<double> G[2], Gr[2], Gm[2];    // Q_ξ ψ_b, Q'_ξ ψ_b, Q_ξ ψ'_b per neighbour basis: (R·M) × nn
  RowArray<double> psi_j[2], dpsi_j[2];   // neighbour magnetic basis, M × nn
  RowArray<double> F, dF, dFmj, dFmi, A;  // f, ∂f/∂r, ∂f/∂m_j, ∂f/∂m_i and ∂E/∂f per row: rows × nn
  RowArray<double> Y[3];                  // ∂/∂û_d of each row's angular polynomial Σ_m Padj·U_m: rows × nn
  RowArray<double> ang, per_pair;         // 3 × nn
  std::vector<double> Cst, Cdst;          // per neighbour species: rows × width coefficients (and ∂/∂m_i)
  ColMatrix P, Padj, Pd[3];               // rows × n_monomials: Eq. 3 products, adjoints, their derivatives
  TwoLanes mom2, adj2;                    // Eq. 2 lanes for one potential, both signs
  ManyLanes mom, adj;                     // … for several
  Eigen::Array<double, 1, Eigen::Dynamic> e;  // per lane
  std::vector<double> energy;             // per member: E_i

  void resize(Index nn, const MtpParameters& p, int n_monomials, int rows, int K) {
    energy.resize(static_cast<std::size_t>(K));
    const int R = p.radial_basis_size, M = p.magnetic_basis_size, S = p.species_count;
    for (ColMatrix* a : {&P, &Padj, &Pd[0], &Pd[1], &Pd[2]}) a->resize(rows, n_monomials);
    Cst.resize(static_cast<std::size_t>(S) * rows * R * M);
    Cdst.resize(Cst.size());
    // The row arrays keep their columns (neighbours) from call to call; they are reallocated
    // when a site has more neighbours or another pass (other sizes) uses this thread's workspace.
    if (F.cols() >= nn && F.rows() == rows && G[0].rows() == R * M && psi_j[0].rows() == M && F.cols() > 0) return;
    // At least one column: an isolated atom (nn = 0) then takes empty blocks of allocated
    // arrays, never offsets into a null one.
    const Index cap = std::max<Index>({nn, F.rows() == rows ? 2 * F.cols() : 0, 1});
    for (int s = 0; s < 2; ++s) {
      for (RowArray<double>* a : {&G[s], &Gr[s], &Gm[s]}) a->resize(R * M, cap);
      psi_j[s].resize(M, cap);
      dpsi_j[s].resize(M, cap);
    }
    for (RowArray<double>* a : {&F, &dF, &dFmj, &dFmi, &A, &Y[0], &Y[1], &Y[2]}) a->resize(rows, cap);
    ang.resize(3, cap);
    per_pair.resize(3, cap);
  }
  template <class Lanes>
  std::pair<Lanes&, Lanes&> lanes();
};
template <>
std::pair<TwoLanes&, TwoLanes&> SitePass::Workspace::lanes<TwoLanes>() {
  return {mom2, adj2};
}
template <>
std::pair<ManyLanes&, ManyLanes&> SitePass::Workspace::lanes<ManyLanes>() {
  return {mom, adj};
}

std::vector<Result> SitePass::evaluate(const Structure& s, const NeighborList& nl, EvalMode mode, Derivatives what) const {
  const Index sites = static_cast<Index>(nl.offsets.size()) - 1;
  if (sites < 0 || sites > s.size() || nl.cutoff < t_->basis.max_dist)
    throw std::invalid_argument("neighbour list does not match the structure or its cutoff is too short");
  return evaluate_sites(s, sites, mode, what, [&](Index i, Workspace& w) -> const SiteGeometry& {
    w.geometry.build(t_->basis, t_->mono, s, nl, i);
    return w.geometry;
  });
}

std::vector<Result> SitePass::evaluate(const Structure& s, const Geometry& g, EvalMode mode, Derivatives what) const {
  if (g.size() > s.size() || !g.fits(t_->basis))
    throw std::invalid_argument("the geometry was computed for another structure or basis");
  return evaluate_sites(s, g.size(), mode, what, [&](Index i, Workspace&) -> const SiteGeometry& { return g.site(i); });
}

/// Eq. 1: E = Σ_i E_i over the sites, with the derivatives of every site accumulated per
/// thread and member, then reduced in thread order (deterministic for a given thread count).
template <class SiteOf>
std::vector<Result> SitePass::evaluate_sites(const Structure& s, Index sites, EvalMode mode, Derivatives what,
                                             const SiteOf& site_of) const {
  const Index n = s.size();
  const MtpParameters& p = t_->basis;
  const std::size_t K = size();
  for (Index i = 0; i < n; ++i)
    if (s.species[i] >= p.species_count)
      throw InputError(fmt::format("atom {} has species {} but the potential has {} species", i + 1, s.species[i],
                                   p.species_count));
  const bool magnetic = p.magnetic && s.has_magmoms();
  const bool symmetrized = magnetic && mode == EvalMode::symmetrized;
  const bool two_lanes = (symmetrized ? 2 : 1) * K == 2;

  std::vector<Result> res(K);
  for (Result& r : res) r.site_energies = Eigen::VectorXd::Zero(n);
  // The team size is known only inside the region (1 when called from another parallel
  // region, since nesting is off), so each thread's accumulators are made there.
  std::vector<std::vector<Result>> partial;
  FirstError error;
#pragma omp parallel
  {
#pragma omp single
    partial.resize(static_cast<std::size_t>(omp_get_num_threads()));
    std::vector<Result>& mine = partial[static_cast<std::size_t>(omp_get_thread_num())];
    mine.resize(K);
    for (Result& r : mine) {
      r.forces = Eigen::Matrix3Xd::Zero(3, what != Derivatives::moments ? n : 0);
      r.site_virials = Eigen::Matrix<double, 6, Eigen::Dynamic>::Zero(6, what == Derivatives::all_and_site_virials ? n : 0);
      r.dE_dm = Eigen::VectorXd::Zero(magnetic ? n : 0);
      r.virial.setZero();
    }
    // One workspace per thread for the life of the thread: a fit evaluates thousands of small
    // structures per objective, and allocating the arrays each time would cost more than them.
    thread_local Workspace w;
#pragma omp for schedule(static)
    for (Index i = 0; i < sites; ++i) {
      error.run([&] {
        const SiteGeometry& g = site_of(i, w);
        if (two_lanes)
          site<TwoLanes>(s, g, i, magnetic, symmetrized, what, w, mine);
        else
          site<ManyLanes>(s, g, i, magnetic, symmetrized, what, w, mine);
        for (std::size_t q = 0; q < K; ++q) res[q].site_energies[i] = w.energy[q];
        mine[0].extrapolation.short_pairs += g.short_pairs;
        mine[0].extrapolation.min_distance = std::min(mine[0].extrapolation.min_distance, g.min_distance);
      });
    }
  }
  error.rethrow();

  Extrapolation flags = partial[0][0].extrapolation;
  for (std::size_t t = 1; t < partial.size(); ++t) {
    flags.short_pairs += partial[t][0].extrapolation.short_pairs;
    flags.min_distance = std::min(flags.min_distance, partial[t][0].extrapolation.min_distance);
  }
  if (magnetic)
    for (Index i = 0; i < sites; ++i) {
      const auto [lo, hi] = p.moment_range(s.species[i]);
      const double m = s.magmoms[i];
      if (m < lo || m > hi || (symmetrized && (-m < lo || -m > hi))) ++flags.moments_out_of_range;
    }
  for (std::size_t q = 0; q < K; ++q) {
    Result& r = res[q];
    r.forces = std::move(partial[0][q].forces);
    r.dE_dm = std::move(partial[0][q].dE_dm);
    r.virial = partial[0][q].virial;
    r.site_virials = std::move(partial[0][q].site_virials);
    for (std::size_t t = 1; t < partial.size(); ++t) {
      r.site_virials += partial[t][q].site_virials;
      r.forces += partial[t][q].forces;
      r.dE_dm += partial[t][q].dE_dm;
      r.virial += partial[t][q].virial;
    }
    if (what == Derivatives::moments) r.forces = Eigen::Matrix3Xd::Zero(3, n);
    r.energy = r.site_energies.sum();
    r.extrapolation = flags;
    // Extrapolation far outside the trained region (moments of 10⁶ μB, coefficients that
    // overflow) can leave double range: refuse rather than hand on inf or NaN.
    if (!std::isfinite(r.energy) || !r.forces.allFinite() || !r.virial.allFinite() || !r.dE_dm.allFinite())
      throw Error(fmt::format("the energy or its derivatives overflow (E = {}): the structure is far outside the potential's "
                              "trained region ({} moments outside their range, shortest pair {:.3g} Å)",
                              r.energy, flags.moments_out_of_range, flags.min_distance));
  }
  return res;
}

/// Site energy E_i of atom i for every member (Eq. 2, through Eqs. 3, 4 and 6) into w.energy,
/// and its derivatives: ∂E_i/∂m always (when magnetic), forces and virial when `what` is all,
/// accumulated into out[member].
template <class Lanes>
void SitePass::site(const Structure& s, const SiteGeometry& g, Index i, bool magnetic, bool symmetrized, Derivatives what,
                    Workspace& w, std::vector<Result>& out) const {
  const Tables& tb = *t_;
  const MtpParameters& p = tb.basis;
  const AngularMonomials& mono = tb.mono;
  const Index nn = g.nn;
  const int ti = s.species[i];
  const int K = tb.K;
  const int R = p.radial_basis_size, NR = p.radial_funcs_count, M = p.magnetic_basis_size, S = p.species_count;
  const int width = magnetic ? R * M : R;
  const int size = mono.size();
  const bool forces = what != Derivatives::moments, site_virials = what == Derivatives::all_and_site_virials;
  const equations::SpinInversion inversion(symmetrized);
  const int signs = inversion.signs, rows = signs * NR * K, lanes = signs * K;
  // For symmetric ranges the second sign reuses the first sign's neighbour basis (mirror_odd):
  // then all rows share one G, otherwise each sign has its own.
  const int bases = magnetic && signs == 2 && !tb.scale.symmetric ? 2 : 1;
  w.resize(nn, p, size, rows, K);

  // Eq. 4, moment part, once for all members: ψ of the central atom and of the neighbours.
  double psi_i[2][equations::max_magnetic_basis], dpsi_i[2][equations::max_magnetic_basis];
  for (int sg = 0; sg < signs; ++sg) {
    const double sigma = equations::SpinInversion::sigma(sg);
    if (magnetic) equations::magnetic_basis(tb.scale, ti, s.magmoms[i], sigma, M, psi_i[sg], dpsi_i[sg]);
    if (!magnetic || sg >= bases) continue;
    equations::neighbour_basis<double>(
        tb.scale, nn, [&](Index k) { return std::pair{s.species[g.atom[k]], s.magmoms[g.atom[k]]}; }, sigma, M, R, g.Q,
        w.psi_j[sg], &w.dpsi_j[sg], w.G[sg]);
    for (int x = 0; x < R; ++x)  // and its derivatives in r and m_j
      for (int b = 0; b < M; ++b) {
        if (forces) equations::row_times(g.dQ, x, w.psi_j[sg], b, nn, w.Gr[sg], x * M + b);
        equations::row_times(g.Q, x, w.dpsi_j[sg], b, nn, w.Gm[sg], x * M + b);
      }
  }

  // The central atom's part of Eq. 4 (equations::contract_central) for every member and sign:
  // Cst[t][(s, μ, q)][ξ·M + b] = Σ_a c_q[z_i][t][μ][ξ][a][b]·ψ_a(σ_s m_i), stacked by neighbour species.
  const Index per_sign = static_cast<Index>(NR) * K * width, block = static_cast<Index>(rows) * width;
  for (int sg = 0; sg < signs; ++sg) {
    const RowMatrix& X = !magnetic ? tb.plain[ti] : (sg == 1 && bases == 1 ? tb.mirrored[ti] : tb.coeffs[ti]);
    for (int t = 0; t < S; ++t) {
      Eigen::Map<Eigen::ArrayXd> c(&w.Cst[t * block + sg * per_sign], per_sign);
      if (!magnetic) {
        c = X.row(0).segment(t * per_sign, per_sign).transpose().array();
        continue;
      }
      Eigen::Map<Eigen::ArrayXd> cd(&w.Cdst[t * block + sg * per_sign], per_sign);
      c.setZero(), cd.setZero();
      for (int a = 0; a < M; ++a) {
        const auto x = X.row(a).segment(t * per_sign, per_sign).transpose().array();
        c += psi_i[sg][a] * x;
        cd += dpsi_i[sg][a] * x;
      }
    }
  }

  // Eq. 4: the radial functions of all members (and both signs when they share a basis) as one
  // product per run of neighbours of one species. Without moments the radial basis itself is G.
  for (int b = 0; b < bases; ++b) {
    const int row0 = bases == 2 ? b * NR * K : 0, count = bases == 2 ? NR * K : rows;
    const RowArray<double>& G = magnetic ? w.G[b] : g.Q;
    const RowArray<double>& Gr = magnetic ? w.Gr[b] : g.dQ;
    for (int t = 0; t < S; ++t) {
      const Index k0 = g.type_start[t], len = g.type_start[t + 1] - k0;
      if (len == 0) continue;
      const Index at = t * block + static_cast<Index>(row0) * width;
      equations::block_product(&w.Cst[at], count, width, G, k0, len, w.F, row0);
      if (forces) equations::block_product(&w.Cst[at], count, width, Gr, k0, len, w.dF, row0);
      if (magnetic) {
        equations::block_product(&w.Cst[at], count, width, w.Gm[b], k0, len, w.dFmj, row0);
        equations::block_product(&w.Cdst[at], count, width, G, k0, len, w.dFmi, row0);
      }
    }
  }

  // Eq. 3: P(row, m) = Σ_j f_row(j)·U_m(j), one product per (sign, μ) over the monomials μ uses.
  for (int sg = 0; sg < signs; ++sg)
    for (int mu = 0; mu < NR; ++mu) {
      const int r0 = (sg * NR + mu) * K, used = mono.of_radial[mu];
      if (used > 0)
        w.P.block(r0, 0, K, used).noalias() = w.F.matrix().block(r0, 0, K, nn) * g.U.matrix().block(0, 0, used, nn).transpose();
    }
  // Eq. 2 for all members and signs at once (lane s·K + q), then the adjoints by (row, monomial).
  auto [mom, adj] = w.lanes<Lanes>();
  mom.setZero(p.alpha_moments_count, lanes);
  adj.resize(p.alpha_moments_count, lanes);
  for (std::size_t k = 0; k < p.alpha_index_basic.size(); ++k)
    for (int sg = 0; sg < signs; ++sg)
      mom.row(static_cast<Index>(k)).segment(sg * K, K) =
          w.P.col(mono.of_basic[k]).segment((sg * NR + p.alpha_index_basic[k][0]) * K, K).transpose().array();
  w.e = tb.species[static_cast<std::size_t>(ti)].head(lanes);
  Eigen::Array<double, 1, Eigen::Dynamic> weights(lanes);
  for (int sg = 0; sg < signs; ++sg) weights.segment(sg * K, K).setConstant(inversion.lane_weights()[sg]);
  equations::site_energy_lanes(tb.schedule, p.alpha_moment_mapping, tb.xi.leftCols(lanes), weights, mom, adj, w.e);
  for (int q = 0; q < K; ++q) {
    double e = 0.0;
    for (int sg = 0; sg < signs; ++sg) e += weights[sg * K + q] * w.e[sg * K + q];
    w.energy[static_cast<std::size_t>(q)] = e;
  }
  w.Padj.setZero();
  for (std::size_t k = 0; k < p.alpha_index_basic.size(); ++k)
    for (int sg = 0; sg < signs; ++sg)
      w.Padj.col(mono.of_basic[k]).segment((sg * NR + p.alpha_index_basic[k][0]) * K, K) +=
          adj.row(static_cast<Index>(k)).segment(sg * K, K).transpose().matrix();
  if (nn == 0) return;  // an isolated atom: E_i = the species coefficient, no gradient

  // Reverse of Eq. 3: A(row, j) = Σ_m Padj(row, m)·U_m(j) = ∂E_i/∂f_row(j), one product per (sign, μ).
  for (int sg = 0; sg < signs; ++sg)
    for (int mu = 0; mu < NR; ++mu) {
      const int r0 = (sg * NR + mu) * K, used = mono.of_radial[mu];
      auto A = w.A.matrix().block(r0, 0, K, nn);
      if (used > 0)
        A.noalias() = w.Padj.block(r0, 0, K, used) * g.U.matrix().block(0, 0, used, nn);
      else
        A.setZero();
    }

  if (forces) {
    // The angular part of the force: A(row, ·) is the polynomial Σ_m Padj(row, m)·û^m of û; its
    // gradient Y_d = Σ_m power_d(m)·Padj(row, m)·û^(m − e_d), one product per (sign, μ, d).
    for (int d = 0; d < 3; ++d)
      for (int sg = 0; sg < signs; ++sg)
        for (int mu = 0; mu < NR; ++mu) {
          const int r0 = (sg * NR + mu) * K, used = mono.of_radial[mu], prefix = tb.derivative_prefix[mu];
          auto Y = w.Y[d].matrix().block(r0, 0, K, nn);
          if (prefix == 0) {
            Y.setZero();
            continue;
          }
          auto Pd = w.Pd[d].block(r0, 0, K, prefix);
          Pd.setZero();
          for (const auto& e : tb.derivative[d]) {
            if (e.m >= used) break;
            Pd.col(e.lower) += e.power * w.Padj.col(e.m).segment(r0, K);
          }
          Y.noalias() = Pd * g.U.matrix().block(0, 0, prefix, nn);
        }
  }

  for (int q = 0; q < K; ++q) {
    Result& r = out[static_cast<std::size_t>(q)];
    // Member q's rows: (sign, μ) = 0 .. signs·NR − 1, every K-th row from q.
    auto row_of = [&](const RowArray<double>& X, int row) { return X.row(row * K + q).head(nn); };
    if (magnetic) {
      auto dmj = w.per_pair.row(0).head(nn);
      dmj.setZero();
      double dmi = 0.0;
      for (int row = 0; row < signs * NR; ++row) {
        dmj += row_of(w.A, row) * row_of(w.dFmj, row);
        dmi += (row_of(w.A, row) * row_of(w.dFmi, row)).sum();
      }
      for (Index k = 0; k < nn; ++k) r.dE_dm[g.atom[k]] += dmj[k];
      r.dE_dm[i] += dmi;
    }
    if (!forces) continue;
    // ∂E_i/∂r_ij = r̂ Σ_row A f' + (1/r)(I − r̂r̂ᵀ) Σ_row f ∇_û(A): the angular gradient's radial
    // component is r̂·∇_û P = rank·P for each homogeneous part (Euler), so the projection removes it.
    auto radial = w.per_pair.row(1).head(nn);
    auto ang = w.ang.leftCols(nn);
    radial.setZero(), ang.setZero();
    for (int row = 0; row < signs * NR; ++row) {
      radial += row_of(w.A, row) * row_of(w.dF, row);
      for (int d = 0; d < 3; ++d) ang.row(d) += row_of(w.F, row) * row_of(w.Y[d], row);
    }
    Eigen::Matrix3d w = Eigen::Matrix3d::Zero();
    for (Index k = 0; k < nn; ++k) {
      const Eigen::Vector3d u = g.unit.col(k);
      const Eigen::Vector3d a = ang.col(k).matrix();
      const Eigen::Vector3d grad = u * radial[k] + (a - u * u.dot(a)) / g.r[k];
      const int j = g.atom[k];
      r.forces.col(i) += grad;
      r.forces.col(j) -= grad;
      w.noalias() -= grad * g.vec.col(k).matrix().transpose();
    }
    r.virial += w;
    if (site_virials) r.site_virials.col(i) << w(0, 0), w(1, 1), w(2, 2), w(0, 1), w(0, 2), w(1, 2);
  }
}

}  // namespace mmtp
