#include "mmtp/ensemble.hpp"

#include <gtest/gtest.h>

#include "helpers.hpp"
#include "mmtp/error.hpp"

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
