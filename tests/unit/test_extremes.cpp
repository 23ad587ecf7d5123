// Input extremes (issue 7): coincident atoms, pairs closer than min_dist, isolated atoms,
// clusters, absurd moments, NaN anywhere. Each gives a defined result or a clear error, never
// inf or NaN out.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "helpers.hpp"
#include "mmtp/error.hpp"
#include "mmtp/io/abinit.hpp"
#include "mmtp/io/cfg.hpp"
#include "mmtp/io/extxyz.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/mtp.hpp"

namespace mmtp {
namespace {

using test::data;
using test::load;

void expect_finite(const Result& r) {
  EXPECT_TRUE(std::isfinite(r.energy));
  EXPECT_TRUE(r.forces.allFinite());
  EXPECT_TRUE(r.virial.allFinite());
  EXPECT_TRUE(r.dE_dm.allFinite());
}

/// `n` atoms of alternating species, non-periodic, with moments ±2 μB.
Structure cluster(const Eigen::Matrix3Xd& positions) {
  Structure s;
  s.pbc = {false, false, false};
  s.positions = positions;
  for (Index i = 0; i < positions.cols(); ++i) s.species.push_back(static_cast<int>(i % 2));
  s.magmoms = Eigen::VectorXd::Constant(positions.cols(), 2.0);
  for (Index i = 1; i < positions.cols(); i += 2) s.magmoms[i] = -1.0;
  return s;
}

TEST(Extremes, TwoAtomsAtTheSamePositionAreAnError) {
  const MagneticMtp mtp = load("rand16_2sp_mag2.mtp");
  Eigen::Matrix3Xd p(3, 3);
  p << 0, 2.4, 2.4, 0, 0, 0, 0, 0, 0;
  try {
    mtp.evaluate(cluster(p));
    FAIL() << "coincident atoms were evaluated";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("coincide (distance 0 Å)"), std::string::npos) << e.what();
  }
  // Many atoms on one point: refused by the neighbour limit, without an N² pair list.
  const Structure pile = cluster(Eigen::Matrix3Xd::Zero(3, 30000));
  try {
    mtp.evaluate(pile);
    FAIL() << "30000 coincident atoms were evaluated";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more than 20000 neighbours"), std::string::npos) << e.what();
  }
}

TEST(Extremes, PairsCloserThanMinDistAreFiniteAndCounted) {
  const MagneticMtp mtp = load("rand16_2sp_mag2.mtp");  // min_dist 1.9 Å
  for (double r : {1.0, 0.1, 1e-3, 1e-6}) {
    Eigen::Matrix3Xd p(3, 3);
    p << 0, r, 0, 0, 0, 2.5, 0, 0, 0;
    Result res;
    try {
      res = mtp.evaluate(cluster(p));
    } catch (const Error& e) {
      ADD_FAILURE() << "r = " << r << ": " << e.what();
      continue;
    }
    expect_finite(res);
    EXPECT_GE(res.extrapolation.short_pairs, 2) << r;  // i→j and j→i
    EXPECT_NEAR(res.extrapolation.min_distance, r, 1e-12) << r;
  }
}

TEST(Extremes, IsolatedAtomHasOnlyItsSpeciesEnergy) {
  const MagneticMtp mtp = load("rand16_2sp_mag2.mtp");
  const auto& p = mtp.parameters();
  // Alone; and far (100 Å, beyond the cutoff) from a dimer in a cluster.
  Eigen::Matrix3Xd one = Eigen::Matrix3Xd::Zero(3, 1);
  const Result alone = mtp.evaluate(cluster(one));
  EXPECT_DOUBLE_EQ(alone.energy, p.species_coeffs[0]);
  EXPECT_EQ(alone.forces, Eigen::Matrix3Xd::Zero(3, 1));
  EXPECT_EQ(alone.virial, Eigen::Matrix3d::Zero());
  EXPECT_EQ(alone.dE_dm, Eigen::VectorXd::Zero(1));
  Eigen::Matrix3Xd three(3, 3);
  three << 0, 2.4, 100, 0, 0, 0, 0, 0, 0;
  Eigen::Matrix3Xd dimer = three.leftCols(2);
  const Result with = mtp.evaluate(cluster(three)), without = mtp.evaluate(cluster(dimer));
  EXPECT_NEAR(with.energy, without.energy + p.species_coeffs[0], 1e-12 * std::abs(with.energy));
  EXPECT_EQ(with.forces.col(2), Eigen::Vector3d::Zero());
  EXPECT_EQ(with.dE_dm[2], 0.0);
  // A periodic cell larger than twice the cutoff with one atom: no neighbours, not even images.
  Structure box = cluster(one);
  box.pbc = {true, true, true};
  box.cell = 2.5 * mtp.cutoff() * Eigen::Matrix3d::Identity();
  EXPECT_DOUBLE_EQ(mtp.evaluate(box).energy, p.species_coeffs[0]);
}

TEST(Extremes, ClusterEqualsTheSameAtomsInAHugeBox) {
  const MagneticMtp mtp = load("rand16_2sp_mag2.mtp");
  Structure c = test::structure("bcc16_2sp_mag.cfg");
  c.pbc = {false, false, false};
  c.cell.setZero();  // a cluster needs no cell
  const Result rc = mtp.evaluate(c);
  Structure boxed = c;
  boxed.pbc = {true, true, true};
  boxed.cell = 60.0 * Eigen::Matrix3d::Identity();
  const Result rb = mtp.evaluate(boxed);
  expect_finite(rc);
  EXPECT_NEAR(rc.energy, rb.energy, 1e-12 * std::abs(rb.energy));
  EXPECT_LE((rc.forces - rb.forces).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_LE((rc.dE_dm - rb.dE_dm).cwiseAbs().maxCoeff(), 1e-12);
  // Mixed periodicity: periodic along a only, a slab's worth of vacuum along b and c.
  Structure wire = boxed;
  wire.pbc = {true, false, false};
  const Result rw = mtp.evaluate(wire);
  EXPECT_NEAR(rw.energy, rb.energy, 1e-12 * std::abs(rb.energy));
}

TEST(Extremes, HugeMomentsAreFiniteOrRefused) {
  const MagneticMtp mtp = load("rand16_2sp_mag2.mtp");  // trained on [-3, 3] μB
  Structure s = test::structure("bcc16_2sp_mag.cfg");
  s.magmoms[0] = 1e6;
  s.magmoms[5] = -1e6;
  const Result r = mtp.evaluate(s);  // Chebyshev polynomials of degree < 4 at |x| ~ 3e5: finite
  expect_finite(r);
  EXPECT_EQ(r.extrapolation.moments_out_of_range, 2);
  s.magmoms[0] = 1e200;  // overflows: a clear error instead of inf
  try {
    mtp.evaluate(s);
    FAIL() << "1e200 μB was evaluated";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("overflow"), std::string::npos) << e.what();
  }
}

TEST(Extremes, NaNInAnyStructureFieldIsRefused) {
  const MagneticMtp mtp = load("rand16_2sp_mag2.mtp");
  const Structure s = test::structure("bcc16_2sp_mag.cfg");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int field = 0; field < 3; ++field) {
    Structure bad = s;
    if (field == 0) bad.positions(2, 7) = nan;
    if (field == 1) bad.cell(1, 1) = nan;
    if (field == 2) bad.magmoms[3] = nan;
    EXPECT_THROW(mtp.evaluate(bad), InputError) << field;
  }
}

// NaN, inf and out-of-range numbers in every reader: a ParseError naming the file and line.
TEST(Extremes, NaNInAnyFileFieldIsAParseError) {
  auto cfg = [](const std::string& p) { io::read_cfg(p); };
  const std::string c = test::slurp(data("bcc_prim1_mag.cfg"));
  test::expect_parse_error(cfg, test::replace(c, "-1.430000000000", "nan"), ".cfg", 5, "not a finite number");
  test::expect_parse_error(cfg, test::replace(c, "0.000000000000", "inf"), ".cfg", 9, "not a finite number");
  test::expect_parse_error(cfg, test::replace(c, "2.200000000000", "-nan"), ".cfg", 9, "not a finite number");
  test::expect_parse_error(cfg, test::replace(c, "END_CFG", " Energy\n NaN\nEND_CFG"), ".cfg", 11, "not a finite number");

  const std::vector<std::string> fe_al{"Fe", "Al"};
  auto xyz = [&](const std::string& p) { io::read_extxyz(p, fe_al); };
  const std::string x = "2\nLattice=\"2.9 0 0 0 2.9 0 0 0 2.9\" Properties=species:S:1:pos:R:3:initial_magmoms:R:1 "
                        "energy=-1.5 pbc=\"T T T\"\nFe 0 0 0 2.0\nAl 1.45 1.45 1.45 0.1\n";
  test::expect_parse_error(xyz, test::replace(x, "2.9 0 0", "nan 0 0"), ".xyz", 2, "not a finite number");
  test::expect_parse_error(xyz, test::replace(x, "1.45 1.45", "1.45 NaN"), ".xyz", 4, "not a finite number");
  test::expect_parse_error(xyz, test::replace(x, "0 0 0 2.0", "0 0 0 nan"), ".xyz", 3, "not a finite number");
  test::expect_parse_error(xyz, test::replace(x, "energy=-1.5", "energy=nan"), ".xyz", 2, "not a finite number");
  test::expect_parse_error(xyz, test::replace(x, "energy=-1.5", "energy=1e999"), ".xyz", 2, "not a finite number");

  auto mtp = [](const std::string& p) { io::read_mtp(p); };
  const std::string m = test::slurp(data("toy_feal_mag.mtp"));
  test::expect_parse_error(mtp, test::replace(m, "min_dist = 1.9", "min_dist = nan"), ".mtp", 8, "not a finite number");
  test::expect_parse_error(mtp, test::replace(m, "min_val = -3.0", "min_val = -inf"), ".mtp", 12, "not a finite number");
  test::expect_parse_error(mtp, test::replace(m, "species_count = 2", "species_count = 1e300"), ".mtp", 5, "species_count");

  auto abinit = [](const std::string& p) {
    std::vector<std::string> species;
    io::read_abinit(p, species);
  };
  const std::string a = test::slurp(data("abinit/b2-00.abo"));
  test::expect_parse_error(abinit, test::replace(a, "etotal     -1.2655040721E+02", "etotal     nan"), ".abo", 722,
                           "not a finite number");
}

}  // namespace
}  // namespace mmtp
