#include "mmtp/io/cfg.hpp"

#include <gtest/gtest.h>

#include <cstdio>

#include "helpers.hpp"
#include "mmtp/error.hpp"
#include "mmtp/io/samples.hpp"

namespace mmtp {
namespace {

TEST(CfgFile, ReadsMagneticSet) {
  const auto v = io::read_cfg(test::data("set_mag.cfg"));
  ASSERT_EQ(v.size(), 3u);
  const Structure& s = v[1].structure;  // one-atom bcc primitive cell
  EXPECT_EQ(s.size(), 1);
  EXPECT_EQ(s.cell(0, 0), -1.43);
  EXPECT_EQ(s.cell(1, 0), 1.43);  // rows of Supercell are lattice vectors = our columns
  EXPECT_EQ(s.magmoms[0], 2.2);
  EXPECT_TRUE(s.pbc[0] && s.pbc[1] && s.pbc[2]);
  EXPECT_EQ(io::detect_format(test::data("set_mag.cfg")), io::SampleFormat::cfg);
}

TEST(CfgFile, RoundTripIsExact) {
  auto v = io::read_cfg(test::data("set_mag.cfg"));
  v[0].energy = -1.0 / 3.0;
  v[0].forces = Eigen::Matrix3Xd::Random(3, v[0].structure.size());
  v[0].dE_dm = Eigen::VectorXd::Random(v[0].structure.size());
  Eigen::Matrix3d w = Eigen::Matrix3d::Random();
  v[0].virial = w + w.transpose();
  v[0].features = {{"from", "test"}};
  const std::string out = test::temp_path(".cfg");
  io::write_cfg(out, v);
  const auto back = io::read_cfg(out);
  ASSERT_EQ(back.size(), v.size());
  for (std::size_t k = 0; k < v.size(); ++k) {
    EXPECT_EQ(back[k].structure.cell, v[k].structure.cell);
    EXPECT_EQ(back[k].structure.positions, v[k].structure.positions);
    EXPECT_EQ(back[k].structure.magmoms, v[k].structure.magmoms);
    EXPECT_EQ(back[k].structure.species, v[k].structure.species);
  }
  EXPECT_EQ(*back[0].energy, *v[0].energy);
  EXPECT_EQ(*back[0].forces, *v[0].forces);
  EXPECT_EQ(*back[0].dE_dm, *v[0].dE_dm);
  EXPECT_EQ(*back[0].virial, *v[0].virial);
  EXPECT_EQ(back[0].features, v[0].features);
  std::remove(out.c_str());
}

TEST(CfgFile, DirectCoordinatesAndClusters) {
  const std::string text =
      "BEGIN_CFG\n Size\n 2\n Supercell\n 2 0 0\n 0 2 0\n 0 0 2\n AtomData: id type direct_x direct_y direct_z\n"
      " 1 0 0 0 0\n 2 1 0.5 0.5 0.25\nEND_CFG\n"
      "BEGIN_CFG\n Size\n 1\n AtomData: id type cartes_x cartes_y cartes_z\n 1 0 1 2 3\n Energy\n -1.5\nEND_CFG\n";
  const auto path = test::write_temp(text, ".cfg");
  const auto v = io::read_cfg(path);
  EXPECT_EQ(v[0].structure.positions.col(1), Eigen::Vector3d(1, 1, 0.5));
  EXPECT_FALSE(v[1].structure.pbc[0]);
  EXPECT_EQ(*v[1].energy, -1.5);
  std::remove(path.c_str());
}

void expect_parse_error(const std::string& text, long line, const std::string& fragment) {
  test::expect_parse_error([](const std::string& p) { io::read_cfg(p); }, text, ".cfg", line, fragment);
}

TEST(CfgFile, MalformedInputGivesFileLineErrors) {
  const std::string good = test::slurp(test::data("bcc_prim1_mag.cfg"));
  expect_parse_error(good.substr(0, good.find("END_CFG")), -1, "truncated");
  expect_parse_error(test::replace(good, "    1\n", "    1000\n"), 3, "does not fit");
  expect_parse_error(test::replace(good, "    1\n", "    2147483647\n"), 3, "does not fit");
  expect_parse_error(test::replace(good, "2.200000000000", "nan"), 9, "not a finite number");
  expect_parse_error(test::replace(good, "    1 0  0.0", "    1 x  0.0"), 9, "not an integer");
  expect_parse_error(test::replace(good, "cartes_z", "cartes_q"), 8, "cartes_x");
  expect_parse_error(test::replace(good, "magmom_z", ""), 8, "only some of");
  expect_parse_error(test::replace(good, "2.200000000000  0.0", "2.200000000000"), 9, "columns");
  expect_parse_error(test::replace(good, "END_CFG", "Colour\n blue\nEND_CFG"), 10, "unknown cfg key");
  expect_parse_error(std::string("BEGIN_CFG\n Size\n\x01\x02\0\x7f", 20), 3, "binary");
  expect_parse_error("\n\n", 0, "no configuration");
  expect_parse_error("hello\n", 1, "BEGIN_CFG");
}

}  // namespace
}  // namespace mmtp
