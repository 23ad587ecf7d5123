#include "mmtp/io/abinit.hpp"

#include <fmt/core.h>

#include <Eigen/LU>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include "mmtp/error.hpp"
#include "mmtp/io/text.hpp"
#include "mmtp/units.hpp"

namespace mmtp::io {

bool abinit_scf_unconverged(std::string_view line) {
  return line.find("was not enough SCF cycles to converge") != std::string_view::npos;
}

AbinitStatus abinit_status(std::string_view text) {
  AbinitStatus st;
  st.completed = text.find("Calculation completed.") != std::string_view::npos;
  st.converged = st.completed && !abinit_scf_unconverged(text);
  return st;
}

namespace {

constexpr const char* elements[] = {
    "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",  "S",  "Cl", "Ar",
    "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr",
    "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe",
    "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf",
    "Ta", "W",  "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th",
    "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr"};

/// Variables read from the outvars section; others are ignored.
const std::set<std::string> wanted = {"acell", "rprim", "xcart", "typat", "znucl", "natom", "ntypat", "etotal",
                                      "fcart", "strten", "spinat", "grspin", "constraint_kind", "nsppol", "nspden",
                                      "nspinor", "jdtset", "ndtset"};

struct Value {
  std::vector<double> numbers;
  long line = 0;
};

/// One dataset's view of the text between its `== DATASET N ==` header and the next.
struct Section {
  long first = 0, last = 0;  // line indices [first, last)
};

}  // namespace

std::string element_symbol(int z) {
  if (z < 1 || z > static_cast<int>(std::size(elements))) throw InputError(fmt::format("no element with Z = {}", z));
  return elements[z - 1];
}

bool is_abinit_output(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  for (int k = 0; k < 20 && std::getline(in, line); ++k)
    if (line.rfind(".Version", 0) == 0 && line.find("of ABINIT") != std::string::npos) return true;
  return false;
}

namespace {

/// The layout of an output: the line range of each dataset and the line of the final outvars echo.
struct Layout {
  std::map<int, Section> sections;
  long outvars = -1;
};

Layout find_layout(const std::vector<std::string>& lines, const std::string& path) {
  Layout out;
  for (long n = 0; n < static_cast<long>(lines.size()); ++n) {
    const std::string& l = lines[n];
    if (l.rfind("== DATASET", 0) == 0) {
      const auto w = split_ws(l);
      if (w.size() < 3) throw ParseError(path, n + 1, "malformed DATASET header");
      const int ds = static_cast<int>(parse_int(w[2], path, n + 1, "dataset number"));
      if (!out.sections.empty()) out.sections.rbegin()->second.last = n;
      out.sections[ds] = Section{n, static_cast<long>(lines.size())};
    } else if (l.rfind("== END DATASET", 0) == 0) {
      if (!out.sections.empty()) out.sections.rbegin()->second.last = n;
    } else if (l.find("-outvars: echo values of variables after computation") != std::string::npos) {
      out.outvars = n;
    }
  }
  if (out.outvars < 0) throw ParseError(path, 0, "truncated: no 'echo values of variables after computation' section");
  return out;
}

/// The wanted variables of the final outvars echo: key (name + dataset suffix) → numbers; a
/// value continues on lines without a keyword.
std::map<std::string, Value> read_outvars(const std::vector<std::string>& lines, long outvars, const std::string& path) {
  std::map<std::string, Value> vars;
  std::string current;
  for (long n = outvars + 1; n < static_cast<long>(lines.size()); ++n) {
    const std::string& l = lines[n];
    if (trim(l).empty()) break;
    // Column 0 holds markers ('-', 'P', ...) in ABINIT's echo; the keyword starts after it.
    const std::string body = l.size() > 1 ? l.substr(1) : std::string();
    const auto w = split_ws(body);
    if (w.empty()) continue;
    std::size_t start = 0;
    if (std::isalpha(static_cast<unsigned char>(w[0][0])) || w[0][0] == '_') {
      const std::string key(w[0]);
      std::size_t cut = key.size();
      while (cut > 0 && std::isdigit(static_cast<unsigned char>(key[cut - 1]))) --cut;
      current = wanted.count(key.substr(0, cut)) ? key : std::string();
      if (!current.empty()) {
        if (vars.count(current)) throw ParseError(path, n + 1, fmt::format("'{}' appears twice", current));
        vars[current].line = n + 1;
      }
      start = 1;
    }
    if (current.empty()) continue;
    for (std::size_t q = start; q < w.size(); ++q) {
      const char c0 = static_cast<char>(std::tolower(static_cast<unsigned char>(w[q][0])));
      if (std::isalpha(static_cast<unsigned char>(c0)) && c0 != 'n' && c0 != 'i') break;  // a unit: Bohr, Hartree, ... (not nan/inf)
      vars[current].numbers.push_back(parse_double(w[q], path, n + 1, current));
    }
  }
  return vars;
}

/// The variables of one dataset: suffixed when they differ between datasets, else plain.
struct DatasetVars {
  const std::map<std::string, Value>& vars;
  int ds;
  bool multi;
  const std::string& path;
  const Value* get(const std::string& name) const {
    if (multi || vars.count(name + std::to_string(ds))) {
      const auto it = vars.find(name + std::to_string(ds));
      if (it != vars.end()) return &it->second;
    }
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : &it->second;
  }
  /// Null when absent; ParseError when present with another count.
  const Value* need(const std::string& name, std::size_t count) const {
    const Value* v = get(name);
    if (v && v->numbers.size() != count)
      throw ParseError(path, v->line, fmt::format("{} has {} numbers, expected {}", name, v->numbers.size(), count));
    return v;
  }
  double scalar(const std::string& name, double fallback) const {
    const Value* v = get(name);
    return v && !v->numbers.empty() ? v->numbers[0] : fallback;
  }
};

/// The last "atomic spheres" table of a dataset's section: Diff(up-dn) of each atom [μB].
std::optional<std::vector<double>> sphere_moments(const std::vector<std::string>& lines, const Section& sec, std::size_t natom,
                                                  const std::string& path) {
  std::optional<std::vector<double>> sphere;
  for (long n = sec.first; n < sec.last && n < static_cast<long>(lines.size()); ++n) {
    if (lines[n].find("Atom    Radius    up_density   dn_density  Total(up+dn)  Diff(up-dn)") == std::string::npos) continue;
    std::vector<double> m;
    for (std::size_t a = 0; a < natom; ++a) {
      const long k = n + 1 + static_cast<long>(a);
      if (k >= static_cast<long>(lines.size())) throw ParseError(path, k, "truncated sphere-moment table");
      const auto w = split_ws(lines[k]);
      if (w.size() < 6) throw ParseError(path, k + 1, "malformed sphere-moment row");
      m.push_back(parse_double(w[5], path, k + 1, "Diff(up-dn)"));
    }
    sphere = m;
  }
  return sphere;
}

}  // namespace

AbinitResult read_abinit(const std::string& path, std::vector<std::string>& species_names, const AbinitOptions& options) {
  const auto lines = read_lines(path);
  if (!is_abinit_output(path)) throw ParseError(path, 1, "not ABINIT output (no '.Version ... of ABINIT' line)");
  AbinitResult out;
  const Layout layout = find_layout(lines, path);
  const auto vars = read_outvars(lines, layout.outvars, path);

  // Datasets: jdtset when several, else the one section (or 1).
  std::vector<int> datasets;
  if (vars.count("jdtset"))
    for (double d : vars.at("jdtset").numbers) datasets.push_back(integer_value(d, path, vars.at("jdtset").line, "jdtset"));
  else if (!layout.sections.empty())
    for (const auto& [ds, sec] : layout.sections) datasets.push_back(ds);
  else
    datasets.push_back(1);

  auto skip = [&](int ds, const std::string& why) {
    if (options.strict) throw ParseError(path, 0, fmt::format("dataset {}: {}", ds, why));
    out.warnings.push_back(fmt::format("{}: dataset {}: {} (skipped)", path, ds, why));
  };
  for (int ds : datasets) {
    const DatasetVars v{vars, ds, datasets.size() > 1, path};
    const Value* natom_v = v.get("natom");
    if (!natom_v || natom_v->numbers.empty()) throw ParseError(path, 0, "natom missing from the final outvars");
    const double natom_d = natom_v->numbers[0];
    if (!(natom_d >= 1 && natom_d <= 1e6) || natom_d != std::floor(natom_d))
      throw ParseError(path, natom_v->line, fmt::format("natom = {} is out of range", natom_d));
    const auto natom = static_cast<std::size_t>(natom_d);
    const int ntypat = integer_value(v.scalar("ntypat", 1), path, v.get("ntypat") ? v.get("ntypat")->line : 0, "ntypat");
    if (ntypat < 1 || ntypat > 1000) throw ParseError(path, 0, fmt::format("ntypat = {} is out of range", ntypat));

    // What makes a dataset unusable as a collinear mMTP label.
    if (v.scalar("nspinor", 1) == 2 || v.scalar("nspden", 1) == 4) {
      skip(ds, "non-collinear magnetism (nspinor 2 / nspden 4) is not a collinear mMTP label");
      continue;
    }
    if (v.scalar("nsppol", 1) != 2 && v.scalar("nspden", 1) != 2) {
      skip(ds, "not spin-polarised (nsppol 1, nspden 1): no moments");
      continue;
    }
    const auto sec = layout.sections.count(ds) ? layout.sections.at(ds) : Section{0, static_cast<long>(lines.size())};
    bool converged = true;
    for (long n = sec.first; n < sec.last && n < static_cast<long>(lines.size()); ++n)
      if (abinit_scf_unconverged(lines[n])) converged = false;
    if (!converged) {
      skip(ds, "SCF did not converge (nstep was not enough)");
      continue;
    }
    const Value* acell = v.need("acell", 3);
    const Value* rprim = v.need("rprim", 9);
    const Value* xcart = v.need("xcart", 3 * natom);
    const Value* typat = v.need("typat", natom);
    const Value* znucl = v.need("znucl", static_cast<std::size_t>(ntypat));
    const Value* etotal = v.need("etotal", 1);
    const Value* fcart = v.need("fcart", 3 * natom);
    const Value* strten = v.need("strten", 6);
    const Value* spinat = v.need("spinat", 3 * natom);
    const Value* grspin = v.need("grspin", 3 * natom);
    const Value* kinds = v.get("constraint_kind");
    std::string missing;
    for (auto [value, name] : {std::pair{acell, "acell"}, {xcart, "xcart"}, {typat, "typat"}, {znucl, "znucl"},
                               {etotal, "etotal"}, {fcart, "fcart"}, {strten, "strten"}})
      if (!value) missing += std::string(missing.empty() ? "" : ", ") + name;
    if (!missing.empty()) {
      skip(ds, fmt::format("no {} in the final outvars", missing));
      continue;
    }
    if (kinds && kinds->numbers.size() != static_cast<std::size_t>(ntypat))
      throw ParseError(path, kinds->line, fmt::format("constraint_kind has {} numbers for ntypat = {}", kinds->numbers.size(), ntypat));

    // Structure and labels, converted to Å, eV and the virial W = −σV.
    Sample smp;
    Structure& s = smp.structure;
    Eigen::Matrix3d cell_bohr;
    for (int i = 0; i < 3; ++i)
      for (int d = 0; d < 3; ++d)
        cell_bohr(d, i) = acell->numbers[i] * (rprim ? rprim->numbers[3 * i + d] : (i == d ? 1.0 : 0.0));
    s.cell = cell_bohr * units::angstrom_per_bohr;
    s.positions = Eigen::Map<const Eigen::Matrix3Xd>(xcart->numbers.data(), 3, static_cast<Index>(natom)) * units::angstrom_per_bohr;
    s.species.resize(natom);
    std::vector<int> kind_of_atom(natom, 0);
    for (std::size_t a = 0; a < natom; ++a) {
      const double t = typat->numbers[a];
      if (t < 1 || t > ntypat || t != std::floor(t)) throw ParseError(path, typat->line, fmt::format("typat {} is out of range", t));
      const double zd = znucl->numbers[static_cast<std::size_t>(t) - 1];
      const int z = std::fabs(zd) < 1000 ? static_cast<int>(std::lround(zd)) : 0;  // element_symbol rejects 0
      std::string symbol;
      try {
        symbol = element_symbol(z);
      } catch (const InputError& e) {
        throw ParseError(path, znucl->line, e.what());
      }
      auto it = std::find(species_names.begin(), species_names.end(), symbol);
      if (it == species_names.end()) {
        species_names.push_back(symbol);
        it = species_names.end() - 1;
      }
      s.species[a] = static_cast<int>(it - species_names.begin());
      kind_of_atom[a] = kinds ? integer_value(kinds->numbers[static_cast<std::size_t>(t) - 1], path, kinds->line, "constraint_kind") : 0;
    }
    smp.energy = etotal->numbers[0] * units::ev_per_hartree;
    smp.forces = Eigen::Map<const Eigen::Matrix3Xd>(fcart->numbers.data(), 3, static_cast<Index>(natom)) *
                 (units::ev_per_hartree / units::angstrom_per_bohr);
    const auto& st = strten->numbers;
    Eigen::Matrix3d sigma;  // Ha/Bohr³
    sigma << st[0], st[5], st[4], st[5], st[1], st[3], st[4], st[3], st[2];
    smp.virial = -sigma * std::abs(cell_bohr.determinant()) * units::ev_per_hartree;

    // Moments: the constrained targets with their multipliers, or the sphere moments.
    const auto sphere = sphere_moments(lines, sec, natom, path);
    bool usable = true;
    s.magmoms.resize(static_cast<Index>(natom));
    smp.dE_dm = Eigen::VectorXd::Zero(static_cast<Index>(natom));
    for (std::size_t a = 0; a < natom && usable; ++a) {
      const int kind = kind_of_atom[a];
      if (kind == 1 || kind == 11) {
        // ABINIT's echo omits arrays that equal their default (all zero): absent = 0.
        s.magmoms[a] = spinat ? spinat->numbers[3 * a + 2] : 0.0;
        (*smp.dE_dm)[a] = grspin ? grspin->numbers[3 * a + 2] * units::ev_per_hartree : 0.0;
        if (sphere && std::abs((*sphere)[a] - s.magmoms[a]) > options.moment_tolerance)
          out.warnings.push_back(fmt::format("{}: dataset {}: atom {}: sphere moment {:.6f} μB differs from the target {:.6f} μB",
                                             path, ds, a + 1, (*sphere)[a], s.magmoms[a]));
      } else if (kind == 0 || kind == 10) {
        if (!sphere) {
          skip(ds, "unconstrained moments and no sphere-moment table");
          usable = false;
          break;
        }
        s.magmoms[a] = (*sphere)[a];
      } else {
        skip(ds, fmt::format("constraint_kind {} constrains only part of the moment (direction or magnitude)", kind));
        usable = false;
      }
    }
    if (!usable) continue;
    try {
      s.validate();
    } catch (const InputError& e) {
      throw ParseError(path, 0, fmt::format("dataset {}: {}", ds, e.what()));
    }
    smp.features.emplace_back("source", fmt::format("{}#{}", path, ds));
    out.samples.push_back(std::move(smp));
  }
  return out;
}

}  // namespace mmtp::io
