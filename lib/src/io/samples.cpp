#include "mmtp/io/samples.hpp"

#include <fmt/core.h>

#include <cctype>
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

void write_samples(const std::string& path, const std::vector<Sample>& samples, const std::vector<std::string>& species_names) {
  const std::string ext = extension(path);
  if (ext == "cfg") write_cfg(path, samples);
  else if (ext == "xyz" || ext == "extxyz") write_extxyz(path, samples, species_names);
  else throw Error(fmt::format("{}: unknown output format '.{}' (use .cfg, .xyz or .extxyz)", path, ext));
}

}  // namespace mmtp::io
