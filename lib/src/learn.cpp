// Exploration and selection of active learning. The Langevin dynamics is the one place of the
// library where masses, temperatures and times meet energies (CI allows units:: here).
#include "mmtp/learn.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "mmtp/error.hpp"
#include "mmtp/neighbor_list.hpp"
#include "mmtp/units.hpp"

namespace mmtp::learn {
namespace {

/// Relaxes the moments of `s` (bounded) at fixed positions and evaluates it.
EnsembleResult relaxed_moments(const Ensemble& committee, Structure& s) {
  if (!s.has_magmoms() || s.magmoms.cwiseAbs().maxCoeff() == 0.0) return committee.evaluate(s);
  MomentRelaxOptions o;
  o.mmax = 1e-3;
  o.max_steps = 300;
  return relax_moments(committee, s, o).result;
}

}  // namespace

Candidate assess(const Structure& s, const EnsembleResult& r, std::string origin) {
  Candidate c;
  c.structure = s;
  c.origin = std::move(origin);
  c.energy_std = r.energy_std / static_cast<double>(std::max<Index>(1, s.size()));
  if (r.forces_std.cols()) c.force_std = r.forces_std.colwise().norm().maxCoeff();
  if (r.dE_dm_std.size()) c.dE_dm_std = r.dE_dm_std.maxCoeff();
  return c;
}

std::vector<Candidate> explore_relax(const Ensemble& committee, const Structure& start, CellMode cell, int max_steps, int every,
                                     const std::string& name) {
  RelaxOptions o;
  o.cell = cell;
  o.max_steps = max_steps;
  o.relax_moments = start.has_magmoms();
  o.stop_on_extrapolation = false;
  std::vector<Candidate> out;
  Candidate last;
  const char* mode = cell == CellMode::none ? "none" : (cell == CellMode::hydrostatic ? "hydrostatic" : "full");
  auto observe = [&](const RelaxStep& st) {
    last = assess(*st.structure, *st.result, fmt::format("relax {} (cell {}), evaluation {}", name, mode, st.evaluation));
    if (st.evaluation % std::max(1, every) == 1 || every <= 1) out.push_back(last);
  };
  relax(committee, start, o, observe);
  if (out.empty() || out.back().origin != last.origin) out.push_back(last);
  return out;
}

std::vector<Candidate> explore_volume_scan(const Ensemble& committee, const Structure& start, double from, double to, int points,
                                           const std::string& name) {
  if (points < 1) throw InputError("a scan needs at least one point");
  std::vector<Candidate> out;
  for (int k = 0; k < points; ++k) {
    const double strain = points == 1 ? from : from + (to - from) * k / (points - 1);
    Structure s = start;
    s.cell *= 1.0 + strain;
    s.positions *= 1.0 + strain;
    const EnsembleResult r = relaxed_moments(committee, s);
    out.push_back(assess(s, r, fmt::format("volume scan {}, strain {:+.3f}", name, strain)));
  }
  return out;
}

std::vector<Candidate> explore_moment_scan(const Ensemble& committee, const Structure& start, int type, double from, double to,
                                           int points, const std::string& name) {
  if (points < 1) throw InputError("a scan needs at least one point");
  if (!start.has_magmoms()) throw InputError(fmt::format("moment scan {}: the structure has no moments", name));
  std::vector<Candidate> out;
  for (int k = 0; k < points; ++k) {
    const double m = points == 1 ? from : from + (to - from) * k / (points - 1);
    Structure s = start;
    for (Index i = 0; i < s.size(); ++i)
      if (s.species[i] == type) s.magmoms[i] = m;
    EnsembleResult r;
    bool any_other = false;
    for (Index i = 0; i < s.size(); ++i) any_other = any_other || s.species[i] != type;
    if (any_other) {
      RelaxOptions o;
      o.mmax = 1e-3;
      o.max_steps = 300;
      o.stop_on_extrapolation = false;
      o.fixed_atoms.assign(static_cast<std::size_t>(s.size()), true);
      o.fixed_moments.assign(static_cast<std::size_t>(s.size()), false);
      for (Index i = 0; i < s.size(); ++i) o.fixed_moments[i] = s.species[i] == type;
      const RelaxReport rep = relax(committee, s, o);  // the other moments relax at these
      s = rep.structure;
      r = rep.result;
    } else {
      r = committee.evaluate(s);
    }
    out.push_back(assess(s, r, fmt::format("moment scan {}, m = {:+.3f} μB", name, m)));
  }
  return out;
}

void MdOptions::validate(int species_count) const {
  if (!(temperature >= 0) || !(timestep > 0) || !(friction >= 0) || steps < 1 || every < 1)
    throw InputError("molecular dynamics needs temperature >= 0, timestep > 0, friction >= 0, steps and every >= 1");
  if (static_cast<int>(masses.size()) != species_count)
    throw InputError(fmt::format("molecular dynamics needs a mass for each of the {} species (got {})", species_count, masses.size()));
  for (double m : masses)
    if (!(m > 0)) throw InputError(fmt::format("mass {} amu must be positive", m));
}

std::vector<Candidate> explore_md(const Ensemble& committee, const Structure& start, const MdOptions& o, const std::string& name) {
  o.validate(committee.members().front().parameters().species_count);
  // Units: v [Å/fs], F [eV/Å], m [amu]; a = F/m·(1/ev_per_amu_A2_per_fs2) [Å/fs²].
  const double kb = units::ev_per_kelvin, conv = units::ev_per_amu_angstrom2_per_fs2;
  const Index n = start.size();
  Eigen::ArrayXd mass(n);
  for (Index i = 0; i < n; ++i) mass[i] = o.masses[static_cast<std::size_t>(start.species[i])];
  std::mt19937_64 rng(o.seed);
  std::normal_distribution<double> gauss(0.0, 1.0);
  auto thermal = [&](Eigen::Matrix3Xd& v, double c1, double c2) {  // O step: v ← c1·v + c2·sqrt(kT/m)·ξ
    for (Index i = 0; i < n; ++i)
      for (int a = 0; a < 3; ++a) v(a, i) = c1 * v(a, i) + c2 * std::sqrt(kb * o.temperature / (mass[i] * conv)) * gauss(rng);
  };
  Structure s = start;
  Eigen::Matrix3Xd v = Eigen::Matrix3Xd::Zero(3, n);
  thermal(v, 0.0, 1.0);  // Maxwell–Boltzmann start
  EnsembleResult r = relaxed_moments(committee, s);
  const double c1 = std::exp(-o.friction * o.timestep), c2 = std::sqrt(1.0 - c1 * c1);
  std::vector<Candidate> out;
  for (int step = 1; step <= o.steps; ++step) {
    auto kick = [&] {  // B: half a step of forces
      for (Index i = 0; i < n; ++i) v.col(i) += 0.5 * o.timestep * r.mean.forces.col(i) / (mass[i] * conv);
    };
    kick();
    s.positions += 0.5 * o.timestep * v;  // A
    thermal(v, c1, c2);                   // O
    s.positions += 0.5 * o.timestep * v;  // A
    r = relaxed_moments(committee, s);
    if (r.mean.extrapolation.short_pairs > 0) {
      out.push_back(assess(s, r, fmt::format("md {} at {:g} K, step {} (stopped: pairs below R_min)", name, o.temperature, step)));
      break;
    }
    kick();
    if (step % o.every == 0) out.push_back(assess(s, r, fmt::format("md {} at {:g} K, step {}", name, o.temperature, step)));
  }
  return out;
}

void SelectOptions::validate() const {
  if (!(energy_std > 0) || !(force_std > 0) || !(dE_dm_std > 0)) throw InputError("selection thresholds must be positive");
  if (max_candidates < 0 || max_per_task < 0 || !(min_distance >= 0) || max_atoms < 1 || !(min_pair_distance >= 0))
    throw InputError("bad selection limits");
}

std::vector<double> fingerprint(const Structure& s, int species_count, double cutoff) {
  const double r0 = 1.5, dr = 0.1, sigma = 0.1;
  const int bins = std::max(1, static_cast<int>(std::ceil((cutoff - r0) / dr)));
  const int S = species_count;
  std::vector<double> f(static_cast<std::size_t>(S + S * (S * bins + 1) + 1), 0.0);
  const NeighborList nl = NeighborList::build(s, cutoff);
  std::vector<int> count(static_cast<std::size_t>(S), 0);
  for (int t : s.species) ++count[static_cast<std::size_t>(t)];
  for (int t = 0; t < S; ++t) f[t] = static_cast<double>(count[t]) / static_cast<double>(std::max<Index>(1, s.size()));
  for (Index i = 0; i < s.size(); ++i) {
    const int ti = s.species[i];
    const double w = 1.0 / std::max(1, count[ti]);
    double* block = &f[static_cast<std::size_t>(S + ti * (S * bins + 1))];
    for (Index k = nl.offsets[i]; k < nl.offsets[i + 1]; ++k) {
      const double r = nl.vectors.col(k).norm();
      const int tj = s.species[nl.index[k]];
      for (int b = 0; b < bins; ++b) {
        const double x = (r - (r0 + (b + 0.5) * dr)) / sigma;
        if (std::abs(x) < 4) block[tj * bins + b] += w * std::exp(-0.5 * x * x);
      }
    }
    if (s.has_magmoms()) block[S * bins] += w * std::abs(s.magmoms[i]);
  }
  f.back() = volume(s) / static_cast<double>(std::max<Index>(1, s.size()));
  return f;
}

double distance(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return 2.0;
  const Eigen::Map<const Eigen::VectorXd> x(a.data(), static_cast<Index>(a.size())), y(b.data(), static_cast<Index>(b.size()));
  const double norm = 0.5 * (x.norm() + y.norm());
  return norm > 0 ? std::min(2.0, (x - y).norm() / norm) : 0.0;
}

std::vector<Candidate> select(std::vector<Candidate> pool, const std::vector<Structure>& known, const SelectOptions& o,
                              int species_count, double cutoff) {
  o.validate();
  for (auto& c : pool) c.score = std::max({c.energy_std / o.energy_std, c.force_std / o.force_std, c.dE_dm_std / o.dE_dm_std});
  auto too_close = [&](const Structure& s) {
    return o.min_pair_distance > 0 && NeighborList::build(s, o.min_pair_distance).pair_count() > 0;
  };
  pool.erase(std::remove_if(pool.begin(), pool.end(),
                            [&](const Candidate& c) {
                              return c.score <= 1.0 || c.structure.size() > o.max_atoms || too_close(c.structure);
                            }),
             pool.end());
  std::stable_sort(pool.begin(), pool.end(), [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
  std::vector<std::vector<double>> taken;
  for (const auto& s : known)
    if (s.size() <= o.max_atoms) taken.push_back(fingerprint(s, species_count, cutoff));
  std::vector<Candidate> out;
  std::map<std::string, int> per_task;
  for (auto& c : pool) {
    if (static_cast<int>(out.size()) >= o.max_candidates) break;
    const std::string task = c.origin.substr(0, c.origin.find(','));
    if (o.max_per_task > 0 && per_task[task] >= o.max_per_task) continue;
    const auto f = fingerprint(c.structure, species_count, cutoff);
    bool novel = true;
    for (std::size_t k = 0; k < taken.size() && novel; ++k) novel = distance(f, taken[k]) >= o.min_distance;
    if (!novel) continue;
    taken.push_back(f);
    ++per_task[task];
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace mmtp::learn
