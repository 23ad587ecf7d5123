#include <fmt/core.h>

#include <boost/program_options.hpp>
#include <stdexcept>

#include "commands.hpp"
#include "mmtp/error.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/io/samples.hpp"

namespace po = boost::program_options;

namespace mmtp::driver {

int run_eval(const std::vector<std::string>& args) {
  std::vector<std::string> potentials;
  double committee_alpha = 0.0;
  std::string input, output, species;
  int threads = 0;
  TrainedRegion region;
  po::options_description opts(
      "mmtp-driver eval -p POT.mtp [-p POT2.mtp ...] INPUT.{cfg,xyz} -o OUTPUT.{cfg,xyz} [options]\n"
      "Evaluates every structure of INPUT (format by content) and writes energy [eV], forces [eV/Å],\n"
      "virial [eV] (cfg PlusStress) or stress [eV/Å³] (extxyz) and dE/dm [eV/μB]. Several -p form a\n"
      "committee: the mean is written, with its standard deviation. Options");
  opts.add_options()("help,h", "show this help")(
      "potential,p", po::value(&potentials)->required(), "MLIP potential file (.mtp/.almtp/.mmtp); repeat for a committee")(
      "committee-alpha", po::value(&committee_alpha)->default_value(0.0),
      "calibration α of a committee\'s std (0: the α and error floor stored in the potentials, else 1; a "
      "given α means no floor)")(
      "input", po::value(&input)->required(), "input structures (.cfg or extxyz)")(
      "output,o", po::value(&output)->required(), "output file: .cfg or .xyz/.extxyz")(
      "raw", "plain E(M) as MLIP-3 computes it, instead of E_symm = (E(M)+E(-M))/2")(
      "species", po::value(&species), "element of each potential type, e.g. Fe,Al (type 0 = Fe)")(
      "max-std", po::value(&region.max_std)->default_value(region.max_std),
      "committee std of E [eV/atom] above which a structure is announced as outside the trained region (0 = off)")(
      "threads", po::value(&threads)->default_value(0), "OpenMP threads (0 = OMP_NUM_THREADS or all cores)");
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  if (!cli::parse(args, opts, pos, vm)) return 0;
  cli::set_threads(threads);
  region.validate();
  const Ensemble ensemble = cli::load_ensemble(potentials, species, committee_alpha);
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
    const EnsembleResult r = ensemble.evaluate(s, mode);
    const std::string outside = extrapolation_cause(r, s.size(), region);
    if (!outside.empty())
      fmt::print(stderr, "mmtp-driver: warning: {}: structure {}: outside the trained region: {}\n", input, k + 1, outside);
    const double max_force = s.size() ? r.mean.forces.colwise().norm().maxCoeff() : 0.0;
    fmt::print("structure {}: {} atoms  E = {:.6f} eV ({:.6f} eV/atom)  max|F| = {:.4f} eV/Å", k + 1, s.size(),
               r.mean.energy, r.mean.energy / static_cast<double>(std::max<Index>(1, s.size())), max_force);
    if (r.mean.dE_dm.size()) fmt::print("  max|dE/dm| = {:.4f} eV/μB", r.mean.dE_dm.cwiseAbs().maxCoeff());
    if (committee) fmt::print("  committee std(E) = {:.6f} eV", r.energy_std);
    fmt::print("\n");
    Sample o = cli::labelled_sample(s, r, samples[k].features);
    out.push_back(std::move(o));
  }
  io::write_samples(output, out, names);
  fmt::print("wrote {} structures to {}\n", out.size(), output);
  return 0;
}

}  // namespace mmtp::driver
