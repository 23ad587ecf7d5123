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
#include <sstream>
#include <thread>

#include "cli.hpp"
#include "mmtp/error.hpp"
#include "mmtp/io/abinit.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/io/samples.hpp"
#include "mmtp/io/text.hpp"
#include "mmtp/io/ipi_active.hpp"
#include "mmtp/active_learning.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

/// Everything the config file says (keys as in README: mmtp-learn).
struct Config {
  std::string species, mmax, fit_mmax, w_magnetic_species, weighting = mmtp::fit::weighting_name(mmtp::fit::Weights{}.weighting);
  std::vector<std::string> train, heldout;
  mmtp::learn::LoopOptions loop;  // fit keys map onto loop.fit (the library's FitRequest), with its defaults
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
  auto& f = c.loop.fit;
  o.add_options()("species", po::value(&c.species)->required())("train", po::value(&c.train)->required())(
      "heldout", po::value(&c.heldout))("valid-fraction", po::value(&f.valid_fraction))("valid-seed", po::value(&f.valid_seed))("level", po::value(&f.level))(
      "iterations", po::value(&c.loop.iterations))("rmin", po::value(&f.basis.rmin))("rcut", po::value(&f.basis.rcut))(
      "radial-basis-size", po::value(&f.basis.radial_basis_size))("magnetic-basis-size", po::value(&f.basis.magnetic_basis_size))(
      "mmax", po::value(&c.mmax))("fit-mmax", po::value(&c.fit_mmax))("ensemble", po::value(&f.ensemble.members))(
      "seed", po::value(&f.ensemble.train.seed))("bootstrap", po::value(&f.ensemble.bootstrap))(
      "max-iter", po::value(&f.ensemble.train.max_iter))("refit-max-iter", po::value(&c.loop.refit_max_iter))(
      "warm-start", po::value(&c.loop.warm_start))("w-energy", po::value(&f.ensemble.train.weights.energy))(
      "w-force", po::value(&f.ensemble.train.weights.force))("w-stress", po::value(&f.ensemble.train.weights.stress))(
      "w-magnetic", po::value(&f.ensemble.train.weights.magnetic))("w-magnetic-species", po::value(&c.w_magnetic_species))(
      "weighting", po::value(&c.weighting))(
      "l2", po::value(&f.ensemble.train.weights.l2))("init-scale", po::value(&f.ensemble.train.init_scale))(
      "explore.relax", po::value(&c.relax))("explore.md", po::value(&c.md))("explore.volume-scan", po::value(&c.volume_scan))(
      "explore.moment-scan", po::value(&c.moment_scan))("explore.ipi-active", po::value(&c.ipi_active))(
      "explore.masses", po::value(&c.masses))("explore.relax-steps", po::value(&c.relax_steps))(
      "explore.record-every", po::value(&c.record_every))("select.energy-std", po::value(&c.select.energy_std))(
      "select.force-std", po::value(&c.select.force_std))("select.dE-dm-std", po::value(&c.select.dE_dm_std))(
      "select.max", po::value(&c.select.max_candidates))("select.max-per-task", po::value(&c.select.max_per_task))("select.min-distance", po::value(&c.select.min_distance))(
      "select.max-atoms", po::value(&c.select.max_atoms))("select.min-pair-distance", po::value(&c.select.min_pair_distance))("label.mode", po::value(&c.label_mode))(
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


mmtp::Structure first_structure(const std::string& path, const std::vector<std::string>& names) {
  return mmtp::io::read_samples(path, names).front().structure;
}

/// A script of tools/ (abinit-cdft, learn-plot): next to this program (cmake --install puts
/// them there), else in the source tree it was built from (MMTP_TOOLS_SOURCE_DIR, set by CMake:
/// any build directory), else on PATH.
std::string find_tool(const std::string& name) {
  std::error_code ec;
  const fs::path self = fs::canonical("/proc/self/exe", ec);
  for (const fs::path& p : {self.parent_path() / name, fs::path(MMTP_TOOLS_SOURCE_DIR) / name})
    if (fs::exists(p)) return fs::canonical(p).string();
  return name;
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}


/// The config's task lines as the library's options (structures read here).
mmtp::learn::LoopOptions loop_options(const Config& c, const std::vector<std::string>& names) {
  mmtp::learn::LoopOptions o = c.loop;
  o.fit.species = names;
  o.fit.basis.moment_max = mmtp::io::per_species_values(c.mmax, names, "mmax");
  o.fit.ensemble.fit_moment_max = mmtp::io::per_species_values(c.fit_mmax, names, "fit-mmax");
  o.fit.ensemble.train.weights.magnetic_species = mmtp::io::per_species_values(c.w_magnetic_species, names, "w-magnetic-species", 1.0, false);
  o.fit.ensemble.train.weights.weighting = mmtp::fit::parse_weighting(c.weighting);
  o.select = c.select;
  o.explore.relax_steps = c.relax_steps;
  o.explore.record_every = c.record_every;
  auto type_of = [&](const std::string& el) {
    for (std::size_t t = 0; t < names.size(); ++t)
      if (names[t] == el) return static_cast<int>(t);
    throw mmtp::Error(fmt::format("species '{}' is not among {}", el, fmt::join(names, ",")));
  };
  auto name = [](const std::string& file) { return fs::path(file).filename().string(); };
  for (const auto& line : c.relax) {  // FILE [none|hydrostatic|full ...]
    const auto w = words(line);
    mmtp::learn::RelaxTask r{name(w[0]), first_structure(w[0], names), {}};
    for (std::size_t k = 1; k < w.size(); ++k) r.cells.push_back(mmtp::parse_cell_mode(w[k], "explore.relax: cell mode"));
    if (r.cells.empty()) r.cells = {mmtp::CellMode::full};
    o.explore.relax.push_back(std::move(r));
  }
  for (const auto& line : c.volume_scan) {  // FILE FROM TO POINTS
    const auto w = words(line);
    if (w.size() != 4) throw mmtp::Error(fmt::format("explore.volume-scan '{}': expected FILE FROM TO POINTS", line));
    o.explore.scans.push_back({name(w[0]), first_structure(w[0], names), false, 0, mmtp::io::parse_number(w[1], "from"), mmtp::io::parse_number(w[2], "to"),
                               static_cast<int>(mmtp::io::parse_count(w[3], "points"))});
  }
  for (const auto& line : c.moment_scan) {  // FILE SPECIES FROM TO POINTS
    const auto w = words(line);
    if (w.size() != 5) throw mmtp::Error(fmt::format("explore.moment-scan '{}': expected FILE SPECIES FROM TO POINTS", line));
    o.explore.scans.push_back({name(w[0]), first_structure(w[0], names), true, type_of(w[1]), mmtp::io::parse_number(w[2], "from"),
                               mmtp::io::parse_number(w[3], "to"), static_cast<int>(mmtp::io::parse_count(w[4], "points"))});
  }
  for (const auto& line : c.md) {  // FILE TEMPERATURE STEPS EVERY
    const auto w = words(line);
    if (w.size() != 4) throw mmtp::Error(fmt::format("explore.md '{}': expected FILE TEMPERATURE STEPS EVERY", line));
    mmtp::learn::MdTask m{name(w[0]), first_structure(w[0], names), {}};
    m.md.temperature = mmtp::io::parse_number(w[1], "temperature");
    m.md.steps = static_cast<int>(mmtp::io::parse_count(w[2], "steps"));
    m.md.every = static_cast<int>(mmtp::io::parse_count(w[3], "every"));
    m.md.masses = mmtp::io::per_species_values(c.masses, names, "explore.masses");
    m.md.seed = o.fit.ensemble.train.seed + static_cast<unsigned>(o.explore.md.size());
    o.explore.md.push_back(std::move(m));
  }
  for (const auto& line : c.ipi_active) {  // ACTIVE_OUTPUT TEMPLATE
    const auto w = words(line);
    if (w.size() != 2) throw mmtp::Error(fmt::format("explore.ipi-active '{}': expected ACTIVE_OUTPUT TEMPLATE", line));
    std::ifstream in(w[0]);
    if (!in) throw mmtp::Error(fmt::format("{}: cannot read", w[0]));
    std::stringstream text;
    text << in.rdbuf();
    mmtp::learn::GivenTask g{"i-PI active_output " + name(w[0]), {}};
    for (auto& r : mmtp::io::read_ipi_active_output(text.str(), first_structure(w[1], names), w[0]))
      g.structures.push_back(std::move(r.structure));
    o.explore.given.push_back(std::move(g));
  }
  for (const auto& line : c.reference) {  // FILE a m [SPECIES]
    const auto w = words(line);
    if (w.size() < 3) throw mmtp::Error(fmt::format("report.reference '{}': expected FILE a m [SPECIES]", line));
    o.references.push_back({name(w[0]), first_structure(w[0], names), mmtp::io::parse_number(w[1], "reference a"), mmtp::io::parse_number(w[2], "reference m"),
                            w.size() > 3 ? type_of(w[3]) : 0});
  }
  return o;
}

/// The labeller of label.mode: ABINIT through abinit-cdft (run), its inputs for the user's
/// cluster (external), or any command (command).
mmtp::learn::Labeller labeller(const Config& c, const std::vector<std::string>& names) {
  return [c, names, abinit_cdft = c.abinit_cdft.empty() ? find_tool("abinit-cdft") : c.abinit_cdft](const fs::path& d, int it, const std::vector<mmtp::learn::Candidate>& selected)
             -> std::optional<std::vector<mmtp::Sample>> {
    std::vector<std::string> warnings, species = names;
    if (c.label_mode == "command") {
      // It reads {selected} (extxyz) and writes {labelled} (extxyz or cfg with labels).
      const std::string tmp = (d / "labelled.command.xyz").string();
      std::string cmd = c.label_command;
      for (const auto& [key, value] : {std::pair<std::string, std::string>{"{selected}", (d / "selected.xyz").string()}, {"{labelled}", tmp}})
        for (auto at = cmd.find(key); at != std::string::npos; at = cmd.find(key)) cmd.replace(at, key.size(), quote(value));
      fmt::print("mmtp-learn: labelling {} structures: {}\n", selected.size(), cmd);
      if (const int rc = std::system(cmd.c_str()); rc != 0) throw mmtp::Error(fmt::format("label.command failed (status {}): {}", rc, cmd));
      auto labelled = mmtp::io::read_labelled({tmp}, species, {}, warnings);
      fs::remove(tmp);
      return labelled;
    }
    if (c.label_template.empty()) throw mmtp::Error("label.template: an ABINIT input whose settings the labels use is required");
    const fs::path runs = d / "abinit";
    const std::string prefix = fmt::format("al{:02d}", it);
    std::string cmd = fmt::format("{} --out {} --label {} --template {} --prefix {} --np {}", quote(abinit_cdft), quote(runs.string()),
                                  quote((d / "selected.xyz").string()), quote(c.label_template), prefix, c.label_np);
    if (c.label_mode == "external") cmd += " --dry-run";
    fmt::print("mmtp-learn: labelling {} structures: {}\n", selected.size(), cmd);
    std::fflush(stdout);
    const int rc = std::system(cmd.c_str());
    if (rc != 0 && c.label_mode == "external") throw mmtp::Error(fmt::format("'{}' failed (status {})", cmd, rc));
    std::vector<std::string> abo;
    for (std::size_t k = 0; k < selected.size(); ++k) {
      const std::string run = fmt::format("{}-{:03d}", prefix, k);
      abo.push_back((runs / run / (run + ".abo")).string());
    }
    auto finished = [&] {  // the outputs whose run ended
      std::vector<std::string> done;
      for (const auto& f : abo) {
        std::ifstream in(f);
        std::stringstream text;
        text << in.rdbuf();
        if (mmtp::io::abinit_status(text.str()).completed) done.push_back(f);
      }
      return done;
    };
    for (auto done = finished(); c.label_mode == "external" && done.size() < abo.size(); done = finished()) {
      fmt::print("mmtp-learn: {} of {} ABINIT outputs in {}; waiting (inputs: */*.abi there)\n", done.size(), abo.size(), runs.string());
      std::fflush(stdout);
      if (c.poll_seconds <= 0) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::seconds(c.poll_seconds));
    }
    const auto done = finished();
    if (done.empty() && rc != 0)
      throw mmtp::Error(fmt::format("labelling failed (status {}) and no ABINIT output is complete: {}", rc, cmd));
    auto labelled = done.empty() ? std::vector<mmtp::Sample>{} : mmtp::io::read_labelled(done, species, {}, warnings);
    for (const auto& w : warnings) fmt::print(stderr, "mmtp-learn: warning: {}\n", w);
    return labelled;
  };
}

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
    const auto names = mmtp::io::split_list(c.species, "species");
    const auto options = loop_options(c, names);
    auto held_species = names;
    const auto heldout = mmtp::cli::load_labelled(c.heldout, held_species, false, "mmtp-learn");
    auto initial = [&] {
      auto species = names;
      return mmtp::cli::load_labelled(c.train, species, false, "mmtp-learn");
    };
    auto plot = [plotter = find_tool("learn-plot")](const fs::path& report) {  // DIR/report.png, when matplotlib is there
      const std::string cmd = quote(plotter) + " " + quote(report.string()) + " > /dev/null";
      if (std::system(cmd.c_str()) != 0) fmt::print(stderr, "mmtp-learn: warning: '{}' failed; report.json is complete\n", cmd);
    };
    const bool done = mmtp::learn::run(fs::absolute(dir), options, initial, heldout, labeller(c, names),
                                       [](const std::string& line) { fmt::print("mmtp-learn: {}\n", line); }, plot);
    return done ? 0 : 3;
  });
}
