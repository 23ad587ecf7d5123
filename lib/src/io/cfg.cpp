#include "mmtp/io/cfg.hpp"

#include <fmt/core.h>
#include <fmt/ostream.h>

#include <map>
#include <ostream>

#include "mmtp/error.hpp"
#include "mmtp/io/text.hpp"

namespace mmtp::io {

std::vector<Sample> read_cfg(const std::string& path) {
  const auto lines = read_lines(path);
  std::vector<Sample> out;
  std::size_t n = 0;
  auto ln = [&] { return static_cast<long>(n) + 1; };
  auto next = [&](const char* what) -> std::string_view {
    ++n;
    if (n >= lines.size()) throw ParseError(path, static_cast<long>(lines.size()), fmt::format("truncated: expected {}", what));
    return trim(lines[n]);
  };
  for (; n < lines.size(); ++n) {
    if (trim(lines[n]).empty()) continue;
    if (trim(lines[n]) != "BEGIN_CFG") throw ParseError(path, ln(), fmt::format("expected BEGIN_CFG, found '{}'", trim(lines[n])));
    Sample smp;
    Structure& s = smp.structure;
    s.pbc = {false, false, false};
    long natoms = -1;
    bool have_atoms = false;
    while (true) {
      const auto line = next("END_CFG");
      if (line.empty()) continue;
      if (line == "END_CFG") break;
      const auto words = split_ws(line);
      const auto key = words[0];
      if (key == "Size") {
        const std::string_view count = next("the atom count");  // before ln(): argument order is unspecified
        natoms = parse_int(count, path, ln(), "Size");
        // Validate before allocating: every atom needs a line of its own.
        if (natoms < 0 || static_cast<std::size_t>(natoms) > lines.size() - n)
          throw ParseError(path, ln(), fmt::format("Size = {} does not fit the {} lines that follow", natoms, lines.size() - n - 1));
      } else if (key == "Supercell") {
        int k = 0;
        while (n + 1 < lines.size()) {
          const auto row = split_ws(lines[n + 1]);
          // A lattice row: three words, the first a number (or nan/inf, refused by parse_double).
          const char c0 = row.empty() ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(row[0][0])));
          if (row.size() != 3 || !(std::isdigit(static_cast<unsigned char>(c0)) || c0 == '-' || c0 == '+' || c0 == '.' ||
                                   c0 == 'n' || c0 == 'i'))
            break;
          if (k == 3) throw ParseError(path, ln() + 1, "Supercell has more than 3 rows");
          ++n;
          for (int d = 0; d < 3; ++d) s.cell(d, k) = parse_double(row[d], path, ln(), "Supercell");
          s.pbc[k] = true;
          ++k;
        }
        if (k == 0) throw ParseError(path, ln(), "Supercell without lattice vectors");
      } else if (key == "AtomData:" || key == "AtomData") {
        if (natoms < 0) throw ParseError(path, ln(), "AtomData before Size");
        std::map<std::string, int> col;
        for (std::size_t c = 1; c < words.size(); ++c)
          if (!col.emplace(std::string(words[c]), static_cast<int>(c - 1)).second)
            throw ParseError(path, ln(), fmt::format("AtomData names column '{}' twice", words[c]));
        const long line0 = ln();
        auto has = [&](const char* a, const char* b, const char* c) {
          const int k = int(col.count(a)) + int(col.count(b)) + int(col.count(c));
          if (k != 0 && k != 3) throw ParseError(path, line0, fmt::format("AtomData has only some of {} {} {}", a, b, c));
          return k == 3;
        };
        if (!col.count("id") || !col.count("type")) throw ParseError(path, line0, "AtomData needs 'id' and 'type' columns");
        const bool cart = has("cartes_x", "cartes_y", "cartes_z"), direct = has("direct_x", "direct_y", "direct_z");
        if (cart == direct) throw ParseError(path, line0, "AtomData needs either cartes_x..z or direct_x..z");
        const bool forces = has("fx", "fy", "fz"), mag = has("magmom_x", "magmom_y", "magmom_z");
        const bool der = has("en_der_mx", "en_der_my", "en_der_mz");
        s.positions.resize(3, natoms);
        s.species.resize(static_cast<std::size_t>(natoms));
        if (forces) smp.forces = Eigen::Matrix3Xd(3, natoms);
        if (mag) s.magmoms.resize(natoms);
        if (der) smp.dE_dm = Eigen::VectorXd(natoms);
        const char* pos_names[2][3] = {{"cartes_x", "cartes_y", "cartes_z"}, {"direct_x", "direct_y", "direct_z"}};
        for (long a = 0; a < natoms; ++a) {
          const auto f = split_ws(next("atom lines"));
          if (f.size() != col.size())
            throw ParseError(path, ln(), fmt::format("expected {} columns, found {}", col.size(), f.size()));
          auto get = [&](const char* name) { return parse_double(f[col.at(name)], path, ln(), name); };
          if (parse_int(f[col.at("id")], path, ln(), "id") != a + 1)
            throw ParseError(path, ln(), fmt::format("atom id {} where {} was expected", f[col.at("id")], a + 1));
          const long type = parse_int(f[col.at("type")], path, ln(), "type");
          if (type < 0) throw ParseError(path, ln(), fmt::format("negative type {}", type));
          s.species[a] = static_cast<int>(type);
          for (int d = 0; d < 3; ++d) s.positions(d, a) = get(pos_names[direct][d]);
          if (forces) smp.forces->col(a) << get("fx"), get("fy"), get("fz");
          if (mag) s.magmoms[a] = get("magmom_x");
          if (der) (*smp.dE_dm)[a] = get("en_der_mx");
        }
        if (direct) s.positions = (s.cell * s.positions).eval();
        have_atoms = true;
      } else if (key == "Energy") {
        const std::string_view energy = next("the energy");
        smp.energy = parse_double(energy, path, ln(), "Energy");
      } else if (key == "PlusStress:" || key == "PlusStress") {
        const auto v = split_ws(next("6 PlusStress numbers"));
        if (v.size() != 6) throw ParseError(path, ln(), fmt::format("PlusStress needs 6 numbers, found {}", v.size()));
        double x[6];
        for (int q = 0; q < 6; ++q) x[q] = parse_double(v[q], path, ln(), "PlusStress");
        Eigen::Matrix3d w;
        w << x[0], x[5], x[4], x[5], x[1], x[3], x[4], x[3], x[2];
        smp.virial = w;
      } else if (key == "Feature") {
        if (words.size() < 2) throw ParseError(path, ln(), "Feature without a name");
        const auto rest = trim(line.substr(line.find(words[1]) + words[1].size()));
        smp.features.emplace_back(std::string(words[1]), std::string(rest));
      } else if (key == "EnergyWeight" || key == "PlusStressWeight") {
        next("a weight");
      } else {
        throw ParseError(path, ln(), fmt::format("unknown cfg key '{}'", key));
      }
    }
    if (!have_atoms) throw ParseError(path, ln(), "configuration without AtomData");
    for (int d = 0; d < 3; ++d)
      if (s.pbc[d] && !(d == 0 || s.pbc[d - 1])) throw ParseError(path, ln(), "bad Supercell");
    out.push_back(std::move(smp));
  }
  if (out.empty()) throw ParseError(path, 0, "no configuration (BEGIN_CFG ... END_CFG) found");
  return out;
}

void write_cfg(const std::string& path, const std::vector<Sample>& samples) {
  for (const auto& smp : samples) {
    smp.structure.validate();
    const auto& p = smp.structure.pbc;
    if ((p[1] && !p[0]) || (p[2] && !p[1]))
      throw Error(fmt::format("{}: cfg cannot express periodicity {}{}{} (only along the first k lattice vectors)", path,
                              p[0] ? 'T' : 'F', p[1] ? 'T' : 'F', p[2] ? 'T' : 'F'));
  }
  write_atomically(path, [&](std::ostream& o) {
    for (const auto& smp : samples) {
      const Structure& s = smp.structure;
      fmt::print(o, "BEGIN_CFG\n Size\n    {}\n", s.size());
      const int k = int(s.pbc[0]) + int(s.pbc[1]) + int(s.pbc[2]);
      if (k) o << " Supercell\n";
      for (int d = 0; d < k; ++d) fmt::print(o, "    {:.17g} {:.17g} {:.17g}\n", s.cell(0, d), s.cell(1, d), s.cell(2, d));
      o << " AtomData:  id type cartes_x cartes_y cartes_z";
      if (smp.forces) o << " fx fy fz";
      if (s.has_magmoms()) o << " magmom_x magmom_y magmom_z";
      if (smp.dE_dm) o << " en_der_mx en_der_my en_der_mz";
      o << '\n';
      for (Index a = 0; a < s.size(); ++a) {
        fmt::print(o, "    {} {} {:.17g} {:.17g} {:.17g}", a + 1, s.species[a], s.positions(0, a), s.positions(1, a), s.positions(2, a));
        if (smp.forces) fmt::print(o, " {:.17g} {:.17g} {:.17g}", (*smp.forces)(0, a), (*smp.forces)(1, a), (*smp.forces)(2, a));
        if (s.has_magmoms()) fmt::print(o, " {:.17g} 0 0", s.magmoms[a]);
        if (smp.dE_dm) fmt::print(o, " {:.17g} 0 0", (*smp.dE_dm)[a]);
        o << '\n';
      }
      if (smp.energy) fmt::print(o, " Energy\n    {:.17g}\n", *smp.energy);
      if (smp.virial) {
        const auto& w = *smp.virial;
        fmt::print(o, " PlusStress:  xx yy zz yz xz xy\n    {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g}\n", w(0, 0), w(1, 1),
                   w(2, 2), w(1, 2), w(0, 2), w(0, 1));
      }
      for (const auto& [name, value] : smp.features) fmt::print(o, " Feature   {}\t{}\n", name, value);
      o << "END_CFG\n\n";
    }
  });
}

}  // namespace mmtp::io
