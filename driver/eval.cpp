#include <fmt/core.h>
#include <omp.h>

#include <boost/program_options.hpp>
#include <iostream>
#include <stdexcept>

#include "commands.hpp"
#include "mmtp/error.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/io/samples.hpp"

namespace po = boost::program_options;

namespace mmtp::driver {

Ensemble load_ensemble(const std::vector<std::string>& paths, const std::string& species_csv) {
  if (paths.empty()) throw Error("no potential given (-p FILE)");
  std::vector<std::string> names;
  for (std::size_t pos = 0; !species_csv.empty() && pos <= species_csv.size();) {
    const auto c = species_csv.find(',', pos);
    names.push_back(species_csv.substr(pos, c == std::string::npos ? std::string::npos : c - pos));
    if (names.back().empty()) throw Error(fmt::format("--species '{}': empty element name", species_csv));
    if (c == std::string::npos) break;
    pos = c + 1;
  }
  std::vector<MagneticMtp> members;
  for (const auto& path : paths) {
    MtpParameters p = io::read_mtp(path);
    if (!p.trained()) throw Error(fmt::format("{}: an untrained template (no coefficients) cannot be evaluated", path));
    if (!names.empty()) {
      if (static_cast<int>(names.size()) != p.species_count)
        throw Error(fmt::format("--species names {} elements but {} has {} species", names.size(), path, p.species_count));
      p.species_names = names;
    }
    try {
      members.emplace_back(std::move(p));
    } catch (const std::invalid_argument& e) {
      throw Error(fmt::format("{}: {}", path, e.what()));
    }
  }
  try {
    return Ensemble(std::move(members));
  } catch (const std::invalid_argument& e) {
    throw Error(e.what());
  }
}

int run_eval(const std::vector<std::string>& args) {
  std::vector<std::string> potentials;
  std::string input, output, species;
  int threads = 0;
  po::options_description opts(
      "mmtp-driver eval -p POT.mtp [-p POT2.mtp ...] INPUT.{cfg,xyz} -o OUTPUT.{cfg,xyz} [options]\n"
      "Evaluates every structure of INPUT (format by content) and writes energy [eV], forces [eV/Å],\n"
      "virial [eV] (cfg PlusStress) or stress [eV/Å³] (extxyz) and dE/dm [eV/μB]. Several -p form a\n"
      "committee: the mean is written, with its standard deviation. Options");
  opts.add_options()("help,h", "show this help")(
      "potential,p", po::value(&potentials)->required(), "MLIP potential file (.mtp/.almtp/.mmtp); repeat for a committee")(
      "input", po::value(&input)->required(), "input structures (.cfg or extxyz)")(
      "output,o", po::value(&output)->required(), "output file: .cfg or .xyz/.extxyz")(
      "raw", "plain E(M) as MLIP-3 computes it, instead of E_symm = (E(M)+E(-M))/2")(
      "species", po::value(&species), "element of each potential type, e.g. Fe,Al (type 0 = Fe)")(
      "threads", po::value(&threads)->default_value(0), "OpenMP threads (0 = OMP_NUM_THREADS or all cores)");
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
    if (vm.count("help")) {
      std::cout << opts << '\n';
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw Error(fmt::format("eval: {}", e.what()));
  }
  if (threads < 0) throw Error("--threads must be >= 0");
  if (threads > 0) omp_set_num_threads(threads);
  const Ensemble ensemble = load_ensemble(potentials, species);
  const auto& names = ensemble.members().front().parameters().species_names;
  const EvalMode mode = vm.count("raw") ? EvalMode::raw : EvalMode::symmetrized;
  const auto samples = io::read_samples(input, names);
  const bool committee = ensemble.members().size() > 1;
  const auto& p0 = ensemble.members().front().parameters();

  std::vector<Sample> out;
  out.reserve(samples.size());
  for (std::size_t k = 0; k < samples.size(); ++k) {
    const Structure& s = samples[k].structure;
    if (p0.magnetic && !s.has_magmoms() && k == 0)
      fmt::print(stderr, "mmtp-driver: warning: {}: no magnetic moments given; MLIP-3's convention applies "
                         "(every magnetic basis function = 1)\n", input);
    EnsembleResult r;
    try {
      r = ensemble.evaluate(s, mode);
    } catch (const std::invalid_argument& e) {
      throw Error(fmt::format("{}: structure {}: {}", input, k + 1, e.what()));
    } catch (const Error& e) {
      throw Error(fmt::format("{}: structure {}: {}", input, k + 1, e.what()));
    }
    const auto& x = r.mean.extrapolation;
    if (x.short_pairs)
      fmt::print(stderr, "mmtp-driver: warning: {}: structure {}: {} pairs closer than min_dist = {} Å (shortest {:.4f} Å)\n",
                 input, k + 1, x.short_pairs, p0.min_dist, x.min_distance);
    if (x.moments_out_of_range)
      fmt::print(stderr, "mmtp-driver: warning: {}: structure {}: {} moments outside the trained range [{}, {}] μB\n", input,
                 k + 1, x.moments_out_of_range, p0.min_val, p0.max_val);
    const double max_force = s.size() ? r.mean.forces.colwise().norm().maxCoeff() : 0.0;
    fmt::print("structure {}: {} atoms  E = {:.6f} eV ({:.6f} eV/atom)  max|F| = {:.4f} eV/Å", k + 1, s.size(),
               r.mean.energy, r.mean.energy / static_cast<double>(std::max<Index>(1, s.size())), max_force);
    if (r.mean.dE_dm.size()) fmt::print("  max|dE/dm| = {:.4f} eV/μB", r.mean.dE_dm.cwiseAbs().maxCoeff());
    if (committee) fmt::print("  committee std(E) = {:.6f} eV", r.energy_std);
    fmt::print("\n");
    Sample o;
    o.structure = s;
    o.features = samples[k].features;
    auto set_feature = [&](const std::string& key, std::string value) {
      for (auto& [name, v] : o.features)
        if (name == key) {
          v = std::move(value);
          return;
        }
      o.features.emplace_back(key, std::move(value));
    };
    o.energy = r.mean.energy;
    o.forces = r.mean.forces;
    o.virial = r.mean.virial;
    if (r.mean.dE_dm.size()) o.dE_dm = r.mean.dE_dm;
    o.arrays.emplace_back("energies", r.mean.site_energies.transpose());
    set_feature("short_pairs", std::to_string(x.short_pairs));
    set_feature("moments_out_of_range", std::to_string(x.moments_out_of_range));
    if (committee) {
      set_feature("energy_std", fmt::format("{:.17g}", r.energy_std));
      o.arrays.emplace_back("forces_std", r.forces_std);
      if (r.dE_dm_std.size()) o.arrays.emplace_back("dE_dm_std", r.dE_dm_std.transpose());
    }
    out.push_back(std::move(o));
  }
  io::write_samples(output, out, names);
  fmt::print("wrote {} structures to {}\n", out.size(), output);
  return 0;
}

}  // namespace mmtp::driver
