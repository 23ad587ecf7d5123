#include "mmtp/io/ipi_active.hpp"

#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "mmtp/error.hpp"
#include "mmtp/units.hpp"

namespace mmtp::io {

std::vector<ActiveRecord> read_ipi_active_output(const std::string& text, const Structure& tmpl, const std::string& source) {
  std::vector<ActiveRecord> out;
  std::size_t pos = 0;
  while (true) {
    const auto open = text.find('{', pos);
    if (open == std::string::npos) {
      if (text.find_first_not_of(" \t\r\n", pos) != std::string::npos)
        throw ParseError(source, 0, fmt::format("junk after record {}", out.size()));
      break;
    }
    int depth = 0;
    std::size_t close = open;
    for (; close < text.size(); ++close) {
      if (text[close] == '{') ++depth;
      if (text[close] == '}' && --depth == 0) break;
    }
    if (close >= text.size()) throw ParseError(source, 0, fmt::format("record {} is cut off", out.size() + 1));
    const auto j = nlohmann::json::parse(text.begin() + static_cast<long>(open), text.begin() + static_cast<long>(close) + 1,
                                         nullptr, false);
    pos = close + 1;
    const std::string where = fmt::format("record {}", out.size() + 1);
    if (!j.is_object() || !j.contains("position") || !j.contains("cell") || !j["position"].is_array() || !j["cell"].is_array())
      throw ParseError(source, 0, where + ": expected an object with position and cell");
    std::vector<double> q, h;
    try {
      q = j["position"].get<std::vector<double>>();
      h = j["cell"].get<std::vector<double>>();
    } catch (const nlohmann::json::exception&) {
      throw ParseError(source, 0, where + ": position and cell must be numbers");
    }
    if (h.size() != 9 || q.size() != 3 * static_cast<std::size_t>(tmpl.size()))
      throw ParseError(source, 0, fmt::format("{}: {} position numbers and {} cell numbers, expected {} and 9", where, q.size(),
                                              h.size(), 3 * tmpl.size()));
    ActiveRecord r;
    r.structure = tmpl;
    r.structure.positions = Eigen::Map<const Eigen::Matrix3Xd>(q.data(), 3, tmpl.size()) * units::angstrom_per_bohr;
    if (tmpl.pbc[0] || tmpl.pbc[1] || tmpl.pbc[2])
      r.structure.cell = Eigen::Map<const Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>(h.data()) * units::angstrom_per_bohr;
    if (!r.structure.positions.allFinite() || !r.structure.cell.allFinite())
      throw ParseError(source, 0, where + ": a position or cell number is not finite");
    r.energy_std = j.value("uncertainty", 0.0) * units::ev_per_hartree;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace mmtp::io
