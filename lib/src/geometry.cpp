#include "mmtp/geometry.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "mmtp/error.hpp"
#include "parallel.hpp"

namespace mmtp {

int AngularMonomials::max_rank(const MtpParameters& p) {
  int rank = 0;
  for (const auto& b : p.alpha_index_basic) rank = std::max(rank, b[1] + b[2] + b[3]);
  return rank;
}

AngularMonomials::AngularMonomials(const MtpParameters& p) {
  const int rank = max_rank(p);
  std::map<std::array<int, 3>, int> index;
  for (int n = 0; n <= rank; ++n)
    for (int a = n; a >= 0; --a)
      for (int b = n - a; b >= 0; --b) {
        Monomial m{{a, b, n - a - b}, {-1, -1, -1}, a ? 0 : (b ? 1 : 2)};
        for (int d = 0; d < 3; ++d)
          if (m.power[d]) {
            std::array<int, 3> low = m.power;
            --low[d];
            m.lower[d] = index.at(low);
          }
        index[m.power] = static_cast<int>(list.size());
        list.push_back(m);
      }
  std::vector<bool> is_used(list.size(), false);
  for (const auto& b : p.alpha_index_basic) {
    const int m = index.at({b[1], b[2], b[3]});
    of_basic.push_back(m);
    is_used[static_cast<std::size_t>(m)] = true;
    if (b[0] >= static_cast<int>(of_radial.size())) of_radial.resize(static_cast<std::size_t>(b[0]) + 1, 0);
    of_radial[static_cast<std::size_t>(b[0])] = std::max(of_radial[static_cast<std::size_t>(b[0])], m + 1);
  }
  of_radial.resize(std::max<std::size_t>(of_radial.size(), static_cast<std::size_t>(p.radial_funcs_count)), 0);
  for (std::size_t m = 1; m < list.size(); ++m)
    if (is_used[m]) used.push_back(static_cast<int>(m));
}

void SiteGeometry::build(const MtpParameters& p, const AngularMonomials& mono, const Structure& s, const NeighborList& nl,
                         Index i) {
  const Index begin = nl.offsets[i];
  nn = nl.offsets[i + 1] - begin;
  const int S = p.species_count, R = p.radial_basis_size;
  // Neighbours sorted by species (counting sort), so that radial functions are computed for
  // contiguous runs of one coefficient set.
  type_start.assign(static_cast<std::size_t>(S + 1), 0);
  for (Index k = 0; k < nn; ++k) ++type_start[s.species[nl.index[begin + k]] + 1];
  for (int t = 0; t < S; ++t) type_start[t + 1] += type_start[t];
  atom.resize(static_cast<std::size_t>(nn));
  r.resize(nn);
  unit.resize(3, nn);
  vec.resize(3, nn);
  short_pairs = 0;
  min_distance = std::numeric_limits<double>::infinity();
  std::vector<Index> fill(type_start.begin(), type_start.end() - 1);
  for (Index k = 0; k < nn; ++k) {
    const int j = nl.index[begin + k];
    const Index q = fill[s.species[j]]++;
    const double d = nl.vectors.col(begin + k).norm();
    if (d < 1e-8) throw Error(fmt::format("atoms {} and {} coincide (distance {:.3g} Å)", i + 1, j + 1, d));
    atom[q] = j;
    vec.col(q) = nl.vectors.col(begin + k);
    r[q] = d;
    unit.col(q) = vec.col(q) / d;
    if (d < p.min_dist) ++short_pairs;
    min_distance = std::min(min_distance, d);
  }
  Q.resize(R, nn);
  dQ.resize(R, nn);
  U.resize(mono.size(), nn);
  if (nn == 0) return;  // an isolated atom (the row views below would offset a null pointer)
  // Radial basis (Eq. 4, distance part) by the Chebyshev recurrence applied to the products
  // T_ξ(ρ)·(R_cut − r)² (it is linear, so the smoothing factor carries through).
  const double span = p.max_dist - p.min_dist, drho = 2.0 / span;
  const Eigen::ArrayXd rho = (2.0 * r - (p.min_dist + p.max_dist)) / span;
  const Eigen::ArrayXd cut = p.max_dist - r;
  Q.row(0) = p.scaling * cut.square();
  dQ.row(0) = -2.0 * p.scaling * cut;
  if (R > 1) {
    Q.row(1) = rho.transpose() * Q.row(0);
    dQ.row(1) = drho * Q.row(0) + rho.transpose() * dQ.row(0);
  }
  for (int x = 2; x < R; ++x) {
    Q.row(x) = 2.0 * rho.transpose() * Q.row(x - 1) - Q.row(x - 2);
    dQ.row(x) = 2.0 * (drho * Q.row(x - 1) + rho.transpose() * dQ.row(x - 1)) - dQ.row(x - 2);
  }
  // Angular monomials x̂^a ŷ^b ẑ^c (Eq. 3), each from its parent.
  U.row(0).setOnes();
  for (int m = 1; m < mono.size(); ++m) {
    const auto& e = mono.list[static_cast<std::size_t>(m)];
    U.row(m) = U.row(e.lower[e.axis]) * unit.row(e.axis);
  }
}

Geometry::Geometry(const MtpParameters& p, const Structure& s, const NeighborList& nl)
    : min_dist_(p.min_dist), max_dist_(p.max_dist), scaling_(p.scaling), radial_basis_size_(p.radial_basis_size),
      max_rank_(AngularMonomials::max_rank(p)) {
  const Index n = static_cast<Index>(nl.offsets.size()) - 1;  // the sites
  if (n < 0 || n > s.size() || nl.cutoff < p.max_dist)
    throw std::invalid_argument("neighbour list does not match the structure or its cutoff is too short");
  const AngularMonomials mono(p);
  sites_.resize(static_cast<std::size_t>(n));
  FirstError error;
#pragma omp parallel for schedule(static)
  for (Index i = 0; i < n; ++i) error.run([&] { sites_[static_cast<std::size_t>(i)].build(p, mono, s, nl, i); });
  error.rethrow();
}

bool Geometry::fits(const MtpParameters& p) const {
  return p.min_dist == min_dist_ && p.max_dist == max_dist_ && p.scaling == scaling_ &&
         p.radial_basis_size == radial_basis_size_ && AngularMonomials::max_rank(p) == max_rank_;
}

}  // namespace mmtp
