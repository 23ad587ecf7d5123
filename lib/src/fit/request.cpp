#include "mmtp/fit/request.hpp"

#include <fmt/core.h>

#include <limits>

#include "mmtp/error.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/moment_basis.hpp"

namespace mmtp::fit {

void FitRequest::validate() const {
  if (species.empty()) throw InputError("no species");
  if (templates.empty() && (level < 2 || level > 28)) throw InputError(fmt::format("level {} is not in 2..28", level));
  if (templates.size() > 1 && templates.size() != static_cast<std::size_t>(ensemble.members))
    throw InputError(fmt::format("{} templates for {} members (give one, or one per member)", templates.size(), ensemble.members));
  if (!(valid_fraction >= 0 && valid_fraction < 1)) throw InputError(fmt::format("valid_fraction {} is not in [0, 1)", valid_fraction));
  if (valid_seed < -1 || valid_seed > static_cast<long long>(std::numeric_limits<unsigned>::max()))
    throw InputError(fmt::format("valid_seed {} is not −1 or a seed (0..{})", valid_seed, std::numeric_limits<unsigned>::max()));
  ensemble.validate();
  const auto& w = ensemble.train.weights.magnetic_species;
  if (!w.empty() && w.size() != species.size())
    throw InputError(fmt::format("{} per-species dE/dm weights for {} species", w.size(), species.size()));
  for (const auto* v : {&basis.moment_max, &ensemble.fit_moment_max})
    if (!v->empty() && v->size() != species.size())
      throw InputError(fmt::format("{} per-species moment ranges for {} species", v->size(), species.size()));
}

std::vector<MtpParameters> starting_potentials(const FitRequest& r, const std::vector<Sample>& train) {
  r.validate();
  std::vector<MtpParameters> out;
  for (const auto& path : r.templates.empty() ? std::vector<std::string>{""} : r.templates) {
    const MtpParameters p = path.empty() ? moment_tensor_basis(r.level) : io::read_mtp(path);
    if (!p.trained()) {
      out.push_back(untrained_potential(p, r.species, r.basis, train));
    } else if (p.species_count != static_cast<int>(r.species.size())) {
      throw InputError(fmt::format("{}: {} species, but the data has {}", path, p.species_count, r.species.size()));
    } else {
      out.push_back(warm_start(p, r.species, r.basis, train));
    }
  }
  return out;
}

std::string member_path(const std::string& prefix, int member) { return fmt::format("{}.{}.mtp", prefix, member); }

std::vector<std::string> member_paths(const std::string& prefix, int members) {
  std::vector<std::string> out;
  for (int k = 0; k < members; ++k) out.push_back(member_path(prefix, k));
  return out;
}

}  // namespace mmtp::fit
