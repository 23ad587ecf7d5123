// mmtp-fit: trains a committee of magnetic MTPs on ABINIT cDFT outputs, MLIP cfg or extxyz.
// The workflow is the library's (fit::split_validation, fit::train_ensemble, fit::calibrate,
// fit::report_json); this program parses options and writes files.
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>

#include <boost/program_options.hpp>

#include "cli.hpp"
#include "mmtp/error.hpp"
#include "mmtp/fit/committee.hpp"
#include "mmtp/fit/request.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/io/samples.hpp"
#include "mmtp/io/text.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  return mmtp::cli::run("mmtp-fit", [&] {
  std::vector<std::string> train_files, valid_files;
  std::string out, species, mmax, fit_mmax, w_magnetic_species, weighting = mmtp::fit::weighting_name(mmtp::fit::Weights{}.weighting);
  mmtp::fit::FitRequest r;  // the defaults of every front end
  auto& eo = r.ensemble;
  auto& bo = r.basis;
  po::options_description opts(
      "mmtp-fit TRAIN... -o PREFIX [options]\n"
      "Trains a committee of magnetic MTPs (symmetrized objective, Kotykhov et al. 2023 Eq. 5, plus magnetic\n"
      "forces) on ABINIT outputs, MLIP cfg or extxyz. Writes PREFIX.K.mtp (MLIP-3 format, with the element\n"
      "names, per-species moment ranges and the committee's calibration, alpha and error floor, in potential_tag) for each\n"
      "member, PREFIX.report.json and a table of errors. Options");
  // One line per option: the flag onto its field of mmtp::fit::FitRequest (defaults from there).
  opts.add_options()("help,h", "show this help")("train", po::value(&train_files)->required()->multitoken(), "training files")(
      "output,o", po::value(&out)->required(), "output prefix")(
      "valid", po::value(&valid_files)->multitoken(), "validation files (calibrate the committee's alpha)")(
      "valid-fraction", po::value(&r.valid_fraction)->default_value(r.valid_fraction), "hold out this fraction of TRAIN (seeded; keeps every composition in TRAIN)")(
      "valid-seed", po::value(&r.valid_seed)->default_value(r.valid_seed),
      "seed of that split (−1: --seed), so that members fitted in separate runs share one split")(
      "template", po::value(&r.templates)->multitoken(),
      "start from this .mtp/.almtp (its alpha tables; coefficients if trained), or one trained file per member "
      "(warm start; moment ranges widened to cover TRAIN)")(
      "level", po::value(&r.level)->default_value(r.level), "MTP level: basis from the level rule (2..28)")(
      "species", po::value(&species), "type order, e.g. Fe,Al")(
      "rmin", po::value(&bo.rmin)->default_value(bo.rmin), "R_min [Å]")("rcut", po::value(&bo.rcut)->default_value(bo.rcut), "R_cut [Å]")(
      "radial-basis-size", po::value(&bo.radial_basis_size)->default_value(bo.radial_basis_size), "Chebyshev functions in distance")(
      "magnetic-basis-size", po::value(&bo.magnetic_basis_size)->default_value(bo.magnetic_basis_size), "Chebyshev functions per moment")(
      "mmax", po::value(&mmax), "moment range per species [μB], e.g. Fe=3,Al=0.1 (or one number for all); default: largest |m| of each species in TRAIN")(
      "fit-mmax", po::value(&fit_mmax), "moment range per species of the basis while training [μB] (as --mmax; default: "
      "--mmax); the members are then re-expanded exactly onto --mmax. Wider conditions the fit of small moments")(
      "ensemble", po::value(&eo.members)->default_value(eo.members), "members (seeds s … s+K−1)")(
      "seed", po::value(&eo.train.seed)->default_value(eo.train.seed), "first seed")("bootstrap", "resample TRAIN per member")(
      "max-iter", po::value(&eo.train.max_iter)->default_value(eo.train.max_iter),
      "L-BFGS iterations (0 with trained --template files: evaluate and calibrate those members as they are)")(
      "tol", po::value(&eo.train.tol)->default_value(eo.train.tol), "relative loss change over 10 iterations to stop")(
      "w-energy", po::value(&eo.train.weights.energy)->default_value(eo.train.weights.energy), "energy weight")(
      "w-force", po::value(&eo.train.weights.force)->default_value(eo.train.weights.force), "force weight [Å²]")(
      "w-stress", po::value(&eo.train.weights.stress)->default_value(eo.train.weights.stress), "virial weight")(
      "w-magnetic", po::value(&eo.train.weights.magnetic)->default_value(eo.train.weights.magnetic), "dE/dm weight (0 = off)")(
      "w-magnetic-species", po::value(&w_magnetic_species), "factor on the dE/dm weight per species, e.g. Al=0.2 (others 1)")(
      "weighting", po::value(&weighting)->default_value(weighting),
      "energy and virial terms per structure (per-structure) or times its atom count (vibrations, MLIP-3's default)")(
      "l2", po::value(&eo.train.weights.l2)->default_value(eo.train.weights.l2), "L2 regularisation")(
      "init-scale", po::value(&eo.train.init_scale)->default_value(eo.train.init_scale), "initial radial coefficients uniform in ±this")(
      "raw", "train E(M) (no ±M symmetrization)")(
      "checkpoint-every", po::value(&eo.train.checkpoint_every)->default_value(eo.train.checkpoint_every),
      "write PREFIX.K.checkpoint.mtp (and .json: evaluation, loss) every N evaluations, atomically")(
      "resume", "start each member from its checkpoint when present, for up to --max-iter more iterations")("strict", "unusable ABINIT datasets are errors")(
      "threads", po::value<int>()->default_value(0), "OpenMP threads");
  po::positional_options_description pos;
  pos.add("train", -1);
  po::variables_map vm;
  if (!mmtp::cli::parse(mmtp::cli::arguments(argc, argv), opts, pos, vm)) return 0;
  mmtp::cli::set_threads(vm["threads"].as<int>());
  eo.train.weights.weighting = mmtp::fit::parse_weighting(weighting);
  eo.train.mode = vm.count("raw") ? mmtp::EvalMode::raw : mmtp::EvalMode::symmetrized;
  eo.bootstrap = vm.count("bootstrap") > 0;
  eo.resume = vm.count("resume") > 0;
  eo.checkpoint_prefix = out;

  r.species = mmtp::io::split_list(species, "--species");
  auto train = mmtp::cli::load_labelled(train_files, r.species, vm.count("strict") > 0, "mmtp-fit");
  auto valid = mmtp::cli::load_labelled(valid_files, r.species, vm.count("strict") > 0, "mmtp-fit");
  bo.moment_max = mmtp::io::per_species_values(mmax, r.species, "--mmax");
  eo.fit_moment_max = mmtp::io::per_species_values(fit_mmax, r.species, "--fit-mmax");
  eo.train.weights.magnetic_species = mmtp::io::per_species_values(w_magnetic_species, r.species, "--w-magnetic-species", 1.0, false);
  r.validate();
  auto split = mmtp::fit::split_validation(std::move(train), r.valid_fraction, r.split_seed(), static_cast<int>(r.species.size()));
  train = std::move(split.train);
  valid.insert(valid.end(), split.valid.begin(), split.valid.end());
  if (train.empty()) throw mmtp::Error("empty training set");

  const std::vector<mmtp::MtpParameters> starts = mmtp::fit::starting_potentials(r, train);
  const mmtp::MtpParameters& start = starts.front();
  const std::string tpath = r.templates.empty() ? fmt::format("level {}", r.level) : fmt::format("{}", fmt::join(r.templates, ", "));
  std::string ranges;
  for (int t = 0; t < start.species_count && start.magnetic; ++t)
    ranges += fmt::format("{}{} ±{:g}", t ? ", " : "", r.species[t], start.moment_range(t).second);
  const auto [fewest, most] = std::minmax_element(starts.begin(), starts.end(), [](const auto& a, const auto& b) {
    return a.parameter_count() < b.parameter_count();
  });  // a committee of several levels: the range
  const std::string parameters = fewest->parameter_count() == most->parameter_count()
                                     ? fmt::format("{}", start.parameter_count())
                                     : fmt::format("{}–{}", fewest->parameter_count(), most->parameter_count());
  fmt::print("training on {} structures ({} validation), species {}, basis {}, {} parameters per member{}\n", train.size(),
             valid.size(), fmt::join(r.species, ","), tpath, parameters, start.magnetic ? ", moments " + ranges + " μB" : "");

  const bool tty = ::isatty(2);
  auto progress = [&](int k, const mmtp::fit::TrainProgress& p) {
    if (p.checkpoint && !tty) {
#pragma omp critical
      fmt::print(stderr, "mmtp-fit: member {}: checkpoint at evaluation {}, loss {:.6e}\n", k, p.evaluations, p.loss);
    } else if (!p.checkpoint && tty && p.evaluations % 10 == 0) {
#pragma omp critical
      fmt::print(stderr, "\rmember {} evaluation {:5d} loss {:.6e} elapsed {:6.1f} s ", k, p.evaluations, p.loss, p.seconds);
    }
  };
  for (int k = 0; k < eo.members && eo.resume; ++k) {
    const std::string path = mmtp::fit::checkpoint_path(out, k);
    if (::access(path.c_str(), R_OK) == 0)
      fmt::print(stderr, "mmtp-fit: member {}: resuming from {} (evaluation {})\n", k, path, mmtp::fit::checkpoint_evaluations(path));
  }
  const auto summary = mmtp::fit::fit_committee(starts, train, valid, eo, out, {argv, argv + argc}, progress);
  if (tty) fmt::print(stderr, "\n");
  for (std::size_t k = 0; k < summary.members.size(); ++k) {
    const auto& r = summary.members[k];
    fmt::print("member {}: loss {:.6e} (after linear solve {:.6e}), {} evaluations in {:.1f} s ({:.3f} s each), stop: {}\n", k,
               r.loss, r.initial_loss, r.evaluations, r.seconds, r.evaluations ? r.seconds / r.evaluations : 0.0, r.stop);
  }
  for (const auto& [name, set, results] :
       {std::tuple<const char*, const std::vector<mmtp::Sample>*, const std::vector<mmtp::EnsembleResult>*>{
            "train", &train, &summary.train_results},
        {"valid", &valid, &summary.valid_results}}) {
    if (set->empty()) continue;
    const auto e = mmtp::fit::errors(*results, *set);
    const auto c = mmtp::fit::check_calibration(*results, *set, summary.calibration.alpha, summary.calibration.floor);
    fmt::print("{:5s} ensemble mean: E {:.3f} meV/atom RMSE ({:.3f} MAE), F {:.4f} eV/Å ({:.4f}), stress {:.4f} eV/Å³ "
               "({:.4f}), dE/dm {:.4f} eV/μB ({:.4f}); std vs |error|: Spearman {:.2f}, {:.0f} % within 2σ (α = {:.2f}, "
               "floor {:.2f} meV/atom)\n",
               name, 1000 * e.energy_rmse, 1000 * e.energy_mae, e.force_rmse, e.force_mae, e.stress_rmse, e.stress_mae,
               e.dE_dm_rmse, e.dE_dm_mae, c.spearman, 100 * c.within_2sigma, c.alpha, 1000 * c.floor);
  }
  fmt::print("wrote {} … {} and {}.report.json\n", mmtp::fit::member_path(out, 0),
             mmtp::fit::member_path(out, static_cast<int>(summary.members.size()) - 1), out);
  return 0;
  });
}
