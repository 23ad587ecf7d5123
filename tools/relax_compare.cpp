// mmtp-relax-compare: energy evaluations of the joint spin-lattice relaxation against the
// alternating scheme (positions and cell with moments fixed, then moments with positions and
// cell fixed, repeated until the joint criteria hold), and the joint run's dependence on the
// moment scale.
#include <fmt/core.h>

#include <boost/program_options.hpp>

#include "cli.hpp"
#include <iostream>

#include "mmtp/error.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/io/samples.hpp"
#include "mmtp/relax.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  return mmtp::cli::run("mmtp-relax-compare", [&] {
  std::vector<std::string> inputs;
  std::string pot;
  double fmax = 1e-3, mmax = 1e-3;
  po::options_description opts(
      "mmtp-relax-compare -p POT.mtp STRUCTURE.xyz [...]\n"
      "Prints, per structure, the energy evaluations of a joint relaxation (cell full) for several moment\n"
      "scales and of the alternating scheme. Options");
  opts.add_options()("help,h", "show this help")("potential,p", po::value(&pot)->required(), "potential (with element names)")(
      "inputs", po::value(&inputs)->required()->multitoken(), "structure files")(
      "fmax", po::value(&fmax)->default_value(fmax), "[eV/Å]")("mmax", po::value(&mmax)->default_value(mmax), "[eV/μB]");
  po::positional_options_description pos;
  pos.add("inputs", -1);
  po::variables_map vm;
  if (!mmtp::cli::parse(mmtp::cli::arguments(argc, argv), opts, pos, vm)) return 0;
  const mmtp::Ensemble model({mmtp::MagneticMtp(mmtp::io::read_mtp(pot))});
  const auto& names = model.members().front().parameters().species_names;
  mmtp::RelaxOptions base;
  base.cell = mmtp::CellMode::full;
  base.fmax = fmax;
  base.mmax = mmax;
  base.smax = 1e-5;  // eV/Å³
  base.max_steps = 2000;
  for (const auto& input : inputs) {
    const mmtp::Structure s = mmtp::io::read_samples(input, names).front().structure;
    fmt::print("{} ({} atoms)\n", input, s.size());
    for (double scale : {0.1, 0.3, 1.0, 3.0, 10.0}) {
      mmtp::RelaxOptions o = base;
      o.moment_scale = scale;
      const auto r = mmtp::relax(model, s, o);
      fmt::print("  joint, moment_scale {:5.1f} Å/μB: {:4d} evaluations, {}, E = {:.8f} eV\n", scale, r.evaluations,
                 mmtp::to_string(r.status), r.result.mean.energy);
    }
    // Alternating: lattice with moments fixed, then moments with the lattice fixed.
    mmtp::Structure cur = s;
    int evaluations = 0, cycles = 0;
    mmtp::RelaxReport last;
    for (; cycles < 200; ++cycles) {
      mmtp::RelaxOptions lattice = base;
      lattice.relax_moments = false;
      last = mmtp::relax(model, cur, lattice);
      evaluations += last.evaluations;
      cur = last.structure;
      mmtp::RelaxOptions spins = base;
      spins.cell = mmtp::CellMode::none;
      spins.fixed_atoms.assign(static_cast<std::size_t>(cur.size()), true);
      last = mmtp::relax(model, cur, spins);
      evaluations += last.evaluations;
      cur = last.structure;
      // Done when the lattice is still relaxed at the new moments (one evaluation).
      mmtp::RelaxOptions check = base;
      check.max_steps = 0;
      const auto c = mmtp::relax(model, cur, check);
      evaluations += 1;
      if (c.status == mmtp::RelaxStatus::converged) break;
    }
    fmt::print("  alternating: {:4d} evaluations in {} cycles, E = {:.8f} eV\n", evaluations, cycles + 1,
               last.result.mean.energy);
  }
  return 0;
  });
}
