// mmtp-fit: trains a committee of magnetic MTPs on ABINIT cDFT outputs, MLIP cfg or extxyz.
// The workflow is the library's (fit::split_validation, fit::train_ensemble, fit::calibrate,
// fit::report_json); this program parses options and writes files.
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <boost/program_options.hpp>

#include "cli.hpp"
#include "mmtp/error.hpp"
#include "mmtp/fit/committee.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/io/samples.hpp"
#include "mmtp/io/text.hpp"
#include "mmtp/moment_basis.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  return mmtp::cli::run("mmtp-fit", [&] {
  std::vector<std::string> train_files, valid_files, templates;
  std::string out, species, mmax, fit_mmax;
  int level = 12;
  double valid_fraction = 0.0;
  mmtp::fit::EnsembleOptions eo;
  mmtp::fit::BasisOptions bo;
  po::options_description opts(
      "mmtp-fit TRAIN... -o PREFIX [options]\n"
      "Trains a committee of magnetic MTPs (symmetrized objective, Kotykhov et al. 2023 Eq. 5, plus magnetic\n"
      "forces) on ABINIT outputs, MLIP cfg or extxyz. Writes PREFIX.K.mtp (MLIP-3 format, with the element\n"
      "names, per-species moment ranges and the committee's calibration alpha in potential_tag) for each\n"
      "member, PREFIX.report.json and a table of errors. Options");
  opts.add_options()("help,h", "show this help")("train", po::value(&train_files)->required()->multitoken(), "training files")(
      "output,o", po::value(&out)->required(), "output prefix")(
      "valid", po::value(&valid_files)->multitoken(), "validation files (calibrate the committee's alpha)")(
      "valid-fraction", po::value(&valid_fraction)->default_value(0.0), "hold out this fraction of TRAIN (seeded; keeps every composition in TRAIN)")(
      "template", po::value(&templates)->multitoken(),
      "start from this .mtp/.almtp (its alpha tables; coefficients if trained), or one trained file per member "
      "(warm start; moment ranges widened to cover TRAIN)")(
      "level", po::value(&level)->default_value(12), "MTP level: basis from the level rule (2..28)")(
      "species", po::value(&species), "type order, e.g. Fe,Al")(
      "rmin", po::value(&bo.rmin)->default_value(bo.rmin), "R_min [Å]")("rcut", po::value(&bo.rcut)->default_value(bo.rcut), "R_cut [Å]")(
      "radial-basis-size", po::value(&bo.radial_basis_size)->default_value(bo.radial_basis_size), "Chebyshev functions in distance")(
      "magnetic-basis-size", po::value(&bo.magnetic_basis_size)->default_value(bo.magnetic_basis_size), "Chebyshev functions per moment")(
      "mmax", po::value(&mmax), "moment range per species [μB], e.g. Fe=3,Al=0.1 (or one number for all); default: largest |m| of each species in TRAIN")(
      "fit-mmax", po::value(&fit_mmax), "moment range per species of the basis while training [μB] (as --mmax; default: "
      "--mmax); the members are then re-expanded exactly onto --mmax. Wider conditions the fit of small moments")(
      "ensemble", po::value(&eo.members)->default_value(eo.members), "members (seeds s … s+K−1)")(
      "seed", po::value(&eo.train.seed)->default_value(1), "first seed")("bootstrap", "resample TRAIN per member")(
      "max-iter", po::value(&eo.train.max_iter)->default_value(eo.train.max_iter), "L-BFGS iterations")(
      "tol", po::value(&eo.train.tol)->default_value(eo.train.tol), "relative loss change over 10 iterations to stop")(
      "w-energy", po::value(&eo.train.weights.energy)->default_value(eo.train.weights.energy), "energy weight")(
      "w-force", po::value(&eo.train.weights.force)->default_value(eo.train.weights.force), "force weight [Å²]")(
      "w-stress", po::value(&eo.train.weights.stress)->default_value(eo.train.weights.stress), "virial weight")(
      "w-magnetic", po::value(&eo.train.weights.magnetic)->default_value(eo.train.weights.magnetic), "dE/dm weight (0 = off)")(
      "l2", po::value(&eo.train.weights.l2)->default_value(0.0), "L2 regularisation")(
      "init-scale", po::value(&eo.train.init_scale)->default_value(eo.train.init_scale), "initial radial coefficients uniform in ±this")(
      "raw", "train E(M) (no ±M symmetrization)")(
      "checkpoint-every", po::value(&eo.train.checkpoint_every)->default_value(0),
      "write PREFIX.K.checkpoint.mtp (and .json: evaluation, loss) every N evaluations, atomically")(
      "resume", "start each member from its checkpoint when present, for up to --max-iter more iterations")("strict", "unusable ABINIT datasets are errors")(
      "threads", po::value<int>()->default_value(0), "OpenMP threads");
  po::positional_options_description pos;
  pos.add("train", -1);
  po::variables_map vm;
  if (!mmtp::cli::parse(mmtp::cli::arguments(argc, argv), opts, pos, vm)) return 0;
  mmtp::cli::set_threads(vm["threads"].as<int>());
  eo.train.mode = vm.count("raw") ? mmtp::EvalMode::raw : mmtp::EvalMode::symmetrized;
  eo.bootstrap = vm.count("bootstrap") > 0;
  eo.resume = vm.count("resume") > 0;
  eo.checkpoint_prefix = out;

  std::vector<std::string> names = mmtp::io::split_list(species, "--species");
  auto train = mmtp::cli::load_labelled(train_files, names, vm.count("strict") > 0, "mmtp-fit");
  auto valid = mmtp::cli::load_labelled(valid_files, names, vm.count("strict") > 0, "mmtp-fit");
  auto split = mmtp::fit::split_validation(std::move(train), valid_fraction, eo.train.seed, static_cast<int>(names.size()));
  train = std::move(split.train);
  valid.insert(valid.end(), split.valid.begin(), split.valid.end());
  if (train.empty()) throw mmtp::Error("empty training set");
  bo.moment_max = mmtp::cli::per_species_values(mmax, names, "--mmax");
  eo.fit_moment_max = mmtp::cli::per_species_values(fit_mmax, names, "--fit-mmax");

  // The starting potentials: a template's alpha tables with this run's sizes, or trained
  // potentials (one, or one per member) that keep their coefficients, basis and cut-offs.
  if (templates.size() > 1 && templates.size() != static_cast<std::size_t>(eo.members))
    throw mmtp::Error(fmt::format("--template: {} files for {} members (give one, or one per member)", templates.size(), eo.members));
  const std::string tpath = templates.empty() ? fmt::format("level {}", level) : fmt::format("{}", fmt::join(templates, ", "));
  std::vector<mmtp::MtpParameters> starts;
  for (const auto& path : templates.empty() ? std::vector<std::string>{""} : templates) {
    mmtp::MtpParameters p = path.empty() ? mmtp::moment_tensor_basis(level) : mmtp::io::read_mtp(path);
    if (!p.trained()) starts.push_back(mmtp::fit::untrained_potential(p, names, bo, train));
    else if (p.species_count != static_cast<int>(names.size()))
      throw mmtp::Error(fmt::format("{}: {} species, but the data has {}", path, p.species_count, names.size()));
    else starts.push_back(mmtp::fit::warm_start(p, names, bo, train));
  }
  const mmtp::MtpParameters& start = starts.front();
  std::string ranges;
  for (int t = 0; t < start.species_count && start.magnetic; ++t)
    ranges += fmt::format("{}{} ±{:g}", t ? ", " : "", names[t], start.moment_range(t).second);
  fmt::print("training on {} structures ({} validation), species {}, basis {}, {} parameters per member{}\n", train.size(),
             valid.size(), fmt::join(names, ","), tpath,
             static_cast<std::size_t>(start.species_count) * start.species_count * start.radial_funcs_count *
                     start.radial_coeffs_per_function() + start.species_count + start.alpha_scalar_moments(),
             start.magnetic ? ", moments " + ranges + " μB" : "");

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
    const auto c = mmtp::fit::check_calibration(*results, *set, summary.calibration.alpha);
    fmt::print("{:5s} ensemble mean: E {:.3f} meV/atom RMSE ({:.3f} MAE), F {:.4f} eV/Å ({:.4f}), stress {:.4f} eV/Å³ "
               "({:.4f}), dE/dm {:.4f} eV/μB ({:.4f}); std vs |error|: Spearman {:.2f}, {:.0f} % within 2σ (α = {:.2f})\n",
               name, 1000 * e.energy_rmse, 1000 * e.energy_mae, e.force_rmse, e.force_mae, e.stress_rmse, e.stress_mae,
               e.dE_dm_rmse, e.dE_dm_mae, c.spearman, 100 * c.within_2sigma, c.alpha);
  }
  fmt::print("wrote {}.0..{}.mtp and {}.report.json\n", out, summary.members.size() - 1, out);
  return 0;
  });
}
