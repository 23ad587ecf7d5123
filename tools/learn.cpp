// mmtp-learn: active learning of a magnetic MTP committee with constrained DFT (ABINIT).
// The loop (fit → explore → select → label, repeated) keeps all its state in one directory;
// each step writes its result atomically and is skipped when the result is there, so a killed
// run continues where it stopped. Exploration and selection are the library's (mmtp/learn.hpp),
// fits are fit::train_ensemble, labels come from tools/abinit-cdft.
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli.hpp"
#include "mmtp/error.hpp"
#include "mmtp/fit/committee.hpp"
#include "mmtp/io/abinit.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/io/samples.hpp"
#include "mmtp/io/text.hpp"
#include "mmtp/ipi/wire.hpp"
#include "mmtp/learn.hpp"
#include "mmtp/moment_basis.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// Everything the config file says (keys as in README: mmtp-learn).
struct Config {
  std::string species, mmax;
  std::vector<std::string> train, heldout;
  double valid_fraction = 0.15;
  int level = 16, iterations = 3;
  mmtp::fit::BasisOptions basis;
  mmtp::fit::EnsembleOptions fit;
  int refit_max_iter = 1000;
  bool warm_start = true;
  std::vector<std::string> relax, md, volume_scan, moment_scan, ipi_active, reference;
  std::string masses;
  int relax_steps = 200, record_every = 5;
  mmtp::learn::SelectOptions select;
  std::string label_mode = "run", label_template, abinit_cdft, label_command;
  int label_np = 1, poll_seconds = 60;
};

std::string resolve(const fs::path& base, const std::string& p) { return fs::path(p).is_absolute() ? p : (base / p).string(); }

/// Reads the config; relative paths in it are relative to `base`.
Config read_config(const std::string& path, const fs::path& base) {
  Config c;
  po::options_description o;
  o.add_options()("species", po::value(&c.species)->required())("train", po::value(&c.train)->required())(
      "heldout", po::value(&c.heldout))("valid-fraction", po::value(&c.valid_fraction))("level", po::value(&c.level))(
      "iterations", po::value(&c.iterations))("rmin", po::value(&c.basis.rmin))("rcut", po::value(&c.basis.rcut))(
      "radial-basis-size", po::value(&c.basis.radial_basis_size))("magnetic-basis-size", po::value(&c.basis.magnetic_basis_size))(
      "mmax", po::value(&c.mmax))("ensemble", po::value(&c.fit.members))("seed", po::value(&c.fit.train.seed))(
      "bootstrap", po::value(&c.fit.bootstrap))("max-iter", po::value(&c.fit.train.max_iter))(
      "refit-max-iter", po::value(&c.refit_max_iter))("warm-start", po::value(&c.warm_start))(
      "w-energy", po::value(&c.fit.train.weights.energy))("w-force", po::value(&c.fit.train.weights.force))(
      "w-stress", po::value(&c.fit.train.weights.stress))("w-magnetic", po::value(&c.fit.train.weights.magnetic))(
      "l2", po::value(&c.fit.train.weights.l2))("init-scale", po::value(&c.fit.train.init_scale))(
      "explore.relax", po::value(&c.relax))("explore.md", po::value(&c.md))("explore.volume-scan", po::value(&c.volume_scan))(
      "explore.moment-scan", po::value(&c.moment_scan))("explore.ipi-active", po::value(&c.ipi_active))(
      "explore.masses", po::value(&c.masses))("explore.relax-steps", po::value(&c.relax_steps))(
      "explore.record-every", po::value(&c.record_every))("select.energy-std", po::value(&c.select.energy_std))(
      "select.force-std", po::value(&c.select.force_std))("select.dE-dm-std", po::value(&c.select.dE_dm_std))(
      "select.max", po::value(&c.select.max_candidates))("select.max-per-task", po::value(&c.select.max_per_task))("select.min-distance", po::value(&c.select.min_distance))(
      "select.max-atoms", po::value(&c.select.max_atoms))("label.mode", po::value(&c.label_mode))(
      "label.template", po::value(&c.label_template))("label.abinit-cdft", po::value(&c.abinit_cdft))(
      "label.command", po::value(&c.label_command))("label.np", po::value(&c.label_np))("label.poll-seconds", po::value(&c.poll_seconds))(
      "report.reference", po::value(&c.reference));
  std::ifstream in(path);
  if (!in) throw mmtp::Error(fmt::format("{}: cannot read the config file", path));
  po::variables_map vm;
  try {
    po::store(po::parse_config_file(in, o), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw mmtp::Error(fmt::format("{}: {}", path, e.what()));
  }
  for (auto* list : {&c.train, &c.heldout}) for (auto& f : *list) f = resolve(base, f);
  if (!c.label_template.empty()) c.label_template = resolve(base, c.label_template);
  // Task lines start with a file name, relative to the config file.
  for (auto* list : {&c.relax, &c.md, &c.volume_scan, &c.moment_scan, &c.ipi_active, &c.reference})
    for (auto& line : *list) {
      std::istringstream ls(line);
      std::string file, rest;
      ls >> file;
      std::getline(ls, rest);
      line = resolve(base, file) + rest;
    }
  if (c.label_mode != "run" && c.label_mode != "external" && c.label_mode != "command")
    throw mmtp::Error(fmt::format("{}: label.mode '{}' is not run, external or command", path, c.label_mode));
  if (c.label_mode == "command" && c.label_command.find("{labelled}") == std::string::npos)
    throw mmtp::Error(fmt::format("{}: label.command must write {{labelled}} (and may read {{selected}})", path));
  return c;
}

/// Whitespace-separated words of a task line.
std::vector<std::string> words(const std::string& line) {
  std::istringstream s(line);
  std::vector<std::string> out;
  for (std::string w; s >> w;) out.push_back(w);
  return out;
}

double number(const std::string& s, const std::string& what) {
  try {
    std::size_t used = 0;
    const double v = std::stod(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  throw mmtp::Error(fmt::format("{}: '{}' is not a number", what, s));
}

mmtp::Structure first_structure(const std::string& path, const std::vector<std::string>& names) {
  return mmtp::io::read_samples(path, names).front().structure;
}

/// Candidates as extxyz samples: structure, origin and stds in the info line.
std::vector<mmtp::Sample> as_samples(const std::vector<mmtp::learn::Candidate>& cands) {
  std::vector<mmtp::Sample> out;
  for (const auto& c : cands) {
    mmtp::Sample s;
    s.structure = c.structure;
    s.features = {{"origin", c.origin},
                  {"energy_std", fmt::format("{:.9g}", c.energy_std)},
                  {"force_std", fmt::format("{:.9g}", c.force_std)},
                  {"dE_dm_std", fmt::format("{:.9g}", c.dE_dm_std)}};
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<mmtp::learn::Candidate> as_candidates(const std::vector<mmtp::Sample>& samples) {
  std::vector<mmtp::learn::Candidate> out;
  for (const auto& s : samples) {
    mmtp::learn::Candidate c;
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

/// tools/abinit-cdft: beside this program's source tree, next to the installed program, or on PATH.
std::string find_abinit_cdft(const std::string& configured, const char* argv0) {
  if (!configured.empty()) return configured;
  std::error_code ec;
  const fs::path self = fs::canonical("/proc/self/exe", ec);
  for (const fs::path& p : {self.parent_path() / "../../tools/abinit-cdft", self.parent_path() / "abinit-cdft"})
    if (fs::exists(p)) return fs::canonical(p).string();
  (void)argv0;
  return "abinit-cdft";
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

class Learner {
 public:
  Learner(fs::path dir, Config c, std::string abinit_cdft) : dir_(std::move(dir)), c_(std::move(c)), abinit_cdft_(std::move(abinit_cdft)) {
    names_ = mmtp::io::split_list(c_.species, "species");
    if (names_.empty()) throw mmtp::Error("species: no elements given");
  }

  int run() {
    json history = json::array();
    for (int it = 0;; ++it) {
      const fs::path d = dir_ / fmt::format("iter-{:02d}", it);
      fs::create_directories(d);
      auto data = training_data(it);
      const mmtp::Ensemble committee = fit(d, data, it);
      json summary = assess(d, committee, data, it);
      if (it == c_.iterations) {
        summary["final"] = true;
        history.push_back(summary);
        write_report(history);
        fmt::print("mmtp-learn: done: {} iterations; the committee is {}/potential/\n", it, dir_.string());
        return 0;
      }
      const auto selected = select(d, committee, data);
      summary["selected"] = selected.size();
      history.push_back(summary);
      write_report(history);
      if (!label(d, it, selected.size())) return 3;  // waiting for external labels
    }
  }

 private:
  /// The starting data plus every label of earlier iterations.
  std::vector<mmtp::Sample> training_data(int it) {
    auto data = mmtp::cli::load_labelled(c_.train, names_, false, "mmtp-learn");
    for (int k = 0; k < it; ++k) {
      const fs::path l = dir_ / fmt::format("iter-{:02d}", k) / "labelled.xyz";
      if (fs::exists(l) && fs::file_size(l) > 0) {
        auto more = mmtp::io::read_samples(l.string(), names_);
        data.insert(data.end(), more.begin(), more.end());
      }
    }
    return data;
  }

  mmtp::Ensemble fit(const fs::path& d, const std::vector<mmtp::Sample>& all, int it) {
    const fs::path pot = d / "fit";
    fs::create_directories(pot);
    const std::string prefix = (pot / "pot").string(), report = prefix + ".report.json";
    if (!fs::exists(report)) {
      auto split = mmtp::fit::split_validation(all, c_.valid_fraction, c_.fit.train.seed, static_cast<int>(names_.size()));
      mmtp::fit::EnsembleOptions o = c_.fit;
      o.checkpoint_prefix = prefix;
      o.train.checkpoint_every = 200;
      o.resume = true;
      std::vector<mmtp::MtpParameters> starts;
      const fs::path previous = dir_ / fmt::format("iter-{:02d}", it - 1) / "fit";
      if (it > 0 && c_.warm_start) {
        for (int k = 0; k < o.members; ++k) starts.push_back(mmtp::io::read_mtp((previous / fmt::format("pot.{}.mtp", k)).string()));
        o.train.max_iter = c_.refit_max_iter;
      } else {
        c_.basis.moment_max = mmtp::cli::per_species_values(c_.mmax, names_, "mmax");
        starts.push_back(mmtp::fit::untrained_potential(mmtp::moment_tensor_basis(c_.level), names_, c_.basis, split.train));
      }
      fmt::print("mmtp-learn: iteration {}: fitting {} members on {} structures ({} for calibration)\n", it, o.members,
                 split.train.size(), split.valid.size());
      // The report is written last: it marks the fit done.
      mmtp::fit::fit_committee(starts, split.train, split.valid, o, prefix, {"mmtp-learn", dir_.string(), fmt::format("iteration {}", it)});
      for (int k = 0; k < o.members; ++k) {
        fs::remove(mmtp::fit::checkpoint_path(prefix, k));
        fs::remove(mmtp::fit::checkpoint_state_path(mmtp::fit::checkpoint_path(prefix, k)));
      }
    }
    std::vector<std::string> files;
    for (int k = 0; k < c_.fit.members; ++k) files.push_back(fmt::format("{}.{}.mtp", prefix, k));
    return mmtp::cli::load_ensemble(files, "");
  }

  /// Held-out errors and calibration, ground states, data size: the iteration's summary.
  json assess(const fs::path& d, const mmtp::Ensemble& committee, const std::vector<mmtp::Sample>& data, int it) {
    std::ifstream rin((d / "fit" / "pot.report.json").string());
    const json fit = json::parse(rin);
    json s = {{"iteration", it}, {"structures", data.size()}, {"committee_alpha", committee.committee_alpha()},
              {"train", fit["train"]["mean"]}};
    if (fit.contains("valid")) s["validation"] = fit["valid"]["mean"];
    if (!c_.heldout.empty()) {
      auto held = mmtp::cli::load_labelled(c_.heldout, names_, false, "mmtp-learn");
      std::vector<mmtp::EnsembleResult> results;
      for (const auto& h : held) results.push_back(committee.evaluate(h.structure));
      const auto e = mmtp::fit::errors(results, held);
      const auto cal = mmtp::fit::check_calibration(results, held, committee.committee_alpha());
      s["heldout"] = {{"structures", held.size()},
                      {"energy_rmse_meV_per_atom", 1000 * e.energy_rmse},
                      {"force_rmse_eV_per_A", e.force_rmse},
                      {"dE_dm_rmse_eV_per_muB", e.dE_dm_rmse},
                      {"spearman_std_error", cal.spearman},
                      {"within_2sigma", cal.within_2sigma}};
    }
    // Ground states: "FILE a m [SPECIES]" – relaxed (cell full, moments) and compared with a
    // reference lattice parameter a = (2V/N)^(1/3) [Å] and mean |m| of SPECIES (default the first) [μB].
    json gs = json::array();
    for (const auto& line : c_.reference) {
      const auto w = words(line);
      if (w.size() < 3) throw mmtp::Error(fmt::format("report.reference '{}': expected FILE a m [SPECIES]", line));
      mmtp::RelaxOptions o;
      o.cell = mmtp::CellMode::full;
      o.fmax = 1e-3, o.mmax = 1e-3, o.smax = 1e-5;
      o.stop_on_extrapolation = false;
      const auto rep = mmtp::relax(committee, first_structure(w[0], names_), o);
      const auto& f = rep.structure;
      const int type = w.size() > 3 ? committee.members().front().parameters().type_of(w[3]) : 0;
      double m = 0;
      int n = 0;
      for (mmtp::Index i = 0; i < f.size(); ++i)
        if (f.species[i] == type) m += std::abs(f.magmoms[i]), ++n;
      const double a = std::cbrt(2.0 * mmtp::volume(f) / static_cast<double>(f.size()));
      gs.push_back({{"structure", fs::path(w[0]).filename().string()},
                    {"status", mmtp::to_string(rep.status)},
                    {"a", a},
                    {"a_reference", number(w[1], "reference a")},
                    {"m", n ? m / n : 0.0},
                    {"m_reference", number(w[2], "reference m")},
                    {"energy_std_per_atom", rep.result.energy_std / static_cast<double>(f.size())}});
    }
    if (!gs.empty()) s["ground_states"] = gs;
    return s;
  }

  std::vector<mmtp::learn::Candidate> explore(const mmtp::Ensemble& committee) {
    std::vector<mmtp::learn::Candidate> pool;
    auto add = [&](std::vector<mmtp::learn::Candidate> more) { pool.insert(pool.end(), more.begin(), more.end()); };
    for (const auto& line : c_.relax) {  // FILE [none|hydrostatic|full ...]
      const auto w = words(line);
      const auto s = first_structure(w[0], names_);
      std::vector<std::string> cells(w.begin() + 1, w.end());
      if (cells.empty()) cells = {"full"};
      for (const auto& cell : cells) {
        const mmtp::CellMode mode = cell == "none" ? mmtp::CellMode::none
                                    : cell == "hydrostatic" ? mmtp::CellMode::hydrostatic
                                    : cell == "full" ? mmtp::CellMode::full
                                    : throw mmtp::Error(fmt::format("explore.relax: cell mode '{}'", cell));
        add(mmtp::learn::explore_relax(committee, s, mode, c_.relax_steps, c_.record_every, fs::path(w[0]).filename().string()));
      }
    }
    for (const auto& line : c_.volume_scan) {  // FILE FROM TO POINTS
      const auto w = words(line);
      if (w.size() != 4) throw mmtp::Error(fmt::format("explore.volume-scan '{}': expected FILE FROM TO POINTS", line));
      add(mmtp::learn::explore_volume_scan(committee, first_structure(w[0], names_), number(w[1], "from"), number(w[2], "to"),
                                           static_cast<int>(number(w[3], "points")), fs::path(w[0]).filename().string()));
    }
    for (const auto& line : c_.moment_scan) {  // FILE SPECIES FROM TO POINTS
      const auto w = words(line);
      if (w.size() != 5) throw mmtp::Error(fmt::format("explore.moment-scan '{}': expected FILE SPECIES FROM TO POINTS", line));
      const int type = committee.members().front().parameters().type_of(w[1]);
      add(mmtp::learn::explore_moment_scan(committee, first_structure(w[0], names_), type, number(w[2], "from"),
                                           number(w[3], "to"), static_cast<int>(number(w[4], "points")),
                                           fs::path(w[0]).filename().string()));
    }
    for (const auto& line : c_.md) {  // FILE TEMPERATURE STEPS EVERY
      const auto w = words(line);
      if (w.size() != 4) throw mmtp::Error(fmt::format("explore.md '{}': expected FILE TEMPERATURE STEPS EVERY", line));
      mmtp::learn::MdOptions o;
      o.temperature = number(w[1], "temperature");
      o.steps = static_cast<int>(number(w[2], "steps"));
      o.every = static_cast<int>(number(w[3], "every"));
      o.masses = mmtp::cli::per_species_values(c_.masses, names_, "explore.masses");
      o.seed = c_.fit.train.seed + static_cast<unsigned>(pool.size());
      add(mmtp::learn::explore_md(committee, first_structure(w[0], names_), o, fs::path(w[0]).filename().string()));
    }
    for (const auto& line : c_.ipi_active) {  // JSONFILE TEMPLATE
      const auto w = words(line);
      if (w.size() != 2) throw mmtp::Error(fmt::format("explore.ipi-active '{}': expected ACTIVE_OUTPUT TEMPLATE", line));
      std::ifstream in(w[0]);
      if (!in) throw mmtp::Error(fmt::format("{}: cannot read", w[0]));
      std::stringstream text;
      text << in.rdbuf();
      int k = 0;
      for (auto& r : mmtp::ipi::wire::read_active_output(text.str(), first_structure(w[1], names_), w[0]))
        pool.push_back(mmtp::learn::assess(r.structure, committee.evaluate(r.structure),
                                           fmt::format("i-PI active_output {}, record {}", fs::path(w[0]).filename().string(), ++k)));
    }
    return pool;
  }

  std::vector<mmtp::learn::Candidate> select(const fs::path& d, const mmtp::Ensemble& committee,
                                             const std::vector<mmtp::Sample>& data) {
    const fs::path cands = d / "candidates.xyz", chosen = d / "selected.xyz";
    if (!fs::exists(cands)) {
      const auto pool = explore(committee);
      mmtp::io::write_samples(cands.string(), as_samples(pool), names_);
      fmt::print("mmtp-learn: explored {} structures\n", pool.size());
    }
    if (!fs::exists(chosen)) {
      std::vector<mmtp::Structure> known;
      for (const auto& s : data) known.push_back(s.structure);
      const auto pool = as_candidates(mmtp::io::read_samples(cands.string(), names_));
      const auto picked = mmtp::learn::select(pool, known, c_.select, static_cast<int>(names_.size()), committee.cutoff());
      mmtp::io::write_samples(chosen.string(), as_samples(picked), names_);
      fmt::print("mmtp-learn: selected {} of {} candidates\n", picked.size(), pool.size());
    }
    return as_candidates(mmtp::io::read_samples(chosen.string(), names_));
  }

  /// Labels the selected structures; returns false when waiting for external runs.
  bool label(const fs::path& d, int it, std::size_t count) {
    const fs::path out = d / "labelled.xyz", runs = d / "abinit";
    if (fs::exists(out)) return true;
    std::vector<std::string> abo;
    if (count > 0 && c_.label_mode == "command") {
      // Any labeller: it reads {selected} (extxyz) and writes {labelled} (extxyz or cfg with labels).
      const std::string tmp = (d / "labelled.command.xyz").string();
      std::string cmd = c_.label_command;
      for (const auto& [key, value] : {std::pair<std::string, std::string>{"{selected}", (d / "selected.xyz").string()}, {"{labelled}", tmp}})
        for (auto at = cmd.find(key); at != std::string::npos; at = cmd.find(key)) cmd.replace(at, key.size(), quote(value));
      fmt::print("mmtp-learn: labelling {} structures: {}\n", count, cmd);
      std::fflush(stdout);
      if (const int rc = std::system(cmd.c_str()); rc != 0) throw mmtp::Error(fmt::format("label.command failed (status {}): {}", rc, cmd));
      std::vector<std::string> warnings, names = names_;
      const auto labelled = mmtp::io::read_labelled({tmp}, names, mmtp::io::AbinitOptions{}, warnings);
      mmtp::io::write_samples(out.string(), labelled, names_);
      fs::remove(tmp);
      fmt::print("mmtp-learn: iteration {}: {} of {} structures labelled\n", it, labelled.size(), count);
      return true;
    }
    if (count > 0) {
      if (c_.label_template.empty()) throw mmtp::Error("label.template: an ABINIT input whose settings the labels use is required");
      const std::string prefix = fmt::format("al{:02d}", it);
      std::string cmd = fmt::format("{} --out {} --label {} --template {} --prefix {} --np {}", quote(abinit_cdft_), quote(runs.string()),
                                    quote((d / "selected.xyz").string()), quote(c_.label_template), prefix, c_.label_np);
      if (c_.label_mode == "external") cmd += " --dry-run";
      fmt::print("mmtp-learn: labelling {} structures: {}\n", count, cmd);
      std::fflush(stdout);
      const int rc = std::system(cmd.c_str());
      if (rc != 0 && c_.label_mode == "external") throw mmtp::Error(fmt::format("'{}' failed (status {})", cmd, rc));
      for (std::size_t k = 0; k < count; ++k) {
        const std::string name = fmt::format("{}-{:03d}", prefix, k);
        abo.push_back((runs / name / (name + ".abo")).string());
      }
      if (c_.label_mode == "external") {
        // Wait for the .abo files the user's cluster writes ("Calculation completed.").
        auto finished = [&] {
          std::size_t n = 0;
          for (const auto& f : abo) {
            std::ifstream in(f);
            std::stringstream t;
            t << in.rdbuf();
            n += t.str().find("Calculation completed.") != std::string::npos;
          }
          return n;
        };
        for (std::size_t n = finished(); n < abo.size(); n = finished()) {
          fmt::print("mmtp-learn: {} of {} ABINIT outputs in {}; waiting (inputs: */*.abi there)\n", n, abo.size(), runs.string());
          std::fflush(stdout);
          if (c_.poll_seconds <= 0) return false;
          std::this_thread::sleep_for(std::chrono::seconds(c_.poll_seconds));
        }
      }
    }
    std::vector<std::string> present;
    for (const auto& f : abo)
      if (fs::exists(f)) present.push_back(f);
    std::vector<std::string> warnings;
    std::vector<std::string> names = names_;
    const auto labelled = present.empty() ? std::vector<mmtp::Sample>{}
                                          : mmtp::io::read_labelled(present, names, mmtp::io::AbinitOptions{}, warnings);
    for (const auto& w : warnings) fmt::print(stderr, "mmtp-learn: warning: {}\n", w);
    mmtp::io::write_samples(out.string(), labelled, names_);
    fmt::print("mmtp-learn: iteration {}: {} of {} structures labelled\n", it, labelled.size(), count);
    return true;
  }

  void write_report(const json& history) {
    mmtp::io::write_atomically((dir_ / "report.json").string(), [&](std::ostream& os) { os << history.dump(2) << '\n'; });
    // The committee of the newest fit, for users: DIR/potential/PREFIX.K.mtp and its report.
    const int last = history.back()["iteration"].get<int>();
    const fs::path src = dir_ / fmt::format("iter-{:02d}", last) / "fit", dst = dir_ / "potential";
    fs::create_directories(dst);
    for (const auto& e : fs::directory_iterator(src))
      if (e.path().extension() == ".mtp" || e.path().filename() == "pot.report.json")
        fs::copy_file(e.path(), dst / e.path().filename(), fs::copy_options::overwrite_existing);
  }

  fs::path dir_;
  Config c_;
  std::string abinit_cdft_;
  std::vector<std::string> names_;
};

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines appear as they happen, also in a log file
  return mmtp::cli::run("mmtp-learn", [&] {
    std::string dir, config;
    int threads = 0;
    po::options_description opts(
        "mmtp-learn DIR [--config learn.ini] [options]\n"
        "Active learning of a magnetic MTP committee with ABINIT constrained DFT. All state lives in DIR\n"
        "(DIR/learn.ini, one iter-NN/ per iteration, report.json, potential/); running the same command\n"
        "again continues where it stopped. Exit code 0: done; 3: waiting for external labels (label.mode =\n"
        "external with label.poll-seconds = 0). The config keys are listed in README (mmtp-learn). Options");
    opts.add_options()("help,h", "show this help")("dir", po::value(&dir)->required(), "state directory")(
        "config", po::value(&config), "config file, copied to DIR/learn.ini on the first run")(
        "threads", po::value(&threads)->default_value(0), "OpenMP threads");
    po::positional_options_description pos;
    pos.add("dir", 1);
    po::variables_map vm;
    if (!mmtp::cli::parse(mmtp::cli::arguments(argc, argv), opts, pos, vm)) return 0;
    mmtp::cli::set_threads(threads);
    fs::create_directories(dir);
    // DIR/learn.ini is the config's copy; its first line records the folder that relative
    // paths in it are relative to (the original config's).
    const fs::path ini = fs::path(dir) / "learn.ini";
    const std::string header = "# mmtp-learn config; relative paths are relative to ";
    if (!config.empty() && !fs::exists(ini)) {
      const fs::path base = fs::absolute(config).parent_path();
      read_config(config, base);  // check it before keeping it
      std::ifstream in(config);
      std::stringstream text;
      text << in.rdbuf();
      mmtp::io::write_atomically(ini.string(), [&](std::ostream& os) { os << header << base.string() << "\n" << text.str(); });
    }
    if (!fs::exists(ini)) throw mmtp::Error(fmt::format("{}: no learn.ini (give --config FILE on the first run)", dir));
    std::string first;
    std::getline(std::ifstream(ini), first);
    const fs::path base = first.rfind(header, 0) == 0 ? fs::path(first.substr(header.size())) : fs::absolute(dir);
    const Config c = read_config(ini.string(), base);
    Learner learner(fs::absolute(dir), c, find_abinit_cdft(c.abinit_cdft, argv[0]));
    return learner.run();
  });
}
