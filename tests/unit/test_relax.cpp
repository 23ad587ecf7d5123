#include "mmtp/relax.hpp"

#include <gtest/gtest.h>

#include "helpers.hpp"

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

TEST(RelaxMoments, RejectsMissingMomentsAndBadOptions) {
  Structure s = test::structure("tric4_2sp.cfg");
  EXPECT_THROW(relax_moments(model(), s, {}), std::invalid_argument);
  MomentRelaxOptions bad;
  bad.mmax = 0;
  Structure m = test::structure("tric4_2sp_mag.cfg");
  EXPECT_THROW(relax_moments(model(), m, bad), std::invalid_argument);
}

}  // namespace
}  // namespace mmtp
