#include "mmtp/ensemble.hpp"

#include "mmtp/error.hpp"
#include "site_pass.hpp"

#include <fmt/core.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace mmtp {

void TrainedRegion::validate() const {
  if (!(max_std >= 0) || !std::isfinite(max_std)) throw InputError(fmt::format("max_std = {} must be >= 0", max_std));
}

Ensemble::Ensemble(std::vector<MagneticMtp> members, double committee_alpha, double committee_floor)
    : members_(std::move(members)), alpha_(committee_alpha), floor_(committee_floor) {
  if (members_.empty()) throw InputError("an ensemble needs at least one potential");
  if (!(alpha_ > 0) || !std::isfinite(alpha_))
    throw InputError(fmt::format("committee alpha = {} must be positive", alpha_));
  if (!(floor_ >= 0) || !std::isfinite(floor_))
    throw InputError(fmt::format("committee floor = {} eV/atom must be >= 0", floor_));
  const auto& first = members_.front().parameters();
  for (const auto& m : members_) {
    const auto& p = m.parameters();
    if (p.species_count != first.species_count)
      throw InputError(fmt::format("ensemble members have {} and {} species", first.species_count, p.species_count));
    if (!p.species_names.empty() && !first.species_names.empty() && p.species_names != first.species_names)
      throw InputError("ensemble members name their species differently");
    cutoff_ = std::max(cutoff_, m.cutoff());
  }
  for (std::size_t k = 0; k < members_.size(); ++k) {
    std::size_t g = 0;
    while (g < groups_.size() && !SitePass::same_basis(members_[groups_[g].front()].parameters(), members_[k].parameters())) ++g;
    if (g == groups_.size()) groups_.emplace_back();
    groups_[g].push_back(k);
  }
  for (const auto& group : groups_) {
    std::vector<const MtpParameters*> batch;
    for (std::size_t k : group) batch.push_back(&members_[k].parameters());
    passes_.push_back(std::make_shared<const SitePass>(batch));
  }
}

EnsembleResult Ensemble::evaluate(const Structure& s, EvalMode mode) const {
  return evaluate(s, NeighborList::build(s, cutoff_), mode, Derivatives::all);  // build() validates s
}

EnsembleResult Ensemble::evaluate(const Structure& s, const NeighborList& nl, EvalMode mode, Derivatives what) const {
  if (nl.cutoff < cutoff_ || static_cast<Index>(nl.offsets.size()) > s.size() + 1 || nl.offsets.empty())
    throw std::invalid_argument("neighbour list does not match the structure or its cutoff is too short");
  std::vector<Result> members(members_.size());
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    std::vector<Result> r = passes_[g]->evaluate(s, nl, mode, what);
    for (std::size_t q = 0; q < groups_[g].size(); ++q) members[groups_[g][q]] = std::move(r[q]);
  }
  return summarize(std::move(members), static_cast<Index>(nl.offsets.size()) - 1);
}

std::vector<Geometry> Ensemble::geometry(const Structure& s, const NeighborList& nl) const {
  std::vector<Geometry> out;
  for (const auto& group : groups_) out.emplace_back(members_[group.front()].parameters(), s, nl);
  return out;
}

EnsembleResult Ensemble::evaluate(const Structure& s, const std::vector<Geometry>& geometry, EvalMode mode,
                                  Derivatives what) const {
  if (geometry.size() != groups_.size()) throw std::invalid_argument("the geometry was computed for another committee");
  std::vector<Result> members(members_.size());
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    std::vector<Result> r = passes_[g]->evaluate(s, geometry[g], mode, what);
    for (std::size_t q = 0; q < groups_[g].size(); ++q) members[groups_[g][q]] = std::move(r[q]);
  }
  return summarize(std::move(members), geometry.front().size());
}

EnsembleResult Ensemble::summarize(std::vector<Result> members, Index natoms) const {
  EnsembleResult out;
  out.members = std::move(members);
  const double k = static_cast<double>(members_.size());
  Result& mean = out.mean;
  mean = out.members.front();
  for (std::size_t q = 1; q < out.members.size(); ++q) {
    const Result& r = out.members[q];
    mean.energy += r.energy;
    mean.site_energies += r.site_energies;
    mean.forces += r.forces;
    mean.virial += r.virial;
    mean.site_virials += r.site_virials;
    mean.dE_dm += r.dE_dm;
    mean.extrapolation.short_pairs = std::max(mean.extrapolation.short_pairs, r.extrapolation.short_pairs);
    mean.extrapolation.moments_out_of_range =
        std::max(mean.extrapolation.moments_out_of_range, r.extrapolation.moments_out_of_range);
  }
  mean.energy /= k;
  mean.site_energies /= k;
  mean.forces /= k;
  mean.virial /= k;
  mean.site_virials /= k;
  mean.dE_dm /= k;
  out.forces_std = Eigen::Matrix3Xd::Zero(3, mean.forces.cols());
  out.dE_dm_std = Eigen::VectorXd::Zero(mean.dE_dm.size());
  double e2 = 0.0;
  for (const Result& r : out.members) {
    e2 += (r.energy - mean.energy) * (r.energy - mean.energy);
    out.forces_std.array() += (r.forces - mean.forces).array().square();
    out.virial_std.array() += (r.virial - mean.virial).array().square();
    out.dE_dm_std.array() += (r.dE_dm - mean.dE_dm).array().square();
  }
  out.energy_std = std::hypot(alpha_ * std::sqrt(e2 / k), floor_ * static_cast<double>(natoms));
  out.forces_std = alpha_ * (out.forces_std / k).cwiseSqrt();
  out.virial_std = alpha_ * (out.virial_std / k).cwiseSqrt();
  out.dE_dm_std = alpha_ * (out.dE_dm_std / k).cwiseSqrt();
  if (alpha_ != 1.0)
    for (Result& r : out.members) {
      r.energy = mean.energy + alpha_ * (r.energy - mean.energy);
      r.site_energies = mean.site_energies + alpha_ * (r.site_energies - mean.site_energies);
      r.forces = mean.forces + alpha_ * (r.forces - mean.forces);
      r.virial = mean.virial + alpha_ * (r.virial - mean.virial);
      r.site_virials = mean.site_virials + alpha_ * (r.site_virials - mean.site_virials);
      r.dE_dm = mean.dE_dm + alpha_ * (r.dE_dm - mean.dE_dm);
    }
  return out;
}

std::pair<Eigen::VectorXd, Eigen::VectorXd> Ensemble::moment_bounds(const Structure& s, EvalMode mode) const {
  const double inf = std::numeric_limits<double>::infinity();
  Eigen::VectorXd lo = Eigen::VectorXd::Constant(s.size(), -inf), hi = Eigen::VectorXd::Constant(s.size(), inf);
  for (const auto& member : members_) {
    const auto& p = member.parameters();
    if (!p.magnetic) continue;
    for (Index i = 0; i < s.size(); ++i) {
      auto [a, b] = p.moment_range(s.species[i]);
      if (mode == EvalMode::symmetrized) b = std::min(std::abs(a), std::abs(b)), a = -b;
      lo[i] = std::max(lo[i], a);
      hi[i] = std::min(hi[i], b);
    }
  }
  return {lo, hi};
}

std::string extrapolation_cause(const EnsembleResult& r, Index natoms, const TrainedRegion& region) {
  std::string why;
  auto add = [&](const std::string& s) { why += (why.empty() ? "" : "; ") + s; };
  const auto& x = r.mean.extrapolation;
  if (x.short_pairs > 0) add(fmt::format("{} pair distances below min_dist (shortest {:.3f} Å)", x.short_pairs, x.min_distance));
  if (x.moments_out_of_range > 0) add(fmt::format("{} moments outside their species' trained range", x.moments_out_of_range));
  const double per_atom = r.energy_std / static_cast<double>(std::max<Index>(1, natoms));
  if (region.max_std > 0 && per_atom > region.max_std)
    add(fmt::format("committee std {:.4f} eV/atom above max_std {:.4f}", per_atom, region.max_std));
  return why;
}

}  // namespace mmtp
