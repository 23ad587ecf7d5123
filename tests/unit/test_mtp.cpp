#include "mmtp/mtp.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <Eigen/Geometry>
#include <random>

#include "helpers.hpp"
#include "mmtp/error.hpp"
#include "mmtp/io/cfg.hpp"
#include "mmtp/io/mtp.hpp"

namespace mmtp {
namespace {

using test::data;
using test::load;
using test::structure;

/// A GoogleTest-safe name from pieces: letters and digits kept, everything else '_'.
std::string test_name(std::initializer_list<const char*> parts) {
  std::string out;
  for (const char* p : parts)
    for (const char* c = p; *c; ++c) out += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
  return out;
}

double rel_max(const Eigen::MatrixXd& a, const Eigen::MatrixXd& ref) {
  return (a - ref).cwiseAbs().maxCoeff() / std::max(1.0, ref.cwiseAbs().maxCoeff());
}

// ---------------------------------------------------------------- MLIP-3 reference values
struct RefCase {
  const char* potential;
  const char* set;
};
class MlipReference : public ::testing::TestWithParam<RefCase> {};

TEST_P(MlipReference, RawModeAgreesWithMlip3) {
  const auto [pot, set] = GetParam();
  const MagneticMtp mtp = load(std::string(pot) + ".mtp");
  const auto samples = io::read_cfg(data(std::string(set) + ".cfg"));
  const auto refs = test::read_exact(data(std::string(pot) + "__" + set + ".exact.txt"));
  ASSERT_EQ(samples.size(), refs.size());
  for (std::size_t k = 0; k < refs.size(); ++k) {
    const Result r = mtp.evaluate(samples[k].structure, EvalMode::raw);
    const auto& ref = refs[k];
    EXPECT_LE(std::abs(r.energy - ref.energy) / std::max(1.0, std::abs(ref.energy)), 1e-10) << "cfg " << k;
    EXPECT_LE(rel_max(r.virial, ref.virial), 1e-10) << "cfg " << k;
    EXPECT_LE(rel_max(r.forces, ref.forces), 1e-10) << "cfg " << k;
    ASSERT_EQ(r.dE_dm.size(), ref.dE_dm.size()) << "cfg " << k;
    if (ref.dE_dm.size()) {
      EXPECT_LE(rel_max(r.dE_dm, ref.dE_dm), 1e-10) << "cfg " << k;
    }
    EXPECT_NEAR(r.site_energies.sum(), r.energy, 1e-10 * std::max(1.0, std::abs(r.energy)));
  }
}

INSTANTIATE_TEST_SUITE_P(AllReferences, MlipReference,
                         ::testing::Values(RefCase{"rand08_2sp", "set_nonmag"}, RefCase{"rand16_2sp", "set_nonmag"},
                                           RefCase{"rand16_2sp_mag2", "set_mag"},
                                           RefCase{"rand16_2sp_mag2", "set_nonmag"},
                                           RefCase{"rand12_2sp_mag2_R8", "set_mag"}),
                         [](const auto& info) { return test_name({info.param.potential, "_", info.param.set}); });

// ---------------------------------------------------------------- finite differences
struct FdCase {
  const char* potential;
  const char* cfg;
  EvalMode mode;
};
class FiniteDifferences : public ::testing::TestWithParam<FdCase> {};

TEST_P(FiniteDifferences, ForcesVirialAndMagneticForces) {
  const auto [pot, cfg, mode] = GetParam();
  const MagneticMtp mtp = load(pot);
  const Structure s0 = structure(cfg);
  const Result r = mtp.evaluate(s0, mode);
  const double h = 1e-5;
  auto energy = [&](const Structure& s) { return mtp.evaluate(s, mode).energy; };
  auto tol = [](double x) { return 2e-6 * std::max(1.0, std::abs(x)); };

  for (Index i = 0; i < s0.size(); ++i)
    for (int a = 0; a < 3; ++a) {
      Structure p = s0, m = s0;
      p.positions(a, i) += h;
      m.positions(a, i) -= h;
      const double fd = -(energy(p) - energy(m)) / (2 * h);
      EXPECT_NEAR(r.forces(a, i), fd, tol(fd)) << "atom " << i << " axis " << a;
    }
  // W_ab = −∂E/∂ε_ab for the deformation (I + ε) applied to cell and positions.
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) {
      Eigen::Matrix3d e = Eigen::Matrix3d::Identity();
      e(a, b) += h;
      Structure p = s0, m = s0;
      p.cell = e * s0.cell;
      p.positions = e * s0.positions;
      e(a, b) -= 2 * h;
      m.cell = e * s0.cell;
      m.positions = e * s0.positions;
      const double fd = -(energy(p) - energy(m)) / (2 * h);
      EXPECT_NEAR(r.virial(a, b), fd, tol(fd)) << "virial " << a << b;
    }
  ASSERT_EQ(r.dE_dm.size(), s0.size());
  for (Index i = 0; i < s0.size(); ++i) {
    Structure p = s0, m = s0;
    p.magmoms[i] += h;
    m.magmoms[i] -= h;
    const double fd = (energy(p) - energy(m)) / (2 * h);
    EXPECT_NEAR(r.dE_dm[i], fd, tol(fd)) << "moment of atom " << i;
  }
  EXPECT_LE(r.forces.rowwise().sum().norm(), 1e-9 * std::max(1.0, r.forces.norm())) << "sum of forces";
}

INSTANTIATE_TEST_SUITE_P(
    MagneticCells, FiniteDifferences,
    ::testing::Values(FdCase{"rand16_2sp_mag2.mtp", "bcc_prim1_mag.cfg", EvalMode::raw},
                      FdCase{"rand16_2sp_mag2.mtp", "bcc_prim1_mag.cfg", EvalMode::symmetrized},
                      FdCase{"rand16_2sp_mag2.mtp", "tric4_2sp_mag.cfg", EvalMode::raw},
                      FdCase{"rand16_2sp_mag2.mtp", "tric4_2sp_mag.cfg", EvalMode::symmetrized},
                      FdCase{"rand12_2sp_mag2_R8.mtp", "bcc16_2sp_mag.cfg", EvalMode::raw},
                      FdCase{"rand12_2sp_mag2_R8.mtp", "bcc16_2sp_mag.cfg", EvalMode::symmetrized}),
    [](const auto& info) {
      return test_name({info.param.potential, "_", info.param.cfg, "_",
                        info.param.mode == EvalMode::raw ? "raw" : "symmetrized"});
    });

// ---------------------------------------------------------------- symmetrization (Eq. 6)
TEST(Symmetrized, EqualsMeanOfBothSignsAndIsEven) {
  const MagneticMtp mtp = load("rand12_2sp_mag2_R8.mtp");
  Structure s = structure("bcc16_2sp_mag.cfg");
  Structure flipped = s;
  flipped.magmoms = -s.magmoms;
  const Result plus = mtp.evaluate(s, EvalMode::raw), minus = mtp.evaluate(flipped, EvalMode::raw);
  const Result sym = mtp.evaluate(s), sym_flipped = mtp.evaluate(flipped);
  // Raw E is not even in M (otherwise the rest proves nothing).
  EXPECT_GT(std::abs(plus.energy - minus.energy), 1e-3);
  EXPECT_LE(std::abs(sym.energy - sym_flipped.energy), 1e-12 * std::abs(sym.energy));
  EXPECT_LE(rel_max(sym_flipped.dE_dm, -sym.dE_dm), 1e-12);
  EXPECT_LE(rel_max(sym_flipped.forces, sym.forces), 1e-12);
  EXPECT_NEAR(sym.energy, 0.5 * (plus.energy + minus.energy), 1e-12 * std::abs(sym.energy));
  EXPECT_LE(rel_max(sym.forces, 0.5 * (plus.forces + minus.forces)), 1e-12);
  EXPECT_LE(rel_max(sym.virial, 0.5 * (plus.virial + minus.virial)), 1e-12);
  // d/dm of E(−M) is −(∂E/∂m)(−M).
  EXPECT_LE(rel_max(sym.dE_dm, 0.5 * (plus.dE_dm - minus.dE_dm)), 1e-12);
  EXPECT_LE(rel_max(sym.site_energies, 0.5 * (plus.site_energies + minus.site_energies)), 1e-12);
}

TEST(Symmetrized, AsymmetricMomentRangeStillEven) {
  MtpParameters p = load("rand16_2sp_mag2.mtp").parameters();
  p.min_val = -2.0;
  p.max_val = 3.5;
  const MagneticMtp mtp(p);
  Structure s = structure("tric4_2sp_mag.cfg"), flipped = s;
  flipped.magmoms = -s.magmoms;
  EXPECT_NEAR(mtp.evaluate(s).energy, mtp.evaluate(flipped).energy, 1e-12 * std::abs(mtp.evaluate(s).energy));
}

TEST(Symmetrized, EqualsRawWithoutMagneticBasis) {
  const MagneticMtp mtp = load("rand16_2sp.mtp");
  const Structure s = structure("tric4_2sp_mag.cfg");
  const Result raw = mtp.evaluate(s, EvalMode::raw), sym = mtp.evaluate(s, EvalMode::symmetrized);
  EXPECT_EQ(raw.energy, sym.energy);
  EXPECT_EQ(raw.forces, sym.forces);
  EXPECT_EQ(raw.virial, sym.virial);
  EXPECT_EQ(sym.dE_dm.size(), 0);
}

// ---------------------------------------------------------------- invariances
TEST(Invariance, TranslationRotationPermutation) {
  const MagneticMtp mtp = load("rand12_2sp_mag2_R8.mtp");
  const Structure s = structure("bcc16_2sp_mag.cfg");
  const Result r = mtp.evaluate(s);
  const double etol = 1e-11 * std::abs(r.energy);

  Structure moved = s;
  moved.positions.colwise() += Eigen::Vector3d(0.37, -1.91, 12.3);
  const Result rt = mtp.evaluate(moved);
  EXPECT_NEAR(rt.energy, r.energy, etol);
  EXPECT_LE(rel_max(rt.forces, r.forces), 1e-10);

  const Eigen::Matrix3d rot = Eigen::AngleAxisd(0.7, Eigen::Vector3d(1, -2, 0.5).normalized()).toRotationMatrix();
  Structure turned = s;
  turned.cell = rot * s.cell;
  turned.positions = rot * s.positions;
  const Result rr = mtp.evaluate(turned);
  EXPECT_NEAR(rr.energy, r.energy, etol);
  EXPECT_LE(rel_max(rr.forces, rot * r.forces), 1e-10);
  EXPECT_LE(rel_max(rr.virial, rot * r.virial * rot.transpose()), 1e-10);
  EXPECT_LE(rel_max(rr.dE_dm, r.dE_dm), 1e-10);

  std::vector<Index> perm(static_cast<std::size_t>(s.size()));
  for (Index i = 0; i < s.size(); ++i) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), std::mt19937(42));
  Structure shuffled = s;
  for (Index i = 0; i < s.size(); ++i) {
    shuffled.positions.col(i) = s.positions.col(perm[i]);
    shuffled.species[i] = s.species[perm[i]];
    shuffled.magmoms[i] = s.magmoms[perm[i]];
  }
  const Result rp = mtp.evaluate(shuffled);
  EXPECT_NEAR(rp.energy, r.energy, etol);
  for (Index i = 0; i < s.size(); ++i) {
    EXPECT_LE((rp.forces.col(i) - r.forces.col(perm[i])).norm(), 1e-10 * std::max(1.0, r.forces.norm()));
    EXPECT_NEAR(rp.dE_dm[i], r.dE_dm[perm[i]], 1e-10 * std::max(1.0, r.dE_dm.norm()));
  }
}

// ---------------------------------------------------------------- threads, flags, errors
TEST(Threads, DeterministicAndThreadCountIndependent) {
  const MagneticMtp mtp = load("rand16_2sp_mag2.mtp");
  const Structure s = structure("bcc16_2sp_mag.cfg");
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  const Result one = mtp.evaluate(s);
  omp_set_num_threads(2);
  const Result two_a = mtp.evaluate(s), two_b = mtp.evaluate(s);
  omp_set_num_threads(before);
  EXPECT_EQ(two_a.energy, two_b.energy);
  EXPECT_EQ(two_a.forces, two_b.forces);
  EXPECT_EQ(two_a.dE_dm, two_b.dE_dm);
  EXPECT_NEAR(one.energy, two_a.energy, 1e-12 * std::abs(one.energy));
  EXPECT_LE(rel_max(one.forces, two_a.forces), 1e-12);
}

TEST(Extrapolation, ShortPairsAndMomentsOutOfRangeAreFlaggedNotClamped) {
  const MagneticMtp mtp = load("rand16_2sp_mag2.mtp");  // min_dist 1.9 Å, moments in [-3, 3]
  Structure s = structure("bcc16_2sp_mag.cfg");
  EXPECT_FALSE(mtp.evaluate(s).extrapolation.any());
  s.magmoms[3] = 4.0;
  const Result far = mtp.evaluate(s);
  EXPECT_EQ(far.extrapolation.moments_out_of_range, 1);
  s.magmoms[3] = 3.0;
  EXPECT_NE(far.energy, mtp.evaluate(s).energy) << "a moment outside the range must not be clamped";
  s.positions.col(1) = s.positions.col(0) + Eigen::Vector3d(1.5, 0, 0);
  const Result close = mtp.evaluate(s);
  EXPECT_GE(close.extrapolation.short_pairs, 1);
  EXPECT_LE(close.extrapolation.min_distance, 1.5 + 1e-9);
  EXPECT_TRUE(std::isfinite(close.energy));
}

TEST(Errors, CoincidentAtomsUnknownSpeciesAndNaN) {
  const MagneticMtp mtp = load("rand16_2sp_mag2.mtp");
  Structure s = structure("bcc16_2sp_mag.cfg");
  Structure same = s;
  same.positions.col(2) = same.positions.col(5);
  EXPECT_THROW(mtp.evaluate(same), Error);
  Structure alien = s;
  alien.species[0] = 2;
  EXPECT_THROW(mtp.evaluate(alien), InputError);
  Structure nan = s;
  nan.positions(1, 4) = std::nan("");
  EXPECT_THROW(mtp.evaluate(nan), InputError);
  Structure bad_m = s;
  bad_m.magmoms[0] = std::numeric_limits<double>::infinity();
  EXPECT_THROW(mtp.evaluate(bad_m), InputError);
}

TEST(Errors, UntrainedTemplateIsRejected) {
  EXPECT_THROW(MagneticMtp(io::read_mtp(data("template_08.almtp"))), InputError);
}

}  // namespace
}  // namespace mmtp
