#pragma once
// The magnetic MTP, one function per equation of Kotykhov et al., Sci. Rep. 13, 19728 (2023),
// templated on the scalar type: `double` for evaluation (MagneticMtp) and `Dual` (a value and
// one directional derivative) for training (fit::objective). There is no second copy of the
// model: lib/README.md explains how the two uses share these functions.
#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cmath>
#include <tuple>
#include <utility>
#include <vector>

#include "mmtp/geometry.hpp"
#include "mmtp/mtp_parameters.hpp"

namespace mmtp::equations {

/// A value and its derivative along one direction (forward-mode automatic differentiation).
struct Dual {
  double v = 0.0;  ///< value
  double d = 0.0;  ///< derivative along the direction
  Dual() = default;
  Dual(double value) : v(value) {}  // NOLINT: constants enter the arithmetic implicitly
  Dual(double value, double derivative) : v(value), d(derivative) {}
  Dual& operator+=(const Dual& b) { v += b.v, d += b.d; return *this; }
};
inline Dual operator+(const Dual& a, const Dual& b) { return {a.v + b.v, a.d + b.d}; }
inline Dual operator-(const Dual& a, const Dual& b) { return {a.v - b.v, a.d - b.d}; }
inline Dual operator-(const Dual& a) { return {-a.v, -a.d}; }
inline Dual operator*(const Dual& a, const Dual& b) { return {a.v * b.v, a.d * b.v + a.v * b.d}; }
inline Dual operator*(double a, const Dual& b) { return {a * b.v, a * b.d}; }
inline Dual operator-(const Dual& a, double b) { return {a.v - b, a.d}; }
inline Dual operator/(const Dual& a, double b) { return {a.v / b, a.d / b}; }

/// RowArray<Dual> in structure-of-arrays form: values and derivatives as two double arrays, so
/// that the row operations of the equations below vectorise as they do for double (the layout
/// differs, the arithmetic is Dual's).
struct DualRows {
  RowArray<double> v, d;
  void resize(Index rows, Index cols) {
    v.resize(rows, cols);
    d.resize(rows, cols);
  }
  void setZero() {
    v.setZero();
    d.setZero();
  }
  void set(Index r, Index c, const Dual& x) {
    v(r, c) = x.v;
    d(r, c) = x.d;
  }
};

/// Rows of scalars: the Eigen array for double, DualRows for Dual.
template <class T>
struct RowsOf {
  using type = RowArray<T>;
};
template <>
struct RowsOf<Dual> {
  using type = DualRows;
};
template <class T>
using Rows = typename RowsOf<T>::type;

/// Largest magnetic basis size (MtpParameters::validate allows 1..32).
constexpr int max_magnetic_basis = 32;

/// Eq. 6: E_symm(M) = (E(M) + E(−M))/2. The sign σ of evaluation `sg` and the weight of each.
struct SpinInversion {
  int signs;      ///< 2 when symmetrized, else 1 (the raw E(M))
  double weight;  ///< 1/2 or 1
  explicit SpinInversion(bool symmetrized) : signs(symmetrized ? 2 : 1), weight(symmetrized ? 0.5 : 1.0) {}
  static double sigma(int sg) { return sg == 0 ? 1.0 : -1.0; }
  /// The weight of each lane of a SignPair: (1/2, 1/2), or (1, 0) for the raw E(M).
  Eigen::Array2d lane_weights() const { return {weight, signs == 2 ? weight : 0.0}; }
};

/// Dual numbers of both signs of Eq. 6, values and derivatives each side by side (see SignPair).
struct DualPair {
  Eigen::Array2d v = Eigen::Array2d::Zero(), d = Eigen::Array2d::Zero();
  DualPair() = default;
  DualPair(const Eigen::Array2d& value, const Eigen::Array2d& derivative) : v(value), d(derivative) {}
  DualPair& operator+=(const DualPair& b) { v += b.v, d += b.d; return *this; }
  DualPair& operator+=(const Eigen::Array2d& b) { v += b; return *this; }  ///< a constant per lane
};
inline DualPair operator*(const DualPair& a, const DualPair& b) { return {a.v * b.v, a.d * b.v + a.v * b.d}; }
inline DualPair operator*(double c, const DualPair& b) { return {c * b.v, c * b.d}; }
inline DualPair operator*(const Eigen::Array2d& c, const DualPair& b) { return {c * b.v, c * b.d}; }

/// A scalar for each sign of Eq. 6 side by side — lane s holds sign s of SpinInversion (lane 1
/// is zero for the raw E(M)) — so that site_energy handles both signs in one vectorised sweep.
template <class T>
struct SignPairOf {
  using type = Eigen::Array2d;
};
template <>
struct SignPairOf<Dual> {
  using type = DualPair;
};
template <class T>
using SignPair = typename SignPairOf<T>::type;

/// A SignPair with every lane zero (Eigen leaves a default-constructed Array2d uninitialised).
template <class T>
SignPair<T> zero_pair() {
  return SignPair<T>(Eigen::Array2d::Zero(), Eigen::Array2d::Zero());
}
template <>
inline Eigen::Array2d zero_pair<double>() {
  return Eigen::Array2d::Zero();
}

inline double lane_value(const Eigen::Array2d& x, int s) { return x[s]; }
inline Dual lane_value(const DualPair& x, int s) { return {x.v[s], x.d[s]}; }
inline void set_lane(Eigen::Array2d& x, int s, double value) { x[s] = value; }
inline void set_lane(DualPair& x, int s, const Dual& value) { x.v[s] = value.v, x.d[s] = value.d; }
inline double lane_sum(const Eigen::Array2d& x) { return x.sum(); }
inline Dual lane_sum(const DualPair& x) { return {x.v.sum(), x.d.sum()}; }

/// Affine map of each species' moment range onto [−1, 1]: x = (σm − center)/half.
struct MomentScale {
  std::vector<double> center, half;  ///< per type [μB]
  /// Every range is symmetric (center 0, as mmtp writes them): then ψ_b(−m) = (−1)^b ψ_b(m),
  /// and the second sign of Eq. 6 reuses the first sign's neighbour basis (mirror_odd).
  bool symmetric = true;
  explicit MomentScale(const MtpParameters& p) {
    for (int t = 0; t < p.species_count; ++t) {
      const auto [lo, hi] = p.moment_range(t);
      center.push_back(0.5 * (lo + hi));
      half.push_back(0.5 * (hi - lo));
      symmetric = symmetric && center.back() == 0.0;
    }
  }
};

/// For symmetric ranges: the coefficients C[..][ξ·M + b] that act on ψ_b(−m_j) act on ψ_b(m_j)
/// after a sign change of the odd b, since T_b(−x) = (−1)^b T_b(x) (and so for dψ_b/dm).
template <class T>
void mirror_odd(std::vector<T>& C, int M) {
  for (std::size_t q = 0; q < C.size(); ++q)
    if ((q % static_cast<std::size_t>(M)) % 2 == 1) C[q] = -C[q];
}

/// Chebyshev polynomials T_k(x) and dT_k/dx, k < size.
template <class T>
inline void chebyshev(const T& x, int size, T* t, T* dt) {
  t[0] = T(1.0);
  dt[0] = T(0.0);
  if (size > 1) {
    t[1] = x;
    dt[1] = T(1.0);
  }
  for (int k = 2; k < size; ++k) {
    t[k] = 2.0 * x * t[k - 1] - t[k - 2];
    dt[k] = 2.0 * t[k - 1] + 2.0 * x * dt[k - 1] - dt[k - 2];
  }
}

/// Eq. 4, moment part: ψ_a(m) = T_a(x(σm)) for a < M on the range of species `type`, and
/// dψ_a/dm [μB⁻¹] (chain rule through x and σ).
template <class T>
inline void magnetic_basis(const MomentScale& ms, int type, const T& m, double sigma, int M, T* psi, T* dpsi) {
  const double dx_dm = sigma / ms.half[static_cast<std::size_t>(type)];
  chebyshev<T>((sigma * m - ms.center[static_cast<std::size_t>(type)]) / ms.half[static_cast<std::size_t>(type)], M, psi, dpsi);
  for (int a = 0; a < M; ++a) dpsi[a] = dpsi[a] * dx_dm;
}

/// out.row(r) = X.row(x)·Y.row(y), element-wise over the first nn columns; for double and dual rows.
inline void row_times(const RowArray<double>& X, Index x, const RowArray<double>& Y, Index y, Index nn,
                      RowArray<double>& out, Index r) {
  out.row(r).head(nn) = X.row(x).head(nn) * Y.row(y).head(nn);
}
inline void row_times(const DualRows& X, Index x, const DualRows& Y, Index y, Index nn, DualRows& out, Index r) {
  out.v.row(r).head(nn) = X.v.row(x).head(nn) * Y.v.row(y).head(nn);
  out.d.row(r).head(nn) = X.d.row(x).head(nn) * Y.v.row(y).head(nn) + X.v.row(x).head(nn) * Y.d.row(y).head(nn);
}
inline void set_element(RowArray<double>& a, Index r, Index c, double x) { a(r, c) = x; }
inline void set_element(DualRows& a, Index r, Index c, const Dual& x) { a.set(r, c, x); }

/// Eq. 4, the neighbours' part, for evaluation (SitePass) and training (fit::dual_energy_gradient)
/// alike: for each neighbour k < nn, whose species and moment [μB] are `neighbour(k)` (a pair),
/// psi(b, k) = ψ_b(σ·m) (M × nn; dpsi(b, k) = ∂ψ_b/∂m when dpsi is not null) and
/// G(ξ·M + b, k) = Q_ξ(r_ij)·ψ_b(σ·m) ((R·M) × nn). The arrays are sized by the caller.
template <class T, class Neighbour>
void neighbour_basis(const MomentScale& ms, Index nn, const Neighbour& neighbour, double sigma, int M, int R,
                     const Rows<T>& Q, Rows<T>& psi, Rows<T>* dpsi, Rows<T>& G) {
  for (Index k = 0; k < nn; ++k) {
    T t[max_magnetic_basis], dt[max_magnetic_basis];
    const auto [type, m] = neighbour(k);
    magnetic_basis<T>(ms, type, m, sigma, M, t, dt);
    for (int b = 0; b < M; ++b) {
      set_element(psi, b, k, t[b]);
      if (dpsi) set_element(*dpsi, b, k, dt[b]);
    }
  }
  for (int x = 0; x < R; ++x)
    for (int b = 0; b < M; ++b) row_times(Q, x, psi, b, nn, G, x * M + b);
}

/// The central atom's part of Eq. 4: C[(t·NR + μ)·W + ξ·M + b] = Σ_a c[z_i][t][μ][ξ][a][b]·ψ_a(m_i)
/// for every neighbour species t (W = R·M). Without moments every ψ is 1 and the neighbour's
/// index b is summed too (W = R), as MLIP-3 does. `dpsi_i` gives Cd = ∂C/∂m_i alike (may be null).
template <class T>
void contract_central(const MtpParameters& p, int ti, bool magnetic, const T* psi_i, const T* dpsi_i, std::vector<T>& C,
                      std::vector<T>* Cd) {
  const int R = p.radial_basis_size, NR = p.radial_funcs_count, M = p.magnetic_basis_size, S = p.species_count;
  const int Mj = magnetic ? M : 1;
  C.assign(static_cast<std::size_t>(S) * NR * R * Mj, T(0.0));
  if (Cd) Cd->assign(C.size(), T(0.0));
  for (int tj = 0; tj < S; ++tj)
    for (int mu = 0; mu < NR; ++mu)
      for (int x = 0; x < R; ++x) {
        const double* c = &p.radial_coeffs[p.radial_coeff_index(ti, tj, mu, x, 0, 0)];  // M×M block, [a][b]
        T* out = &C[((static_cast<std::size_t>(tj) * NR + mu) * R + x) * Mj];
        if (!magnetic) {
          for (int ab = 0; ab < M * M; ++ab) out[0] += c[ab];
          continue;
        }
        T* dout = Cd ? &(*Cd)[((static_cast<std::size_t>(tj) * NR + mu) * R + x) * Mj] : nullptr;
        for (int a = 0; a < M; ++a)
          for (int b = 0; b < M; ++b) {
            out[b] += c[a * M + b] * psi_i[a];
            if (dout) dout[b] += c[a * M + b] * dpsi_i[a];
          }
      }
}

/// Row-major double matrix: coefficient blocks and small products.
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// F[f0 .. f0+rows) = C·G[0 .. width) over the neighbour columns [k0, k0+len) (`add`: +=), C the
/// rows × width coefficients at `c` (row-major): one small matrix product, for double and dual rows.
inline void block_product(const double* c, int rows, int width, const RowArray<double>& G, Index k0, Index len,
                          RowArray<double>& F, Index f0 = 0, bool add = false) {
  auto out = F.matrix().block(f0, k0, rows, len);
  const auto product = Eigen::Map<const RowMatrix>(c, rows, width) * G.matrix().block(0, k0, width, len);
  if (add)
    out.noalias() += product;
  else
    out.noalias() = product;
}
inline void block_product(const Dual* c, int rows, int width, const DualRows& G, Index k0, Index len, DualRows& F,
                          Index f0 = 0, bool add = false) {
  thread_local RowMatrix cv, cd;
  cv.resize(rows, width), cd.resize(rows, width);
  for (int q = 0; q < rows * width; ++q) cv.data()[q] = c[q].v, cd.data()[q] = c[q].d;
  auto v = F.v.matrix().block(f0, k0, rows, len);
  auto d = F.d.matrix().block(f0, k0, rows, len);
  if (!add) v.setZero(), d.setZero();
  v.noalias() += cv * G.v.matrix().block(0, k0, width, len);
  d.noalias() += cd * G.v.matrix().block(0, k0, width, len);
  d.noalias() += cv * G.d.matrix().block(0, k0, width, len);
}

/// out(a, b) = Σ_k X(x0 + a, k0 + k)·Y(y0 + b, k0 + k), k < len: products of rows summed over the
/// neighbour columns, nx × ny written row-major to `out`; for double and dual rows.
inline void row_products(const RowArray<double>& X, Index x0, Index nx, const RowArray<double>& Y, Index y0, Index ny,
                         Index k0, Index len, double* out) {
  Eigen::Map<RowMatrix>(out, nx, ny).noalias() =
      X.matrix().block(x0, k0, nx, len) * Y.matrix().block(y0, k0, ny, len).transpose();
}
inline void row_products(const DualRows& X, Index x0, Index nx, const DualRows& Y, Index y0, Index ny, Index k0,
                         Index len, Dual* out) {
  const auto xv = X.v.matrix().block(x0, k0, nx, len), xd = X.d.matrix().block(x0, k0, nx, len);
  const auto yv = Y.v.matrix().block(y0, k0, ny, len), yd = Y.d.matrix().block(y0, k0, ny, len);
  thread_local RowMatrix v, d;
  v.resize(nx, ny), d.resize(nx, ny);
  v.noalias() = xv * yv.transpose();
  d.noalias() = xd * yv.transpose();
  d.noalias() += xv * yd.transpose();
  for (Index q = 0; q < nx * ny; ++q) out[q] = {v.data()[q], d.data()[q]};
}

/// Eq. 4: the radial functions f_μ(r_ij, z_i, z_j, m_i, m_j) = Σ_{ξ,b} C[z_j][μ][ξ·M + b]·G_{ξM+b}(j)
/// for every neighbour j, with G = Q_ξ(r_ij)·ψ_b(m_j) (or Q_ξ alone without moments), summed
/// over each run of neighbours of one species (one block_product each). F is radial_funcs_count × nn.
template <class T>
void radial_functions(int S, int NR, int width, const std::vector<Index>& type_start, const std::vector<T>& C,
                      const Rows<T>& G, Rows<T>& F) {
  for (int t = 0; t < S; ++t) {
    const Index k0 = type_start[t], len = type_start[t + 1] - k0;
    if (len > 0) block_product(&C[static_cast<std::size_t>(t) * NR * width], NR, width, G, k0, len, F);
  }
}

/// Eq. 3: the basic moment tensor components M_k = Σ_j f_{μ_k}(j)·(r̂_ij^⊗ν)_k, each component
/// being an angular monomial U_{m_k}, for the sign `lane` (SignPair) of mom (alpha_moments_count
/// entries; the call for lane 0 first zeroes every lane of every moment, so that the products of
/// alpha_index_times start at zero). For each μ one product of the monomial rows it uses
/// (AngularMonomials::of_radial) with f_μ.
template <class T>
void moment_tensors(const MtpParameters& p, const AngularMonomials& mono, const Rows<T>& F, const Rows<T>& U,
                    Index nn, int lane, std::vector<SignPair<T>>& mom) {
  thread_local std::vector<T> P;  // P[μ·size + m] = Σ_j U_m(j)·f_μ(j)
  const std::size_t size = static_cast<std::size_t>(mono.size());
  P.resize(static_cast<std::size_t>(p.radial_funcs_count) * size);
  for (int mu = 0; mu < p.radial_funcs_count; ++mu)
    if (mono.of_radial[mu] > 0) row_products(U, 0, mono.of_radial[mu], F, mu, 1, 0, nn, &P[mu * size]);
  if (lane == 0) mom.assign(static_cast<std::size_t>(p.alpha_moments_count), zero_pair<T>());
  for (std::size_t k = 0; k < p.alpha_index_basic.size(); ++k)
    set_lane(mom[k], lane, P[static_cast<std::size_t>(p.alpha_index_basic[k][0]) * size + mono.of_basic[k]]);
}

/// The products of alpha_index_times (Eq. 2's contractions) in an order that interleaves
/// different destination moments of the same depth, so that their additions do not wait on
/// each other. Each destination keeps its products' relative order: the sums are bit for bit
/// those of the file order.
inline std::vector<Contraction> contraction_schedule(const MtpParameters& p) {
  const std::size_t n = static_cast<std::size_t>(p.alpha_moments_count);
  std::vector<int> depth(n, 0);
  for (const auto& t : p.alpha_index_times) depth[t[3]] = std::max(depth[t[3]], 1 + std::max(depth[t[0]], depth[t[1]]));
  // Key: (depth of the destination, rank of the product within its destination, destination).
  std::vector<int> rank(p.alpha_index_times.size());
  std::vector<int> seen(n, 0);
  for (std::size_t q = 0; q < rank.size(); ++q) rank[q] = seen[p.alpha_index_times[q][3]]++;
  std::vector<std::size_t> order(rank.size());
  for (std::size_t q = 0; q < order.size(); ++q) order[q] = q;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const auto& ta = p.alpha_index_times[a];
    const auto& tb = p.alpha_index_times[b];
    return std::make_tuple(depth[ta[3]], rank[a], ta[3]) < std::make_tuple(depth[tb[3]], rank[b], tb[3]);
  });
  std::vector<Contraction> out;
  for (std::size_t q : order) {
    const auto& t = p.alpha_index_times[q];
    out.push_back({t[0], t[1], t[3], static_cast<double>(t[2])});
  }
  return out;
}

/// Eq. 2 on lanes, for evaluation: lane l of every row is one evaluation of the site energy
/// (a committee member at one sign of Eq. 6; SitePass uses lane s·K + q). Row k of `mom` holds
/// moment k in every lane, the basic moments filled and the others zero; the products of
/// alpha_index_times (in the order of contraction_schedule) form the rest. Adds Σ_α ξ_α B_α to
/// `e` (which holds s_z per lane), with xi(α, lane) the ξ of each lane's potential; then the
/// reverse sweep: adj(k, lane) = weights(lane)·∂e/∂M_k. site_energy is this on SignPairs.
template <class Lanes, class Xi, class Weights, class Row>
void site_energy_lanes(const std::vector<Contraction>& schedule, const std::vector<int>& mapping, const Xi& xi,
                       const Weights& weights, Lanes& mom, Lanes& adj, Row& e) {
  for (const Contraction& c : schedule) mom.row(c.out) += c.mult * mom.row(c.left) * mom.row(c.right);
  adj.setZero();
  for (std::size_t a = 0; a < mapping.size(); ++a) {
    const Index k = mapping[a], alpha = static_cast<Index>(a);
    e += xi.row(alpha) * mom.row(k);
    adj.row(k) += xi.row(alpha) * weights;
  }
  for (auto c = schedule.rbegin(); c != schedule.rend(); ++c) {
    adj.row(c->left) += c->mult * adj.row(c->out) * mom.row(c->right);
    adj.row(c->right) += c->mult * adj.row(c->out) * mom.row(c->left);
  }
}

/// Lanes of site_energy_lanes over a vector of SignPairs (one "row" per moment), and ξ as one
/// value for both lanes: the form the fit's dual pass keeps its moments in.
template <class T>
struct PairLanes {
  std::vector<SignPair<T>>& pairs;
  SignPair<T>& row(Index k) { return pairs[static_cast<std::size_t>(k)]; }
  void setZero() { std::fill(pairs.begin(), pairs.end(), zero_pair<T>()); }
};
struct SharedXi {
  const std::vector<double>& xi;
  double row(Index a) const { return xi[static_cast<std::size_t>(a)]; }
};

/// Eq. 2 for both signs of Eq. 6 at once (SignPair lanes; the basic moments from moment_tensors),
/// through site_energy_lanes: E_i = Σ_s w_s·(s_{z_i} + Σ_α ξ_α B_α(s)) [eV] with
/// w = SpinInversion::lane_weights(), returned; adj[k] = w_s·∂E_i(s)/∂M_k(s) per lane.
template <class T>
T site_energy(const MtpParameters& p, const std::vector<Contraction>& schedule, int ti, std::vector<SignPair<T>>& mom,
              std::vector<SignPair<T>>& adj, const Eigen::Array2d& weights) {
  SignPair<T> e = zero_pair<T>();
  e += Eigen::Array2d::Constant(p.species_coeffs[static_cast<std::size_t>(ti)]);
  adj.resize(mom.size());
  PairLanes<T> m{mom}, g{adj};
  site_energy_lanes(schedule, p.alpha_moment_mapping, SharedXi{p.moment_coeffs}, weights, m, g, e);
  return lane_sum(weights * e);
}

/// The adjoints of the basic moments of sign `lane` (adj as site_energy leaves it) arranged by radial
/// function and monomial: P[μ·size + m] = Σ_{k: μ_k = μ, m_k = m} adj_k (radial_funcs_count ×
/// AngularMonomials::size()).
template <class T>
void adjoint_by_monomial(const MtpParameters& p, const AngularMonomials& mono, const std::vector<SignPair<T>>& adj,
                         int lane, std::vector<T>& P) {
  const std::size_t size = static_cast<std::size_t>(mono.size());
  P.assign(static_cast<std::size_t>(p.radial_funcs_count) * size, T(0.0));
  for (std::size_t k = 0; k < p.alpha_index_basic.size(); ++k)
    P[static_cast<std::size_t>(p.alpha_index_basic[k][0]) * size + mono.of_basic[k]] += lane_value(adj[k], lane);
}

/// Reverse of Eq. 3 onto the radial functions: A_μ(j) = Σ_m P(μ, m)·U_m(j) = ∂E_i/∂f_μ(j), with P
/// from adjoint_by_monomial (NR × nn, added to): for each μ one product with the monomial rows it uses.
template <class T>
void radial_adjoint(const MtpParameters& p, const AngularMonomials& mono, const std::vector<T>& P, const Rows<T>& U,
                    Index nn, Rows<T>& A) {
  const std::size_t size = static_cast<std::size_t>(mono.size());
  for (int mu = 0; mu < p.radial_funcs_count; ++mu)
    if (mono.of_radial[mu] > 0) block_product(&P[mu * size], 1, mono.of_radial[mu], U, 0, nn, A, mu, true);
}

/// ∂E_i/∂θ for θ = (radial_coeffs, species_coeffs, moment_coeffs) in fit::pack order, for the
/// sign `lane` of Eq. 6 (its weight already in A and adj; mom as site_energy leaves it): the
/// radial coefficients through Σ_j A_μ(j)·Q_ξ(j)·ψ_a(m_i)·ψ_b(m_j) (skipped unless `radial`), the
/// species and moment coefficients through 1 and B_α. Added to `grad`. `mirrored`: G holds ψ_b(m_j) for a sign
/// evaluated at −m_j (mirror_odd), so the odd b change sign.
template <class T>
void parameter_gradient(const MtpParameters& p, int ti, bool magnetic, const std::vector<Index>& type_start, const T* psi_i,
                        const Rows<T>& G, const Rows<T>& A, const std::vector<SignPair<T>>& mom, int lane, double weight,
                        bool radial, bool mirrored, T* grad) {
  const int R = p.radial_basis_size, NR = p.radial_funcs_count, M = p.magnetic_basis_size, S = p.species_count;
  const int width = magnetic ? R * M : R;
  thread_local std::vector<T> H;
  H.resize(static_cast<std::size_t>(NR * width));
  for (int t = 0; t < S && radial; ++t) {
    const Index k0 = type_start[t], len = type_start[t + 1] - k0;
    if (len == 0) continue;
    row_products(A, 0, NR, G, 0, width, k0, len, H.data());  // H(μ, q) = Σ_j A_μ(j)·G_q(j)
    for (int mu = 0; mu < NR; ++mu)
      for (int q = 0; q < width; ++q) {
        T h = H[static_cast<std::size_t>(mu * width + q)];
        if (mirrored && (q % M) % 2 == 1) h = -h;
        const int x = magnetic ? q / M : q;
        for (int a = 0; a < M; ++a)
          for (int b = magnetic ? q % M : 0; b < (magnetic ? q % M + 1 : M); ++b)
            grad[p.radial_coeff_index(ti, t, mu, x, a, b)] += magnetic ? h * psi_i[a] : h;
      }
  }
  const std::size_t species0 = p.radial_coeffs.size(), moment0 = species0 + static_cast<std::size_t>(S);
  grad[species0 + static_cast<std::size_t>(ti)] += T(weight);
  for (int a = 0; a < p.alpha_scalar_moments(); ++a)
    grad[moment0 + static_cast<std::size_t>(a)] += weight * lane_value(mom[p.alpha_moment_mapping[a]], lane);
}

}  // namespace mmtp::equations
