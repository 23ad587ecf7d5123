#include "mmtp/fit/committee.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <numeric>
#include <random>

#include "mmtp/error.hpp"
#include "mmtp/io/mtp.hpp"
#include "../parallel.hpp"

namespace mmtp::fit {
namespace {

/// Atoms of each type, divided by their greatest common divisor (Fe2Al2 → FeAl).
std::vector<int> composition(const Sample& smp, int species_count) {
  std::vector<int> count(static_cast<std::size_t>(species_count), 0);
  for (int t : smp.structure.species) ++count[static_cast<std::size_t>(t)];
  int g = 0;
  for (int c : count) g = std::gcd(g, c);
  for (int& c : count) c /= std::max(g, 1);
  return count;
}

/// Per structure: committee std and |error of the mean| of the energy per atom [eV/atom].
void std_and_error(const std::vector<EnsembleResult>& results, const std::vector<Sample>& data, std::vector<double>& sd,
                   std::vector<double>& err) {
  for (std::size_t k = 0; k < data.size(); ++k)
    if (data[k].energy) {
      const double n = static_cast<double>(std::max<Index>(1, data[k].structure.size()));
      sd.push_back(results[k].energy_std / n);
      err.push_back(std::abs(results[k].mean.energy - *data[k].energy) / n);
    }
}

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    for (std::size_t k = i; k <= j; ++k) r[order[k]] = 0.5 * static_cast<double>(i + j);  // average rank of ties
    i = j + 1;
  }
  return r;
}

}  // namespace

Split split_validation(std::vector<Sample> data, double fraction, unsigned seed, int species_count) {
  if (!(fraction >= 0 && fraction < 1)) throw InputError(fmt::format("validation fraction {} is not in [0, 1)", fraction));
  Split out;
  if (fraction == 0) {
    out.train = std::move(data);
    return out;
  }
  std::mt19937_64 rng(seed);
  std::shuffle(data.begin(), data.end(), rng);
  std::map<std::vector<int>, int> left;
  for (const auto& smp : data) ++left[composition(smp, species_count)];
  auto nv = static_cast<std::size_t>(std::round(fraction * static_cast<double>(data.size())));
  for (auto& smp : data) {
    int& n = left[composition(smp, species_count)];
    if (nv > 0 && n > 1) --n, --nv, out.valid.push_back(std::move(smp));
    else out.train.push_back(std::move(smp));
  }
  return out;
}

std::string checkpoint_path(const std::string& prefix, int member) { return fmt::format("{}.{}.checkpoint.mtp", prefix, member); }

void EnsembleOptions::validate() const {
  TrainOptions member = train;  // the checkpoint path is each member's own
  if (!checkpoint_prefix.empty()) member.checkpoint = checkpoint_prefix + ".0.checkpoint.mtp";
  member.validate();
  if (members < 1 || members > 100) throw InputError(fmt::format("committee size {} is not in 1..100", members));
  if (train.checkpoint_every > 0 && checkpoint_prefix.empty()) throw InputError("checkpoints need a file prefix");
  for (double m : fit_moment_max)
    if (!(m >= 0) || !std::isfinite(m)) throw InputError(fmt::format("fit moment range {} μB must be >= 0", m));
}

std::vector<TrainReport> train_ensemble(const std::vector<MtpParameters>& starts, const std::vector<Sample>& data,
                                        const EnsembleOptions& options,
                                        const std::function<void(int member, const TrainProgress&)>& progress) {
  options.validate();
  if (data.empty()) throw InputError("empty training set");
  if (starts.size() != 1 && starts.size() != static_cast<std::size_t>(options.members))
    throw InputError(fmt::format("{} starting potentials for {} members", starts.size(), options.members));
  // The data's geometry once per basis: members of one level share it, a committee of several
  // levels or radial bases (the driver evaluates any such committee) gets one per kind.
  std::vector<std::unique_ptr<const Dataset>> datasets;
  std::vector<const Dataset*> dataset_of;
  for (const auto& s : starts) {
    if (s.species_count != starts.front().species_count)
      throw InputError(fmt::format("the starting potentials of a committee differ in species ({} and {})",
                                   starts.front().species_count, s.species_count));
    auto same = std::find_if(datasets.begin(), datasets.end(), [&](const auto& d) { return d->geometry(0).fits(s); });
    if (same == datasets.end()) same = datasets.insert(datasets.end(), std::make_unique<const Dataset>(s, data));
    dataset_of.push_back(same->get());
  }
  std::vector<TrainReport> reports(static_cast<std::size_t>(options.members));
  FirstError error;
#pragma omp parallel for schedule(dynamic, 1)
  for (int k = 0; k < options.members; ++k) {
    error.run([&] {
      TrainOptions o = options.train;
      o.seed = options.train.seed + static_cast<unsigned>(k);
      MtpParameters start = starts[starts.size() == 1 ? 0 : static_cast<std::size_t>(k)];
      // With fit_moment_max: the member trains on those ranges (0 = the start's own) and is
      // returned on the start's ranges `own` (its single file range when it has no per-species ones).
      const bool refit_ranges = !options.fit_moment_max.empty() && start.magnetic;
      const bool common_range = start.moment_max.empty();
      std::vector<double> own, fit;
      for (int t = 0; t < start.species_count && refit_ranges; ++t) {
        own.push_back(start.moment_range(t).second);
        const double f = t < static_cast<int>(options.fit_moment_max.size()) ? options.fit_moment_max[t] : 0.0;
        fit.push_back(f > 0 ? f : own.back());
      }
      // Zero iterations from a trained member: that member as it is (the committee is only
      // evaluated and calibrated anew), not its linear coefficients solved again.
      if (o.max_iter == 0 && start.trained()) o.linear_solve = false;
      if (!options.checkpoint_prefix.empty()) {
        o.checkpoint = checkpoint_path(options.checkpoint_prefix, k);
        if (options.resume && ::access(o.checkpoint.c_str(), R_OK) == 0) {
          const auto names = start.species_names;
          start = io::read_mtp(o.checkpoint);
          start.species_names = names;
          o.linear_solve = false;  // continue from exactly the checkpoint
          o.first_evaluation = checkpoint_evaluations(o.checkpoint);
        }
      }
      std::vector<double> multiplicity;
      if (options.bootstrap) {
        std::mt19937_64 rng(o.seed * 7919u);
        std::uniform_int_distribution<std::size_t> pick(0, data.size() - 1);
        multiplicity.assign(data.size(), 0.0);
        for (std::size_t q = 0; q < data.size(); ++q) multiplicity[pick(rng)] += 1.0;
      }
      auto member_progress = [&](const TrainProgress& p) {
        if (progress) progress(k, p);
      };
      if (refit_ranges) start = with_moment_ranges(start, fit);
      TrainReport& report = reports[static_cast<std::size_t>(k)];
      report = train(start, *dataset_of[starts.size() == 1 ? 0 : static_cast<std::size_t>(k)], o, member_progress, multiplicity);
      if (refit_ranges) {
        report.params = with_moment_ranges(report.params, own);
        if (common_range) report.params = to_common_moment_range(report.params);
      }
      report.params.species_names = start.species_names;
    });
  }
  error.rethrow();
  return reports;
}

Errors errors(const std::vector<EnsembleResult>& results, const std::vector<Sample>& data, int member) {
  double e2 = 0, e1 = 0, f2 = 0, f1 = 0, s2 = 0, s1 = 0, m2 = 0, m1 = 0;
  long ne = 0, nf = 0, ns = 0, nm = 0;
  for (std::size_t k = 0; k < data.size(); ++k) {
    const Result& r = member < 0 ? results[k].mean : results[k].members[static_cast<std::size_t>(member)];
    const auto& smp = data[k];
    const double n = static_cast<double>(std::max<Index>(1, smp.structure.size()));
    if (smp.energy) {
      const double d = (r.energy - *smp.energy) / n;
      e2 += d * d, e1 += std::abs(d), ++ne;
    }
    if (smp.forces) {
      const Eigen::Matrix3Xd d = r.forces - *smp.forces;
      f2 += d.squaredNorm(), f1 += d.cwiseAbs().sum(), nf += d.size();
    }
    if (smp.virial) {
      const Eigen::Matrix3d d = -(r.virial - *smp.virial) / volume(smp.structure);
      s2 += d.squaredNorm(), s1 += d.cwiseAbs().sum(), ns += 9;
    }
    if (smp.dE_dm && r.dE_dm.size()) {
      const Eigen::VectorXd d = r.dE_dm - *smp.dE_dm;
      m2 += d.squaredNorm(), m1 += d.cwiseAbs().sum(), nm += d.size();
    }
  }
  auto rms = [](double s, long n) { return n ? std::sqrt(s / static_cast<double>(n)) : 0.0; };
  auto mae = [](double s, long n) { return n ? s / static_cast<double>(n) : 0.0; };
  Errors out;
  out.energy_rmse = rms(e2, ne), out.energy_mae = mae(e1, ne);
  out.force_rmse = rms(f2, nf), out.force_mae = mae(f1, nf);
  out.stress_rmse = rms(s2, ns), out.stress_mae = mae(s1, ns);
  out.dE_dm_rmse = rms(m2, nm), out.dE_dm_mae = mae(m1, nm);
  out.structures = data.size();
  return out;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() < 3 || a.size() != b.size()) return 0.0;
  const auto ra = ranks(a), rb = ranks(b);
  const Eigen::Map<const Eigen::ArrayXd> x(ra.data(), static_cast<Index>(ra.size())), y(rb.data(), static_cast<Index>(rb.size()));
  const Eigen::ArrayXd dx = x - x.mean(), dy = y - y.mean();
  const double den = std::sqrt((dx * dx).sum() * (dy * dy).sum());
  return den > 0 ? (dx * dy).sum() / den : 0.0;
}

Calibration check_calibration(const std::vector<EnsembleResult>& results, const std::vector<Sample>& data, double alpha,
                              double floor) {
  std::vector<double> sd, err;
  std_and_error(results, data, sd, err);
  Calibration c;
  c.alpha = alpha;
  c.floor = floor;
  c.structures = sd.size();
  c.spearman = spearman(sd, err);
  std::size_t inside = 0;
  for (std::size_t k = 0; k < sd.size(); ++k) inside += err[k] <= 2.0 * std::hypot(alpha * sd[k], floor);
  c.within_2sigma = sd.empty() ? 0.0 : static_cast<double>(inside) / static_cast<double>(sd.size());
  return c;
}

namespace {

/// The floor-to-spread ratio r [eV/atom] that maximises the likelihood of errors
/// e ~ N(0, a²(σ² + r²)) with a profiled out (a² = mean(e²/(σ² + r²))): a log-spaced scan of
/// r over [1e-6, 1] eV/atom, then golden-section refinement around the best point. 0 when
/// the smallest r scanned is the best (no floor).
double floor_ratio(const std::vector<double>& sd, const std::vector<double>& err) {
  auto nll = [&](double r) {  // −log-likelihood per structure, up to a constant
    double scale = 0.0, logs = 0.0;
    for (std::size_t k = 0; k < sd.size(); ++k) {
      const double v = sd[k] * sd[k] + r * r;
      scale += err[k] * err[k] / v, logs += std::log(v);
    }
    const double n = static_cast<double>(sd.size());
    return 0.5 * std::log(std::max(scale / n, 1e-300)) + 0.5 * logs / n;
  };
  constexpr int points = 121;  // 20 per decade over six decades
  const double lo = std::log(1e-6), hi = std::log(1.0), step = (hi - lo) / (points - 1);
  int best = 0;
  double best_nll = nll(std::exp(lo));
  for (int i = 1; i < points; ++i)
    if (const double f = nll(std::exp(lo + i * step)); f < best_nll) best = i, best_nll = f;
  if (best == 0) return 0.0;
  double a = lo + (best - 1) * step, b = lo + std::min(best + 1, points - 1) * step;
  const double g = 0.5 * (std::sqrt(5.0) - 1.0);
  for (int it = 0; it < 60; ++it) {
    const double x1 = b - g * (b - a), x2 = a + g * (b - a);
    if (nll(std::exp(x1)) < nll(std::exp(x2))) b = x2;
    else a = x1;
  }
  return std::exp(0.5 * (a + b));
}

}  // namespace

Calibration calibrate(const std::vector<EnsembleResult>& results, const std::vector<Sample>& data) {
  std::vector<double> sd, err;
  std_and_error(results, data, sd, err);
  if (sd.size() < 3) throw InputError(fmt::format("calibrating a committee needs at least 3 labelled structures, got {}", sd.size()));
  const double r = floor_ratio(sd, err);
  // The smallest value with ⌈0.95·N⌉ of the per-structure values at or below it.
  const std::size_t at = static_cast<std::size_t>(std::ceil(0.95 * static_cast<double>(sd.size()))) - 1;
  auto percentile95 = [at](std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(at), v.end());
    return v[at];
  };
  std::vector<double> ratio;
  for (std::size_t k = 0; k < sd.size(); ++k) ratio.push_back(err[k] / (2.0 * std::max(std::hypot(sd[k], r), 1e-12)));
  const double alpha = std::max(percentile95(ratio), 1e-6);
  if (r == 0.0 || alpha >= 1.0) return check_calibration(results, data, alpha, alpha * r);
  // α below 1 with a floor: the errors hardly follow the spread here, yet the spread is what
  // grows outside the trained region. Keep α = 1 and scale the floor alone to 95 %:
  // |e| ≤ 2·sqrt(σ² + s0²) ⟺ s0 ≥ sqrt((e/2)² − σ²).
  std::vector<double> needed;
  for (std::size_t k = 0; k < sd.size(); ++k) needed.push_back(std::sqrt(std::max(0.0, 0.25 * err[k] * err[k] - sd[k] * sd[k])));
  return check_calibration(results, data, 1.0, percentile95(needed));
}

namespace {

// M_max^z per species [μB]: options.moment_max where given (> 0), otherwise the largest |m| of
// that species in `data`, or `floor[z]` when that is larger.
std::vector<double> moment_ranges(int S, const BasisOptions& o, const std::vector<Sample>& data, std::vector<double> floor) {
  if (!o.moment_max.empty() && static_cast<int>(o.moment_max.size()) != S)
    throw InputError(fmt::format("{} moment ranges for {} species", o.moment_max.size(), S));
  std::vector<double> range = floor.empty() ? std::vector<double>(static_cast<std::size_t>(S), 0.0) : std::move(floor);
  for (const auto& smp : data)
    if (smp.structure.has_magmoms())
      for (Index i = 0; i < smp.structure.size(); ++i) {
        double& m = range[static_cast<std::size_t>(smp.structure.species[i])];
        m = std::max(m, std::abs(smp.structure.magmoms[i]));
      }
  for (int t = 0; t < S && !o.moment_max.empty(); ++t)
    if (o.moment_max[t] > 0) range[t] = o.moment_max[t];
  return range;
}

}  // namespace

MtpParameters untrained_potential(MtpParameters p, const std::vector<std::string>& species, const BasisOptions& o,
                                  const std::vector<Sample>& data) {
  const int S = static_cast<int>(species.size());
  if (S < 1) throw InputError("no species");
  if (!(o.rmin >= 0 && o.rcut > o.rmin)) throw InputError(fmt::format("need 0 <= R_min < R_cut, got {} and {}", o.rmin, o.rcut));
  if (o.radial_basis_size < 1 || o.magnetic_basis_size < 1 || o.magnetic_basis_size > 32)
    throw InputError("radial basis size must be >= 1 and magnetic basis size in 1..32");
  std::vector<double> range = moment_ranges(S, o, data, {});
  const double widest = *std::max_element(range.begin(), range.end());
  for (double& m : range)
    if (m <= 0) m = widest;
  p.species_count = S;
  p.species_names = species;
  p.min_dist = o.rmin;
  p.max_dist = o.rcut;
  p.radial_basis_size = o.radial_basis_size;
  p.magnetic = o.magnetic_basis_size > 1 && widest > 0;
  p.magnetic_basis_size = p.magnetic ? o.magnetic_basis_size : 1;
  p.min_val = p.magnetic ? -widest : 0.0;
  p.max_val = p.magnetic ? widest : 0.0;
  p.moment_max = p.magnetic ? range : std::vector<double>{};
  p.radial_coeffs.clear();
  p.species_coeffs.clear();
  p.moment_coeffs.clear();
  p.validate(false);
  return p;
}

MtpParameters warm_start(MtpParameters p, const std::vector<std::string>& species, const BasisOptions& o,
                         const std::vector<Sample>& data) {
  const int S = static_cast<int>(species.size());
  if (!p.trained()) throw InputError("a warm start needs a trained potential");
  if (p.species_count != S) throw InputError(fmt::format("the potential has {} species, the data {}", p.species_count, S));
  p.species_names = species;
  if (!p.magnetic) return p;
  std::vector<double> own;
  for (int t = 0; t < S; ++t) own.push_back(p.moment_range(t).second);
  const auto range = moment_ranges(S, o, data, own);
  return range == own ? p : with_moment_ranges(p, range);
}

}  // namespace mmtp::fit
