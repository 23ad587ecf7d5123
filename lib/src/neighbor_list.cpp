#include "mmtp/neighbor_list.hpp"

#include <fmt/core.h>
#include <omp.h>

#include <Eigen/Geometry>
#include <Eigen/LU>
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <tuple>

#include "mmtp/error.hpp"

namespace mmtp {
namespace {

/// The cell used for fractional coordinates: lattice vectors along periodic directions, and
/// for non-periodic directions the given vector, or an orthonormal completion when it is zero
/// (clusters, slabs and wires often carry no vector there).
Eigen::Matrix3d effective_cell(const Structure& s) {
  Eigen::Matrix3d h = s.cell;
  for (int d = 0; d < 3; ++d) {
    if (s.pbc[d] || h.col(d).norm() > 1e-12) continue;
    Eigen::Vector3d best = Eigen::Vector3d::Zero();
    for (int axis = 0; axis < 3; ++axis) {
      Eigen::Vector3d v = Eigen::Vector3d::Unit(axis);
      for (int e = 0; e < 3; ++e) {
        const double nn = h.col(e).squaredNorm();
        if (e != d && nn > 0) v -= h.col(e) * (h.col(e).dot(v) / nn);
      }
      if (v.norm() > best.norm()) best = v;
    }
    h.col(d) = best.normalized();
  }
  return h;
}

}  // namespace

namespace {

/// The atoms (wrapped into the cell) and their periodic images that can lie within the cutoff
/// of the cell: point p < N is atom p with no shift.
struct Points {
  std::vector<Eigen::Vector3d> position;
  std::vector<int> atom;  ///< the atom of each point
};

Points periodic_points(const Structure& s, double cutoff) {
  const Index n = s.size();
  const Eigen::Matrix3d h = effective_cell(s);
  const double det = std::abs(h.determinant());
  if (!(det > 1e-9 * h.col(0).norm() * h.col(1).norm() * h.col(2).norm()) || !std::isfinite(det))
    throw InputError("singular cell: the lattice vectors are (nearly) linearly dependent");
  Eigen::Matrix3Xd frac = h.inverse() * s.positions;
  if (!frac.allFinite())
    throw InputError("atom positions are not finite in the cell's fractional coordinates "
                     "(a position far outside a tiny cell, or not a number)");
  std::array<int, 3> images{0, 0, 0};
  std::array<double, 3> margin{0, 0, 0};
  for (int d = 0; d < 3; ++d) {
    if (!s.pbc[d]) continue;
    for (Index i = 0; i < n; ++i) {
      double& f = frac(d, i);
      f -= std::floor(f);
      if (f >= 1.0) f = 0.0;  // rounding of tiny negatives
    }
    const double spacing = det / h.col((d + 1) % 3).cross(h.col((d + 2) % 3)).norm();
    margin[d] = cutoff / spacing;
    const double k = std::ceil(margin[d]);
    if (k > 1e6) throw Error(fmt::format("cell too thin: {} periodic images needed along lattice vector {}", k, d + 1));
    images[d] = static_cast<int>(k);
  }
  const Eigen::Matrix3Xd wrapped = h * frac;

  // For each atom, only the shifts along each periodic direction that keep it within the
  // margin. Counted before anything is allocated: a cell far denser or thinner than any solid
  // (a hostile or corrupt input) is refused instead of exhausting memory.
  auto shift_range = [&](Index i, int d) {
    if (!s.pbc[d]) return std::pair{0, 0};
    return std::pair{std::max(-images[d], static_cast<int>(std::ceil(-margin[d] - frac(d, i)))),
                     std::min(images[d], static_cast<int>(std::floor(1.0 + margin[d] - frac(d, i))))};
  };
  double image_points = 0;
  for (Index i = 0; i < n; ++i) {
    double per_atom = 1;
    for (int d = 0; d < 3; ++d) {
      const auto [lo_shift, hi_shift] = shift_range(i, d);
      per_atom *= hi_shift - lo_shift + 1;
    }
    image_points += per_atom - 1;
  }
  const double image_limit = std::max(1e5, 20.0 * static_cast<double>(n));
  if (image_points > image_limit)
    throw Error(fmt::format("cell too small or too thin for cutoff {} Å: {:.3g} periodic images of {} atoms needed "
                            "(limit {:.3g}; a real solid needs a few per atom)", cutoff, image_points, n, image_limit));

  Points out;
  out.atom.reserve(static_cast<std::size_t>(n + image_points));
  out.position.reserve(out.atom.capacity());
  for (Index i = 0; i < n; ++i) {
    out.atom.push_back(static_cast<int>(i));
    out.position.emplace_back(wrapped.col(i));
  }
  std::array<int, 3> lo_s{}, hi_s{};
  for (Index i = 0; i < n; ++i) {
    for (int d = 0; d < 3; ++d) std::tie(lo_s[d], hi_s[d]) = shift_range(i, d);
    for (int a = lo_s[0]; a <= hi_s[0]; ++a)
      for (int b = lo_s[1]; b <= hi_s[1]; ++b)
        for (int c = lo_s[2]; c <= hi_s[2]; ++c) {
          if (a == 0 && b == 0 && c == 0) continue;
          out.atom.push_back(static_cast<int>(i));
          out.position.emplace_back(wrapped.col(i) + h * Eigen::Vector3d(a, b, c));
        }
  }
  return out;
}

/// Cell lists: bins no smaller than half the cutoff, so that neighbours lie within two bins; the
/// points sorted by bin (counting sort) and stored as coordinate arrays in bin order, so that a
/// bin's candidates are read contiguously.
struct CellLists {
  std::array<Index, 3> nb{1, 1, 1};
  Eigen::Vector3d lo, width;
  std::vector<Index> bin_start;     ///< the sorted points of bin b are bin_start[b] .. bin_start[b+1]−1
  std::vector<double> xs, ys, zs;   ///< sorted coordinates
  std::vector<int> atom;            ///< the atom of each sorted point
  std::vector<Index> point;         ///< its index in Points

  Index coord(const Eigen::Vector3d& p, int d) const {
    const double t = (p[d] - lo[d]) / width[d];  // NaN only for inf/inf at an overflowed extent
    return t > 0 ? std::min<Index>(nb[d] - 1, static_cast<Index>(std::min(t, static_cast<double>(nb[d] - 1)))) : Index{0};
  }

  CellLists(const Points& pts, double cutoff) {
    const Index np = static_cast<Index>(pts.position.size());
    lo = Eigen::Vector3d::Constant(std::numeric_limits<double>::infinity());
    Eigen::Vector3d hi = -lo;
    for (const auto& p : pts.position) {
      lo = lo.cwiseMin(p);
      hi = hi.cwiseMax(p);
    }
    const double min_width = 0.5 * cutoff;
    // Bin counts are chosen in floating point and capped before conversion: the extent of a
    // cluster may be anything up to the largest finite coordinate (or overflow to +inf).
    const double max_bins = 4.0 * static_cast<double>(np) + 64;
    for (int d = 0; d < 3; ++d) {
      const double bins = std::floor((hi[d] - lo[d]) / min_width);  // -inf without atoms
      nb[d] = bins >= 1 ? static_cast<Index>(std::min(max_bins, bins)) : 1;
    }
    while (static_cast<double>(nb[0]) * nb[1] * nb[2] > 4.0 * np + 64) {
      auto& big = nb[0] >= nb[1] && nb[0] >= nb[2] ? nb[0] : (nb[1] >= nb[2] ? nb[1] : nb[2]);
      big = std::max<Index>(1, big / 2);
    }
    for (int d = 0; d < 3; ++d) width[d] = std::max(min_width, (hi[d] - lo[d]) / static_cast<double>(nb[d]));
    const Index nbins = nb[0] * nb[1] * nb[2];
    bin_start.assign(static_cast<std::size_t>(nbins + 1), 0);
    std::vector<Index> bin_of(static_cast<std::size_t>(np));
    for (Index p = 0; p < np; ++p) {
      const auto& r = pts.position[p];
      bin_of[p] = (coord(r, 0) * nb[1] + coord(r, 1)) * nb[2] + coord(r, 2);
      ++bin_start[bin_of[p] + 1];
    }
    for (std::size_t b = 1; b < bin_start.size(); ++b) bin_start[b] += bin_start[b - 1];
    xs.resize(static_cast<std::size_t>(np)), ys.resize(xs.size()), zs.resize(xs.size());
    atom.resize(xs.size()), point.resize(xs.size());
    std::vector<Index> fill(bin_start.begin(), bin_start.end() - 1);
    for (Index p = 0; p < np; ++p) {
      const Index q = fill[bin_of[p]]++;
      xs[q] = pts.position[p][0], ys[q] = pts.position[p][1], zs[q] = pts.position[p][2];
      atom[q] = pts.atom[p];
      point[q] = p;
    }
  }
};

}  // namespace

NeighborList NeighborList::build(const Structure& s, double cutoff, Index sites) {
  s.validate();
  if (!(std::isfinite(cutoff) && cutoff > 0)) throw InputError(fmt::format("cutoff = {} must be positive", cutoff));
  const Index n = s.size();
  if (sites > n) throw InputError(fmt::format("{} sites of a structure of {} atoms", sites, n));
  if (sites < 0) sites = n;
  const Points pts = periodic_points(s, cutoff);
  const CellLists cells(pts, cutoff);
  const auto& nb = cells.nb;

  // One pass over the sites; each thread fills its own buffers for a contiguous block of
  // sites (static schedule), which are then concatenated in thread order.
  const double cut2 = cutoff * cutoff;
  NeighborList nl;
  nl.cutoff = cutoff;
  nl.offsets.assign(static_cast<std::size_t>(sites + 1), 0);
  std::vector<std::vector<int>> found_atom;
  std::vector<std::vector<double>> found_vec;
  // Neighbours of site i, appended to fa/fv; false (and stops) past max_neighbors, which no
  // real material reaches (about 0.2 atoms/Å³ gives ~430 within 8 Å).
  constexpr std::size_t max_neighbors = 20000;
  auto search = [&](Index i, std::vector<int>& fa, std::vector<double>& fv) {
    const std::size_t before = fa.size();
    const Eigen::Vector3d& ri = pts.position[i];
    const Index b0 = cells.coord(ri, 0), b1 = cells.coord(ri, 1), b2 = cells.coord(ri, 2);
    for (Index x = std::max<Index>(0, b0 - 2); x <= std::min(nb[0] - 1, b0 + 2); ++x)
      for (Index y = std::max<Index>(0, b1 - 2); y <= std::min(nb[1] - 1, b1 + 2); ++y) {
        // Bins adjacent along z are contiguous in the sorted arrays.
        const Index row = (x * nb[1] + y) * nb[2];
        const Index q0 = cells.bin_start[row + std::max<Index>(0, b2 - 2)];
        const Index q1 = cells.bin_start[row + std::min(nb[2] - 1, b2 + 2) + 1];
        for (Index q = q0; q < q1; ++q) {
          const double dx = cells.xs[q] - ri[0], dy = cells.ys[q] - ri[1], dz = cells.zs[q] - ri[2];
          if (dx * dx + dy * dy + dz * dz < cut2 && cells.point[q] != i) {
            fa.push_back(cells.atom[q]);
            fv.insert(fv.end(), {dx, dy, dz});
            if (fa.size() - before > max_neighbors) return false;
          }
        }
      }
    nl.offsets[i + 1] = static_cast<Index>(fa.size() - before);
    return true;
  };
  std::atomic<Index> too_dense{-1};
#pragma omp parallel
  {
#pragma omp single
    {
      found_atom.resize(static_cast<std::size_t>(omp_get_num_threads()));
      found_vec.resize(found_atom.size());
    }
    auto& fa = found_atom[static_cast<std::size_t>(omp_get_thread_num())];
    auto& fv = found_vec[static_cast<std::size_t>(omp_get_thread_num())];
#pragma omp for schedule(static)
    for (Index i = 0; i < sites; ++i)
      if (too_dense.load(std::memory_order_relaxed) < 0 && !search(i, fa, fv)) too_dense.store(i);
  }
  if (too_dense.load() >= 0)
    throw Error(fmt::format("atom {} has more than {} neighbours within {} Å: the atoms are far denser than any material "
                            "(coincident atoms or a corrupt structure)", too_dense.load() + 1, max_neighbors, cutoff));
  for (Index i = 0; i < sites; ++i) nl.offsets[i + 1] += nl.offsets[i];
  nl.index.reserve(static_cast<std::size_t>(nl.offsets[sites]));
  nl.vectors.resize(3, nl.offsets[sites]);
  Index k = 0;
  for (std::size_t t = 0; t < found_atom.size(); ++t) {
    nl.index.insert(nl.index.end(), found_atom[t].begin(), found_atom[t].end());
    std::copy(found_vec[t].begin(), found_vec[t].end(), nl.vectors.data() + 3 * k);
    k += static_cast<Index>(found_atom[t].size());
  }
  return nl;
}

}  // namespace mmtp
