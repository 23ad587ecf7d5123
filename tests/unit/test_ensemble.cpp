#include "mmtp/ensemble.hpp"

#include <gtest/gtest.h>

#include "helpers.hpp"
#include "mmtp/error.hpp"

#include <omp.h>

#include <cmath>
#include <cstdlib>

namespace mmtp {
namespace {

TEST(Ensemble, MeanAndStandardDeviationOfMembers) {
  std::vector<MagneticMtp> members{test::load("rand16_2sp_mag2.mtp"), test::load("rand12_2sp_mag2_R8.mtp")};
  const Ensemble ens(members);
  const Structure s = test::structure("tric4_2sp_mag.cfg");
  const EnsembleResult r = ens.evaluate(s);
  ASSERT_EQ(r.members.size(), 2u);
  const Result a = members[0].evaluate(s), b = members[1].evaluate(s);
  EXPECT_NEAR(r.members[0].energy, a.energy, 1e-12 * std::abs(a.energy));
  EXPECT_NEAR(r.mean.energy, 0.5 * (a.energy + b.energy), 1e-12 * std::abs(a.energy));
  EXPECT_NEAR(r.energy_std, 0.5 * std::abs(a.energy - b.energy), 1e-10);
  EXPECT_LE((r.mean.forces - 0.5 * (a.forces + b.forces)).cwiseAbs().maxCoeff(), 1e-10);
  EXPECT_LE((r.forces_std - 0.5 * (a.forces - b.forces).cwiseAbs()).cwiseAbs().maxCoeff(), 1e-10);
  EXPECT_LE((r.mean.dE_dm - 0.5 * (a.dE_dm + b.dE_dm)).cwiseAbs().maxCoeff(), 1e-10);
  EXPECT_LE((r.virial_std - 0.5 * (a.virial - b.virial).cwiseAbs()).cwiseAbs().maxCoeff(), 1e-9);
}

TEST(Ensemble, ErrorFloorAddsToTheEnergyStdInQuadrature) {
  // std(E) = sqrt((α·spread)² + (N·s0)²); the other stds and the members stay α-scaled spreads.
  std::vector<MagneticMtp> members{test::load("rand16_2sp_mag2.mtp"), test::load("rand12_2sp_mag2_R8.mtp")};
  const Structure s = test::structure("tric4_2sp_mag.cfg");
  const EnsembleResult plain = Ensemble(members, 1.5).evaluate(s), floored = Ensemble(members, 1.5, 0.004).evaluate(s);
  const double n = static_cast<double>(s.size());
  EXPECT_NEAR(floored.energy_std, std::sqrt(plain.energy_std * plain.energy_std + n * n * 0.004 * 0.004), 1e-12);
  EXPECT_GT(floored.energy_std, plain.energy_std);
  EXPECT_EQ((floored.forces_std - plain.forces_std).cwiseAbs().maxCoeff(), 0.0);
  EXPECT_EQ((floored.dE_dm_std - plain.dE_dm_std).cwiseAbs().maxCoeff(), 0.0);
  EXPECT_EQ(floored.members[1].energy, plain.members[1].energy);
  EXPECT_EQ(Ensemble(members, 1.5, 0.004).committee_floor(), 0.004);
  EXPECT_THROW(Ensemble(members, 1.5, -0.001), InputError);
  EXPECT_THROW(Ensemble(members, 1.5, std::nan("")), InputError);
}

TEST(Ensemble, RejectsEmptyAndMismatchedMembers) {
  EXPECT_THROW(Ensemble({}), InputError);
  MtpParameters p = test::load("rand16_2sp_mag2.mtp").parameters();
  p.species_names = {"Fe", "Al"};
  MtpParameters q = p;
  q.species_names = {"Al", "Fe"};
  EXPECT_THROW(Ensemble({MagneticMtp(p), MagneticMtp(q)}), InputError);
}

}  // namespace
}  // namespace mmtp

namespace mmtp {
namespace {

/// K potentials with the basis of `p` and perturbed coefficients (a committee of one basis).
std::vector<MagneticMtp> committee_of(const MtpParameters& p, int K, unsigned seed) {
  std::vector<MagneticMtp> out;
  std::srand(seed);
  for (int k = 0; k < K; ++k) {
    MtpParameters q = p;
    auto jitter = [](double x) { return x * (1.0 + 0.2 * (std::rand() / double(RAND_MAX) - 0.5)); };
    for (double& c : q.radial_coeffs) c = jitter(c);
    for (double& c : q.moment_coeffs) c = jitter(c);
    for (double& c : q.species_coeffs) c = jitter(c);
    out.emplace_back(q);
  }
  return out;
}

double relative(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).cwiseAbs().maxCoeff() / std::max(1e-300, b.cwiseAbs().maxCoeff());
}

/// The committee's one-pass evaluation against each member evaluated alone (issue 25): every
/// quantity to 1e-12 relative, the stds to 1e-12 of the members' spread.
void expect_equals_per_member(const std::vector<MagneticMtp>& members, const Structure& s, EvalMode mode) {
  const Ensemble ens(members, 1.5);
  const EnsembleResult r = ens.evaluate(s, mode);
  const std::size_t K = members.size();
  ASSERT_EQ(r.members.size(), K);
  std::vector<Result> alone;
  for (const auto& m : members) alone.push_back(m.evaluate(s, mode));
  Result mean = alone[0];
  for (std::size_t q = 1; q < K; ++q) {
    mean.energy += alone[q].energy, mean.forces += alone[q].forces, mean.virial += alone[q].virial;
    mean.dE_dm += alone[q].dE_dm, mean.site_energies += alone[q].site_energies;
  }
  const double k = static_cast<double>(K);
  EXPECT_NEAR(r.mean.energy, mean.energy / k, 1e-12 * std::abs(mean.energy / k));
  EXPECT_LE(relative(r.mean.forces, mean.forces / k), 1e-12);
  EXPECT_LE(relative(r.mean.virial, mean.virial / k), 1e-12);
  EXPECT_LE(relative(r.mean.site_energies, mean.site_energies / k), 1e-12);
  if (s.has_magmoms()) EXPECT_LE(relative(r.mean.dE_dm, mean.dE_dm / k), 1e-12);
  double e2 = 0;
  Eigen::Matrix3Xd f2 = Eigen::Matrix3Xd::Zero(3, s.size());
  Eigen::Matrix3d w2 = Eigen::Matrix3d::Zero();
  Eigen::VectorXd m2 = Eigen::VectorXd::Zero(mean.dE_dm.size());
  for (std::size_t q = 0; q < K; ++q) {
    const Result& a = alone[q];
    // Each member alone, to 1e-12 (EnsembleResult::members holds them scaled about the mean by α).
    const Result& b = r.members[q];
    EXPECT_NEAR(r.mean.energy + (a.energy - mean.energy / k) * 1.5, b.energy, 1e-12 * std::abs(a.energy));
    EXPECT_LE(relative(r.mean.forces + (a.forces - mean.forces / k) * 1.5, b.forces), 1e-11);
    e2 += std::pow(a.energy - mean.energy / k, 2);
    f2.array() += (a.forces - mean.forces / k).array().square();
    w2.array() += (a.virial - mean.virial / k).array().square();
    if (s.has_magmoms()) m2.array() += (a.dE_dm - mean.dE_dm / k).array().square();
    EXPECT_EQ(a.extrapolation.short_pairs, r.mean.extrapolation.short_pairs);
    EXPECT_EQ(a.extrapolation.moments_out_of_range, r.mean.extrapolation.moments_out_of_range);
  }
  const double scale_e = std::abs(mean.energy / k), scale_f = mean.forces.cwiseAbs().maxCoeff() / k;
  EXPECT_NEAR(r.energy_std, 1.5 * std::sqrt(e2 / k), 1e-12 * scale_e);
  EXPECT_LE((r.forces_std - 1.5 * (f2 / k).cwiseSqrt()).cwiseAbs().maxCoeff(), 1e-12 * scale_f);
  EXPECT_LE((r.virial_std - 1.5 * (w2 / k).cwiseSqrt()).cwiseAbs().maxCoeff(), 1e-12 * mean.virial.cwiseAbs().maxCoeff() / k);
  if (s.has_magmoms())
    EXPECT_LE((r.dE_dm_std - 1.5 * (m2 / k).cwiseSqrt()).cwiseAbs().maxCoeff(),
              1e-12 * std::max(1.0, mean.dE_dm.cwiseAbs().maxCoeff() / k));
}

TEST(CommitteePass, OnePassEqualsEachMemberAlone) {
  MtpParameters base = test::load("rand16_2sp_mag2.mtp").parameters();
  MtpParameters asymmetric = base;  // the second sign of Eq. 6 then has its own neighbour basis
  asymmetric.min_val = -2.5, asymmetric.max_val = 3.5;
  MtpParameters per_species = with_moment_ranges(base, {3.2, 0.4});
  const Structure with_moments = test::structure("bcc16_2sp_mag.cfg");
  Structure without_moments = with_moments;
  without_moments.magmoms.resize(0);
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (const MtpParameters* p : {&base, &asymmetric, &per_species})
      for (int K : {1, 2, 8})
        for (EvalMode mode : {EvalMode::raw, EvalMode::symmetrized}) {
          SCOPED_TRACE(::testing::Message() << "threads " << threads << ", K " << K << ", range [" << p->min_val << ", "
                                            << p->max_val << "], mode " << static_cast<int>(mode));
          const auto members = committee_of(*p, K, 7 + K);
          expect_equals_per_member(members, with_moments, mode);
          expect_equals_per_member(members, test::structure("tric4_2sp_mag.cfg"), mode);
          if (K == 2) expect_equals_per_member(members, without_moments, mode);
        }
  }
  omp_set_num_threads(1);
}

TEST(CommitteePass, MembersWithDifferentBasesAreEvaluatedByGroup) {
  auto members = committee_of(test::load("rand16_2sp_mag2.mtp").parameters(), 3, 3);
  const auto other = committee_of(test::load("rand12_2sp_mag2_R8.mtp").parameters(), 2, 4);
  members.insert(members.begin() + 1, other.begin(), other.end());  // interleaved: 0, 1', 2', 1, 2
  EXPECT_EQ(Ensemble(members).basis_groups(), 2u);
  EXPECT_EQ(Ensemble(other).basis_groups(), 1u);
  for (EvalMode mode : {EvalMode::raw, EvalMode::symmetrized})
    expect_equals_per_member(members, test::structure("bcc16_2sp_mag.cfg"), mode);
}

}  // namespace
}  // namespace mmtp
