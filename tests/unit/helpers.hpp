#pragma once
#include <string>
#include <vector>

#include "mmtp/mtp.hpp"
#include "mmtp/structure.hpp"

namespace mmtp::test {

/// Path of a file in tests/data (MMTP_TEST_DATA_DIR).
std::string data(const std::string& name);

/// One configuration of an MLIP-3 `X__Y.exact.txt` reference file.
struct Reference {
  double energy = 0.0;
  Eigen::Matrix3d virial;      // row-major in the file
  Eigen::Matrix3Xd forces;
  Eigen::VectorXd dE_dm;       // empty when the file has no column
};
std::vector<Reference> read_exact(const std::string& path);

/// Loads a trained potential from tests/data.
MagneticMtp load(const std::string& name);
/// First structure of a cfg in tests/data.
Structure structure(const std::string& name);

/// A fresh temporary file path (removed by the caller or left in /tmp).
std::string temp_path(const std::string& suffix);

}  // namespace mmtp::test

namespace mmtp::test {
/// Whole file as a string.
std::string slurp(const std::string& path);
/// Writes `text` to a fresh temporary file and returns its path.
std::string write_temp(const std::string& text, const std::string& suffix);
/// Replaces the first occurrence of `from` (which must exist) by `to`.
std::string replace(std::string text, const std::string& from, const std::string& to);
}  // namespace mmtp::test

#include <functional>
namespace mmtp::test {
/// Writes `text` to a temporary file, runs `read(path)` and expects a ParseError naming the
/// file first, at `line` (skip the check with −1), whose message contains `fragment`.
void expect_parse_error(const std::function<void(const std::string&)>& read, const std::string& text,
                        const std::string& suffix, long line, const std::string& fragment);
}  // namespace mmtp::test
