#include "mmtp/io/ensemble.hpp"

#include <fmt/core.h>

#include "mmtp/error.hpp"
#include "mmtp/io/mtp.hpp"

namespace mmtp::io {

Ensemble read_ensemble(const std::vector<std::string>& paths, const std::vector<std::string>& species, double committee_alpha) {
  if (paths.empty()) throw InputError("no potential given");
  std::vector<MagneticMtp> members;
  double stored = -1.0, stored_floor = -1.0;
  for (const auto& path : paths) {
    MtpParameters p = read_mtp(path);
    if (!p.trained()) throw InputError(fmt::format("{}: an untrained template (no coefficients) cannot be evaluated", path));
    if (!species.empty()) {
      if (static_cast<int>(species.size()) != p.species_count)
        throw InputError(fmt::format("{} element names given, but {} has {} species", species.size(), path, p.species_count));
      p.species_names = species;
    }
    stored = stored < 0 || stored == p.committee_alpha ? p.committee_alpha : 0.0;  // 0 when they disagree
    stored_floor = stored_floor < 0 || stored_floor == p.committee_floor ? p.committee_floor : 0.0;
    members.emplace_back(std::move(p));
  }
  const bool calibrated = committee_alpha <= 0 && paths.size() > 1 && stored > 0;
  const double alpha = committee_alpha > 0 ? committee_alpha : (calibrated ? stored : 1.0);
  return Ensemble(std::move(members), alpha, calibrated ? stored_floor : 0.0);
}

}  // namespace mmtp::io
