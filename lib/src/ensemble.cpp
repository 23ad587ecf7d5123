#include "mmtp/ensemble.hpp"

#include <fmt/core.h>

#include <stdexcept>

namespace mmtp {

Ensemble::Ensemble(std::vector<MagneticMtp> members) : members_(std::move(members)) {
  if (members_.empty()) throw std::invalid_argument("an ensemble needs at least one potential");
  const auto& first = members_.front().parameters();
  for (const auto& m : members_) {
    const auto& p = m.parameters();
    if (p.species_count != first.species_count)
      throw std::invalid_argument(fmt::format("ensemble members have {} and {} species", first.species_count, p.species_count));
    if (!p.species_names.empty() && !first.species_names.empty() && p.species_names != first.species_names)
      throw std::invalid_argument("ensemble members name their species differently");
    cutoff_ = std::max(cutoff_, m.cutoff());
  }
}

EnsembleResult Ensemble::evaluate(const Structure& s, EvalMode mode) const {
  return evaluate(s, NeighborList::build(s, cutoff_), mode);  // build() validates s
}

EnsembleResult Ensemble::evaluate(const Structure& s, const NeighborList& nl, EvalMode mode) const {
  EnsembleResult out;
  for (const auto& m : members_) out.members.push_back(m.evaluate(s, nl, mode));
  const double k = static_cast<double>(members_.size());
  Result& mean = out.mean;
  mean = out.members.front();
  for (std::size_t q = 1; q < out.members.size(); ++q) {
    const Result& r = out.members[q];
    mean.energy += r.energy;
    mean.site_energies += r.site_energies;
    mean.forces += r.forces;
    mean.virial += r.virial;
    mean.dE_dm += r.dE_dm;
    mean.extrapolation.short_pairs = std::max(mean.extrapolation.short_pairs, r.extrapolation.short_pairs);
    mean.extrapolation.moments_out_of_range =
        std::max(mean.extrapolation.moments_out_of_range, r.extrapolation.moments_out_of_range);
  }
  mean.energy /= k;
  mean.site_energies /= k;
  mean.forces /= k;
  mean.virial /= k;
  mean.dE_dm /= k;
  out.forces_std = Eigen::Matrix3Xd::Zero(3, s.size());
  out.dE_dm_std = Eigen::VectorXd::Zero(mean.dE_dm.size());
  double e2 = 0.0;
  for (const Result& r : out.members) {
    e2 += (r.energy - mean.energy) * (r.energy - mean.energy);
    out.forces_std.array() += (r.forces - mean.forces).array().square();
    out.virial_std.array() += (r.virial - mean.virial).array().square();
    out.dE_dm_std.array() += (r.dE_dm - mean.dE_dm).array().square();
  }
  out.energy_std = std::sqrt(e2 / k);
  out.forces_std = (out.forces_std / k).cwiseSqrt();
  out.virial_std = (out.virial_std / k).cwiseSqrt();
  out.dE_dm_std = (out.dE_dm_std / k).cwiseSqrt();
  return out;
}

}  // namespace mmtp
