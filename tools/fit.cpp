// mmtp-fit: trains an ensemble of magnetic MTPs on ABINIT cDFT outputs, MLIP cfg or extxyz.
#include <fmt/core.h>
#include <omp.h>
#include <unistd.h>

#include <Eigen/LU>
#include <boost/program_options.hpp>

#include "cli.hpp"
#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <map>
#include <numeric>
#include <random>

#include "mmtp/ensemble.hpp"
#include "mmtp/error.hpp"
#include "mmtp/fit/train.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/io/samples.hpp"
#include "mmtp/io/text.hpp"
#include "mmtp/moment_basis.hpp"
#include "mmtp/units.hpp"

namespace po = boost::program_options;
using mmtp::Index;

namespace {

std::vector<mmtp::Sample> load(const std::vector<std::string>& files, std::vector<std::string>& names, bool strict) {
  mmtp::io::AbinitOptions ao;
  ao.strict = strict;
  std::vector<std::string> warnings;
  auto out = mmtp::io::read_labelled(files, names, ao, warnings);
  for (const auto& w : warnings) fmt::print(stderr, "mmtp-fit: warning: {}\n", w);
  return out;
}

/// Errors of one model (or the ensemble mean) on a data set.
nlohmann::json errors(const std::vector<mmtp::EnsembleResult>& results, const std::vector<mmtp::Sample>& data, int member) {
  double e2 = 0, e1 = 0, f2 = 0, f1 = 0, s2 = 0, s1 = 0, m2 = 0, m1 = 0;
  long ne = 0, nf = 0, ns = 0, nm = 0;
  for (std::size_t k = 0; k < data.size(); ++k) {
    const mmtp::Result& r = member < 0 ? results[k].mean : results[k].members[static_cast<std::size_t>(member)];
    const auto& smp = data[k];
    const double n = static_cast<double>(smp.structure.size());
    if (smp.energy) {
      const double d = (r.energy - *smp.energy) / n * 1000.0;  // meV/atom
      e2 += d * d, e1 += std::abs(d), ++ne;
    }
    if (smp.forces) {
      const Eigen::Matrix3Xd d = r.forces - *smp.forces;
      f2 += d.squaredNorm(), f1 += d.cwiseAbs().sum(), nf += d.size();
    }
    if (smp.virial) {
      // Stress [GPa] = −W/V, the output boundary of this tool.
      const Eigen::Matrix3d d = -(r.virial - *smp.virial) / mmtp::volume(smp.structure) / mmtp::units::ev_per_angstrom3_per_gpa;
      s2 += d.squaredNorm(), s1 += d.cwiseAbs().sum(), ns += 9;
    }
    if (smp.dE_dm && r.dE_dm.size()) {
      const Eigen::VectorXd d = r.dE_dm - *smp.dE_dm;
      m2 += d.squaredNorm(), m1 += d.cwiseAbs().sum(), nm += d.size();
    }
  }
  auto rms = [](double s, long n) { return n ? std::sqrt(s / static_cast<double>(n)) : 0.0; };
  auto mae = [](double s, long n) { return n ? s / static_cast<double>(n) : 0.0; };
  return {{"energy_rmse_meV_per_atom", rms(e2, ne)}, {"energy_mae_meV_per_atom", mae(e1, ne)},
          {"force_rmse_eV_per_A", rms(f2, nf)},      {"force_mae_eV_per_A", mae(f1, nf)},
          {"stress_rmse_GPa", rms(s2, ns)},          {"stress_mae_GPa", mae(s1, ns)},
          {"dE_dm_rmse_eV_per_muB", rms(m2, nm)},    {"dE_dm_mae_eV_per_muB", mae(m1, nm)},
          {"structures", data.size()}};
}

/// Atoms of each type 0..species−1 in a structure.
std::vector<int> species_counts(const mmtp::Sample& smp, int species) {
  std::vector<int> counts(static_cast<std::size_t>(species), 0);
  for (int t : smp.structure.species) ++counts[static_cast<std::size_t>(t)];
  return counts;
}

/// Per-structure predictions (ensemble mean and std) beside the labels, for parity plots.
/// Energies [eV/atom], forces [eV/Å] (flattened x,y,z per atom), stress [GPa] (xx,yy,zz,yz,xz,xy,
/// σ = −W/V), dE/dm [eV/μB], atoms per type (`species_counts`); a label the data lacks is null.
nlohmann::json structures(const std::vector<mmtp::EnsembleResult>& results, const std::vector<mmtp::Sample>& data, int species) {
  nlohmann::json out = nlohmann::json::array();
  auto stress = [](const Eigen::Matrix3d& w, double v) {
    const Eigen::Matrix3d s = -w / v / mmtp::units::ev_per_angstrom3_per_gpa;
    return std::vector<double>{s(0, 0), s(1, 1), s(2, 2), s(1, 2), s(0, 2), s(0, 1)};
  };
  auto flat = [](const auto& m) { return std::vector<double>(m.data(), m.data() + m.size()); };
  for (std::size_t k = 0; k < data.size(); ++k) {
    const auto& smp = data[k];
    const auto& r = results[k];
    const double n = static_cast<double>(smp.structure.size()), v = mmtp::volume(smp.structure);
    std::string source;
    for (const auto& [key, value] : smp.features)
      if (key == "source") source = value;
    nlohmann::json j = {{"source", source}, {"atoms", smp.structure.size()}, {"species_counts", species_counts(smp, species)}, {"energy", r.mean.energy / n},
                        {"energy_std", r.energy_std / n}, {"forces", flat(r.mean.forces)}, {"stress", stress(r.mean.virial, v)}};
    j["energy_dft"] = smp.energy ? nlohmann::json(*smp.energy / n) : nlohmann::json();
    j["forces_dft"] = smp.forces ? nlohmann::json(flat(*smp.forces)) : nlohmann::json();
    j["stress_dft"] = smp.virial ? nlohmann::json(stress(*smp.virial, v)) : nlohmann::json();
    if (r.mean.dE_dm.size()) j["dE_dm"] = flat(r.mean.dE_dm);
    j["dE_dm_dft"] = smp.dE_dm ? nlohmann::json(flat(*smp.dE_dm)) : nlohmann::json();
    out.push_back(j);
  }
  return out;
}

/// Pearson correlation between the ensemble's energy std and the mean's |error| (per atom).
double std_error_correlation(const std::vector<mmtp::EnsembleResult>& results, const std::vector<mmtp::Sample>& data) {
  std::vector<double> a, b;
  for (std::size_t k = 0; k < data.size(); ++k)
    if (data[k].energy) {
      const double n = static_cast<double>(data[k].structure.size());
      a.push_back(results[k].energy_std / n);
      b.push_back(std::abs(results[k].mean.energy - *data[k].energy) / n);
    }
  if (a.size() < 3) return 0.0;
  const Eigen::Map<Eigen::ArrayXd> x(a.data(), static_cast<Index>(a.size())), y(b.data(), static_cast<Index>(b.size()));
  const Eigen::ArrayXd dx = x - x.mean(), dy = y - y.mean();
  const double den = std::sqrt((dx * dx).sum() * (dy * dy).sum());
  return den > 0 ? (dx * dy).sum() / den : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  return mmtp::tools::run("mmtp-fit", [&] {
  std::vector<std::string> train_files, valid_files;
  std::string out, tmpl, species;
  int level = 12, radial = 8, mag = 2, ensemble = 5, checkpoint_every = 0;
  double rmin = 2.1, rcut = 4.5, valid_fraction = 0.0, mmax = 0.0;
  mmtp::fit::TrainOptions to;
  po::options_description opts(
      "mmtp-fit TRAIN... -o PREFIX [options]\n"
      "Trains an ensemble of magnetic MTPs (symmetrized objective, Kotykhov et al. 2023 Eq. 5, plus magnetic\n"
      "forces) on ABINIT outputs, MLIP cfg or extxyz. Writes PREFIX.K.mtp (MLIP-3 format) for each member,\n"
      "PREFIX.report.json and a table of errors. Options");
  opts.add_options()("help,h", "show this help")("train", po::value(&train_files)->required()->multitoken(), "training files")(
      "output,o", po::value(&out)->required(), "output prefix")(
      "valid", po::value(&valid_files)->multitoken(), "validation files")(
      "valid-fraction", po::value(&valid_fraction)->default_value(0.0), "hold out this fraction of TRAIN (seeded; keeps every composition in TRAIN)")(
      "template", po::value(&tmpl), "start from this .mtp/.almtp (its alpha tables; coefficients if trained)")(
      "level", po::value(&level)->default_value(12), "MTP level: basis from the level rule (2..28)")(
      "species", po::value(&species), "type order, e.g. Fe,Al")(
      "rmin", po::value(&rmin)->default_value(2.1), "R_min [Å]")("rcut", po::value(&rcut)->default_value(4.5), "R_cut [Å]")(
      "radial-basis-size", po::value(&radial)->default_value(8), "Chebyshev functions in distance")(
      "magnetic-basis-size", po::value(&mag)->default_value(2), "Chebyshev functions per moment")(
      "mmax", po::value(&mmax)->default_value(0.0), "moment range [−M, M] [μB]; 0 = largest |m| in TRAIN")(
      "ensemble", po::value(&ensemble)->default_value(5), "members (seeds s … s+K−1)")(
      "seed", po::value(&to.seed)->default_value(1), "first seed")("bootstrap", "resample TRAIN per member")(
      "max-iter", po::value(&to.max_iter)->default_value(to.max_iter), "L-BFGS iterations")(
      "tol", po::value(&to.tol)->default_value(to.tol), "relative loss change over 10 iterations to stop")(
      "w-energy", po::value(&to.weights.energy)->default_value(to.weights.energy), "energy weight")(
      "w-force", po::value(&to.weights.force)->default_value(to.weights.force), "force weight [Å²]")(
      "w-stress", po::value(&to.weights.stress)->default_value(to.weights.stress), "virial weight")(
      "w-magnetic", po::value(&to.weights.magnetic)->default_value(to.weights.magnetic), "dE/dm weight (0 = off)")(
      "l2", po::value(&to.weights.l2)->default_value(0.0), "L2 regularisation")(
      "raw", "train E(M) (no ±M symmetrization)")(
      "checkpoint-every", po::value(&checkpoint_every)->default_value(0),
      "write PREFIX.K.checkpoint.mtp (and .json: evaluation, loss) every N evaluations, atomically")(
      "resume", "start each member from its checkpoint when present, for up to --max-iter more iterations")("strict", "unusable ABINIT datasets are errors")(
      "threads", po::value<int>()->default_value(0), "OpenMP threads");
  po::positional_options_description pos;
  pos.add("train", -1);
  po::variables_map vm;
  if (!mmtp::tools::parse(argc, argv, opts, pos, vm)) return 0;
  if (vm["threads"].as<int>() > 0) omp_set_num_threads(vm["threads"].as<int>());
  if (ensemble < 1 || ensemble > 100) throw mmtp::Error("--ensemble must be in 1..100");
  if (!(valid_fraction >= 0 && valid_fraction < 1)) throw mmtp::Error("--valid-fraction must be in [0, 1)");
  to.mode = vm.count("raw") ? mmtp::EvalMode::raw : mmtp::EvalMode::symmetrized;

  std::vector<std::string> names = mmtp::io::split_list(species, "--species");
  auto train = load(train_files, names, vm.count("strict") > 0);
  auto valid = load(valid_files, names, vm.count("strict") > 0);
  if (valid_fraction > 0) {
    // Seeded random hold-out that never takes the last training structure of a composition
    // (the model cannot predict a composition it has never seen; that would test extrapolation).
    std::mt19937_64 rng(to.seed);
    std::shuffle(train.begin(), train.end(), rng);
    auto composition = [&](const mmtp::Sample& smp) {
      std::vector<int> count = species_counts(smp, static_cast<int>(names.size()));
      int g = 0;
      for (int c : count) g = std::gcd(g, c);
      for (int& c : count) c /= std::max(g, 1);
      return count;
    };
    std::map<std::vector<int>, int> left;
    for (const auto& smp : train) ++left[composition(smp)];
    auto nv = static_cast<std::size_t>(std::round(valid_fraction * static_cast<double>(train.size())));
    std::vector<mmtp::Sample> keep;
    for (auto& smp : train) {
      int& n = left[composition(smp)];
      if (nv > 0 && n > 1) --n, --nv, valid.push_back(std::move(smp));
      else keep.push_back(std::move(smp));
    }
    train = std::move(keep);
  }
  if (train.empty()) throw mmtp::Error("empty training set");

  // The starting potential: a template's alpha tables with this run's sizes.
  const std::string tpath = !tmpl.empty() ? tmpl : fmt::format("level {}", level);
  mmtp::MtpParameters start = !tmpl.empty() ? mmtp::io::read_mtp(tmpl) : mmtp::moment_tensor_basis(level);
  const bool keep = start.trained();
  if (!keep) {
    double largest = 0.0;
    for (const auto& s : train)
      if (s.structure.has_magmoms()) largest = std::max(largest, s.structure.magmoms.cwiseAbs().maxCoeff());
    const double m = mmax > 0 ? mmax : largest;
    start.species_count = static_cast<int>(names.size());
    start.min_dist = rmin;
    start.max_dist = rcut;
    start.radial_basis_size = radial;
    start.magnetic = mag > 1 && m > 0;
    start.magnetic_basis_size = start.magnetic ? mag : 1;
    start.min_val = start.magnetic ? -m : 0.0;
    start.max_val = start.magnetic ? m : 0.0;
    start.radial_coeffs.clear();
    start.species_coeffs.clear();
    start.moment_coeffs.clear();
  } else if (start.species_count != static_cast<int>(names.size())) {
    throw mmtp::Error(fmt::format("{}: {} species, but the data has {}", tpath, start.species_count, names.size()));
  }
  start.species_names = names;
  for (const auto& s : train)
    for (int t : s.structure.species)
      if (t >= start.species_count) throw mmtp::Error(fmt::format("species {} is missing from the template", names[t]));
  std::string order;
  for (const auto& n : names) order += (order.empty() ? "" : ",") + n;
  fmt::print("training on {} structures ({} validation), species {}, basis {}, {} parameters per member\n",
             train.size(), valid.size(), order, tpath,
             static_cast<std::size_t>(start.species_count) * start.species_count * start.radial_funcs_count *
                     start.radial_coeffs_per_function() + start.species_count + start.moment_coeffs.size() +
                 (start.moment_coeffs.empty() ? start.alpha_scalar_moments() : 0));

  const mmtp::fit::Dataset dataset(start, train);
  std::vector<mmtp::fit::TrainReport> reports(static_cast<std::size_t>(ensemble));
  const bool tty = ::isatty(2);
  std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1)
  for (int k = 0; k < ensemble; ++k) {
    try {
      mmtp::fit::TrainOptions o = to;
      o.seed = to.seed + static_cast<unsigned>(k);
      o.checkpoint = fmt::format("{}.{}.checkpoint.mtp", out, k);
      o.checkpoint_every = checkpoint_every;
      // Beside each checkpoint: its evaluation count and loss (written after the .mtp, so a
      // kill in between leaves a count that is low, never high).
      const std::string state = fmt::format("{}.{}.checkpoint.json", out, k);
      mmtp::MtpParameters s = start;
      if (vm.count("resume") && ::access(o.checkpoint.c_str(), R_OK) == 0) {
        s = mmtp::io::read_mtp(o.checkpoint);
        s.species_names = names;
        o.linear_solve = false;
        if (::access(state.c_str(), R_OK) == 0) {
          std::ifstream in(state);
          const auto j = nlohmann::json::parse(in, nullptr, false);
          if (j.is_object() && j.value("evaluations", -1) >= 0) o.first_evaluation = j["evaluations"].get<int>();
        }
#pragma omp critical
        fmt::print(stderr, "mmtp-fit: member {}: resuming from {} (evaluation {})\n", k, o.checkpoint, o.first_evaluation);
      }
      std::vector<double> multiplicity;
      if (vm.count("bootstrap")) {
        std::mt19937_64 rng(o.seed * 7919u);
        std::uniform_int_distribution<std::size_t> pick(0, train.size() - 1);
        multiplicity.assign(train.size(), 0.0);
        for (std::size_t q = 0; q < train.size(); ++q) multiplicity[pick(rng)] += 1.0;
      }
      auto progress = [&](const mmtp::fit::TrainProgress& p) {
        if (p.checkpoint) {
          mmtp::io::write_atomically(state, [&](std::ostream& os) {
            os << nlohmann::json{{"evaluations", p.evaluations}, {"loss", p.loss}, {"seconds", p.seconds}}.dump() << '\n';
          });
          if (!tty) {
#pragma omp critical
            fmt::print(stderr, "mmtp-fit: member {}: checkpoint at evaluation {}, loss {:.6e}\n", k, p.evaluations, p.loss);
          }
        } else if (tty && p.evaluations % 10 == 0) {
          const int done = std::max(1, p.evaluations - o.first_evaluation);
          const double eta = to.max_iter > 0 ? p.seconds / done * std::max(0, to.max_iter - done) : 0.0;
#pragma omp critical
          fmt::print(stderr, "\rmember {} evaluation {:5d} loss {:.6e} elapsed {:6.1f} s ETA ≤ {:6.0f} s ", k, p.evaluations,
                     p.loss, p.seconds, eta);
        }
      };
      reports[static_cast<std::size_t>(k)] = mmtp::fit::train(s, dataset, o, progress, multiplicity);
      reports[static_cast<std::size_t>(k)].params.species_names = names;
    } catch (...) {
#pragma omp critical
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  if (tty) fmt::print(stderr, "\n");

  std::vector<mmtp::MagneticMtp> members;
  nlohmann::json report = {{"command", std::vector<std::string>(argv, argv + argc)}, {"species", names},
                           {"train_structures", train.size()}, {"valid_structures", valid.size()}, {"members", nlohmann::json::array()}};
  for (int k = 0; k < ensemble; ++k) {
    const auto& r = reports[static_cast<std::size_t>(k)];
    const std::string path = fmt::format("{}.{}.mtp", out, k);
    mmtp::io::write_mtp(path, r.params);
    members.emplace_back(r.params);
    report["members"].push_back({{"file", path}, {"seed", to.seed + k}, {"loss", r.loss}, {"initial_loss", r.initial_loss},
                                 {"evaluations", r.evaluations}, {"seconds", r.seconds},
                                 {"seconds_per_evaluation", r.evaluations ? r.seconds / r.evaluations : 0.0}, {"stop", r.stop}});
    fmt::print("member {}: loss {:.6e} (after linear solve {:.6e}), {} evaluations in {:.1f} s ({:.3f} s each), stop: {}\n", k,
               r.loss, r.initial_loss, r.evaluations, r.seconds, r.evaluations ? r.seconds / r.evaluations : 0.0, r.stop);
  }
  const mmtp::Ensemble ens(members);
  for (const auto& [name, set] : {std::pair<std::string, const std::vector<mmtp::Sample>*>{"train", &train}, {"valid", &valid}}) {
    if (set->empty()) continue;
    std::vector<mmtp::EnsembleResult> results;
    for (const auto& s : *set) results.push_back(ens.evaluate(s.structure, to.mode));
    nlohmann::json part = {{"mean", errors(results, *set, -1)}, {"members", nlohmann::json::array()},
                           {"std_error_correlation", std_error_correlation(results, *set)},
                           {"structures", structures(results, *set, static_cast<int>(names.size()))}};
    for (int k = 0; k < ensemble; ++k) part["members"].push_back(errors(results, *set, k));
    report[name] = part;
    const auto& m = part["mean"];
    fmt::print("{:5s} ensemble mean: E {:.3f} meV/atom RMSE ({:.3f} MAE), F {:.4f} eV/Å ({:.4f}), stress {:.3f} GPa ({:.3f}), "
               "dE/dm {:.4f} eV/μB ({:.4f}); corr(std, |error|) = {:.2f}\n",
               name, m["energy_rmse_meV_per_atom"].get<double>(), m["energy_mae_meV_per_atom"].get<double>(),
               m["force_rmse_eV_per_A"].get<double>(), m["force_mae_eV_per_A"].get<double>(), m["stress_rmse_GPa"].get<double>(),
               m["stress_mae_GPa"].get<double>(), m["dE_dm_rmse_eV_per_muB"].get<double>(),
               m["dE_dm_mae_eV_per_muB"].get<double>(), part["std_error_correlation"].get<double>());
  }
  mmtp::io::write_atomically(out + ".report.json", [&](std::ostream& o) { o << report.dump(2) << '\n'; });
  fmt::print("wrote {}.0..{}.mtp and {}.report.json\n", out, ensemble - 1, out);
  return 0;
  });
}
