#pragma once
// The evaluation pass over sites: energy, site energies, forces, virial and dE/dm of one or
// several potentials that share a basis (a committee), with the geometry and the magnetic
// basis computed once per site for all of them and the members' sums batched into common
// matrix products. lib/README.md ("Committees in one pass") describes the layout.
#include <memory>
#include <vector>

#include "mmtp/geometry.hpp"
#include "mmtp/mtp.hpp"
#include "mmtp/neighbor_list.hpp"

namespace mmtp {

/// Potentials that share one basis (same_basis), evaluated in one pass. MagneticMtp holds a
/// pass over itself; Ensemble one per group of members with a common basis. Immutable after
/// construction (its coefficient tables are copies), so it may be shared between threads.
class SitePass {
 public:
  /// Throws std::invalid_argument when `members` is empty or two of them differ in their basis.
  explicit SitePass(const std::vector<const MtpParameters*>& members);
  ~SitePass();
  /// True when a and b differ only in their coefficients (species_coeffs, moment_coeffs,
  /// radial_coeffs): species count, R_min, R_cut, scaling, radial and magnetic basis sizes,
  /// moment ranges and the moment tensor indices (level) agree.
  static bool same_basis(const MtpParameters& a, const MtpParameters& b);
  std::size_t size() const;  ///< members

  /// One Result per member, for the sites of `nl` (its first offsets.size() − 1 atoms; the
  /// others are neighbours only: their forces and dE/dm are accumulated, their site energies
  /// stay 0 and their moments are not checked against the range). Throws like
  /// MagneticMtp::evaluate, and std::invalid_argument when the list has more sites than `s`
  /// atoms or a cutoff below R_cut.
  std::vector<Result> evaluate(const Structure& s, const NeighborList& nl, EvalMode mode, Derivatives what) const;
  /// Same with the geometry of the sites computed beforehand (it must fit the members' basis).
  std::vector<Result> evaluate(const Structure& s, const Geometry& g, EvalMode mode, Derivatives what) const;

 private:
  struct Tables;
  struct Workspace;
  template <class SiteOf>
  std::vector<Result> evaluate_sites(const Structure& s, Index sites, EvalMode mode, Derivatives what,
                                     const SiteOf& site_of) const;
  template <class Lanes>
  void site(const Structure& s, const SiteGeometry& g, Index i, bool magnetic, bool symmetrized, Derivatives what,
            Workspace& w, std::vector<Result>& out) const;

  std::unique_ptr<const Tables> t_;
};

}  // namespace mmtp
