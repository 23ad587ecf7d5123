#pragma once
#include <Eigen/Core>
#include <array>
#include <limits>
#include <vector>

#include "mmtp/mtp_parameters.hpp"
#include "mmtp/neighbor_list.hpp"
#include "mmtp/structure.hpp"

namespace mmtp {

/// Row-major array: rows are basis functions, columns are neighbours (one contiguous row per
/// function, so that sums over neighbours vectorise).
template <class T>
using RowArray = Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// The angular monomials x̂^a ŷ^b ẑ^c, a + b + c ≤ the largest rank of the potential's basic
/// moments: the components of r̂^⊗ν in the moment tensors (Kotykhov et al. 2023, Eq. 3), listed
/// by rank so that each monomial's parents (one power less along an axis) come first.
struct AngularMonomials {
  struct Monomial {
    std::array<int, 3> power;  ///< a, b, c
    std::array<int, 3> lower;  ///< monomial with one power less along x, y, z (−1 if none)
    int axis;                  ///< the axis the recurrence multiplies by (first nonzero power)
  };
  std::vector<Monomial> list;
  std::vector<int> of_basic;  ///< monomial of each basic moment (alpha_index_basic)
  std::vector<int> used;      ///< monomials of rank ≥ 1 that some basic moment uses
  /// per radial function μ: its basic moments use monomials of the first of_radial[μ] of the list
  /// (those of rank ≤ the largest rank with μ, since the list is by rank); 0 if none
  std::vector<int> of_radial;
  explicit AngularMonomials(const MtpParameters& p);
  /// Largest rank a + b + c of the basic moments of `p`.
  static int max_rank(const MtpParameters& p);
  int size() const { return static_cast<int>(list.size()); }
};

/// Everything about atom i's neighbourhood that depends on positions and cell only
/// (Kotykhov et al. 2023, Eqs. 3–4): the neighbours sorted by species, r_ij, and per neighbour
/// the radial basis Q_ξ(r) = scaling·T_ξ(ρ(r))·(R_cut − r)², ρ = (2r − R_min − R_cut)/(R_cut − R_min)
/// (T = Chebyshev polynomials of the first kind), its derivative, and the angular monomials.
struct SiteGeometry {
  Index nn = 0;                  ///< neighbours within R_cut
  std::vector<int> atom;         ///< neighbour atom index, sorted by species
  std::vector<Index> type_start; ///< neighbours of species t are type_start[t] .. type_start[t+1]−1
  Eigen::ArrayXd r;              ///< |r_ij| [Å], size nn
  RowArray<double> unit;         ///< r̂_ij, 3×nn (rows: x, y, z)
  Eigen::Array3Xd vec;           ///< r_ij [Å], 3×nn
  RowArray<double> Q, dQ;        ///< Q_ξ(r_ij) and dQ_ξ/dr [Å⁻¹], radial_basis_size × nn
  RowArray<double> U;            ///< monomial m of r̂_ij, AngularMonomials::size() × nn
  int short_pairs = 0;           ///< neighbours closer than R_min
  double min_distance = std::numeric_limits<double>::infinity();  ///< shortest r_ij [Å]

  /// Fills this for atom i (reusing its memory). Throws mmtp::Error when two atoms coincide.
  void build(const MtpParameters& p, const AngularMonomials& mono, const Structure& s, const NeighborList& nl, Index i);
};

/// SiteGeometry of every atom of a structure, for one potential's basis (R_min, R_cut,
/// scaling, radial basis size, ranks): computed once and reused while only the moments
/// (relax_moments) or only the coefficients (fitting) change. About
/// (2·radial_basis_size + monomials + 8)·8 bytes per neighbour pair.
class Geometry {
 public:
  Geometry() = default;
  /// For the sites of `nl` (its first offsets.size() − 1 atoms). Throws std::invalid_argument
  /// when the list does not fit the structure or its cutoff is shorter than R_cut,
  /// mmtp::Error when two atoms coincide.
  Geometry(const MtpParameters& p, const Structure& s, const NeighborList& nl);
  Index size() const { return static_cast<Index>(sites_.size()); }
  const SiteGeometry& site(Index i) const { return sites_[static_cast<std::size_t>(i)]; }
  /// True when `p` has the basis this geometry was computed for.
  bool fits(const MtpParameters& p) const;

 private:
  std::vector<SiteGeometry> sites_;
  double min_dist_ = 0, max_dist_ = 0, scaling_ = 0;
  int radial_basis_size_ = 0, max_rank_ = 0;
};

}  // namespace mmtp
