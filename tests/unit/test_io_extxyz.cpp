#include "mmtp/io/extxyz.hpp"

#include <gtest/gtest.h>

#include <cstdio>

#include "helpers.hpp"
#include "mmtp/error.hpp"
#include "mmtp/io/cfg.hpp"
#include "mmtp/io/samples.hpp"

namespace mmtp {
namespace {

const std::vector<std::string> fe_al{"Fe", "Al"};

TEST(ExtxyzFile, RoundTripThroughCfgAndExtxyzIsExact) {
  auto v = io::read_cfg(test::data("set_mag.cfg"));
  v[2].energy = 12.25;
  v[2].forces = Eigen::Matrix3Xd::Random(3, v[2].structure.size());
  v[2].dE_dm = Eigen::VectorXd::Random(v[2].structure.size());
  v[2].virial = Eigen::Matrix3d::Identity() * 3.5;
  v[2].features = {{"note", "two words"}, {"plain", "x"}};
  v[2].arrays = {{"energies", Eigen::MatrixXd::Random(1, v[2].structure.size())},
                 {"two words", Eigen::MatrixXd::Random(2, v[2].structure.size())}};
  const std::string xyz = test::temp_path(".xyz"), cfg = test::temp_path(".cfg");
  io::write_samples(xyz, v, fe_al);
  EXPECT_EQ(io::detect_format(xyz), io::SampleFormat::extxyz);
  const auto back = io::read_samples(xyz, fe_al);
  io::write_samples(cfg, back, fe_al);
  const auto again = io::read_samples(cfg, fe_al);
  ASSERT_EQ(again.size(), v.size());
  for (std::size_t k = 0; k < v.size(); ++k) {
    EXPECT_EQ(again[k].structure.positions, v[k].structure.positions);
    EXPECT_EQ(again[k].structure.cell, v[k].structure.cell);
    EXPECT_EQ(again[k].structure.magmoms, v[k].structure.magmoms);
    EXPECT_EQ(again[k].structure.species, v[k].structure.species);
  }
  EXPECT_EQ(*again[2].energy, 12.25);
  EXPECT_EQ(*again[2].forces, *v[2].forces);
  EXPECT_EQ(*again[2].dE_dm, *v[2].dE_dm);
  // The virial goes through stress = −W/V and back: equal to rounding.
  EXPECT_LE((*again[2].virial - *v[2].virial).norm(), 1e-13);
  EXPECT_EQ(back[2].features, v[2].features);
  ASSERT_EQ(back[2].arrays.size(), 2u);
  EXPECT_EQ(back[2].arrays[0].second, v[2].arrays[0].second);
  EXPECT_EQ(back[2].arrays[1].first, "two words");  // the Properties value is quoted when a name needs it
  EXPECT_EQ(back[2].arrays[1].second, v[2].arrays[1].second);
  std::remove(xyz.c_str());
  std::remove(cfg.c_str());
}

TEST(ExtxyzFile, ReadsAseConventions) {
  const std::string text =
      "2\nLattice=\"4 0 0 0 4 0 0 0 4\" Properties=species:S:1:pos:R:3:magmoms:R:1 energy=-3.5 "
      "stress=\"0.1 0 0 0 0.2 0 0 0 0.3\" pbc=\"T T F\" config_type=bulk\n"
      "Fe 0 0 0 2.2\nAl 2 2 2 0\n";
  const auto path = test::write_temp(text, ".xyz");
  const auto v = io::read_extxyz(path, fe_al);
  const Structure& s = v[0].structure;
  EXPECT_EQ(s.species, (std::vector<int>{0, 1}));
  EXPECT_EQ(s.magmoms[0], 2.2);
  EXPECT_FALSE(s.pbc[2]);
  EXPECT_DOUBLE_EQ((*v[0].virial)(1, 1), -0.2 * 64);
  EXPECT_EQ(v[0].features.at(0).first, "config_type");
  std::remove(path.c_str());
}

void expect_parse_error(const std::string& text, long line, const std::string& fragment) {
  test::expect_parse_error([](const std::string& p) { io::read_extxyz(p, fe_al); }, text, ".xyz", line, fragment);
}

TEST(ExtxyzFile, MalformedInputGivesFileLineErrors) {
  const std::string good = "2\nLattice=\"4 0 0 0 4 0 0 0 4\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\nFe 0 0 0\nAl 2 2 2\n";
  expect_parse_error(test::replace(good, "2\n", "3\n"), 1, "only");
  expect_parse_error(test::replace(good, "2\n", "2147483647\n"), 1, "only");
  expect_parse_error(test::replace(good, "Al 2 2 2", "Ni 2 2 2"), 4, "'Ni' is not in the species list Fe,Al");
  expect_parse_error(test::replace(good, "Al 2 2 2", "Al 2 nan 2"), 4, "not a finite number");
  expect_parse_error(test::replace(good, "Al 2 2 2", "Al 2 2"), 4, "columns");
  expect_parse_error(test::replace(good, "4 0 0 0 4 0 0 0 4", "4 0 0"), 2, "Lattice needs 9");
  expect_parse_error(test::replace(good, "pos:R:3", "pos:Q:3"), 2, "bad property");
  // A known column listed twice (a fuzzer find: the extra arrays were indexed past their end).
  expect_parse_error(test::replace(test::replace(good, "pos:R:3", "pos:R:3:pos:R:3"), " 0 0 0\n", " 0 0 0 0 0 0\n"), 2,
                     "Properties lists 'pos' twice");
  // A known column with another type or count (a fuzzer find: de_dm:L:1 was kept as an array,
  // written back as de_dm:R:1 and then read as dE/dm).
  expect_parse_error(test::replace(test::replace(good, "pos:R:3", "pos:R:3:de_dm:L:1"), " 0 0 0\n", " 0 0 0 T\n"), 2,
                     "'de_dm' must be R:1, found L:1");
  expect_parse_error(test::replace(test::replace(good, "pos:R:3", "pos:R:3:magmoms:R:3"), " 0 0 0\n", " 0 0 0 1 1 1\n"), 2,
                     "collinear");
  expect_parse_error(test::replace(good, "Lattice=\"", "Lattice=\"\"4"), 2, "");
  expect_parse_error(std::string("2\n\x01\0\x02", 5), 2, "binary");
}

}  // namespace
}  // namespace mmtp
