// mmtp-bench: time of one energy+forces+virial(+dE/dm) evaluation, neighbour list included.
#include <fmt/core.h>
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <boost/program_options.hpp>

#include "cli.hpp"
#include <chrono>
#include <iostream>

#include "mmtp/ensemble.hpp"
#include "mmtp/error.hpp"
#include "mmtp/fit/objective.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/io/samples.hpp"
#include "mmtp/mtp.hpp"

namespace po = boost::program_options;

namespace {

/// `s` repeated k times along each periodic lattice vector (atoms in cell-major order).
mmtp::Structure repeated(const mmtp::Structure& s, int k) {
  std::array<int, 3> reps{};
  for (int d = 0; d < 3; ++d) reps[d] = s.pbc[d] ? k : 1;
  const mmtp::Index n = s.size(), copies = reps[0] * reps[1] * reps[2];
  mmtp::Structure out = s;
  out.positions.resize(3, n * copies);
  out.species.clear();
  if (s.has_magmoms()) out.magmoms.resize(n * copies);
  mmtp::Index c = 0;
  for (int a = 0; a < reps[0]; ++a)
    for (int b = 0; b < reps[1]; ++b)
      for (int z = 0; z < reps[2]; ++z, ++c) {
        const Eigen::Vector3d shift = s.cell * Eigen::Vector3d(a, b, z);
        out.positions.middleCols(c * n, n) = s.positions.colwise() + shift;
        out.species.insert(out.species.end(), s.species.begin(), s.species.end());
        if (s.has_magmoms()) out.magmoms.segment(c * n, n) = s.magmoms;
      }
  for (int d = 0; d < 3; ++d) out.cell.col(d) *= reps[d];
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  return mmtp::cli::run("mmtp-bench", [&] {
  std::vector<std::string> pots;
  std::string input;
  int threads = 1, repeat = 10, supercell = 1;
  po::options_description opts(
      "mmtp-bench -p POT.mtp [-p POT2.mtp ...] STRUCTURE.cfg [--raw] [--threads N] [--repeat R] [--supercell K]\n"
      "mmtp-bench -p POT.mtp --fit DATA.{xyz,cfg,abo} [--threads N] [--repeat R]\n"
      "Evaluates the first structure (repeated K×K×K times along its periodic lattice vectors)\n"
      "R times after one warm-up; prints the peak resident memory and, last,\n"
      "'us_per_atom_median: X', the median microseconds per atom. With several -p (a committee): the\n"
      "committee and its first member alone, in alternation; last lines 'member0_us_per_atom_median',\n"
      "'committee_us_per_atom_median' and 'committee_over_member0'. With --fit: the training objective\n"
      "and its gradient on all of DATA (geometry computed once, as mmtp-fit does), R times; last line\n"
      "'fit_ms_per_evaluation_median: X'. Options");
  opts.add_options()("help,h", "show this help")("potential,p", po::value(&pots)->required()->composing(), "potential file (several: a committee)")(
      "input", po::value(&input)->required(), "structure file (first structure is used)")(
      "raw", "plain E(M) instead of the symmetrized energy")(
      "threads", po::value(&threads)->default_value(1), "OpenMP threads")(
      "repeat", po::value(&repeat)->default_value(10), "timed evaluations")(
      "supercell", po::value(&supercell)->default_value(1), "repeat the structure K times along each periodic vector")(
      "fit", "time the fit objective and gradient on the labelled structures of INPUT instead");
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  if (!mmtp::cli::parse(mmtp::cli::arguments(argc, argv), opts, pos, vm)) return 0;
  if (threads < 1 || repeat < 1 || supercell < 1 || supercell > 1000)
    throw mmtp::Error("--threads and --repeat must be >= 1, --supercell in 1..1000");
  omp_set_num_threads(threads);
  auto median_of = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  };
  if (vm.count("fit")) {
    if (pots.size() != 1) throw mmtp::Error("--fit takes one potential");
    const std::string& pot = pots.front();
    const mmtp::MtpParameters p = mmtp::io::read_mtp(pot);
    std::vector<std::string> names = p.species_names;
    const mmtp::fit::Dataset data(p, mmtp::cli::load_labelled({input}, names, false, "mmtp-bench"));
    const auto mode = vm.count("raw") ? mmtp::EvalMode::raw : mmtp::EvalMode::symmetrized;
    Eigen::VectorXd grad;
    double loss = mmtp::fit::objective(p, data, mmtp::fit::Weights{}, mode, &grad);  // warm-up
    std::vector<double> ms;
    for (int k = 0; k < repeat; ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      loss = mmtp::fit::objective(p, data, mmtp::fit::Weights{}, mode, &grad);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::size_t atoms = 0;
    for (const auto& s : data.samples()) atoms += static_cast<std::size_t>(s.structure.size());
    fmt::print("potential: {} ({} parameters)\ndata: {} ({} structures, {} atoms)\nthreads: {}\nloss: {:.12e}\n"
               "gradient_norm: {:.12e}\n",
               pot, p.parameter_count(), input, data.size(), atoms, threads, loss, grad.norm());
    fmt::print("fit_us_per_atom_median: {:.3f}\nfit_ms_per_evaluation_median: {:.3f}\n",
               1000 * median_of(ms) / static_cast<double>(atoms), median_of(ms));
    return 0;
  }
  std::vector<mmtp::MagneticMtp> members;
  for (const auto& pot : pots) members.emplace_back(mmtp::io::read_mtp(pot));
  const mmtp::MagneticMtp& mtp = members.front();
  const mmtp::Ensemble committee(members);
  const auto samples = mmtp::io::read_samples(input, mtp.parameters().species_names);
  const mmtp::Structure s = repeated(samples.front().structure, supercell);
  const auto mode = vm.count("raw") ? mmtp::EvalMode::raw : mmtp::EvalMode::symmetrized;
  mmtp::Result r = mtp.evaluate(s, mode);  // warm-up
  mmtp::EnsembleResult rc = committee.evaluate(s, mode);
  const auto nl = mmtp::NeighborList::build(s, mtp.cutoff());
  const double per_atom = 1.0 / static_cast<double>(s.size());
  std::vector<double> us, committee_us;
  for (int k = 0; k < repeat; ++k) {  // member 0 and the committee in alternation
    auto t0 = std::chrono::steady_clock::now();
    r = mtp.evaluate(s, mode);
    auto t1 = std::chrono::steady_clock::now();
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count() * per_atom);
    if (members.size() < 2) continue;
    t0 = std::chrono::steady_clock::now();
    rc = committee.evaluate(s, mode);
    t1 = std::chrono::steady_clock::now();
    committee_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count() * per_atom);
  }
  std::vector<double> nl_us;
  for (int k = 0; k < repeat; ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto tmp = mmtp::NeighborList::build(s, mtp.cutoff());
    const auto t1 = std::chrono::steady_clock::now();
    nl_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count() * per_atom);
  }
  const double median = median_of(us);
  std::sort(us.begin(), us.end());
  fmt::print("potential: {}\nstructure: {} ({} atoms, {:.2f} neighbours per atom)\nmode: {}\nthreads: {}\n", pots.front(), input,
             s.size(), static_cast<double>(nl.pair_count()) / static_cast<double>(s.size()),
             mode == mmtp::EvalMode::raw ? "raw" : "symmetrized", threads);
  fmt::print("energy: {:.10f} eV\nus_per_atom_min: {:.3f}\nus_per_atom_max: {:.3f}\n", r.energy, us.front(), us.back());
  fmt::print("neighbor_list_us_per_atom_median: {:.3f}\n", median_of(nl_us));
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  fmt::print("peak_rss_mb: {:.1f}\n", static_cast<double>(ru.ru_maxrss) / 1024.0);
  fmt::print("us_per_atom_median: {:.3f}\n", median);
  if (members.size() > 1) {
    const double cm = median_of(committee_us);
    fmt::print("committee: {} members in {} basis group(s), energy {:.10f} eV, std {:.6f} eV\n", members.size(),
               committee.basis_groups(), rc.mean.energy, rc.energy_std);
    fmt::print("member0_us_per_atom_median: {:.3f}\ncommittee_us_per_atom_median: {:.3f}\ncommittee_over_member0: {:.3f}\n",
               median, cm, cm / median);
  }
  return 0;
  });
}
