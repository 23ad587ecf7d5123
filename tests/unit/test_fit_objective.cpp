#include "mmtp/fit/objective.hpp"

#include <gtest/gtest.h>

#include <random>

#include "helpers.hpp"
#include "mmtp/error.hpp"
#include "mmtp/io/cfg.hpp"

namespace mmtp::fit {
namespace {

/// Labels from one potential, a perturbed copy as the model: every term of the objective is
/// non-zero.
struct Fixture {
  MtpParameters model;
  std::vector<Sample> samples;
  Fixture() {
    const MagneticMtp truth = test::load("rand12_2sp_mag2_R8.mtp");
    for (const char* cfg : {"tric4_2sp_mag.cfg", "bcc_prim1_mag.cfg", "bcc16_2sp_mag.cfg"}) {
      Sample s;
      s.structure = test::structure(cfg);
      const Result r = truth.evaluate(s.structure);
      s.energy = r.energy;
      s.forces = r.forces;
      s.virial = r.virial;
      s.dE_dm = r.dE_dm;
      samples.push_back(s);
    }
    model = truth.parameters();
    std::mt19937 rng(5);
    std::normal_distribution<double> n(0.0, 1.0);
    for (double& c : model.radial_coeffs) c *= 1.0 + 0.2 * n(rng);
    for (double& c : model.moment_coeffs) c *= 1.0 + 0.1 * n(rng);
    model.species_coeffs[0] += 0.3;
  }
  Dataset data() const { return Dataset(model, samples); }
};

class ObjectiveGradient : public ::testing::TestWithParam<EvalMode> {};

TEST_P(ObjectiveGradient, MatchesCentralDifferencesForEveryKindOfParameter) {
  const Fixture fx;
  Weights w;
  w.force = 0.05;
  w.stress = 0.01;
  w.magnetic = 0.02;
  w.l2 = 1e-3;
  Eigen::VectorXd grad;
  const Dataset data = fx.data();
  const double loss = objective(fx.model, data, w, GetParam(), &grad);
  ASSERT_GT(loss, 0.0);
  const Eigen::VectorXd theta = pack(fx.model);
  const Index nr = static_cast<Index>(fx.model.radial_coeffs.size()), ns = fx.model.species_count;
  std::vector<Index> probe;
  for (Index q = 0; q < nr; q += 37) probe.push_back(q);  // radial
  for (Index q = nr; q < nr + ns; ++q) probe.push_back(q);  // species
  for (Index q = nr + ns; q < theta.size(); q += 5) probe.push_back(q);  // moment
  for (Index q : probe) {
    const double h = 1e-6 * std::max(1.0, std::abs(theta[q]));
    MtpParameters plus = fx.model, minus = fx.model;
    Eigen::VectorXd tp = theta, tm = theta;
    tp[q] += h;
    tm[q] -= h;
    unpack(tp, plus);
    unpack(tm, minus);
    const double fd = (objective(plus, data, w, GetParam(), nullptr) - objective(minus, data, w, GetParam(), nullptr)) / (2 * h);
    EXPECT_NEAR(grad[q], fd, 1e-5 * std::max(1.0, std::abs(fd))) << "parameter " << q;
  }
}

TEST(Objective, PerSpeciesMagneticWeightsScaleEachSpeciesTerm) {
  // Only dE/dm in the loss: with factors (f0, f1) it is f0·(type-0 terms) + f1·(type-1 terms),
  // and its gradient and solve_linear follow (the new option of issue 22).
  const Fixture fx;
  Weights w;
  w.energy = 0, w.force = 0, w.stress = 0, w.magnetic = 0.02;
  const Dataset data = fx.data();
  Eigen::VectorXd g10, g01, g23;
  w.magnetic_species = {1.0, 0.0};
  const double only0 = objective(fx.model, data, w, EvalMode::symmetrized, &g10);
  w.magnetic_species = {0.0, 1.0};
  const double only1 = objective(fx.model, data, w, EvalMode::symmetrized, &g01);
  w.magnetic_species = {2.0, 3.0};
  const double mixed = objective(fx.model, data, w, EvalMode::symmetrized, &g23);
  w.magnetic_species.clear();
  const double plain = objective(fx.model, data, w, EvalMode::symmetrized, nullptr);
  ASSERT_GT(only0, 0.0);
  ASSERT_GT(only1, 0.0);
  EXPECT_NEAR(only0 + only1, plain, 1e-12 * plain);
  EXPECT_NEAR(mixed, 2 * only0 + 3 * only1, 1e-12 * mixed);
  EXPECT_LE((g23 - (2 * g10 + 3 * g01)).cwiseAbs().maxCoeff(), 1e-10 * g23.cwiseAbs().maxCoeff());
  w.magnetic_species = {1.0};
  EXPECT_THROW(objective(fx.model, data, w, EvalMode::symmetrized, nullptr), InputError);
  w.magnetic_species = {1.0, -1.0};
  EXPECT_THROW(w.validate(), InputError);
}

TEST(Objective, MultiplicityEqualsRepeatedStructures) {
  const Fixture fx;
  Weights w;
  w.l2 = 1e-4;
  std::vector<Sample> repeated = fx.samples;
  repeated.push_back(fx.samples[1]);
  repeated.push_back(fx.samples[1]);
  Eigen::VectorXd g1, g2;
  const double a = objective(fx.model, Dataset(fx.model, repeated), w, EvalMode::symmetrized, &g1);
  const double b = objective(fx.model, fx.data(), w, EvalMode::symmetrized, &g2, {1.0, 3.0, 1.0});
  EXPECT_NEAR(a, b, 1e-12 * a);
  EXPECT_LE((g1 - g2).cwiseAbs().maxCoeff(), 1e-10 * g1.cwiseAbs().maxCoeff());
}

TEST(Objective, VibrationsWeightingMultipliesEnergyAndVirialTermsByTheAtomCount) {
  // MLIP-3's `weighting = vibrations`: the energy and virial terms of a structure of N atoms count
  // N times, the force and dE/dm terms (already per atom) once. Same loss, gradient and linear
  // solve as per-structure weighting with multiplicity N on those terms alone.
  const Fixture fx;
  Weights w;
  w.force = 0, w.magnetic = 0, w.stress = 0.01;
  std::vector<double> atoms;
  for (const Sample& s : fx.samples) atoms.push_back(static_cast<double>(s.structure.size()));
  ASSERT_EQ(atoms, (std::vector<double>{4, 1, 16}));
  const Dataset data = fx.data();
  Eigen::VectorXd g_vib, g_mult;
  Weights vib = w;
  vib.weighting = parse_weighting("vibrations");
  const double a = objective(fx.model, data, vib, EvalMode::symmetrized, &g_vib);
  const double b = objective(fx.model, data, w, EvalMode::symmetrized, &g_mult, atoms);
  ASSERT_GT(a, objective(fx.model, data, w, EvalMode::symmetrized, nullptr));  // the 4- and 16-atom cells weigh more
  EXPECT_NEAR(a, b, 1e-12 * a);
  EXPECT_LE((g_vib - g_mult).cwiseAbs().maxCoeff(), 1e-10 * g_vib.cwiseAbs().maxCoeff());
  // The force and dE/dm terms are the same under both weightings.
  Weights per_atom;
  per_atom.energy = 0, per_atom.stress = 0, per_atom.force = 0.05, per_atom.magnetic = 0.02;
  Weights per_atom_vib = per_atom;
  per_atom_vib.weighting = Weights::Weighting::vibrations;
  const double f = objective(fx.model, data, per_atom, EvalMode::symmetrized, nullptr);
  ASSERT_GT(f, 0.0);
  EXPECT_NEAR(objective(fx.model, data, per_atom_vib, EvalMode::symmetrized, nullptr), f, 1e-12 * f);
  MtpParameters p_vib = fx.model, p_mult = fx.model;
  solve_linear(p_vib, data, vib, EvalMode::symmetrized, {}, 1e-10);
  solve_linear(p_mult, data, w, EvalMode::symmetrized, atoms, 1e-10);
  for (std::size_t q = 0; q < p_vib.moment_coeffs.size(); ++q)
    EXPECT_NEAR(p_vib.moment_coeffs[q], p_mult.moment_coeffs[q], 1e-9 * std::max(1.0, std::abs(p_mult.moment_coeffs[q])));
  EXPECT_EQ(parse_weighting("per-structure"), Weights::Weighting::per_structure);
  EXPECT_THROW(parse_weighting("molecules"), InputError);
}

INSTANTIATE_TEST_SUITE_P(Modes, ObjectiveGradient, ::testing::Values(EvalMode::raw, EvalMode::symmetrized),
                         [](const auto& info) { return info.param == EvalMode::raw ? "raw" : "symmetrized"; });

TEST(Objective, ZeroAtTheTruthAndPackRoundTrip) {
  const MtpParameters truth = test::load("rand12_2sp_mag2_R8.mtp").parameters();
  const Fixture fx;
  Eigen::VectorXd grad;
  EXPECT_NEAR(objective(truth, fx.data(), Weights{}, EvalMode::symmetrized, &grad), 0.0, 1e-20);
  EXPECT_LE(grad.cwiseAbs().maxCoeff(), 1e-9);
  MtpParameters q = truth;
  unpack(pack(truth), q);
  EXPECT_EQ(q.radial_coeffs, truth.radial_coeffs);
  EXPECT_EQ(q.moment_coeffs, truth.moment_coeffs);
  EXPECT_THROW(unpack(Eigen::VectorXd::Zero(3), q), std::invalid_argument);
}

}  // namespace
}  // namespace mmtp::fit

namespace mmtp::fit {
namespace {

TEST(SolveLinear, RecoversSpeciesAndMomentCoefficientsExactly) {
  const Fixture fx;
  MtpParameters p = test::load("rand12_2sp_mag2_R8.mtp").parameters();  // the truth's radial part
  const MtpParameters truth = p;
  for (double& c : p.moment_coeffs) c = 0.0;
  for (double& c : p.species_coeffs) c = 0.0;
  Weights w;
  w.magnetic = 0.01;
  const double loss = solve_linear(p, fx.data(), w, EvalMode::symmetrized, {}, 1e-14);
  EXPECT_LE(loss, 1e-12);
  for (std::size_t a = 0; a < p.moment_coeffs.size(); a += 7) EXPECT_NEAR(p.moment_coeffs[a], truth.moment_coeffs[a], 1e-5);
  EXPECT_NEAR(p.species_coeffs[1], truth.species_coeffs[1], 1e-5);
}

}  // namespace
}  // namespace mmtp::fit
