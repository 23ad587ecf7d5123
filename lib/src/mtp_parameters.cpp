#include "mmtp/mtp_parameters.hpp"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "mmtp/error.hpp"

namespace mmtp {

bool MtpParameters::trained() const {
  return !radial_coeffs.empty() && !species_coeffs.empty() && !moment_coeffs.empty();
}

std::size_t MtpParameters::parameter_count() const {
  return radial_coeff_count() + static_cast<std::size_t>(species_count) + static_cast<std::size_t>(alpha_scalar_moments());
}

void MtpParameters::validate(bool require_coefficients) const {
  auto fail = [](const std::string& what) { throw InputError(what); };
  if (species_count < 1 || species_count > 1000) fail(fmt::format("species_count = {} is not in 1..1000", species_count));
  if (!(std::isfinite(min_dist) && std::isfinite(max_dist) && min_dist >= 0 && max_dist > min_dist))
    fail(fmt::format("need 0 <= min_dist < max_dist, got {} and {}", min_dist, max_dist));
  if (!std::isfinite(scaling)) fail("scaling is not finite");
  if (radial_basis_size < 1 || radial_basis_size > 1000) fail(fmt::format("radial_basis_size = {} is not in 1..1000", radial_basis_size));
  if (radial_funcs_count < 1 || radial_funcs_count > 1000) fail(fmt::format("radial_funcs_count = {} is not in 1..1000", radial_funcs_count));
  if (magnetic) {
    if (!(std::isfinite(min_val) && std::isfinite(max_val) && max_val > min_val))
      fail(fmt::format("need min_val < max_val, got {} and {}", min_val, max_val));
    if (magnetic_basis_size < 1 || magnetic_basis_size > 32) fail(fmt::format("basis_size = {} is not in 1..32", magnetic_basis_size));
  } else if (magnetic_basis_size != 1) {
    fail("a non-magnetic potential has magnetic_basis_size 1");
  }
  if (alpha_moments_count < 1) fail("alpha_moments_count must be positive");
  const int basic = static_cast<int>(alpha_index_basic.size());
  if (basic < 1 || basic > alpha_moments_count) fail(fmt::format("alpha_index_basic_count = {} is not in 1..alpha_moments_count", basic));
  for (int k = 0; k < basic; ++k) {
    const auto& b = alpha_index_basic[k];
    if (b[0] < 0 || b[0] >= radial_funcs_count || b[1] < 0 || b[2] < 0 || b[3] < 0 || b[1] + b[2] + b[3] > 64)
      fail(fmt::format("alpha_index_basic[{}] = {} is out of range", k, b));
  }
  for (std::size_t t = 0; t < alpha_index_times.size(); ++t) {
    const auto& m = alpha_index_times[t];
    // Products must refer to moments computed before them: MLIP evaluates them in order.
    if (m[3] < basic || m[3] >= alpha_moments_count || m[0] < 0 || m[1] < 0 || m[0] >= m[3] || m[1] >= m[3])
      fail(fmt::format("alpha_index_times[{}] = {} is out of range", t, m));
  }
  for (std::size_t a = 0; a < alpha_moment_mapping.size(); ++a)
    if (alpha_moment_mapping[a] < 0 || alpha_moment_mapping[a] >= alpha_moments_count)
      fail(fmt::format("alpha_moment_mapping[{}] = {} is out of range", a, alpha_moment_mapping[a]));
  if (!moment_max.empty()) {
    if (static_cast<int>(moment_max.size()) != species_count)
      fail(fmt::format("{} moment ranges for species_count = {}", moment_max.size(), species_count));
    for (double m : moment_max)
      if (!(m > 0) || !std::isfinite(m)) fail(fmt::format("moment range {} must be positive", m));
  }
  if (!species_names.empty() && static_cast<int>(species_names.size()) != species_count)
    fail(fmt::format("{} species names for species_count = {}", species_names.size(), species_count));
  const std::size_t n_radial = radial_coeff_count();
  if (require_coefficients || !radial_coeffs.empty()) {
    if (radial_coeffs.size() != n_radial)
      fail(fmt::format("radial_coeffs has {} numbers, expected {}", radial_coeffs.size(), n_radial));
  }
  if (require_coefficients || !species_coeffs.empty()) {
    if (static_cast<int>(species_coeffs.size()) != species_count)
      fail(fmt::format("species_coeffs has {} numbers, expected species_count = {}", species_coeffs.size(), species_count));
  }
  if (require_coefficients || !moment_coeffs.empty()) {
    if (moment_coeffs.size() != alpha_moment_mapping.size())
      fail(fmt::format("moment_coeffs has {} numbers, expected alpha_scalar_moments = {}", moment_coeffs.size(), alpha_moment_mapping.size()));
  }
  for (double c : radial_coeffs) if (!std::isfinite(c)) fail("radial_coeffs has a non-finite number");
  for (double c : species_coeffs) if (!std::isfinite(c)) fail("species_coeffs has a non-finite number");
  for (double c : moment_coeffs) if (!std::isfinite(c)) fail("moment_coeffs has a non-finite number");
}

int MtpParameters::type_of(const std::string& symbol) const {
  for (std::size_t t = 0; t < species_names.size(); ++t)
    if (species_names[t] == symbol) return static_cast<int>(t);
  if (species_names.empty())
    throw Error(fmt::format("species '{}': the potential names no elements; give them with --species", symbol));
  throw Error(fmt::format("species '{}' is not in the potential (it has {})", symbol, fmt::join(species_names, ",")));
}

}  // namespace mmtp

namespace mmtp {
namespace {

/// L with T_a(s·x) = Σ_b L(a, b)·T_b(x), a, b < M: the recurrence T_a = 2·(s·x)·T_{a−1} − T_{a−2}
/// in the Chebyshev basis, where x·T_0 = T_1 and x·T_k = (T_{k+1} + T_{k−1})/2.
Eigen::MatrixXd chebyshev_rescaling(double s, int M) {
  Eigen::MatrixXd L = Eigen::MatrixXd::Zero(M, M);
  auto times_x = [M](const Eigen::VectorXd& v) {
    Eigen::VectorXd out = Eigen::VectorXd::Zero(M + 1);
    for (int k = 0; k < M; ++k) {
      if (v[k] == 0.0) continue;
      if (k == 0) out[1] += v[0];
      else {
        out[k + 1] += 0.5 * v[k];
        out[k - 1] += 0.5 * v[k];
      }
    }
    return out;
  };
  Eigen::VectorXd prev = Eigen::VectorXd::Zero(M), cur = Eigen::VectorXd::Zero(M);
  cur[0] = 1.0;
  L.row(0) = cur;
  for (int a = 1; a < M; ++a) {
    Eigen::VectorXd next = (a == 1 ? 1.0 : 2.0) * s * times_x(cur).head(M);
    if (a > 1) next -= prev;
    prev = cur;
    cur = next;
    L.row(a) = cur;
  }
  return L;
}

/// Applies per-type transforms to every pair block: c' = Lᵢᵀ·c·Lⱼ, c the M×M block [a][b].
void transform_pairs(MtpParameters& p, const std::vector<Eigen::MatrixXd>& L) {
  const int M = p.magnetic_basis_size;
  if (p.radial_coeffs.empty()) return;
  for (int zi = 0; zi < p.species_count; ++zi)
    for (int zj = 0; zj < p.species_count; ++zj)
      for (int mu = 0; mu < p.radial_funcs_count; ++mu)
        for (int x = 0; x < p.radial_basis_size; ++x) {
          double* c = &p.radial_coeffs[p.radial_coeff_index(zi, zj, mu, x, 0, 0)];
          Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> block(c, M, M);
          block = (L[static_cast<std::size_t>(zi)].transpose() * block * L[static_cast<std::size_t>(zj)]).eval();
        }
}

}  // namespace

MtpParameters with_moment_ranges(const MtpParameters& p, const std::vector<double>& moment_max) {
  if (static_cast<int>(moment_max.size()) != p.species_count)
    throw InputError(fmt::format("{} moment ranges for species_count = {}", moment_max.size(), p.species_count));
  for (double m : moment_max)
    if (!(m > 0) || !std::isfinite(m)) throw InputError(fmt::format("moment range {} μB must be positive", m));
  MtpParameters q = p;
  q.moment_max = moment_max;
  if (!p.magnetic) return q;
  if (p.moment_max.empty() && !(p.max_val > 0 && p.min_val == -p.max_val))
    throw InputError(fmt::format("per-species moment ranges need a symmetric file range, got [{}, {}]", p.min_val, p.max_val));
  std::vector<Eigen::MatrixXd> L;  // T_a(m/old) = Σ_b L(a, b)·T_b(m/new), with m/old = (new/old)·(m/new)
  for (int t = 0; t < p.species_count; ++t)
    L.push_back(chebyshev_rescaling(moment_max[static_cast<std::size_t>(t)] / p.moment_range(t).second, p.magnetic_basis_size));
  transform_pairs(q, L);
  q.max_val = *std::max_element(moment_max.begin(), moment_max.end());
  q.min_val = -q.max_val;
  return q;
}

MtpParameters to_common_moment_range(const MtpParameters& p) {
  if (p.moment_max.empty() || !p.magnetic) return p;
  const double G = *std::max_element(p.moment_max.begin(), p.moment_max.end());
  MtpParameters q = with_moment_ranges(p, std::vector<double>(p.moment_max.size(), G));
  q.moment_max.clear();
  return q;
}

MtpParameters to_species_moment_ranges(const MtpParameters& p, const std::vector<double>& moment_max) {
  if (!p.magnetic) {
    MtpParameters q = p;
    q.moment_max = moment_max;
    return q;
  }
  const double G = p.max_val;
  if (!(G > 0) || p.min_val != -G)
    throw InputError(fmt::format("per-species moment ranges need a symmetric file range, got [{}, {}]", p.min_val, p.max_val));
  for (double m : moment_max)
    if (!(m > 0) || m > G * (1 + 1e-12))
      throw InputError(fmt::format("moment range {} μB is not in (0, {}] (the file's range)", m, G));
  MtpParameters q = with_moment_ranges(p, moment_max);
  q.min_val = p.min_val;  // the file's range stays: it is the widest of moment_max up to rounding
  q.max_val = p.max_val;
  return q;
}

}  // namespace mmtp
