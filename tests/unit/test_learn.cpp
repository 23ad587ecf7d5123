// Active learning's pieces: committee calibration and splits, exploration, selection,
// fingerprints, and i-PI's active_output records.
#include "mmtp/learn.hpp"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "helpers.hpp"
#include "mmtp/error.hpp"
#include "mmtp/fit/committee.hpp"
#include "mmtp/fit/objective.hpp"
#include "mmtp/moment_basis.hpp"
#include "mmtp/io/ipi_active.hpp"
#include "mmtp/units.hpp"

namespace mmtp {
namespace {

TEST(Committee, SpearmanOfMonotoneAndReversedAndTiedData) {
  EXPECT_DOUBLE_EQ(fit::spearman({1, 2, 3, 4}, {10, 20, 30, 1000}), 1.0);
  EXPECT_DOUBLE_EQ(fit::spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  EXPECT_NEAR(fit::spearman({1, 1, 2, 3}, {1, 2, 3, 4}), 0.9487, 1e-4);  // average ranks of ties
  EXPECT_EQ(fit::spearman({1, 2}, {1, 2}), 0.0);
}

/// Structures with a label and a committee result of given error and std per atom [eV/atom].
void synthetic(const std::vector<double>& err, const std::vector<double>& sd, std::vector<EnsembleResult>& results,
               std::vector<Sample>& data) {
  for (std::size_t k = 0; k < err.size(); ++k) {
    Sample s;
    s.structure = test::structure("bcc_prim1.cfg");
    s.energy = 1.0;
    data.push_back(s);
    EnsembleResult r;
    r.mean.energy = 1.0 + err[k];
    r.energy_std = sd[k];
    results.push_back(r);
  }
}

TEST(Committee, CalibrationPutsNinetyFivePercentWithinTwoSigma) {
  std::mt19937 rng(3);
  std::normal_distribution<double> n(0, 1);
  std::vector<double> err, sd;
  for (int k = 0; k < 200; ++k) {
    sd.push_back(0.001 * (1 + k % 7));
    err.push_back(3.0 * sd.back() * n(rng));  // true errors are 3× the raw spread
  }
  std::vector<EnsembleResult> results;
  std::vector<Sample> data;
  synthetic(err, sd, results, data);
  const auto c = fit::calibrate(results, data);
  EXPECT_NEAR(c.alpha, 3.0, 0.5);
  EXPECT_GE(c.within_2sigma, 0.95);
  EXPECT_LE(fit::check_calibration(results, data, 1.0).within_2sigma, 0.6);
  EXPECT_GT(c.spearman, 0.3);  // larger std, larger errors
  EXPECT_THROW(fit::calibrate({results[0]}, {data[0]}), InputError);
}

TEST(Committee, CalibrationFindsTheErrorFloor) {
  // Errors N(0, (2σ)² + (4 meV/atom)²) = N(0, 2²(σ² + r²)) with r = 2 meV/atom: the fit finds
  // that shape and scales it so that 95 % lie within 2·std, α = 2 × 1.96 / 2.
  std::mt19937 rng(5);
  std::normal_distribution<double> n(0, 1);
  std::vector<double> err, sd;
  for (int k = 0; k < 2000; ++k) {
    sd.push_back(0.0005 * (1 + k % 20));
    err.push_back(std::hypot(2.0 * sd.back(), 0.004) * n(rng));
  }
  std::vector<EnsembleResult> results;
  std::vector<Sample> data;
  synthetic(err, sd, results, data);
  const auto c = fit::calibrate(results, data);
  EXPECT_NEAR(c.floor / c.alpha, 0.002, 0.0004);
  EXPECT_NEAR(c.alpha, 1.96, 0.3);
  EXPECT_NEAR(c.within_2sigma, 0.95, 0.005);
  // The coverage holds on the smallest and on the largest spreads alike.
  for (int band : {0, 16}) {
    std::vector<EnsembleResult> r;
    std::vector<Sample> d;
    for (std::size_t k = 0; k < sd.size(); ++k)
      if (static_cast<int>(k % 20) >= band && static_cast<int>(k % 20) < band + 4) r.push_back(results[k]), d.push_back(data[k]);
    EXPECT_NEAR(fit::check_calibration(r, d, c.alpha, c.floor).within_2sigma, 0.95, 0.03) << "band " << band;
  }
  // Errors that do not follow the spread at all: α stays 1 and the floor alone covers 95 %.
  std::vector<double> flat, small_sd;
  for (std::size_t k = 0; k < sd.size(); ++k) flat.push_back(0.01 * n(rng)), small_sd.push_back(0.1 * sd[k]);
  std::vector<EnsembleResult> rf;
  std::vector<Sample> df;
  synthetic(flat, small_sd, rf, df);
  const auto cf = fit::calibrate(rf, df);
  EXPECT_EQ(cf.alpha, 1.0);
  EXPECT_NEAR(cf.floor, 0.0098, 0.0008);  // the 95th percentile of |e|/2: 1.96 × 10 meV/atom / 2
  EXPECT_NEAR(cf.within_2sigma, 0.95, 0.005);
  // Without a floor in the errors the fit finds (almost) none.
  std::vector<double> err0;
  for (std::size_t k = 0; k < sd.size(); ++k) err0.push_back(3.0 * sd[k] * n(rng));
  std::vector<EnsembleResult> r0;
  std::vector<Sample> d0;
  synthetic(err0, sd, r0, d0);
  const auto c0 = fit::calibrate(r0, d0);
  EXPECT_LT(c0.floor, 0.001);  // against errors of 1.5-30 meV/atom
  EXPECT_NEAR(c0.alpha, 3.0, 0.4);
}

TEST(Committee, ValidationSplitKeepsEveryCompositionInTraining) {
  std::vector<Sample> data;
  for (int k = 0; k < 10; ++k) {
    Sample s;
    s.structure = test::structure(k < 9 ? "bcc_prim1.cfg" : "tric4_2sp.cfg");  // one structure of a second composition
    s.energy = k;
    data.push_back(s);
  }
  const auto split = fit::split_validation(data, 0.5, 1, 2);
  EXPECT_EQ(split.valid.size(), 5u);
  EXPECT_EQ(split.train.size(), 5u);
  bool lone_in_train = false;
  for (const auto& s : split.train) lone_in_train = lone_in_train || s.structure.size() == 4;
  EXPECT_TRUE(lone_in_train);
  EXPECT_THROW(fit::split_validation(data, 1.0, 1, 2), InputError);
}

TEST(Committee, TrainingOnWiderMomentRangesReturnsTheStartsRanges) {
  // fit_moment_max changes only the parametrisation: each member comes back on its start's
  // ranges, and its objective there is the loss training reported on the wider ones.
  std::vector<Sample> data;
  const MagneticMtp truth = test::load("rand08_2sp.mtp");
  for (const char* name : {"tric4_2sp_mag.cfg", "bcc16_2sp_mag.cfg"}) {
    Sample smp;
    smp.structure = test::structure(name);
    const Result r = truth.evaluate(smp.structure, EvalMode::raw);
    smp.energy = r.energy;
    smp.forces = r.forces;
    data.push_back(smp);
  }
  fit::BasisOptions bo;
  bo.magnetic_basis_size = 3;
  bo.moment_max = {2.0, 0.5};
  const MtpParameters start = fit::untrained_potential(moment_tensor_basis(6), {"Fe", "Al"}, bo, data);
  fit::EnsembleOptions o;
  o.members = 2;
  o.train.max_iter = 30;
  o.fit_moment_max = {0.0, 2.0};  // Fe on its own range, Al on ±2 μB
  const auto reports = fit::train_ensemble({start}, data, o);
  const fit::Dataset dataset(start, data);
  for (const auto& r : reports) {
    EXPECT_EQ(r.params.moment_max, bo.moment_max);
    EXPECT_EQ(r.params.max_val, 2.0);
    const double loss = fit::objective(r.params, dataset, o.train.weights, o.train.mode, nullptr);
    EXPECT_NEAR(loss, r.loss, 1e-9 * r.loss);
  }
  o.fit_moment_max = {-1.0, 2.0};
  EXPECT_THROW(fit::train_ensemble({start}, data, o), InputError);
}

TEST(Committee, WarmStartWidensMomentRangesToCoverTheDataExactly) {
  // A trained potential keeps its model; only ranges the data exceed grow (exact re-expansion).
  const MagneticMtp toy = test::load("toy_feal_mag.mtp");  // one range, ±3 μB
  Sample smp;
  smp.structure = test::structure("tric4_2sp_mag.cfg");
  const Structure inside = smp.structure;
  smp.structure.magmoms[0] = -4.0;  // Fe beyond ±3
  fit::BasisOptions bo;
  const MtpParameters wider = fit::warm_start(toy.parameters(), {"Fe", "Al"}, bo, {smp});
  EXPECT_EQ(wider.moment_max, (std::vector<double>{4.0, 3.0}));
  const Result a = toy.evaluate(inside, EvalMode::symmetrized), b = MagneticMtp(wider).evaluate(inside, EvalMode::symmetrized);
  EXPECT_NEAR(b.energy, a.energy, 1e-10 * std::abs(a.energy));
  EXPECT_LT((b.forces - a.forces).cwiseAbs().maxCoeff(), 1e-10);
  EXPECT_LT((b.dE_dm - a.dE_dm).cwiseAbs().maxCoeff(), 1e-10);
  // Data inside the ranges: the potential as it was; explicit ranges win over both.
  Sample in;
  in.structure = inside;
  EXPECT_TRUE(fit::warm_start(toy.parameters(), {"Fe", "Al"}, bo, {in}).moment_max.empty());
  bo.moment_max = {5.0, 0.0};
  EXPECT_EQ(fit::warm_start(toy.parameters(), {"Fe", "Al"}, bo, {smp}).moment_max, (std::vector<double>{5.0, 3.0}));
  EXPECT_THROW(fit::warm_start(toy.parameters(), {"Fe"}, bo, {smp}), InputError);
  EXPECT_THROW(fit::warm_start(moment_tensor_basis(6), {"Fe", "Al"}, bo, {smp}), InputError);
}

TEST(Committee, MembersOfAnotherBasisTrainOnTheirOwnGeometry) {
  // A committee may mix cut-offs or levels (the driver evaluates any such committee): each
  // member's loss is its objective on the data's geometry for its own basis (the objective
  // throws for another basis); starts that differ in species are refused.
  const MagneticMtp toy = test::load("toy_feal_mag.mtp");
  Sample smp;
  smp.structure = test::structure("tric4_2sp_mag.cfg");
  smp.energy = toy.evaluate(smp.structure, EvalMode::symmetrized).energy + 0.1;
  MtpParameters other = toy.parameters();
  other.max_dist += 0.5;
  fit::EnsembleOptions o;
  o.members = 2;
  o.train.max_iter = 3;
  const auto reports = fit::train_ensemble({toy.parameters(), other}, {smp}, o);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].params.max_dist, toy.parameters().max_dist);
  EXPECT_EQ(reports[1].params.max_dist, other.max_dist);
  for (const auto& r : reports) {
    const fit::Dataset own(r.params, {smp});
    EXPECT_NEAR(fit::objective(r.params, own, o.train.weights, o.train.mode, nullptr), r.loss, 1e-9 * r.loss);
  }
  MtpParameters one_species = toy.parameters();
  one_species.species_count = 1;
  EXPECT_THROW(fit::train_ensemble({toy.parameters(), one_species}, {smp}, o), InputError);
}

Ensemble toy_committee() {
  MtpParameters other = test::load("toy_feal_mag.mtp").parameters();
  other.moment_coeffs[1] *= 1.05;
  return Ensemble({test::load("toy_feal_mag.mtp"), MagneticMtp(other)});
}

/// 2-atom B2 FeAl (a = 2.86 Å), Fe 2 μB.
Structure b2() {
  Structure s;
  s.cell = Eigen::Matrix3d::Identity() * 2.86;
  s.positions.resize(3, 2);
  s.positions.col(0).setZero();
  s.positions.col(1).setConstant(1.43);
  s.species = {0, 1};
  s.magmoms = Eigen::Vector2d(2.0, 0.0);
  return s;
}

TEST(Learn, LangevinMovesTheAtomsWithinTheirThermalEnergy) {
  // γ = 0 leaves velocity Verlet on the adiabatic surface, started at 300 K: the potential
  // energy changes, by less than the kinetic energy the atoms started with (units of the
  // dynamics — amu, fs, eV, K — off by any of their factors would break one of the bounds).
  Structure s = b2();
  s.cell *= 2.0;
  Structure big = s;
  big.positions.resize(3, 16);
  big.species.clear();
  big.magmoms.resize(16);
  int k = 0;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      for (int l = 0; l < 2; ++l)
        for (int t = 0; t < 2; ++t, ++k) {
          big.positions.col(k) = 2.86 * (Eigen::Vector3d(i, j, l) + 0.5 * t * Eigen::Vector3d::Ones());
          big.species.push_back(t);
          big.magmoms[k] = t == 0 ? 2.0 : 0.0;
        }
  learn::MdOptions o;
  o.temperature = 300, o.friction = 0.0, o.steps = 40, o.every = 10, o.masses = {55.845, 26.98};
  const Ensemble toy({test::load("toy_feal_mag.mtp")});
  const auto frames = learn::explore_md(toy, big, o, "test");
  ASSERT_EQ(frames.size(), 4u);
  // The potential energy moves (the atoms do), by more than the total energy's drift would allow
  // if the units were off by any of the factors involved.
  const double e0 = toy.evaluate(big).mean.energy, e1 = toy.evaluate(frames.back().structure).mean.energy;
  EXPECT_GT(std::abs(e1 - e0), 1e-3);
  EXPECT_LT(std::abs(e1 - e0), 16 * 3 * units::ev_per_kelvin * 300);  // at most the kinetic energy it started with
  o.masses = {55.845};
  EXPECT_THROW(learn::explore_md(toy, big, o, "test"), InputError);
}

TEST(Learn, ScansAndRelaxationsGiveCandidatesWithTheirStd) {
  const Ensemble c = toy_committee();
  const auto vol = learn::explore_volume_scan(c, b2(), -0.04, 0.04, 5, "b2");
  ASSERT_EQ(vol.size(), 5u);
  EXPECT_NEAR(volume(vol.front().structure), volume(b2()) * std::pow(0.96, 3), 1e-9);
  for (const auto& x : vol) EXPECT_GT(x.energy_std, 0.0);
  const auto mom = learn::explore_moment_scan(c, b2(), 0, 0.5, 2.5, 3, "b2");
  ASSERT_EQ(mom.size(), 3u);
  EXPECT_DOUBLE_EQ(mom[2].structure.magmoms[0], 2.5);
  const auto rel = learn::explore_relax(c, b2(), CellMode::full, 30, 5, "b2");
  EXPECT_GE(rel.size(), 2u);
  EXPECT_NE(rel.back().origin.find("relax b2 (cell full)"), std::string::npos) << rel.back().origin;
}

TEST(Learn, SelectionTakesTheMostUncertainDistinctLabelableOnes) {
  const Ensemble c = toy_committee();
  auto pool = learn::explore_volume_scan(c, b2(), -0.05, 0.05, 11, "b2");
  pool.push_back(pool.back());  // a duplicate
  learn::SelectOptions o;
  o.energy_std = 1e-9, o.force_std = 1e-9, o.dE_dm_std = 1e-9;  // everything qualifies
  o.max_candidates = 4;
  o.min_distance = 0.01;
  const auto picked = learn::select(pool, {}, o, 2, 5.0);
  ASSERT_EQ(picked.size(), 4u);
  for (std::size_t k = 1; k < picked.size(); ++k) EXPECT_GE(picked[k - 1].score, picked[k].score);
  for (std::size_t a = 0; a < picked.size(); ++a)
    for (std::size_t b = a + 1; b < picked.size(); ++b)
      EXPECT_GE(learn::distance(learn::fingerprint(picked[a].structure, 2, 5.0), learn::fingerprint(picked[b].structure, 2, 5.0)), 0.01);
  // Known data near a candidate excludes it; per-task and size limits hold; thresholds filter.
  const auto again = learn::select(pool, {picked[0].structure}, o, 2, 5.0);
  for (const auto& x : again) EXPECT_GT(learn::distance(learn::fingerprint(x.structure, 2, 5.0), learn::fingerprint(picked[0].structure, 2, 5.0)), 0.0);
  o.max_per_task = 2;
  EXPECT_EQ(learn::select(pool, {}, o, 2, 5.0).size(), 2u);
  o.max_per_task = 0;
  o.min_pair_distance = 2.7;  // the B2 cells' nearest neighbours are 2.35–2.61 Å apart
  EXPECT_TRUE(learn::select(pool, {}, o, 2, 5.0).empty());
  o.min_pair_distance = 0;
  o.max_atoms = 1;
  EXPECT_TRUE(learn::select(pool, {}, o, 2, 5.0).empty());
  o.max_atoms = 4;
  o.energy_std = o.force_std = o.dE_dm_std = 1e9;
  EXPECT_TRUE(learn::select(pool, {}, o, 2, 5.0).empty());
}

TEST(Learn, FingerprintDistanceSeesGeometryMomentsAndComposition) {
  const auto f = learn::fingerprint(b2(), 2, 5.0);
  EXPECT_EQ(learn::distance(f, f), 0.0);
  Structure strained = b2();
  strained.cell *= 1.03;
  strained.positions *= 1.03;
  Structure moments = b2();
  moments.magmoms[0] = 1.0;
  Structure fe = b2();
  fe.species = {0, 0};
  EXPECT_GT(learn::distance(f, learn::fingerprint(strained, 2, 5.0)), 0.05);
  EXPECT_GT(learn::distance(f, learn::fingerprint(moments, 2, 5.0)), 0.01);
  EXPECT_GT(learn::distance(f, learn::fingerprint(fe, 2, 5.0)), 0.1);
}

TEST(IpiActiveOutput, ConcatenatedRecordsBecomeStructures) {
  Structure tmpl = b2();
  const double b = 1.0 / units::angstrom_per_bohr;
  const std::string rec = fmt::format(R"({{"position": [0, 0, 0, {0}, {0}, {0}], "cell": [{1}, 0, 0, 0, {1}, 0, 0, 0, {1}], "uncertainty": 0.001}})",
                                      1.5 * b, 3.0 * b);
  const auto out = io::read_ipi_active_output(rec + rec + "\n", tmpl, "active.json");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_NEAR(out[0].structure.positions(2, 1), 1.5, 1e-12);
  EXPECT_NEAR(out[1].structure.cell(1, 1), 3.0, 1e-12);
  EXPECT_NEAR(out[0].energy_std, 0.001 * units::ev_per_hartree, 1e-12);
  EXPECT_EQ(out[0].structure.magmoms[0], 2.0);
  EXPECT_THROW(io::read_ipi_active_output(R"({"position": [0, 0, 0], "cell": [1, 0, 0, 0, 1, 0, 0, 0, 1]})", tmpl, "a.json"),
               ParseError);
  EXPECT_THROW(io::read_ipi_active_output(rec.substr(0, 20), tmpl, "a.json"), ParseError);
  EXPECT_THROW(io::read_ipi_active_output(rec + " junk", tmpl, "a.json"), ParseError);
}

}  // namespace
}  // namespace mmtp
