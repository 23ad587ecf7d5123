#include "mmtp/io/abinit.hpp"

#include <gtest/gtest.h>

#include <Eigen/LU>

#include "helpers.hpp"
#include "mmtp/error.hpp"

namespace mmtp {
namespace {

// Conversion factors written out here on purpose: the test checks the reader's conversions
// against numbers read by eye from the files, not against the reader's own constants.
constexpr double ha = 27.21138602;       // eV
constexpr double bohr = 0.52917721067;   // Å

std::string abo(const std::string& name) { return test::data("abinit/" + name); }

TEST(AbinitReader, CollinearCdftRunValuesReadByEye) {
  std::vector<std::string> names{"Fe", "Al"};
  const auto r = io::read_abinit(abo("b2-00.abo"), names);
  ASSERT_EQ(r.samples.size(), 1u);
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
  const Sample& s = r.samples[0];
  EXPECT_EQ(s.structure.species, (std::vector<int>{0, 1}));
  EXPECT_DOUBLE_EQ(*s.energy, -1.2655040721E+02 * ha);
  EXPECT_NEAR((*s.forces)(0, 0), -1.3897659938E-02 * ha / bohr, 1e-12);
  EXPECT_NEAR((*s.forces)(2, 1), -1.1533547749E-02 * ha / bohr, 1e-12);
  EXPECT_DOUBLE_EQ(s.structure.magmoms[0], -1.4804630000);   // spinat z (cDFT target)
  EXPECT_DOUBLE_EQ(s.structure.magmoms[1], -4.2015000000E-02);
  EXPECT_NEAR((*s.dE_dm)[0], -8.2331054599E-03 * ha, 1e-12);  // grspin z = T(z)
  EXPECT_NEAR((*s.dE_dm)[1], -6.2377857139E-02 * ha, 1e-12);
  EXPECT_NEAR(s.structure.positions(1, 1), 2.6303021653 * bohr, 1e-12);  // xcart
  EXPECT_NEAR(s.structure.cell(0, 0), 1.8897261329 * 2.9642081574 * bohr, 1e-12);  // acell·rprim
  EXPECT_NEAR(s.structure.cell(1, 0), 1.8897261329 * -2.7535725600E-02 * bohr, 1e-12);
  // YAML lattice_volume 1.6764104E+02 Bohr³; virial W = −σV with strten (11 22 33 32 31 21).
  const double v_bohr3 = std::abs(s.structure.cell.determinant()) / (bohr * bohr * bohr);
  EXPECT_NEAR(v_bohr3, 1.6764104E+02, 1e-4);
  EXPECT_NEAR((*s.virial)(0, 0), -1.2050214733E-05 * v_bohr3 * ha, 1e-9);
  EXPECT_NEAR((*s.virial)(0, 1), 1.1717461720E-04 * v_bohr3 * ha, 1e-9);
  EXPECT_NEAR((*s.virial)(1, 2), -1.0805672827E-04 * v_bohr3 * ha, 1e-9);
}

TEST(AbinitReader, OmittedZeroTargetsAndNewElementsAppended) {
  std::vector<std::string> names;
  const auto r = io::read_abinit(abo("b2-ideal-m00.abo"), names);
  ASSERT_EQ(r.samples.size(), 1u);
  EXPECT_EQ(names, (std::vector<std::string>{"Fe", "Al"}));
  EXPECT_EQ(r.samples[0].structure.magmoms[0], 0.0);
  EXPECT_NEAR((*r.samples[0].dE_dm)[0], 2.7262611028E-10 * ha, 1e-15);
}

TEST(AbinitReader, UnconvergedRunIsSkippedOrAnErrorWhenStrict) {
  std::vector<std::string> names;
  const auto r = io::read_abinit(abo("fe4-211-05.abo"), names);
  EXPECT_TRUE(r.samples.empty());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("fe4-211-05.abo: dataset 1: SCF did not converge"), std::string::npos) << r.warnings[0];
  io::AbinitOptions strict;
  strict.strict = true;
  EXPECT_THROW(io::read_abinit(abo("fe4-211-05.abo"), names, strict), ParseError);
}

TEST(AbinitReader, Abinit10MultiDatasetWithMixedConstraintKinds) {
  std::vector<std::string> names;
  const auto r = io::read_abinit(abo("t25_abinit10.abo"), names);
  ASSERT_EQ(r.samples.size(), 3u);  // datasets 1 (free), 2 (kind 1), 3 (kind 11); 4 and 5 partial
  EXPECT_EQ(names, (std::vector<std::string>{"H"}));
  EXPECT_DOUBLE_EQ(*r.samples[0].energy, -1.0544730896E+00 * ha);
  EXPECT_DOUBLE_EQ(r.samples[0].structure.magmoms[0], 0.000002);  // free: the sphere moment
  EXPECT_EQ((*r.samples[0].dE_dm)[0], 0.0);
  EXPECT_DOUBLE_EQ(r.samples[1].structure.magmoms[0], 8.0000000000E-02);  // kind 1: target
  EXPECT_DOUBLE_EQ(r.samples[1].structure.magmoms[1], -8.0000000000E-02);
  EXPECT_NEAR((*r.samples[1].dE_dm)[1], -6.2628255824E-02 * ha, 1e-12);
  EXPECT_DOUBLE_EQ(*r.samples[2].energy, -1.0495632538E+00 * ha);
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_NE(r.warnings[0].find("dataset 4: constraint_kind 3"), std::string::npos) << r.warnings[0];
}

TEST(AbinitReader, NonCollinearTwoDigitDatasetsAreSkippedByName) {
  std::vector<std::string> names;
  const auto r = io::read_abinit(abo("t26_abinit9_noncollinear.abo"), names);
  EXPECT_TRUE(r.samples.empty());
  ASSERT_EQ(r.warnings.size(), 6u);
  EXPECT_NE(r.warnings[0].find("dataset 11: non-collinear"), std::string::npos) << r.warnings[0];
  EXPECT_NE(r.warnings[5].find("dataset 32: non-collinear"), std::string::npos) << r.warnings[5];
}

TEST(AbinitReader, MalformedOutputGivesFileLineErrors) {
  const std::string good = test::slurp(abo("b2-00.abo"));
  // The final echo comes last: change the last occurrence, not the input echo.
  auto replace_last = [](std::string text, const std::string& from, const std::string& to) {
    const auto at = text.rfind(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
  };
  auto read = [](const std::string& p) {
    std::vector<std::string> names;
    io::read_abinit(p, names);
  };
  test::expect_parse_error(read, good.substr(0, good.find(" -outvars: echo values of variables after computation")), ".abo", 0,
                           "truncated");
  test::expect_parse_error(read, test::replace(good, "etotal     -1.2655040721E+02", "etotal     -1.26550xx721E+02"), ".abo",
                           -1, "etotal");
  test::expect_parse_error(read, replace_last(good, "            natom           2\n", "            natom    2000000000\n"),
                           ".abo", -1, "natom");
  test::expect_parse_error(read, "hello\nworld\n", ".abo", 1, "not ABINIT output");
  test::expect_parse_error(read, replace_last(good, "typat      1  2", "typat      1  7"), ".abo", -1, "typat 7");
}

}  // namespace
}  // namespace mmtp

namespace mmtp {
namespace {

TEST(AbinitFile, StatusFromTheTwoMarkers) {
  EXPECT_FALSE(io::abinit_status(" ETOT  1  -126.5\n").completed);
  const auto done = io::abinit_status("...\n Calculation completed.\n");
  EXPECT_TRUE(done.completed && done.converged);
  const auto stopped = io::abinit_status(" scprqt:  WARNING -\n  nstep=   80 was not enough SCF cycles to converge;\n Calculation completed.\n");
  EXPECT_TRUE(stopped.completed);
  EXPECT_FALSE(stopped.converged);
}

}  // namespace
}  // namespace mmtp
