#include <fmt/core.h>
#include <omp.h>

#include <iostream>
#include <stdexcept>

#include "commands.hpp"
#include "mmtp/error.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/io/text.hpp"

namespace po = boost::program_options;

namespace mmtp::driver {

Ensemble load_ensemble(const std::vector<std::string>& paths, const std::string& species_csv) {
  if (paths.empty()) throw Error("no potential given (-p FILE)");
  const std::vector<std::string> names = io::split_list(species_csv, "--species");
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

bool parse_arguments(const char* command, const std::vector<std::string>& args, const po::options_description& opts,
                     const po::positional_options_description& positional, po::variables_map& vm) {
  try {
    po::store(po::command_line_parser(args).options(opts).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << opts << '\n';
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw Error(fmt::format("{}: {}", command, e.what()));
  }
  return true;
}

void set_threads(int threads) {
  if (threads < 0) throw Error("--threads must be >= 0");
  if (threads > 0) omp_set_num_threads(threads);
}

Sample labelled_sample(const Structure& s, const EnsembleResult& r, std::vector<std::pair<std::string, std::string>> features) {
  Sample o;
  o.structure = s;
  o.features = std::move(features);
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
  if (r.mean.dE_dm.size()) {
    o.dE_dm = r.mean.dE_dm;
    o.arrays.emplace_back("magnetic_forces", -r.mean.dE_dm.transpose());
  }
  o.arrays.emplace_back("energies", r.mean.site_energies.transpose());
  set_feature("short_pairs", std::to_string(r.mean.extrapolation.short_pairs));
  set_feature("moments_out_of_range", std::to_string(r.mean.extrapolation.moments_out_of_range));
  if (r.members.size() > 1) {
    set_feature("energy_std", fmt::format("{:.17g}", r.energy_std));
    o.arrays.emplace_back("forces_std", r.forces_std);
    if (r.dE_dm_std.size()) o.arrays.emplace_back("dE_dm_std", r.dE_dm_std.transpose());
  }
  return o;
}

}  // namespace mmtp::driver
