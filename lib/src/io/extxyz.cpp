#include "mmtp/io/extxyz.hpp"

#include <fmt/core.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>

#include <Eigen/LU>
#include <algorithm>
#include <ostream>

#include "mmtp/error.hpp"
#include "mmtp/io/text.hpp"

namespace mmtp::io {
namespace {

/// key=value pairs of an extxyz comment line; values may be "quoted" (with \" escapes).
std::vector<std::pair<std::string, std::string>> parse_info(std::string_view line, const std::string& path, long ln) {
  std::vector<std::pair<std::string, std::string>> kv;
  std::size_t i = 0;
  auto skip_ws = [&] { while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i; };
  auto word = [&](bool stop_at_eq) {
    std::string w;
    if (i < line.size() && (line[i] == '"' || line[i] == '{' || line[i] == '[')) {
      const char close = line[i] == '"' ? '"' : (line[i] == '{' ? '}' : ']');
      ++i;
      while (i < line.size() && line[i] != close) {
        if (line[i] == '\\' && i + 1 < line.size()) ++i;
        w += line[i++];
      }
      if (i == line.size()) throw ParseError(path, ln, "unterminated quote in the comment line");
      ++i;
      return w;
    }
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i])) && !(stop_at_eq && line[i] == '=')) w += line[i++];
    return w;
  };
  while (true) {
    skip_ws();
    if (i >= line.size()) break;
    std::string key = word(true);
    skip_ws();
    std::string value = "T";  // a bare key is a logical true (ASE convention)
    if (i < line.size() && line[i] == '=') {
      ++i;
      skip_ws();
      value = word(false);
    }
    if (key.empty()) throw ParseError(path, ln, "empty key in the comment line");
    kv.emplace_back(std::move(key), std::move(value));
  }
  return kv;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<double> numbers(const std::string& v, const std::string& path, long ln, const std::string& what) {
  std::vector<double> out;
  std::string t = v;
  std::replace(t.begin(), t.end(), ',', ' ');
  for (auto w : split_ws(t)) out.push_back(parse_double(w, path, ln, what));
  return out;
}

/// A key or value of the comment line as parse_info reads it back: bare when it is a plain
/// word, else in double quotes with '"' and '\\' escaped.
std::string info_word(const std::string& w) {
  const bool plain = !w.empty() && w.find_first_of("\"=\\{[") == std::string::npos &&
                     std::none_of(w.begin(), w.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
  if (plain) return w;
  std::string q = "\"";
  for (char c : w) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

std::string quoted_numbers(const double* x, int n) {
  std::string s = "\"";
  for (int q = 0; q < n; ++q) s += fmt::format("{}{:.17g}", q ? " " : "", x[q]);
  return s + "\"";
}

}  // namespace

namespace {

/// One entry of the Properties table: name, type (S, R, I, L) and count.
struct Property {
  std::string name;
  char type;
  int count;
};

/// The Properties value "name:type:count:…" (each count in 1..1000).
std::vector<Property> properties(const std::string& value, const std::string& path, long ln) {
  std::vector<std::string> f;
  for (std::size_t pos = 0; pos <= value.size();) {
    const auto c = value.find(':', pos);
    f.push_back(value.substr(pos, c == std::string::npos ? std::string::npos : c - pos));
    if (c == std::string::npos) break;
    pos = c + 1;
  }
  if (f.size() % 3) throw ParseError(path, ln, "Properties must be name:type:count triples");
  std::vector<Property> out;
  for (std::size_t q = 0; q < f.size(); q += 3) {
    const long cnt = parse_int(f[q + 2], path, ln, "Properties count");
    if (f[q + 1].size() != 1 || std::string("SRIL").find(f[q + 1][0]) == std::string::npos || cnt < 1 || cnt > 1000)
      throw ParseError(path, ln, fmt::format("bad property {}:{}:{}", f[q], f[q + 1], f[q + 2]));
    out.push_back({f[q], f[q + 1][0], static_cast<int>(cnt)});
  }
  return out;
}

bool logical(std::string_view word, bool& value) {
  const std::string t = lower(std::string(word));
  if (t == "t" || t == "true" || t == "1") return value = true, true;
  if (t == "f" || t == "false" || t == "0") return value = false, true;
  return false;
}

/// The comment line of a frame: cell, periodicity, energy, virial (from stress, once the cell
/// is known) and the other keys as features, into `smp`; returns its Properties table.
std::vector<Property> read_info(std::string_view line, const std::string& path, long ln, Sample& smp) {
  Structure& s = smp.structure;
  s.pbc = {false, false, false};
  bool have_lattice = false, have_pbc = false;
  std::optional<std::vector<double>> stress;
  std::vector<Property> props = {{"species", 'S', 1}, {"pos", 'R', 3}};
  for (auto& [key, value] : parse_info(line, path, ln)) {
    const std::string k = lower(key);
    if (k == "lattice") {
      const auto v = numbers(value, path, ln, "Lattice");
      if (v.size() != 9) throw ParseError(path, ln, fmt::format("Lattice needs 9 numbers, found {}", v.size()));
      for (int c = 0; c < 3; ++c)
        for (int d = 0; d < 3; ++d) s.cell(d, c) = v[3 * c + d];
      have_lattice = true;
    } else if (k == "pbc") {
      const auto w = split_ws(value);
      if (w.size() != 3) throw ParseError(path, ln, "pbc needs 3 values");
      for (int d = 0; d < 3; ++d) {
        bool periodic = false;
        if (!logical(w[d], periodic)) throw ParseError(path, ln, fmt::format("pbc value '{}' is not T or F", w[d]));
        s.pbc[d] = periodic;
      }
      have_pbc = true;
    } else if (k == "properties") {
      props = properties(value, path, ln);
    } else if (k == "energy") {
      smp.energy = parse_double(value, path, ln, "energy");
    } else if (k == "stress") {
      stress = numbers(value, path, ln, "stress");
    } else if (k == "virial") {
      const auto v = numbers(value, path, ln, "virial");
      if (v.size() != 9) throw ParseError(path, ln, "virial needs 9 numbers");
      smp.virial = Eigen::Map<const Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>(v.data());
    } else {
      smp.features.emplace_back(key, value);
    }
  }
  if (have_lattice && !have_pbc) s.pbc = {true, true, true};
  if (!have_lattice && (s.pbc[0] || s.pbc[1] || s.pbc[2])) throw ParseError(path, ln, "pbc is true but there is no Lattice");
  if (stress) {
    Eigen::Matrix3d st;
    if (stress->size() == 9) st = Eigen::Map<const Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>(stress->data());
    else if (stress->size() == 6) {
      const auto& v = *stress;
      st << v[0], v[5], v[4], v[5], v[1], v[3], v[4], v[3], v[2];
    } else throw ParseError(path, ln, "stress needs 9 or 6 numbers");
    if (!have_lattice) throw ParseError(path, ln, "stress without a Lattice");
    smp.virial = -st * std::abs(s.cell.determinant());
  }
  return props;
}

/// Where the columns mmtp knows are in a row, and which properties become Sample::arrays.
struct Columns {
  int width = 0, species = -1, pos = -1, magmom = -1, force = -1, dE_dm = -1;
  std::vector<int> array_of;  ///< per property: its index in Sample::arrays, or −1 (a known or string column)
};

/// The column layout of `props`; allocates the per-atom fields of `smp` for `natoms` atoms. A
/// column mmtp knows by name must have its type and count: any other array is kept and written
/// back as R, which would then read as the known column.
Columns layout(const std::vector<Property>& props, Index natoms, const std::string& path, long ln, Sample& smp) {
  Columns c;
  int initial_magmoms = -1, magmoms = -1;
  for (const auto& p : props) {
    const std::string nm = lower(p.name);
    auto known = [&](char type, int count, int& col) {
      if (p.type != type || p.count != count)
        throw ParseError(path, ln, fmt::format("Properties: '{}' must be {}:{}, found {}:{}{}", p.name, type, count, p.type, p.count,
                                               nm.find("magmoms") != std::string::npos ? " (mmtp's moments are collinear)" : ""));
      if (col >= 0) throw ParseError(path, ln, fmt::format("Properties lists '{}' twice", p.name));
      col = c.width;
      c.array_of.push_back(-1);
    };
    if (nm == "species") known('S', 1, c.species);
    else if (nm == "pos") known('R', 3, c.pos);
    else if (nm == "initial_magmoms") known('R', 1, initial_magmoms);
    else if (nm == "magmoms") known('R', 1, magmoms);
    else if (nm == "forces" || nm == "force") known('R', 3, c.force);
    else if (nm == "de_dm") known('R', 1, c.dE_dm);
    else if (p.type != 'S') {
      c.array_of.push_back(static_cast<int>(smp.arrays.size()));
      smp.arrays.emplace_back(p.name, Eigen::MatrixXd(p.count, natoms));
    } else {
      c.array_of.push_back(-1);
    }
    c.width += p.count;
  }
  if (c.species < 0 || c.pos < 0) throw ParseError(path, ln, "Properties needs species:S:1 and pos:R:3");
  c.magmom = initial_magmoms >= 0 ? initial_magmoms : magmoms;
  Structure& s = smp.structure;
  s.positions.resize(3, natoms);
  s.species.resize(static_cast<std::size_t>(natoms));
  if (c.magmom >= 0) s.magmoms.resize(natoms);
  if (c.force >= 0) smp.forces = Eigen::Matrix3Xd(3, natoms);
  if (c.dE_dm >= 0) smp.dE_dm = Eigen::VectorXd(natoms);
  return c;
}

/// Atom `a` from its row.
void read_atom(std::string_view row, const std::vector<Property>& props, const Columns& c,
               const std::vector<std::string>& species_names, Index a, const std::string& path, long ln, Sample& smp) {
  Structure& s = smp.structure;
  const auto f = split_ws(row);
  if (static_cast<int>(f.size()) != c.width) throw ParseError(path, ln, fmt::format("expected {} columns, found {}", c.width, f.size()));
  const std::string sym(f[c.species]);
  const auto it = std::find(species_names.begin(), species_names.end(), sym);
  if (it == species_names.end()) {
    if (species_names.empty()) throw ParseError(path, ln, fmt::format("element '{}': no species names known (give --species)", sym));
    throw ParseError(path, ln, fmt::format("element '{}' is not in the species list {}", sym, fmt::join(species_names, ",")));
  }
  s.species[a] = static_cast<int>(it - species_names.begin());
  auto num = [&](int col, const char* what) { return parse_double(f[col], path, ln, what); };
  for (int d = 0; d < 3; ++d) s.positions(d, a) = num(c.pos + d, "pos");
  if (c.magmom >= 0) s.magmoms[a] = num(c.magmom, "magnetic moment");
  if (c.force >= 0)
    for (int d = 0; d < 3; ++d) (*smp.forces)(d, a) = num(c.force + d, "forces");
  if (c.dE_dm >= 0) (*smp.dE_dm)[a] = num(c.dE_dm, "dE_dm");
  int col = 0;
  for (std::size_t k = 0; k < props.size(); col += props[k].count, ++k) {
    if (c.array_of[k] < 0) continue;
    for (int q = 0; q < props[k].count; ++q) {
      double v = 0.0;
      bool flag = false;
      if (props[k].type != 'L') v = num(col + q, props[k].name.c_str());
      else if (logical(f[col + q], flag)) v = flag ? 1.0 : 0.0;
      else throw ParseError(path, ln, fmt::format("{}: '{}' is not T or F", props[k].name, f[col + q]));
      smp.arrays[static_cast<std::size_t>(c.array_of[k])].second(q, a) = v;
    }
  }
}

}  // namespace

std::vector<Sample> read_extxyz(const std::string& path, const std::vector<std::string>& species_names) {
  const auto lines = read_lines(path);
  std::vector<Sample> out;
  for (std::size_t n = 0; n < lines.size();) {
    if (trim(lines[n]).empty()) {
      ++n;
      continue;
    }
    const long head = static_cast<long>(n) + 1, info_ln = head + 1;
    const long natoms = parse_int(lines[n], path, head, "atom count");
    if (natoms < 0 || n + 1 + static_cast<std::size_t>(natoms) >= lines.size())
      throw ParseError(path, head, fmt::format("{} atoms announced but only {} lines follow", natoms, lines.size() - n - 1));
    Sample smp;
    const auto props = read_info(lines[n + 1], path, info_ln, smp);
    const Columns columns = layout(props, natoms, path, info_ln, smp);
    for (long a = 0; a < natoms; ++a)
      read_atom(lines[n + 2 + static_cast<std::size_t>(a)], props, columns, species_names, a, path, head + 2 + a, smp);
    out.push_back(std::move(smp));
    n += 2 + static_cast<std::size_t>(natoms);
  }
  if (out.empty()) throw ParseError(path, 0, "no frame found");
  return out;
}

void write_extxyz(const std::string& path, const std::vector<Sample>& samples, const std::vector<std::string>& species_names) {
  for (const auto& smp : samples) {
    smp.structure.validate();
    for (int t : smp.structure.species)
      if (t >= static_cast<int>(species_names.size()))
        throw Error(fmt::format("{}: type {} has no element name (give --species)", path, t));
  }
  write_atomically(path, [&](std::ostream& o) {
    for (const auto& smp : samples) {
      const Structure& s = smp.structure;
      const bool periodic = s.pbc[0] || s.pbc[1] || s.pbc[2];
      const bool lattice = periodic || s.cell.norm() > 0;
      std::string info;
      if (lattice) info += "Lattice=" + quoted_numbers(s.cell.data(), 9) + " ";
      std::string properties = "species:S:1:pos:R:3";
      if (s.has_magmoms()) properties += ":initial_magmoms:R:1";
      if (smp.forces) properties += ":forces:R:3";
      if (smp.dE_dm) properties += ":dE_dm:R:1";
      for (const auto& [name, a] : smp.arrays) properties += fmt::format(":{}:R:{}", name, a.rows());
      info += "Properties=" + info_word(properties);
      if (smp.energy) info += fmt::format(" energy={:.17g}", *smp.energy);
      if (smp.virial) {
        if (lattice && std::abs(s.cell.determinant()) > 0) {
          const Eigen::Matrix<double, 3, 3, Eigen::RowMajor> st = -*smp.virial / std::abs(s.cell.determinant());
          info += " stress=" + quoted_numbers(st.data(), 9);
        } else {
          const Eigen::Matrix<double, 3, 3, Eigen::RowMajor> w = *smp.virial;
          info += " virial=" + quoted_numbers(w.data(), 9);
        }
      }
      for (const auto& [key, value] : smp.features) info += fmt::format(" {}={}", info_word(key), info_word(value));
      fmt::print(o, "{}\n{} pbc=\"{} {} {}\"\n", s.size(), info, s.pbc[0] ? 'T' : 'F', s.pbc[1] ? 'T' : 'F', s.pbc[2] ? 'T' : 'F');
      for (Index a = 0; a < s.size(); ++a) {
        fmt::print(o, "{} {:.17g} {:.17g} {:.17g}", species_names[s.species[a]], s.positions(0, a), s.positions(1, a), s.positions(2, a));
        if (s.has_magmoms()) fmt::print(o, " {:.17g}", s.magmoms[a]);
        if (smp.forces) fmt::print(o, " {:.17g} {:.17g} {:.17g}", (*smp.forces)(0, a), (*smp.forces)(1, a), (*smp.forces)(2, a));
        if (smp.dE_dm) fmt::print(o, " {:.17g}", (*smp.dE_dm)[a]);
        for (const auto& [name, arr] : smp.arrays)
          for (Index q = 0; q < arr.rows(); ++q) fmt::print(o, " {:.17g}", arr(q, a));
        o << '\n';
      }
    }
  });
}

}  // namespace mmtp::io
