#pragma once
#include <array>
#include <string>
#include <utility>
#include <vector>

namespace mmtp {

/// Every number of an MLIP-3 moment tensor potential, magnetic (mMTP) or not.
///
/// Model (Shapeev 2016; Novikov et al., npj Comput. Mater. 2022; Kotykhov et al.,
/// Sci. Rep. 2023): site energy E_i = species_coeffs[z_i] + Σ_α ξ_α B_α, with
/// B_α = moment[alpha_moment_mapping[α]]; basic moments
/// M_k = Σ_j f_μ(r_ij, z_i, z_j, m_i, m_j) r̂_ij^⊗(a,b,c) for alpha_index_basic[k] = {μ,a,b,c};
/// products moment[k] += mult·moment[p]·moment[q] for alpha_index_times = {p,q,mult,k}.
/// f_μ = Σ_{ξ,a,b} c[z_i][z_j][μ][ξ·M² + a·M + b] Q_ξ(r) T_a(x(m_i)) T_b(x(m_j)), where
/// Q_ξ(r) = scaling·T_ξ(ρ(r))·(max_dist − r)² for r < max_dist (0 beyond),
/// ρ = (2r − min_dist − max_dist)/(max_dist − min_dist), x(m) = (2m − min_val − max_val)/
/// (max_val − min_val), T = Chebyshev polynomials of the first kind, M = magnetic_basis_size
/// (1 and T_0 = 1 for a non-magnetic potential). Format notes: MLIP-3 `mtp.cpp`
/// (`MLMTPR::Load`) as documented in shared/data/mlip/README.md.
struct MtpParameters {
  std::string version = "1.1.0";
  std::string potential_name = "MTP1m";
  std::string potential_tag;     ///< free text; mmtp stores `mmtp:species=Fe,Al` here
  double scaling = 1.0;          ///< factor on every radial basis function
  int species_count = 0;
  double min_dist = 0.0;         ///< R_min [Å]
  double max_dist = 0.0;         ///< R_cut [Å]
  int radial_basis_size = 0;     ///< Chebyshev order count in distance
  int radial_funcs_count = 0;    ///< number of radial functions μ
  bool magnetic = false;         ///< has a `magnetic_basis_type = BChebyshev` block
  double min_val = 0.0;          ///< lower end of the moment range [μB]
  double max_val = 0.0;          ///< upper end of the moment range [μB]
  int magnetic_basis_size = 1;   ///< M (1 for non-magnetic)
  /// Radial coefficients, size S·S·radial_funcs_count·radial_basis_size·M², index
  /// radial_coeff_index(z_i, z_j, μ, ξ, a, b). Empty in an untrained template.
  std::vector<double> radial_coeffs;
  int alpha_moments_count = 0;
  std::vector<std::array<int, 4>> alpha_index_basic;  ///< {μ, a, b, c}
  std::vector<std::array<int, 4>> alpha_index_times;  ///< {p, q, mult, k}
  std::vector<int> alpha_moment_mapping;              ///< moment index of each B_α
  std::vector<double> species_coeffs;                 ///< [eV], size S (empty in a template)
  std::vector<double> moment_coeffs;                  ///< ξ_α [eV], size alpha_scalar_moments
  /// Element symbol of each type (type t = species_names[t]); may be empty (unknown).
  std::vector<std::string> species_names;
  /// Per-species moment ranges M_max^z [μB] (Kotykhov et al. 2023): the magnetic basis of an
  /// atom of type z is T_a(m/M_max^z) on (−M_max^z, M_max^z). Empty: every type uses
  /// [min_val, max_val]. MLIP-3 files hold one range; io::write_mtp converts exactly.
  std::vector<double> moment_max;
  /// Calibration factor α of the committee this potential belongs to (the α of i-PI's
  /// `<ffcommittee><alpha>`; fit::calibrate). 0 = not given. Stored in `potential_tag`.
  double committee_alpha = 0.0;
  /// Error floor s0 of that committee [eV/atom] (fit::calibrate): the energy std per atom is
  /// sqrt((α·spread)² + s0²). 0 = none. Stored in `potential_tag`.
  double committee_floor = 0.0;

  /// Moment range [lo, hi] of type t [μB]: ±moment_max[t], or [min_val, max_val].
  std::pair<double, double> moment_range(int t) const {
    if (moment_max.empty()) return {min_val, max_val};
    return {-moment_max[static_cast<std::size_t>(t)], moment_max[static_cast<std::size_t>(t)]};
  }

  int alpha_scalar_moments() const { return static_cast<int>(alpha_moment_mapping.size()); }
  /// Numbers per (z_i, z_j) pair and radial function: radial_basis_size·M².
  int radial_coeffs_per_function() const {
    return radial_basis_size * magnetic_basis_size * magnetic_basis_size;
  }
  std::size_t radial_coeff_index(int zi, int zj, int mu, int xi, int a, int b) const {
    const int m = magnetic_basis_size;
    return ((static_cast<std::size_t>(zi) * species_count + zj) * radial_funcs_count + mu) *
               radial_coeffs_per_function() +
           static_cast<std::size_t>(xi) * m * m + a * m + b;
  }
  /// Number of radial coefficients: S²·radial_funcs_count·radial_basis_size·M².
  std::size_t radial_coeff_count() const {
    return static_cast<std::size_t>(species_count) * species_count * radial_funcs_count * radial_coeffs_per_function();
  }
  /// True when radial, species and moment coefficients are all present (not a template).
  bool trained() const;
  /// Number of fitted parameters: radial + species + moment coefficients (from the sizes, so
  /// also of an untrained template).
  std::size_t parameter_count() const;
  /// Checks every size and index against the counts. Throws InputError
  /// naming the field. Templates (no coefficients) pass when `require_coefficients` is false.
  void validate(bool require_coefficients = true) const;
  /// Type index of an element symbol; throws mmtp::Error when the potential lacks it.
  int type_of(const std::string& symbol) const;
};

/// The same potential (the same E(r, m) for every moment) on the per-species moment ranges
/// [−moment_max[z], moment_max[z]] [μB], wider or narrower than p's own (p.moment_max, or the
/// symmetric file range): each pair's coefficients are re-expanded exactly in the new
/// T_a(m_i/M_i)·T_b(m_j/M_j). [min_val, max_val] becomes ±max(moment_max). Throws InputError for
/// a count other than species_count, a range ≤ 0, or an asymmetric file range without moment_max.
MtpParameters with_moment_ranges(const MtpParameters& p, const std::vector<double>& moment_max);

/// The same potential with one moment range [−G, G] for every species, G = max_z M_max^z, as
/// MLIP-3 files hold it: each pair's coefficients c[..][a][b] of T_a(m_i/M_i)·T_b(m_j/M_j) are
/// re-expanded exactly in T_a(m_i/G)·T_b(m_j/G) (polynomials of degree < M are closed under
/// x → s·x). Returns `p` unchanged when it has no per-species ranges; otherwise moment_max is
/// cleared and [min_val, max_val] = [−G, G] (to_species_moment_ranges undoes it).
MtpParameters to_common_moment_range(const MtpParameters& p);
/// Inverse of to_common_moment_range: coefficients for [min_val, max_val] = [−G, G] turned into
/// per-species ones for the ranges `moment_max` (each ≤ G). Throws InputError when the file
/// range is not symmetric.
MtpParameters to_species_moment_ranges(const MtpParameters& p, const std::vector<double>& moment_max);

}  // namespace mmtp
