#include "mmtp/io/mtp.hpp"

#include <gtest/gtest.h>

#include <cstdio>

#include "helpers.hpp"
#include "mmtp/error.hpp"
#include "mmtp/mtp.hpp"

namespace mmtp {
namespace {

using test::data;

void expect_same(const MtpParameters& a, const MtpParameters& b) {
  EXPECT_EQ(a.species_count, b.species_count);
  EXPECT_EQ(a.scaling, b.scaling);
  EXPECT_EQ(a.min_dist, b.min_dist);
  EXPECT_EQ(a.max_dist, b.max_dist);
  EXPECT_EQ(a.radial_basis_size, b.radial_basis_size);
  EXPECT_EQ(a.radial_funcs_count, b.radial_funcs_count);
  EXPECT_EQ(a.magnetic, b.magnetic);
  EXPECT_EQ(a.min_val, b.min_val);
  EXPECT_EQ(a.max_val, b.max_val);
  EXPECT_EQ(a.magnetic_basis_size, b.magnetic_basis_size);
  EXPECT_EQ(a.radial_coeffs, b.radial_coeffs);  // bit-identical
  EXPECT_EQ(a.alpha_moments_count, b.alpha_moments_count);
  EXPECT_EQ(a.alpha_index_basic, b.alpha_index_basic);
  EXPECT_EQ(a.alpha_index_times, b.alpha_index_times);
  EXPECT_EQ(a.alpha_moment_mapping, b.alpha_moment_mapping);
  EXPECT_EQ(a.species_coeffs, b.species_coeffs);
  EXPECT_EQ(a.moment_coeffs, b.moment_coeffs);
  EXPECT_EQ(a.species_names, b.species_names);
}

TEST(MtpFile, ReadsReferencePotentials) {
  const MtpParameters p = io::read_mtp(data("rand12_2sp_mag2_R8.mtp"));
  EXPECT_TRUE(p.magnetic);
  EXPECT_EQ(p.species_count, 2);
  EXPECT_EQ(p.magnetic_basis_size, 2);
  EXPECT_EQ(p.min_val, -3.0);
  EXPECT_EQ(p.radial_funcs_count, 3);
  EXPECT_EQ(p.alpha_moments_count, 84);
  EXPECT_EQ(p.parameter_count(), 415u);  // the seed's 415 parameters for 2 species
  EXPECT_DOUBLE_EQ(p.radial_coeffs.front(), -1.224704558128340e-02);
  EXPECT_DOUBLE_EQ(p.species_coeffs[1], -3.242945578119805e+00);
}

TEST(MtpFile, WriteThenReadIsBitIdentical) {
  for (const char* name : {"rand08_2sp.mtp", "rand16_2sp.mtp", "rand16_2sp_mag2.mtp", "rand12_2sp_mag2_R8.mtp",
                           "motep_08.mmtp", "mlip3_trained.almtp", "template_16.almtp"}) {
    MtpParameters p = io::read_mtp(data(name));
    if (p.species_count == 2) p.species_names = {"Fe", "Al"};
    const std::string out = test::temp_path(".mtp");
    io::write_mtp(out, p);
    expect_same(io::read_mtp(out), p);
    std::remove(out.c_str());
  }
}

TEST(MtpFile, SpeciesNamesTravelInThePotentialTag) {
  MtpParameters p = io::read_mtp(data("rand16_2sp_mag2.mtp"));
  EXPECT_TRUE(p.species_names.empty());
  p.species_names = {"Fe", "Al"};
  const std::string out = test::temp_path(".mtp");
  io::write_mtp(out, p);
  EXPECT_NE(test::slurp(out).find("potential_tag = mmtp:species=Fe,Al\n"), std::string::npos);
  const MtpParameters q = io::read_mtp(out);
  EXPECT_EQ(q.type_of("Al"), 1);
  EXPECT_THROW(q.type_of("Ni"), Error);
  std::remove(out.c_str());
}

TEST(MtpFile, AlmtpStopsAtTheActiveLearningBlock) {
  const MtpParameters p = io::read_mtp(data("mlip3_trained.almtp"));
  EXPECT_TRUE(p.trained());
  EXPECT_DOUBLE_EQ(p.scaling, 2.391038219587312e-02);
  EXPECT_EQ(p.alpha_moments_count, 8);
}

TEST(MtpFile, TemplatesAreReadUntrained) {
  const MtpParameters t = io::read_mtp(data("template_16.almtp"));
  EXPECT_FALSE(t.trained());
  EXPECT_EQ(t.alpha_moments_count, 350);
  EXPECT_EQ(t.alpha_index_basic.size(), 130u);
  EXPECT_EQ(t.alpha_index_times.size(), 969u);
  EXPECT_EQ(t.alpha_scalar_moments(), 92);
  const MtpParameters m = io::read_mtp(data("mlip3_fe_mag_template.mtp"));
  EXPECT_TRUE(m.magnetic);
  EXPECT_EQ(m.min_val, -2.5);
}

TEST(MtpFile, MotepDialectEqualsMlip3Dialect) {
  const std::string text = test::slurp(data("motep_08.mmtp"));
  const MtpParameters motep = io::read_mtp(data("motep_08.mmtp"));
  EXPECT_TRUE(motep.magnetic);
  EXPECT_EQ(motep.min_val, -3.5);
  EXPECT_EQ(motep.max_val, 3.5);
  EXPECT_EQ(motep.magnetic_basis_size, 2);
  // The same numbers in MLIP-3's layout: the three keys in a magnetic_basis_type block.
  std::string mlip3 = test::replace(text, "\tmin_mag = -3.5\n\tmax_mag = 3.5\n\tmag_basis_size = 2\n", "");
  mlip3 = test::replace(mlip3, "\tradial_funcs_count",
                        "magnetic_basis_type = BChebyshev\n\tmin_val = -3.5\n\tmax_val = 3.5\n\tbasis_size = 2\n\tradial_funcs_count");
  const std::string path = test::write_temp(mlip3, ".mtp");
  expect_same(io::read_mtp(path), motep);
  std::remove(path.c_str());
}

void expect_parse_error(const std::string& text, long line, const std::string& fragment) {
  test::expect_parse_error([](const std::string& p) { io::read_mtp(p); }, text, ".mtp", line, fragment);
}

TEST(MtpFile, MalformedInputGivesFileLineErrors) {
  const std::string good = test::slurp(data("rand08_2sp.mtp"));
  expect_parse_error(good.substr(0, good.find("\t\t1-0")), -1, "truncated");
  expect_parse_error(test::replace(good, "alpha_index_basic_count = 11", "alpha_index_basic_count = 12"), 25, "12");
  expect_parse_error(test::replace(good, "-1.579462104870896e-02", "nan"), 13, "not a finite number");
  expect_parse_error(test::replace(good, "species_count = 2", "species_count = two"), 4, "not an integer");
  expect_parse_error(test::replace(good, "potential_name = MTP1m", "potential_colour = blue"), 3, "unknown key");
  expect_parse_error(test::replace(good, "MTP\n", "MTX\n"), 1, "first line");
  expect_parse_error(test::replace(good, "{0, 0, 1, 11}", "{0, 99, 1, 11}"), 0, "alpha_index_times[0]");
  expect_parse_error(test::replace(good, "{0, 0, 0, 0}", "{7, 0, 0, 0}"), 0, "alpha_index_basic[0]");
  expect_parse_error(test::replace(good, ", -6.730750940205157e-03}", "}"), 13, "expected 8 numbers");
  expect_parse_error(test::replace(good, "\t\t0-1\n", "\t\t0-0\n"), 15, "repeated");
  expect_parse_error(test::replace(good, "version = 1.1.0", std::string("version = \0\x01\x02", 13)), 2, "binary");
  const auto at = good.find("alpha_index_times =");
  expect_parse_error(good.substr(0, at) + good.substr(good.find('\n', at) + 1), 0, "missing key 'alpha_index_times'");
  expect_parse_error("", 0, "first line");
  EXPECT_THROW(io::read_mtp("/nonexistent/pot.mtp"), Error);
}

TEST(MtpFile, PerSpeciesMomentRangesConvertExactlyToOneRange) {
  // The random potential's coefficients read as per-species ones: Fe on ±3 μB, the second type
  // on ±0.1 μB (Kotykhov et al. 2023). The file holds one range, ±3 μB, as MLIP-3 wants.
  MtpParameters p = test::load("rand12_2sp_mag2_R8.mtp").parameters();
  p.moment_max = {3.0, 0.1};
  p.committee_alpha = 1.7;
  p.committee_floor = 0.004;
  p.species_names = {"Fe", "Al"};
  const MagneticMtp per_species(p);
  Structure s = test::structure("tric4_2sp_mag.cfg");
  for (Index i = 0; i < s.size(); ++i)
    if (s.species[i] == 1) s.magmoms[i] = 0.07 * std::sin(1.0 + i);  // inside ±0.1
  const std::string path = test::temp_path(".mtp");
  io::write_mtp(path, p);
  const std::string text = test::slurp(path);
  const std::string tag = "mmtp:species=Fe,Al;moment_max=3,0.10000000000000001;committee_alpha=1.7;committee_floor=0.0040000000000000001";
  EXPECT_NE(text.find("potential_tag = " + tag), std::string::npos) << text.substr(0, 300);
  EXPECT_NE(text.find("min_val = -3.0000000000000000e+00"), std::string::npos);
  EXPECT_NE(text.find("max_val = 3.0000000000000000e+00"), std::string::npos);
  // Read back by mmtp (per-species again) and as MLIP-3 would (tag ignored: one range).
  const MtpParameters back = io::read_mtp(path);
  EXPECT_EQ(back.moment_max, p.moment_max);
  EXPECT_EQ(back.committee_alpha, 1.7);
  EXPECT_EQ(back.committee_floor, 0.004);
  EXPECT_EQ(back.moment_range(1), std::make_pair(-0.1, 0.1));
  const std::string plain = test::write_temp(
      test::replace(text, tag, ""), ".mtp");
  const MtpParameters mlip3 = io::read_mtp(plain);
  EXPECT_TRUE(mlip3.moment_max.empty());
  EXPECT_EQ(mlip3.committee_floor, 0.0);
  const std::string negative = test::write_temp(test::replace(text, "committee_floor=0.0040000000000000001", "committee_floor=-1"), ".mtp");
  EXPECT_THROW(io::read_mtp(negative), ParseError);
  std::remove(negative.c_str());
  for (EvalMode mode : {EvalMode::raw, EvalMode::symmetrized}) {
    const Result a = per_species.evaluate(s, mode);
    for (const MtpParameters& q : {back, mlip3}) {
      const Result b = MagneticMtp(q).evaluate(s, mode);
      EXPECT_NEAR(b.energy, a.energy, 1e-10 * std::abs(a.energy));
      EXPECT_LE((b.forces - a.forces).cwiseAbs().maxCoeff(), 1e-10 * a.forces.cwiseAbs().maxCoeff());
      EXPECT_LE((b.dE_dm - a.dE_dm).cwiseAbs().maxCoeff(), 1e-10 * a.dE_dm.cwiseAbs().maxCoeff());
      EXPECT_LE((b.virial - a.virial).cwiseAbs().maxCoeff(), 1e-10 * a.virial.cwiseAbs().maxCoeff());
    }
  }
  // Out-of-range flags are per species: 0.5 μB is inside Fe's range, outside the second type's.
  s.magmoms.setConstant(0.5);
  EXPECT_EQ(per_species.evaluate(s).extrapolation.moments_out_of_range, 2);
  EXPECT_EQ(MagneticMtp(mlip3).evaluate(s).extrapolation.moments_out_of_range, 0);
  std::remove(path.c_str());
  std::remove(plain.c_str());
}

TEST(MtpFile, MomentRangesWidenAndNarrowExactly) {
  // The same E(r, m) on wider and narrower per-species ranges, and back to the original numbers.
  MtpParameters p = test::load("rand12_2sp_mag2_R8.mtp").parameters();
  p.moment_max = {3.0, 0.1};
  Structure s = test::structure("tric4_2sp_mag.cfg");
  for (Index i = 0; i < s.size(); ++i)
    if (s.species[i] == 1) s.magmoms[i] = 0.07 * std::sin(1.0 + i);
  const Result a = MagneticMtp(p).evaluate(s);
  for (const std::vector<double>& ranges : {std::vector<double>{3.0, 0.3}, {9.0, 3.0}, {1.0, 0.08}}) {
    const MtpParameters q = with_moment_ranges(p, ranges);
    EXPECT_EQ(q.moment_max, ranges);
    EXPECT_EQ(q.max_val, std::max(ranges[0], ranges[1]));
    const Result b = MagneticMtp(q).evaluate(s);
    EXPECT_NEAR(b.energy, a.energy, 1e-10 * std::abs(a.energy));
    EXPECT_LE((b.forces - a.forces).cwiseAbs().maxCoeff(), 1e-10 * a.forces.cwiseAbs().maxCoeff());
    EXPECT_LE((b.dE_dm - a.dE_dm).cwiseAbs().maxCoeff(), 1e-10 * a.dE_dm.cwiseAbs().maxCoeff());
    const MtpParameters back = with_moment_ranges(q, p.moment_max);
    for (std::size_t k = 0; k < p.radial_coeffs.size(); ++k)
      EXPECT_NEAR(back.radial_coeffs[k], p.radial_coeffs[k], 1e-12 * (1 + std::abs(p.radial_coeffs[k])));
  }
  EXPECT_THROW(with_moment_ranges(p, {3.0}), InputError);
  EXPECT_THROW(with_moment_ranges(p, {3.0, 0.0}), InputError);
}

}  // namespace
}  // namespace mmtp
