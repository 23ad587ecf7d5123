#include <fmt/core.h>

#include <Eigen/Geometry>
#include <boost/program_options.hpp>
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "commands.hpp"
#include "mmtp/error.hpp"
#include "mmtp/io/samples.hpp"
#include "mmtp/io/text.hpp"
#include "mmtp/relax.hpp"
#include "mmtp/units.hpp"

namespace po = boost::program_options;

namespace mmtp::driver {
namespace {

/// Per-atom mask from an extxyz column: nonzero = true.
std::vector<bool> mask_column(const Sample& smp, const std::string& name, const std::string& input) {
  for (const auto& [col, a] : smp.arrays)
    if (col == name) {
      std::vector<bool> m(static_cast<std::size_t>(a.cols()));
      for (Index i = 0; i < a.cols(); ++i) m[i] = a.col(i).cwiseAbs().maxCoeff() != 0.0;
      return m;
    }
  throw Error(fmt::format("{}: no per-atom column '{}'", input, name));
}

/// Exit code of a relaxation outcome (README: relax exit codes).
int exit_code(RelaxStatus s) {
  switch (s) {
    case RelaxStatus::converged: return 0;
    case RelaxStatus::max_steps: return 3;
    case RelaxStatus::line_search_failed: return 4;
    case RelaxStatus::extrapolation: return 5;
  }
  return 4;
}

/// The summary lines of one relaxation: outcome, energy, cell, moments pushed against a bound,
/// and the moments per species.
void print_summary(const RelaxReport& rep, const MtpParameters& p0, const std::string& input, std::size_t k) {
  const auto& names = p0.species_names;
  const Structure& f = rep.structure;
  const Result& r = rep.result.mean;
  fmt::print("# {} after {} evaluations: E = {:.8f} eV ({:.8f} eV/atom)", to_string(rep.status), rep.evaluations, r.energy,
             r.energy / static_cast<double>(f.size()));
  if (rep.result.members.size() > 1) fmt::print("  committee std(E) = {:.6f} eV", rep.result.energy_std);
  fmt::print("\n");
  if (rep.status == RelaxStatus::extrapolation)
    fmt::print(stderr, "mmtp-driver: {}: structure {}: stopped: {}\n", input, k + 1, rep.extrapolation);
  if (f.pbc[0] && f.pbc[1] && f.pbc[2]) {
    const auto a = f.cell.col(0), b = f.cell.col(1), c = f.cell.col(2);
    auto angle = [](const auto& u, const auto& v) { return std::acos(u.dot(v) / (u.norm() * v.norm())) * 180.0 / M_PI; };
    fmt::print("#   volume {:.6f} Å³ ({:.6f} Å³/atom)  a b c = {:.6f} {:.6f} {:.6f} Å  alpha beta gamma = {:.4f} {:.4f} {:.4f}°\n",
               volume(f), volume(f) / static_cast<double>(f.size()), a.norm(), b.norm(), c.norm(), angle(b, c), angle(a, c),
               angle(a, b));
  }
  auto name = [&](int t) { return names.empty() ? std::to_string(t) : names[static_cast<std::size_t>(t)]; };
  if (!rep.moments_pushed_out.empty()) {
    std::vector<int> pinned(static_cast<std::size_t>(p0.species_count), 0);
    for (Index i : rep.moments_pushed_out) ++pinned[static_cast<std::size_t>(f.species[i])];
    std::string which;
    for (int t = 0; t < p0.species_count; ++t)
      if (pinned[static_cast<std::size_t>(t)]) which += fmt::format("{}{} {}", which.empty() ? "" : ", ", pinned[static_cast<std::size_t>(t)], name(t));
    fmt::print(stderr, "mmtp-driver: warning: {}: structure {}: {} moments ({}) end at the edge of their trained range, "
                       "pushed outwards: the model's minimum lies beyond the data\n", input, k + 1, rep.moments_pushed_out.size(), which);
  }
  if (f.has_magmoms())
    for (int t = 0; t < p0.species_count; ++t) {
      std::vector<double> m;
      for (Index i = 0; i < f.size(); ++i)
        if (f.species[i] == t) m.push_back(f.magmoms[i]);
      if (m.empty()) continue;
      const auto [lo, hi] = std::minmax_element(m.begin(), m.end());
      double mean_abs = 0;
      for (double x : m) mean_abs += std::abs(x);
      fmt::print("#   moments {}: mean |m| = {:.4f} μB, min {:.4f}, max {:.4f} ({} atoms)\n", name(t),
                 mean_abs / static_cast<double>(m.size()), *lo, *hi, m.size());
    }
}

}  // namespace

int run_relax(const std::vector<std::string>& args) {
  std::vector<std::string> potentials;
  double committee_alpha = 0.0;
  std::string input, output, species, cell = "none", moments = "relax", fix_moments, moment_mask, fixed_atoms, trajectory;
  double pressure_gpa = 0.0, smax_gpa = 0.01;
  int threads = 0;
  bool bound = true;
  RelaxOptions o;
  po::options_description opts(
      "mmtp-driver relax INPUT.{xyz,cfg} -p POT.mtp [-p ...] -o OUTPUT.{xyz,cfg} [options]\n"
      "Joint spin-lattice relaxation (bounded-step L-BFGS) of positions, cell and collinear moments of every\n"
      "structure in INPUT. Exit code 0: all converged; 3: a run reached --max-steps; 4: no descent even after a\n"
      "restart; 5: a run left the trained region (pairs closer than min_dist, moments outside the trained range,\n"
      "committee std above --max-std), and stopped at the last point inside it. The point reached is written in\n"
      "every case. All-zero moments are a stationary point of the symmetric energy: give initial moments. Options");
  opts.add_options()("help,h", "show this help")(
      "potential,p", po::value(&potentials)->required(), "MLIP potential file; repeat for a committee (mean is relaxed)")(
      "committee-alpha", po::value(&committee_alpha)->default_value(0.0),
      "calibration α of a committee\'s std (0: the α and error floor stored in the potentials, else 1; a "
      "given α means no floor)")(
      "input", po::value(&input)->required(), "input structures")(
      "output,o", po::value(&output)->required(), "relaxed structures (.xyz/.extxyz or .cfg)")(
      "cell", po::value(&cell)->default_value("none"), "none, hydrostatic or full")(
      "pressure", po::value(&pressure_gpa)->default_value(0.0), "external pressure [GPa] (enthalpy E + pV is minimised)")(
      "moments", po::value(&moments)->default_value("relax"), "relax or fixed")(
      "fix-moments", po::value(&fix_moments), "elements whose moments are held, e.g. Al or Al,Ni")(
      "moment-mask", po::value(&moment_mask), "extxyz per-atom column: nonzero = moment held")(
      "fixed-atoms", po::value(&fixed_atoms), "extxyz per-atom column: nonzero = atom does not move")(
      "moment-scale", po::value(&o.moment_scale)->default_value(o.moment_scale), "joint-coordinate scale [Å/μB]")(
      "bound-moments", po::value(&bound)->default_value(true)->implicit_value(true),
      "keep each moment within its species' trained range (false: unbounded, with a warning)")(
      "max-step", po::value(&o.max_displacement)->default_value(o.max_displacement), "largest atom displacement per step [Å]")(
      "max-moment-step", po::value(&o.max_moment_step)->default_value(o.max_moment_step), "largest moment change per step [μB]")(
      "max-strain-step", po::value(&o.max_strain_step)->default_value(o.max_strain_step), "largest strain change per step")(
      "max-std", po::value(&o.region.max_std)->default_value(o.region.max_std),
      "committee: stop when the std of E exceeds this [eV/atom] (0 = never)")(
      "fmax", po::value(&o.fmax)->default_value(o.fmax), "max force [eV/Å]")(
      "mmax", po::value(&o.mmax)->default_value(o.mmax), "max |dE/dm| [eV/μB]")(
      "smax", po::value(&smax_gpa)->default_value(0.01), "max |stress − pressure| [GPa]")(
      "max-steps", po::value(&o.max_steps)->default_value(o.max_steps), "L-BFGS iterations")(
      "trajectory", po::value(&trajectory), "extxyz file with one frame per energy evaluation")(
      "species", po::value(&species), "element of each potential type, e.g. Fe,Al")(
      "raw", "plain E(M) instead of E_symm = (E(M)+E(-M))/2")(
      "threads", po::value(&threads)->default_value(0), "OpenMP threads (0 = OMP_NUM_THREADS or all cores)");
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  if (!cli::parse(args, opts, pos, vm)) return 0;
  o.cell = parse_cell_mode(cell, "relax: --cell");
  if (moments != "relax" && moments != "fixed") throw Error(fmt::format("relax: --moments '{}' is not relax or fixed", moments));
  cli::set_threads(threads);
  // The command line is the boundary where GPa enters.
  o.pressure = pressure_gpa * units::ev_per_angstrom3_per_gpa;
  o.smax = smax_gpa * units::ev_per_angstrom3_per_gpa;
  o.bound_moments = bound;
  if (!bound) fmt::print(stderr, "mmtp-driver: warning: --bound-moments false: moments may leave the trained range (the run then stops, exit 5)\n");
  o.mode = vm.count("raw") ? EvalMode::raw : EvalMode::symmetrized;

  const Ensemble ensemble = cli::load_ensemble(potentials, species, committee_alpha);
  const auto& p0 = ensemble.members().front().parameters();
  const auto& names = p0.species_names;
  std::vector<int> fixed_types;
  for (const auto& el : io::split_list(fix_moments, "--fix-moments"))
    fixed_types.push_back(p0.type_of(el));  // throws naming the species the potential has
  const auto samples = io::read_samples(input, names);
  std::vector<Sample> out, traj;
  int worst = 0;
  for (std::size_t k = 0; k < samples.size(); ++k) {
    const Sample& smp = samples[k];
    const Structure& s = smp.structure;
    RelaxOptions ok = o;
    ok.relax_moments = moments == "relax" && p0.magnetic;
    if (ok.relax_moments && !s.has_magmoms()) throw Error(fmt::format("{}: structure {}: no initial moments to relax", input, k + 1));
    if (ok.relax_moments && s.magmoms.cwiseAbs().maxCoeff() == 0.0)
      fmt::print(stderr, "mmtp-driver: warning: {}: structure {}: every moment is zero, a stationary point of the "
                         "symmetric energy; the relaxation stays non-magnetic. Give initial moments.\n", input, k + 1);
    ok.fixed_moments.assign(static_cast<std::size_t>(s.size()), false);
    for (Index i = 0; i < s.size(); ++i)
      for (int t : fixed_types) ok.fixed_moments[i] = ok.fixed_moments[i] || s.species[i] == t;
    if (!moment_mask.empty()) {
      const auto m = mask_column(smp, moment_mask, input);
      for (Index i = 0; i < s.size(); ++i) ok.fixed_moments[i] = ok.fixed_moments[i] || m[i];
    }
    if (!fixed_atoms.empty()) ok.fixed_atoms = mask_column(smp, fixed_atoms, input);
    fmt::print("# structure {}: {} atoms  cell {}  moments {}\n# {:>5} {:>20} {:>12} {:>12} {:>12} {:>12}\n", k + 1, s.size(),
               cell, ok.relax_moments ? "relax" : "fixed", "eval", "E+pV [eV]", "fmax [eV/Å]", "mmax [eV/μB]", "smax [GPa]",
               "volume [Å³]");
    auto observe = [&](const RelaxStep& st) {
      fmt::print("{:7d} {:20.10f} {:12.6f} {:12.6f} {:12.6f} {:12.4f}\n", st.evaluation, st.enthalpy, st.fmax, st.mmax,
                 st.smax / units::ev_per_angstrom3_per_gpa, volume(*st.structure));
      if (!trajectory.empty()) traj.push_back(cli::labelled_sample(*st.structure, *st.result, {}));
    };
    const RelaxReport rep = relax(ensemble, s, ok, observe);
    print_summary(rep, p0, input, k);
    const Structure& f = rep.structure;
    auto features = smp.features;
    features.emplace_back("relax_status", to_string(rep.status));
    if (!rep.extrapolation.empty()) features.emplace_back("relax_extrapolation", rep.extrapolation);
    Sample relaxed = cli::labelled_sample(f, rep.result, std::move(features));
    // Keep the input's own per-atom columns (masks such as --fixed-atoms), so that the output
    // can be relaxed again with the same options.
    for (const auto& [name, column] : smp.arrays)
      if (std::none_of(relaxed.arrays.begin(), relaxed.arrays.end(), [&](const auto& a) { return a.first == name; }))
        relaxed.arrays.emplace_back(name, column);
    out.push_back(std::move(relaxed));
    worst = std::max(worst, exit_code(rep.status));
  }
  io::write_samples(output, out, names);
  if (!trajectory.empty()) io::write_samples(trajectory, traj, names);
  return worst;
}

}  // namespace mmtp::driver
