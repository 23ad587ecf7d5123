#include "cli.hpp"

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <omp.h>

#include <iostream>

#include "mmtp/error.hpp"
#include "mmtp/io/ensemble.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/io/samples.hpp"
#include "mmtp/io/text.hpp"

namespace po = boost::program_options;

namespace mmtp::cli {

bool parse(const std::vector<std::string>& args, const po::options_description& opts,
           const po::positional_options_description& positional, po::variables_map& vm) {
  po::store(po::command_line_parser(args).options(opts).positional(positional).run(), vm);
  if (vm.count("help")) {
    std::cout << opts << '\n';
    return false;
  }
  po::notify(vm);
  return true;
}

std::vector<std::string> arguments(int argc, char** argv) { return std::vector<std::string>(argv + 1, argv + argc); }

int run(const std::string& name, const std::function<int()>& body) {
  try {
    return body();
  } catch (const po::error& e) {
    fmt::print(stderr, "{}: {}\n", name, e.what());
    return 1;
  } catch (const Error& e) {
    fmt::print(stderr, "{}: {}\n", name, e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: bug: {}\n", name, e.what());
    return 2;
  }
}

void set_threads(int threads) {
  if (threads < 0) throw Error("--threads must be >= 0");
  if (threads > 0) omp_set_num_threads(threads);
}

Ensemble load_ensemble(const std::vector<std::string>& paths, const std::string& species_csv, double committee_alpha) {
  if (paths.empty()) throw Error("no potential given (-p FILE)");
  return io::read_ensemble(paths, io::split_list(species_csv, "--species"), committee_alpha);
}

std::vector<Sample> load_labelled(const std::vector<std::string>& files, std::vector<std::string>& species, bool strict,
                                  const std::string& program) {
  io::AbinitOptions ao;
  ao.strict = strict;
  std::vector<std::string> warnings;
  auto out = io::read_labelled(files, species, ao, warnings);
  for (const auto& w : warnings) fmt::print(stderr, "{}: warning: {}\n", program, w);
  return out;
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

}  // namespace mmtp::cli
