#pragma once
#include <string>
#include <vector>

#include "mmtp/io/abinit.hpp"
#include "mmtp/structure.hpp"

namespace mmtp::io {

enum class SampleFormat { cfg, extxyz };

/// Recognises a structure file by content: a first non-blank line `BEGIN_CFG` is MLIP cfg,
/// an integer is extended XYZ. Throws ParseError when it is neither.
SampleFormat detect_format(const std::string& path);

/// Reads all samples of a cfg or extxyz file (format by content). `species_names` maps
/// element symbols to types for extxyz. Throws ParseError / mmtp::Error.
std::vector<Sample> read_samples(const std::string& path, const std::vector<std::string>& species_names);

/// Reads labelled structures from any mix of ABINIT outputs (see read_abinit; their warnings
/// are appended to `warnings`), cfg and extxyz files. Elements not in `species_names` are
/// appended. Throws ParseError / mmtp::Error, and mmtp::Error for a non-finite label.
std::vector<Sample> read_labelled(const std::vector<std::string>& paths, std::vector<std::string>& species_names,
                                  const AbinitOptions& abinit, std::vector<std::string>& warnings);

/// Writes by extension: `.cfg` → MLIP cfg, `.xyz`/`.extxyz` → extended XYZ. Atomic.
/// Throws mmtp::Error for another extension.
void write_samples(const std::string& path, const std::vector<Sample>& samples,
                   const std::vector<std::string>& species_names);

}  // namespace mmtp::io
