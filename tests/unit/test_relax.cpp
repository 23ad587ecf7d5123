#include "mmtp/relax.hpp"

#include <gtest/gtest.h>

#include "helpers.hpp"
#include "mmtp/error.hpp"

namespace mmtp {
namespace {

Ensemble model() { return Ensemble({test::load("rand16_2sp_mag2.mtp")}); }

TEST(RelaxMoments, ConvergesOnTheProjectedGradient) {
  Structure s = test::structure("tric4_2sp_mag.cfg");
  MomentRelaxOptions o;
  o.mmax = 1e-6;
  const auto rep = relax_moments(model(), s, o);
  EXPECT_EQ(rep.status, RelaxStatus::converged);
  EXPECT_LE(rep.mmax, 1e-6);
  const Result& r = rep.result.mean;
  for (Index i = 0; i < s.size(); ++i) {
    ASSERT_LE(std::abs(s.magmoms[i]), 3.0);  // the potential's range
    if (std::abs(s.magmoms[i]) < 3.0) EXPECT_LE(std::abs(r.dE_dm[i]), 1e-6) << i;
    else EXPECT_LE(r.dE_dm[i] * s.magmoms[i], 0.0) << "a moment at the bound is pushed outwards";
  }
  // The reported result is the evaluation at the returned moments.
  EXPECT_DOUBLE_EQ(model().evaluate(s).mean.energy, r.energy);
}

TEST(RelaxMoments, MirrorStartGivesMirrorMoments) {
  Structure a = test::structure("tric4_2sp_mag.cfg"), b = a;
  b.magmoms = -a.magmoms;
  MomentRelaxOptions o;
  o.mmax = 1e-7;
  const auto ra = relax_moments(model(), a, o), rb = relax_moments(model(), b, o);
  EXPECT_LE((a.magmoms + b.magmoms).cwiseAbs().maxCoeff(), 1e-5);
  EXPECT_NEAR(ra.result.mean.energy, rb.result.mean.energy, 1e-9 * std::abs(ra.result.mean.energy));
}

TEST(RelaxMoments, ZeroMomentsAreAStationaryPoint) {
  Structure s = test::structure("tric4_2sp_mag.cfg");
  s.magmoms.setZero();
  const auto rep = relax_moments(model(), s, {});
  EXPECT_EQ(rep.status, RelaxStatus::converged);
  EXPECT_EQ(s.magmoms.cwiseAbs().maxCoeff(), 0.0);
}

TEST(RelaxMoments, ProjectedNewtonAgreesWithLbfgs) {
  Structure a = test::structure("tric4_2sp_mag.cfg"), b = a;
  MomentRelaxOptions o;
  o.mmax = 1e-8;
  const auto ra = relax_moments(model(), a, o);
  o.newton = true;
  const auto rb = relax_moments(model(), b, o);
  EXPECT_EQ(ra.status, RelaxStatus::converged);
  EXPECT_EQ(rb.status, RelaxStatus::converged);
  EXPECT_TRUE(rb.newton);
  EXPECT_LE((a.magmoms - b.magmoms).cwiseAbs().maxCoeff(), 1e-6);
  EXPECT_NEAR(ra.result.mean.energy, rb.result.mean.energy, 1e-10 * std::abs(ra.result.mean.energy));
}

TEST(RelaxMoments, RejectsMissingMomentsAndBadOptions) {
  Structure s = test::structure("tric4_2sp.cfg");
  EXPECT_THROW(relax_moments(model(), s, {}), InputError);
  MomentRelaxOptions bad;
  bad.mmax = 0;
  Structure m = test::structure("tric4_2sp_mag.cfg");
  EXPECT_THROW(relax_moments(model(), m, bad), InputError);
}

}  // namespace
}  // namespace mmtp

namespace mmtp {
namespace {

Ensemble toy() { return Ensemble({test::load("toy_feal_mag.mtp")}); }

/// B2 FeAl 2×2×2 (16 atoms), a = 2.80 Å (compressed), displaced by up to `rattle` Å, Fe
/// moments near 1.5 μB. Rattled, the toy's B2 is unstable (it slides towards pairs closer than
/// its min_dist); unrattled it relaxes to a = 2.85 Å.
Structure b2(double a = 2.80, double rattle = 0.04) {
  Structure s;
  s.cell = Eigen::Matrix3d::Identity() * 2 * a;
  s.positions.resize(3, 16);
  s.magmoms.resize(16);
  int k = 0;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      for (int l = 0; l < 2; ++l)
        for (int t = 0; t < 2; ++t) {
          s.positions.col(k) = a * (Eigen::Vector3d(i, j, l) + 0.5 * t * Eigen::Vector3d::Ones()) +
                               rattle * Eigen::Vector3d(std::sin(7.0 * k), std::cos(5.0 * k), std::sin(3.0 * k + 1));
          s.species.push_back(t);
          s.magmoms[k] = t == 0 ? 1.5 + 0.1 * std::sin(k) : 0.0;
          ++k;
        }
  return s;
}

RelaxOptions tight(CellMode cell) {
  RelaxOptions o;
  o.cell = cell;
  o.fmax = 1e-4;
  o.mmax = 1e-4;
  o.smax = 1e-6;
  return o;
}

TEST(Relax, JointRelaxationMeetsAllCriteriaOnIndependentEvaluation) {
  const auto rep = relax(toy(), b2(2.80, 0.0), tight(CellMode::full));
  ASSERT_EQ(rep.status, RelaxStatus::converged);
  const Result r = toy().evaluate(rep.structure).mean;
  EXPECT_LE(r.forces.colwise().norm().maxCoeff(), 1e-4);
  EXPECT_LE(r.dE_dm.cwiseAbs().maxCoeff(), 1e-4);
  EXPECT_LE((r.virial / volume(rep.structure)).cwiseAbs().maxCoeff(), 1e-6);
  EXPECT_NEAR(rep.structure.magmoms[0], 2.2, 0.1);  // near the toy's Fe moment
  // Already relaxed: converged at the first evaluation, well within 2 steps.
  const auto again = relax(toy(), rep.structure, tight(CellMode::full));
  EXPECT_EQ(again.status, RelaxStatus::converged);
  EXPECT_LE(again.evaluations, 2);
}

TEST(Relax, MirrorMomentsGiveMirrorResult) {
  Structure a = b2(), b = a;
  b.magmoms = -a.magmoms;
  const auto ra = relax(toy(), a, tight(CellMode::none)), rb = relax(toy(), b, tight(CellMode::none));
  EXPECT_NEAR(ra.result.mean.energy, rb.result.mean.energy, 1e-8 * std::abs(ra.result.mean.energy));
  EXPECT_LE((ra.structure.magmoms + rb.structure.magmoms).cwiseAbs().maxCoeff(), 1e-3);
}

TEST(Relax, VolumeDecreasesMonotonicallyWithPressure) {
  double last = std::numeric_limits<double>::infinity();
  for (double p_gpa : {0.0, 2.0, 5.0, 10.0}) {
    RelaxOptions o = tight(CellMode::hydrostatic);
    o.pressure = p_gpa / 160.21766208;  // GPa → eV/Å³
    const auto rep = relax(toy(), b2(2.80, 0.0), o);
    ASSERT_EQ(rep.status, RelaxStatus::converged) << p_gpa;
    const double v = volume(rep.structure);
    EXPECT_LT(v, last) << p_gpa << " GPa";
    last = v;
  }
}

TEST(Relax, ZeroPressureVolumeIsAMinimumOfEnergy) {
  const auto rep = relax(toy(), b2(2.80, 0.0), tight(CellMode::full));
  ASSERT_EQ(rep.status, RelaxStatus::converged);
  const double e0 = rep.result.mean.energy;
  for (double dv : {-0.01, 0.01}) {
    Structure s = rep.structure;
    const double f = std::cbrt(1 + dv);
    s.cell *= f;
    s.positions *= f;
    EXPECT_GT(toy().evaluate(s).mean.energy, e0) << "volume strain " << dv;
  }
}

TEST(Relax, FixedAtomsAndFixedMomentsDoNotMove) {
  const Structure s = b2();
  RelaxOptions o = tight(CellMode::none);
  o.fixed_atoms.assign(16, false);
  o.fixed_moments.assign(16, false);
  o.fixed_atoms[3] = o.fixed_atoms[4] = true;
  o.fixed_moments[0] = o.fixed_moments[6] = true;
  const auto rep = relax(toy(), s, o);
  ASSERT_EQ(rep.status, RelaxStatus::converged);
  EXPECT_EQ(rep.structure.positions.col(3), s.positions.col(3));
  EXPECT_EQ(rep.structure.positions.col(4), s.positions.col(4));
  EXPECT_EQ(rep.structure.magmoms[0], s.magmoms[0]);
  EXPECT_EQ(rep.structure.magmoms[6], s.magmoms[6]);
  EXPECT_GT((rep.structure.positions.col(5) - s.positions.col(5)).norm(), 1e-3);
  EXPECT_GT(std::abs(rep.structure.magmoms[2] - s.magmoms[2]), 1e-2);
}

TEST(Relax, StepsRespectTheCaps) {
  RelaxOptions o = tight(CellMode::none);
  o.max_displacement = 0.05;
  o.max_moment_step = 0.1;
  std::vector<Structure> seen;
  const auto rep = relax(toy(), b2(), o, [&](const RelaxStep& st) { seen.push_back(*st.structure); });
  EXPECT_EQ(rep.status, RelaxStatus::converged);
  ASSERT_GT(seen.size(), 3u);
  // Every trial starts from an accepted point and is at most one capped step away from it;
  // consecutive evaluations are at most two steps apart (a backtrack shortens the last one).
  for (std::size_t k = 1; k < seen.size(); ++k) {
    EXPECT_LE((seen[k].positions - seen[k - 1].positions).colwise().norm().maxCoeff(), 2 * 0.05 + 1e-12) << k;
    EXPECT_LE((seen[k].magmoms - seen[k - 1].magmoms).cwiseAbs().maxCoeff(), 2 * 0.1 + 1e-12) << k;
  }
  EXPECT_LE((seen[1].positions - seen[0].positions).colwise().norm().maxCoeff(), 0.05 + 1e-12);
}

TEST(Relax, CellStepsAreBoundedInEveryMode) {
  // A cell 8 % too large: the first step may change the strain by max_strain_step at most, in
  // the hydrostatic mode as in the full one (a unit-norm first step once collapsed the cell).
  for (CellMode mode : {CellMode::hydrostatic, CellMode::full}) {
    std::vector<double> volumes;
    RelaxOptions o = tight(mode);
    relax(toy(), b2(3.08, 0.0), o, [&](const RelaxStep& st) { volumes.push_back(volume(*st.structure)); });
    ASSERT_GT(volumes.size(), 2u);
    EXPECT_LE(std::abs(std::cbrt(volumes[1] / volumes[0]) - 1.0), o.max_strain_step * (1 + 1e-9));
  }
}

TEST(Relax, UnstableModelStopsInsideTheTrainedRegion) {
  // Rattled, the toy's B2 slides towards pairs closer than min_dist = 1.9 Å: the run must stop
  // there and keep the last point inside the region.
  const auto rep = relax(toy(), b2(), tight(CellMode::full));
  ASSERT_EQ(rep.status, RelaxStatus::extrapolation);
  EXPECT_NE(rep.extrapolation.find("min_dist"), std::string::npos) << rep.extrapolation;
  EXPECT_EQ(rep.result.mean.extrapolation.short_pairs, 0);
  EXPECT_GE(rep.result.mean.extrapolation.min_distance, 1.9);
  EXPECT_EQ(toy().evaluate(rep.structure).mean.energy, rep.result.mean.energy);
}

TEST(Relax, StopsWhereTheCommitteeDisagrees) {
  MtpParameters other = test::load("toy_feal_mag.mtp").parameters();
  other.moment_coeffs[0] *= 1.02;
  const Ensemble committee({test::load("toy_feal_mag.mtp"), MagneticMtp(other)});
  RelaxOptions o = tight(CellMode::none);
  o.region.max_std = 1e-6;  // eV/atom: every point is beyond it
  const auto rep = relax(committee, b2(), o);
  EXPECT_EQ(rep.status, RelaxStatus::extrapolation);
  EXPECT_NE(rep.extrapolation.find("started outside the trained region and ended there: committee std"), std::string::npos)
      << rep.extrapolation;
  // Inside at the start (a threshold the start meets), out later: stopped at the first point out.
  const double start_std = committee.evaluate(b2()).energy_std / 16;
  std::vector<double> stds;
  o.region.max_std = 1.02 * start_std;
  const auto walked = relax(committee, b2(), o, [&](const RelaxStep& st) { stds.push_back(st.result->energy_std / 16); });
  if (walked.status == RelaxStatus::extrapolation) {
    EXPECT_GT(stds.back(), o.region.max_std);
    EXPECT_LE(walked.result.energy_std / 16, o.region.max_std);
    EXPECT_NE(walked.extrapolation.find("left the trained region"), std::string::npos) << walked.extrapolation;
  } else {
    EXPECT_LE(*std::max_element(stds.begin(), stds.end()), o.region.max_std);
  }
  o.stop_on_extrapolation = false;
  EXPECT_EQ(relax(committee, b2(2.80, 0.0), o).status, RelaxStatus::converged);
}

TEST(Relax, MomentsStayInTheTrainedRangeByDefault) {
  // Pushed towards large moments by a start beyond the range, the relaxation keeps |m| ≤ 3 μB.
  Structure s = b2(2.80, 0.0);
  s.magmoms *= 3.0;
  const auto rep = relax(toy(), s, tight(CellMode::none));
  EXPECT_LE(rep.structure.magmoms.cwiseAbs().maxCoeff(), 3.0);
  EXPECT_EQ(rep.result.mean.extrapolation.moments_out_of_range, 0);
}

TEST(Relax, BadInputIsRejected) {
  Structure s = b2();
  Structure singular = s;
  singular.cell.col(2) = singular.cell.col(0);
  EXPECT_THROW(relax(toy(), singular, tight(CellMode::full)), InputError);
  Structure nan = s;
  nan.positions(0, 2) = std::nan("");
  EXPECT_THROW(relax(toy(), nan, tight(CellMode::none)), InputError);
  Structure empty;
  empty.cell = s.cell;
  EXPECT_THROW(relax(toy(), empty, tight(CellMode::none)), InputError);
  RelaxOptions bad = tight(CellMode::none);
  bad.fixed_atoms.assign(3, true);
  EXPECT_THROW(relax(toy(), s, bad), InputError);
}

}  // namespace
}  // namespace mmtp
