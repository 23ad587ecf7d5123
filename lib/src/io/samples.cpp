#include "mmtp/io/samples.hpp"

#include <fmt/core.h>

#include <cctype>
#include <cmath>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "mmtp/error.hpp"
#include "mmtp/io/cfg.hpp"
#include "mmtp/io/extxyz.hpp"
#include "mmtp/io/text.hpp"

namespace mmtp::io {

SampleFormat detect_format(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::string line;
  long ln = 0;
  while (std::getline(in, line) && ln < 1000) {
    ++ln;
    const auto t = trim(line);
    if (t.empty()) continue;
    if (t == "BEGIN_CFG") return SampleFormat::cfg;
    if (std::all_of(t.begin(), t.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      return SampleFormat::extxyz;
    throw ParseError(path, ln, "not a structure file: expected BEGIN_CFG (MLIP cfg) or an atom count (extxyz)");
  }
  throw ParseError(path, 0, "empty file");
}

std::vector<Sample> read_samples(const std::string& path, const std::vector<std::string>& species_names) {
  return detect_format(path) == SampleFormat::cfg ? read_cfg(path) : read_extxyz(path, species_names);
}

std::vector<Sample> read_labelled(const std::vector<std::string>& paths, std::vector<std::string>& species_names,
                                  const AbinitOptions& abinit, std::vector<std::string>& warnings) {
  std::vector<Sample> out;
  for (const auto& path : paths) {
    if (is_abinit_output(path)) {
      auto r = read_abinit(path, species_names, abinit);
      warnings.insert(warnings.end(), r.warnings.begin(), r.warnings.end());
      for (auto& s : r.samples) out.push_back(std::move(s));
    } else {
      for (auto& s : read_samples(path, species_names)) out.push_back(std::move(s));
    }
  }
  for (std::size_t k = 0; k < out.size(); ++k) {
    const Sample& s = out[k];
    const bool finite = (!s.energy || std::isfinite(*s.energy)) && (!s.forces || s.forces->allFinite()) &&
                        (!s.virial || s.virial->allFinite()) && (!s.dE_dm || s.dE_dm->allFinite());
    if (!finite) throw Error(fmt::format("structure {} of the inputs has a non-finite label", k + 1));
  }
  return out;
}

void write_samples(const std::string& path, const std::vector<Sample>& samples, const std::vector<std::string>& species_names) {
  const std::string ext = extension(path);
  if (ext == "cfg") write_cfg(path, samples);
  else if (ext == "xyz" || ext == "extxyz") write_extxyz(path, samples, species_names);
  else throw Error(fmt::format("{}: unknown output format '.{}' (use .cfg, .xyz or .extxyz)", path, ext));
}

}  // namespace mmtp::io
