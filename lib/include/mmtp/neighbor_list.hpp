#pragma once
#include <Eigen/Core>
#include <vector>

#include "mmtp/structure.hpp"

namespace mmtp {

/// Full neighbour list: for every atom i, every atom j (periodic images included, i's own
/// images too) with 0 < |r_j + shift − r_i| < cutoff. Works for any triclinic cell, cells far
/// smaller than the cutoff, mixed periodicity and clusters. Built in O(N) with cell lists
/// over the atoms and the periodic images that can lie within the cutoff of the cell.
/// Pairs at distance 0 between *different* atoms are kept (the caller rejects them).
struct NeighborList {
  double cutoff = 0.0;            ///< [Å]
  std::vector<Index> offsets;     ///< size N+1; neighbours of i are offsets[i]..offsets[i+1]−1
  std::vector<int> index;         ///< neighbour atom (0..N−1, the image's original atom)
  Eigen::Matrix3Xd vectors;       ///< r_ij = r_j(image) − r_i [Å], 3×P

  Index pair_count() const { return static_cast<Index>(index.size()); }
  /// `sites` (default: all atoms) lists only the first `sites` atoms' neighbourhoods (offsets
  /// has sites + 1 entries); the neighbours are any atoms. A domain of a parallel run (LAMMPS:
  /// its local atoms, then the ghost atoms around them, no periodicity) needs the local ones only.
  /// Throws InputError when the structure does not validate, cutoff ≤ 0 or sites > N,
  /// mmtp::Error when the cell needs more than max(10⁵, 20·N) periodic images (a cell far
  /// smaller or thinner than the cutoff) or an atom has more than 20,000 neighbours (coincident
  /// atoms, a corrupt structure): limits checked before the memory is allocated.
  static NeighborList build(const Structure& s, double cutoff, Index sites = -1);
};

}  // namespace mmtp
