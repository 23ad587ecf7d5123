// The fit report: the boundary where stresses leave in GPa (CI allows units:: here).
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "mmtp/fit/committee.hpp"
#include "mmtp/fit/request.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/io/text.hpp"
#include "mmtp/units.hpp"

namespace mmtp::fit {
namespace {

nlohmann::json to_json(const Errors& e) {
  const double gpa = 1.0 / units::ev_per_angstrom3_per_gpa;
  return {{"energy_rmse_meV_per_atom", 1000 * e.energy_rmse}, {"energy_mae_meV_per_atom", 1000 * e.energy_mae},
          {"force_rmse_eV_per_A", e.force_rmse},               {"force_mae_eV_per_A", e.force_mae},
          {"stress_rmse_GPa", gpa * e.stress_rmse},            {"stress_mae_GPa", gpa * e.stress_mae},
          {"dE_dm_rmse_eV_per_muB", e.dE_dm_rmse},             {"dE_dm_mae_eV_per_muB", e.dE_dm_mae},
          {"structures", e.structures}};
}

/// Per-structure predictions (committee mean and std) beside the labels, for parity plots.
/// Energies [eV/atom], forces [eV/Å] (x,y,z per atom), stress [GPa] (xx,yy,zz,yz,xz,xy, σ = −W/V),
/// dE/dm [eV/μB], atoms per type; a label the data lacks is null.
nlohmann::json structures(const std::vector<EnsembleResult>& results, const std::vector<Sample>& data, int species) {
  nlohmann::json out = nlohmann::json::array();
  auto stress = [](const Eigen::Matrix3d& w, double v) {
    const Eigen::Matrix3d s = -w / v / units::ev_per_angstrom3_per_gpa;
    return std::vector<double>{s(0, 0), s(1, 1), s(2, 2), s(1, 2), s(0, 2), s(0, 1)};
  };
  auto flat = [](const auto& m) { return std::vector<double>(m.data(), m.data() + m.size()); };
  for (std::size_t k = 0; k < data.size(); ++k) {
    const auto& smp = data[k];
    const auto& r = results[k];
    const double n = static_cast<double>(smp.structure.size()), v = volume(smp.structure);
    std::string source;
    for (const auto& [key, value] : smp.features)
      if (key == "source") source = value;
    std::vector<int> counts(static_cast<std::size_t>(species), 0);
    for (int t : smp.structure.species) ++counts[static_cast<std::size_t>(t)];
    nlohmann::json j = {{"source", source},           {"atoms", smp.structure.size()}, {"species_counts", counts},
                        {"energy", r.mean.energy / n}, {"energy_std", r.energy_std / n}, {"forces", flat(r.mean.forces)},
                        {"stress", stress(r.mean.virial, v)}};
    j["energy_dft"] = smp.energy ? nlohmann::json(*smp.energy / n) : nlohmann::json();
    j["forces_dft"] = smp.forces ? nlohmann::json(flat(*smp.forces)) : nlohmann::json();
    j["stress_dft"] = smp.virial ? nlohmann::json(stress(*smp.virial, v)) : nlohmann::json();
    if (r.mean.dE_dm.size()) j["dE_dm"] = flat(r.mean.dE_dm);
    j["dE_dm_dft"] = smp.dE_dm ? nlohmann::json(flat(*smp.dE_dm)) : nlohmann::json();
    out.push_back(j);
  }
  return out;
}

}  // namespace

std::string report_json(const FitSummary& s) {
  nlohmann::json report = {{"command", s.command},
                           {"species", s.species},
                           {"train_structures", s.train ? s.train->size() : 0},
                           {"valid_structures", s.valid ? s.valid->size() : 0},
                           {"committee_alpha", s.calibration.alpha},
                           {"committee_floor", s.calibration.floor},
                           {"members", nlohmann::json::array()}};
  for (std::size_t k = 0; k < s.members.size(); ++k) {
    const auto& r = s.members[k];
    report["members"].push_back({{"file", k < s.member_files.size() ? s.member_files[k] : ""},
                                 {"seed", s.first_seed + k},
                                 {"loss", r.loss},
                                 {"initial_loss", r.initial_loss},
                                 {"evaluations", r.evaluations},
                                 {"seconds", r.seconds},
                                 {"seconds_per_evaluation", r.evaluations ? r.seconds / r.evaluations : 0.0},
                                 {"stop", r.stop}});
  }
  const int species = static_cast<int>(s.species.size());
  for (const auto& [name, set, results] :
       {std::tuple<std::string, const std::vector<Sample>*, const std::vector<EnsembleResult>*>{"train", s.train, &s.train_results},
        {"valid", s.valid, &s.valid_results}}) {
    if (!set || set->empty()) continue;
    const Calibration c = check_calibration(*results, *set, s.calibration.alpha, s.calibration.floor);
    nlohmann::json part = {{"mean", to_json(errors(*results, *set, -1))},
                           {"members", nlohmann::json::array()},
                           {"calibration",
                            {{"alpha", c.alpha}, {"floor", c.floor}, {"spearman", c.spearman}, {"within_2sigma", c.within_2sigma}}},
                           {"structures", structures(*results, *set, species)}};
    for (std::size_t k = 0; k < s.members.size(); ++k) part["members"].push_back(to_json(errors(*results, *set, static_cast<int>(k))));
    report[name] = part;
  }
  return report.dump(2) + "\n";
}

FitSummary fit_committee(const std::vector<MtpParameters>& starts, const std::vector<Sample>& train,
                         const std::vector<Sample>& valid, const EnsembleOptions& options, const std::string& prefix,
                         std::vector<std::string> command, const std::function<void(int, const TrainProgress&)>& progress) {
  FitSummary s;
  s.command = std::move(command);
  s.species = starts.front().species_names;
  s.members = train_ensemble(starts, train, options, progress);
  s.first_seed = options.train.seed;
  s.train = &train;
  s.valid = &valid;
  std::vector<MagneticMtp> members;
  for (const auto& r : s.members) members.emplace_back(r.params);
  const Ensemble committee(members);  // α = 1: the raw spread is calibrated below
  for (const auto& x : train) s.train_results.push_back(committee.evaluate(x.structure, options.train.mode));
  for (const auto& x : valid) s.valid_results.push_back(committee.evaluate(x.structure, options.train.mode));
  const bool on_valid = valid.size() >= 3;
  if (s.members.size() > 1 && (on_valid || train.size() >= 3))
    s.calibration = calibrate(on_valid ? s.valid_results : s.train_results, on_valid ? valid : train);
  for (std::size_t k = 0; k < s.members.size(); ++k) {
    MtpParameters p = s.members[k].params;
    p.committee_alpha = s.members.size() > 1 ? s.calibration.alpha : 0.0;
    p.committee_floor = s.members.size() > 1 ? s.calibration.floor : 0.0;
    s.member_files.push_back(member_path(prefix, static_cast<int>(k)));
    io::write_mtp(s.member_files.back(), p);
  }
  io::write_atomically(prefix + ".report.json", [&](std::ostream& os) { os << report_json(s); });
  return s;
}

}  // namespace mmtp::fit
