#include "mmtp/neighbor_list.hpp"

#include <gtest/gtest.h>

#include <Eigen/LU>
#include <algorithm>
#include <random>

#include "helpers.hpp"
#include "mmtp/error.hpp"

namespace mmtp {
namespace {

/// Sorted neighbour distances of atom i by brute force over a generous image range.
std::vector<double> brute_force(const Structure& s, Index i, double cutoff) {
  std::vector<double> d;
  const int k = 8;
  for (Index j = 0; j < s.size(); ++j)
    for (int a = -k * s.pbc[0]; a <= k * s.pbc[0]; ++a)
      for (int b = -k * s.pbc[1]; b <= k * s.pbc[1]; ++b)
        for (int c = -k * s.pbc[2]; c <= k * s.pbc[2]; ++c) {
          const double r = (s.positions.col(j) + s.cell * Eigen::Vector3d(a, b, c) - s.positions.col(i)).norm();
          if (r < cutoff && !(j == i && a == 0 && b == 0 && c == 0)) d.push_back(r);
        }
  std::sort(d.begin(), d.end());
  return d;
}

std::vector<double> listed(const NeighborList& nl, Index i) {
  std::vector<double> d;
  for (Index k = nl.offsets[i]; k < nl.offsets[i + 1]; ++k) d.push_back(nl.vectors.col(k).norm());
  std::sort(d.begin(), d.end());
  return d;
}

void expect_matches_brute_force(const Structure& s, double cutoff) {
  const NeighborList nl = NeighborList::build(s, cutoff);
  for (Index i = 0; i < s.size(); ++i) {
    const auto ref = brute_force(s, i, cutoff), got = listed(nl, i);
    ASSERT_EQ(got.size(), ref.size()) << "atom " << i;
    for (std::size_t q = 0; q < ref.size(); ++q) EXPECT_NEAR(got[q], ref[q], 1e-10);
  }
  // Vectors point to the listed atom's image.
  Eigen::Matrix3d h = s.cell;
  for (Index i = 0; i < s.size(); ++i)
    for (Index k = nl.offsets[i]; k < nl.offsets[i + 1]; ++k) {
      const Eigen::Vector3d d = nl.vectors.col(k) - (s.positions.col(nl.index[k]) - s.positions.col(i));
      if (s.pbc[0] && s.pbc[1] && s.pbc[2]) {
        const Eigen::Vector3d n = h.inverse() * d;
        EXPECT_LE((n - n.array().round().matrix()).norm(), 1e-9);
      }
    }
}

TEST(NeighborList, OneAtomBccPrimitiveCellHas58Images) {
  const Structure s = test::structure("bcc_prim1.cfg");
  const NeighborList nl = NeighborList::build(s, 5.0);
  EXPECT_EQ(nl.pair_count(), 58);
  for (int j : nl.index) EXPECT_EQ(j, 0);
}

TEST(NeighborList, SkewedTriclinicAndRandomCellsMatchBruteForce) {
  expect_matches_brute_force(test::structure("tric4_2sp.cfg"), 5.0);
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(-1, 1);
  for (int trial = 0; trial < 6; ++trial) {
    Structure s;
    s.cell << 3.0 + u(rng), 1.2 * u(rng), 0.8 * u(rng), 0.9 * u(rng), 2.5 + u(rng), 1.1 * u(rng), 0.5 * u(rng), 0.4 * u(rng),
        4.0 + u(rng);
    const int n = 1 + trial * 3;
    s.positions = s.cell * (Eigen::Matrix3Xd::Random(3, n).array() * 1.5).matrix();  // also outside the cell
    s.species.assign(static_cast<std::size_t>(n), 0);
    s.pbc = {trial % 3 != 1, true, trial % 2 == 0};
    expect_matches_brute_force(s, 4.7);
  }
}

TEST(NeighborList, ClusterWithoutCell) {
  Structure s;
  s.pbc = {false, false, false};
  s.positions = Eigen::Matrix3Xd::Random(3, 30) * 6.0;
  s.species.assign(30, 0);
  expect_matches_brute_force(s, 5.0);
  s.positions.resize(3, 1);
  s.species = {0};
  EXPECT_EQ(NeighborList::build(s, 5.0).pair_count(), 0);  // isolated atom
}

TEST(NeighborList, LargeCellMatchesBruteForceSample) {
  Structure s;
  s.cell = Eigen::Matrix3d::Identity() * 14.3;
  s.cell(0, 1) = 2.0;
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  const int n = 400;
  s.positions.resize(3, n);
  for (int i = 0; i < n; ++i) s.positions.col(i) = s.cell * Eigen::Vector3d(u(rng), u(rng), u(rng));
  s.species.assign(n, 0);
  const NeighborList nl = NeighborList::build(s, 5.0);
  for (Index i : {0, 17, 199, 399}) {
    const auto ref = brute_force(s, i, 5.0), got = listed(nl, i);
    ASSERT_EQ(got.size(), ref.size());
  }
}

TEST(NeighborList, SingularCellIsRejected) {
  Structure s = test::structure("tric4_2sp.cfg");
  s.cell.col(2) = s.cell.col(0) + s.cell.col(1);
  EXPECT_THROW(NeighborList::build(s, 5.0), InputError);
}

// Fuzz finding (tests/fuzz/regressions/ipi/fractional-coordinates-inf-nan-to-int): a finite
// position so far outside a tiny cell that its fractional coordinate overflows to inf.
TEST(NeighborList, OverflowingFractionalCoordinateIsRejected) {
  Structure s = test::structure("tric4_2sp.cfg");
  s.cell *= 1e-4;
  s.positions(0, 0) = 1e306;
  try {
    NeighborList::build(s, 5.0);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("fractional coordinates"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mmtp
