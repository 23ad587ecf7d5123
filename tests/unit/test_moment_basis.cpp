// The level-rule basis generator against MLIP-3's templates (tools/templates, BSD-2-Clause).
#include <fmt/core.h>
#include <gtest/gtest.h>

#include "mmtp/error.hpp"

#include <Eigen/Geometry>
#include <algorithm>
#include <random>

#include "mmtp/io/mtp.hpp"
#include "mmtp/moment_basis.hpp"
#include "mmtp/mtp.hpp"

namespace {

mmtp::MtpParameters mlip_template(int level) {
  return mmtp::io::read_mtp(fmt::format("{}/{:02d}.almtp", MMTP_TEMPLATE_DIR, level));
}

/// Values of every basis function B_α at atom 0 of a 7-atom cluster: site energies with ξ = e_α.
/// The radial coefficients are the same seeded numbers for any two potentials of equal sizes.
std::vector<double> basis_values(mmtp::MtpParameters p, const Eigen::Matrix3d& rotation) {
  p.min_dist = 1.8, p.max_dist = 4.5, p.radial_basis_size = 6;
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  p.radial_coeffs.resize(static_cast<std::size_t>(p.radial_funcs_count * p.radial_coeffs_per_function()));
  for (auto& c : p.radial_coeffs) c = u(rng);
  p.species_coeffs = {0.0};
  mmtp::Structure s;
  s.pbc = {false, false, false};
  s.positions.resize(3, 7);
  s.positions.col(0).setZero();
  for (int i = 1; i < 7; ++i) s.positions.col(i) = rotation * Eigen::Vector3d(2.0 + 0.3 * u(rng), 0.9 * u(rng), 0.9 * u(rng)).cwiseProduct(
                                                          Eigen::Vector3d(i % 2 ? 1 : -1, i % 3 ? 1 : -1, i % 5 ? 1 : 0.5));
  s.species.assign(7, 0);
  std::vector<double> out;
  for (int a = 0; a < p.alpha_scalar_moments(); ++a) {
    p.moment_coeffs.assign(static_cast<std::size_t>(p.alpha_scalar_moments()), 0.0);
    p.moment_coeffs[static_cast<std::size_t>(a)] = 1.0;
    out.push_back(mmtp::MagneticMtp(p).evaluate(s).site_energies[0]);
  }
  return out;
}

TEST(MomentBasis, CountsEqualMlip3Templates) {
  for (int level : {6, 8, 10, 12, 16, 20, 24}) {
    SCOPED_TRACE(level);
    const auto ours = mmtp::moment_tensor_basis(level);
    const auto mlip = mlip_template(level);
    EXPECT_EQ(ours.alpha_scalar_moments(), mlip.alpha_scalar_moments());
    EXPECT_EQ(ours.radial_funcs_count, mlip.radial_funcs_count);
    EXPECT_EQ(ours.alpha_index_basic, mlip.alpha_index_basic);
    ours.validate(false);
    if (level <= 12) {
      // Same intermediates, same order: the tables are identical.
      EXPECT_EQ(ours.alpha_moments_count, mlip.alpha_moments_count);
      EXPECT_EQ(ours.alpha_index_times.size(), mlip.alpha_index_times.size());
    } else {
      // Intermediates are shared more often than in MLIP-3's tables (fewer moments to compute).
      EXPECT_LE(ours.alpha_moments_count, mlip.alpha_moments_count);
    }
  }
}

TEST(MomentBasis, SameFunctionsAsMlip3Templates) {
  // Each generated basis function equals one of MLIP-3's, and vice versa (values sorted).
  for (int level : {8, 12, 16, 20}) {
    SCOPED_TRACE(level);
    auto ours = basis_values(mmtp::moment_tensor_basis(level), Eigen::Matrix3d::Identity());
    auto mlip = basis_values(mlip_template(level), Eigen::Matrix3d::Identity());
    std::sort(ours.begin(), ours.end());
    std::sort(mlip.begin(), mlip.end());
    ASSERT_EQ(ours.size(), mlip.size());
    for (std::size_t a = 0; a < ours.size(); ++a) EXPECT_NEAR(ours[a], mlip[a], 1e-9 * (1 + std::abs(mlip[a])));
    // Distinct functions: no two are equal here.
    EXPECT_EQ(std::adjacent_find(ours.begin(), ours.end(), [](double x, double y) { return std::abs(x - y) < 1e-12 * (1 + std::abs(x)); }),
              ours.end());
  }
}

TEST(MomentBasis, RotationInvariantAtEveryLevel) {
  const Eigen::Matrix3d rot = Eigen::AngleAxisd(0.7, Eigen::Vector3d(1, -2, 0.5).normalized()).toRotationMatrix();
  for (int level = 2; level <= 22; level += 2) {
    SCOPED_TRACE(level);
    const auto p = mmtp::moment_tensor_basis(level);
    const auto a = basis_values(p, Eigen::Matrix3d::Identity()), b = basis_values(p, rot);
    for (std::size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(a[k], b[k], 1e-9 * (1 + std::abs(a[k])));
  }
}

TEST(MomentBasis, RejectsLevelsOutsideTheRule) {
  EXPECT_THROW(mmtp::moment_tensor_basis(1), mmtp::InputError);
  EXPECT_THROW(mmtp::moment_tensor_basis(29), mmtp::InputError);
}

}  // namespace
