#include "mmtp/active_learning.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mmtp/error.hpp"
#include "mmtp/io/ensemble.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/io/samples.hpp"
#include "mmtp/io/text.hpp"
#include "mmtp/moment_basis.hpp"

namespace mmtp::learn {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// Candidates as extxyz samples: structure, origin and stds in the info line, and back.
std::vector<Sample> as_samples(const std::vector<Candidate>& cands) {
  std::vector<Sample> out;
  for (const auto& c : cands) {
    Sample s;
    s.structure = c.structure;
    s.features = {{"origin", c.origin},
                  {"energy_std", fmt::format("{:.9g}", c.energy_std)},
                  {"force_std", fmt::format("{:.9g}", c.force_std)},
                  {"dE_dm_std", fmt::format("{:.9g}", c.dE_dm_std)}};
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Candidate> as_candidates(const std::vector<Sample>& samples) {
  std::vector<Candidate> out;
  for (const auto& s : samples) {
    Candidate c;
    c.structure = s.structure;
    for (const auto& [k, v] : s.features) {
      if (k == "origin") c.origin = v;
      if (k == "energy_std") c.energy_std = std::stod(v);
      if (k == "force_std") c.force_std = std::stod(v);
      if (k == "dE_dm_std") c.dE_dm_std = std::stod(v);
    }
    out.push_back(std::move(c));
  }
  return out;
}

class Loop {
 public:
  Loop(fs::path dir, const LoopOptions& o, const std::function<std::vector<Sample>()>& initial, const std::vector<Sample>& heldout,
       const Labeller& label, const std::function<void(const std::string&)>& log,
       const std::function<void(const fs::path&)>& reported)
      : dir_(std::move(dir)), o_(o), initial_(initial), heldout_(heldout), label_(label), log_(log), reported_(reported) {
    if (o_.fit.species.empty()) throw InputError("active learning needs the species");
    if (o_.iterations < 0) throw InputError("the number of iterations must be >= 0");
    o_.select.validate();
  }

  bool run() {
    json history = json::array();
    for (int it = 0;; ++it) {
      const fs::path d = dir_ / fmt::format("iter-{:02d}", it);
      fs::create_directories(d);
      const auto data = training_data(it);
      const Ensemble committee = fit(d, data, it);
      json summary = assess(d, committee, data, it);
      if (it == o_.iterations) {
        summary["final"] = true;
        history.push_back(summary);
        write_report(history);
        log_(fmt::format("done: {} iterations; the committee is {}", it, (dir_ / "potential").string()));
        return true;
      }
      const auto selected = select(d, committee, data, summary);
      history.push_back(summary);
      write_report(history);
      if (!label(d, it, selected)) return false;
    }
  }

 private:
  /// The starting data plus every label of earlier iterations.
  std::vector<Sample> training_data(int it) {
    auto data = initial_();
    for (int k = 0; k < it; ++k) {
      const fs::path l = dir_ / fmt::format("iter-{:02d}", k) / "labelled.xyz";
      if (fs::exists(l) && fs::file_size(l) > 0) {
        auto more = io::read_samples(l.string(), o_.fit.species);
        data.insert(data.end(), more.begin(), more.end());
      }
    }
    return data;
  }

  Ensemble fit(const fs::path& d, const std::vector<Sample>& all, int it) {
    const fs::path pot = d / "fit";
    fs::create_directories(pot);
    const std::string prefix = (pot / "pot").string();
    if (!fs::exists(prefix + ".report.json")) {
      auto split = fit::split_validation(all, o_.fit.valid_fraction, o_.fit.split_seed(),
                                         static_cast<int>(o_.fit.species.size()));
      fit::FitRequest r = o_.fit;
      fit::EnsembleOptions& fo = r.ensemble;
      fo.checkpoint_prefix = prefix;
      fo.train.checkpoint_every = 200;
      fo.resume = true;
      if (it > 0 && o_.warm_start) {
        r.templates = fit::member_paths((dir_ / fmt::format("iter-{:02d}", it - 1) / "fit" / "pot").string(), fo.members);
        fo.train.max_iter = o_.refit_max_iter;
      }
      const std::vector<MtpParameters> starts = fit::starting_potentials(r, split.train);
      log_(fmt::format("iteration {}: fitting {} members on {} structures ({} for calibration)", it, fo.members,
                       split.train.size(), split.valid.size()));
      // Members first, the report last: the report marks the fit done.
      fit::fit_committee(starts, split.train, split.valid, fo, prefix, {"mmtp-learn", dir_.string(), fmt::format("iteration {}", it)});
      for (int k = 0; k < fo.members; ++k) {
        fs::remove(fit::checkpoint_path(prefix, k));
        fs::remove(fit::checkpoint_state_path(fit::checkpoint_path(prefix, k)));
      }
    }
    return io::read_ensemble(fit::member_paths(prefix, o_.fit.ensemble.members));
  }

  /// Held-out errors and calibration, ground states, data size: the iteration's summary.
  json assess(const fs::path& d, const Ensemble& committee, const std::vector<Sample>& data, int it) {
    std::ifstream rin((d / "fit" / "pot.report.json").string());
    const json report = json::parse(rin);
    json s = {{"iteration", it}, {"structures", data.size()}, {"committee_alpha", committee.committee_alpha()},
              {"committee_floor_meV_per_atom", 1000 * committee.committee_floor()},
              {"train", report["train"]["mean"]}};
    if (report.contains("valid")) s["validation"] = report["valid"]["mean"];
    if (!heldout_.empty()) {
      std::vector<EnsembleResult> results;
      for (const auto& h : heldout_) results.push_back(committee.evaluate(h.structure));
      const auto e = fit::errors(results, heldout_);
      const auto cal = fit::check_calibration(results, heldout_, 1.0);  // the committee's stds are calibrated already
      s["heldout"] = {{"structures", heldout_.size()},
                      {"energy_rmse_meV_per_atom", 1000 * e.energy_rmse},
                      {"force_rmse_eV_per_A", e.force_rmse},
                      {"dE_dm_rmse_eV_per_muB", e.dE_dm_rmse},
                      {"spearman_std_error", cal.spearman},
                      {"within_2sigma", cal.within_2sigma}};
    }
    json gs = json::array();
    for (const auto& ref : o_.references) {
      RelaxOptions ro;
      ro.cell = CellMode::full;
      ro.fmax = 1e-3, ro.mmax = 1e-3, ro.smax = 1e-5;
      ro.stop_on_extrapolation = false;
      const auto rep = relax(committee, ref.start, ro);
      const auto& f = rep.structure;
      double m = 0;
      int n = 0;
      for (Index i = 0; i < f.size(); ++i)
        if (f.species[i] == ref.type) m += std::abs(f.magmoms[i]), ++n;
      gs.push_back({{"structure", ref.name},
                    {"status", to_string(rep.status)},
                    {"a", std::cbrt(2.0 * volume(f) / static_cast<double>(f.size()))},
                    {"a_reference", ref.a},
                    {"m", n ? m / n : 0.0},
                    {"m_reference", ref.m},
                    {"energy_std_per_atom", rep.result.energy_std / static_cast<double>(f.size())}});
    }
    if (!gs.empty()) s["ground_states"] = gs;
    return s;
  }

  /// Explores (once), selects (once) and adds the pool's and the selection's sizes and the
  /// pool's largest and median committee stds to `summary`.
  std::vector<Candidate> select(const fs::path& d, const Ensemble& committee, const std::vector<Sample>& data, json& summary) {
    const fs::path cands = d / "candidates.xyz", chosen = d / "selected.xyz";
    if (!fs::exists(cands)) {
      const auto pool = explore(committee, o_.explore);
      io::write_samples(cands.string(), as_samples(pool), o_.fit.species);
      log_(fmt::format("explored {} structures", pool.size()));
    }
    // As read back, so that a resumed run selects from exactly what was written.
    const auto pool = as_candidates(io::read_samples(cands.string(), o_.fit.species));
    if (!fs::exists(chosen)) {
      std::vector<Structure> known;
      for (const auto& s : data) known.push_back(s.structure);
      SelectOptions so = o_.select;
      if (so.min_pair_distance == 0) {
        so.min_pair_distance = std::numeric_limits<double>::infinity();
        for (const auto& m : committee.members()) so.min_pair_distance = std::min(so.min_pair_distance, m.parameters().min_dist);
      }
      const auto picked = learn::select(pool, known, so, static_cast<int>(o_.fit.species.size()), committee.cutoff());
      io::write_samples(chosen.string(), as_samples(picked), o_.fit.species);
      log_(fmt::format("selected {} of {} candidates", picked.size(), pool.size()));
    }
    auto selected = as_candidates(io::read_samples(chosen.string(), o_.fit.species));
    summary["selected"] = selected.size();
    summary["candidates"] = pool.size();
    if (!pool.empty()) {
      auto largest_and_median = [&](double Candidate::*std) {
        std::vector<double> v;
        for (const auto& c : pool) v.push_back(c.*std);
        std::sort(v.begin(), v.end());
        const std::size_t n = v.size();
        return std::pair{v.back(), n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2])};
      };
      const auto [e_max, e_med] = largest_and_median(&Candidate::energy_std);
      const auto [f_max, f_med] = largest_and_median(&Candidate::force_std);
      const auto [m_max, m_med] = largest_and_median(&Candidate::dE_dm_std);
      summary["candidate_std"] = {{"energy_max_meV_per_atom", 1000 * e_max}, {"energy_median_meV_per_atom", 1000 * e_med},
                                  {"force_max_eV_per_A", f_max},         {"force_median_eV_per_A", f_med},
                                  {"dE_dm_max_eV_per_muB", m_max},       {"dE_dm_median_eV_per_muB", m_med}};
    }
    return selected;
  }

  bool label(const fs::path& d, int it, const std::vector<Candidate>& selected) {
    const fs::path out = d / "labelled.xyz";
    if (fs::exists(out)) return true;
    std::vector<Sample> labelled;
    if (!selected.empty()) {
      auto got = label_(d, it, selected);
      if (!got) return false;
      labelled = std::move(*got);
    }
    io::write_samples(out.string(), labelled, o_.fit.species);
    log_(fmt::format("iteration {}: {} of {} structures labelled", it, labelled.size(), selected.size()));
    return true;
  }

  void write_report(const json& history) {
    io::write_atomically((dir_ / "report.json").string(), [&](std::ostream& os) { os << history.dump(2) << '\n'; });
    // The committee of the newest fit: DIR/potential/pot.K.mtp and its report.
    const fs::path src = dir_ / fmt::format("iter-{:02d}", history.back()["iteration"].get<int>()) / "fit", dst = dir_ / "potential";
    fs::create_directories(dst);
    for (const auto& e : fs::directory_iterator(src))
      if (e.path().extension() == ".mtp" || e.path().filename() == "pot.report.json")
        fs::copy_file(e.path(), dst / e.path().filename(), fs::copy_options::overwrite_existing);
    if (reported_) reported_(dir_ / "report.json");
  }

  fs::path dir_;
  LoopOptions o_;
  const std::function<std::vector<Sample>()>& initial_;
  const std::vector<Sample>& heldout_;
  const Labeller& label_;
  const std::function<void(const std::string&)>& log_;
  const std::function<void(const fs::path&)>& reported_;
};

}  // namespace

std::vector<Candidate> explore(const Ensemble& committee, const Tasks& t) {
  std::vector<Candidate> pool;
  auto add = [&](std::vector<Candidate> more) { pool.insert(pool.end(), more.begin(), more.end()); };
  for (const auto& r : t.relax)
    for (CellMode cell : r.cells) add(explore_relax(committee, r.start, cell, t.relax_steps, t.record_every, r.name));
  for (const auto& s : t.scans)
    add(s.moment ? explore_moment_scan(committee, s.start, s.type, s.from, s.to, s.points, s.name)
                 : explore_volume_scan(committee, s.start, s.from, s.to, s.points, s.name));
  for (const auto& m : t.md) add(explore_md(committee, m.start, m.md, m.name));
  for (const auto& g : t.given)
    for (std::size_t k = 0; k < g.structures.size(); ++k)
      pool.push_back(assess(g.structures[k], committee.evaluate(g.structures[k]), fmt::format("{}, record {}", g.name, k + 1)));
  return pool;
}

bool run(const fs::path& dir, const LoopOptions& options, const std::function<std::vector<Sample>()>& initial,
         const std::vector<Sample>& heldout, const Labeller& label, const std::function<void(const std::string&)>& log,
         const std::function<void(const fs::path&)>& reported) {
  return Loop(dir, options, initial, heldout, label, log, reported).run();
}

}  // namespace mmtp::learn
