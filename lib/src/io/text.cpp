#include "mmtp/io/text.hpp"

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "mmtp/error.hpp"

namespace mmtp::io {

std::vector<std::string> read_lines(const std::string& path, std::string_view stop_prefix) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!stop_prefix.empty() && trim(line).substr(0, stop_prefix.size()) == stop_prefix) break;
    if (line.find('\0') != std::string::npos)
      throw ParseError(path, static_cast<long>(lines.size()) + 1, "binary data in a text file");
    lines.push_back(std::move(line));
  }
  if (in.bad()) throw Error(fmt::format("{}: read error", path));
  return lines;
}

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n\v\f";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    const std::size_t b = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

double parse_double(std::string_view token, const std::string& file, long line, std::string_view what) {
  const std::string t(trim(token));
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size())
    throw ParseError(file, line, fmt::format("{}: '{}' is not a number", what, t));
  if (!std::isfinite(v) || (errno == ERANGE && std::fabs(v) > 1.0))
    throw ParseError(file, line, fmt::format("{}: '{}' is not a finite number", what, t));
  return v;
}

long parse_int(std::string_view token, const std::string& file, long line, std::string_view what) {
  const std::string t(trim(token));
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(t.c_str(), &end, 10);
  if (t.empty() || end != t.c_str() + t.size() || errno == ERANGE || v > 2147483647L || v < -2147483647L)
    throw ParseError(file, line, fmt::format("{}: '{}' is not an integer", what, t));
  return v;
}

int integer_value(double v, const std::string& file, long line, std::string_view what) {
  if (!(std::fabs(v) <= 2147483647.0) || v != std::floor(v))
    throw ParseError(file, line, fmt::format("{}: {} is not an integer", what, v));
  return static_cast<int>(v);
}

void write_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, static_cast<long>(::getpid()));
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw Error(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
      write(out);
      out.flush();
      if (!out) throw Error(fmt::format("{}: write failed", path));
    }
    // On disk before the rename, so that a crash of the machine (not only of the process)
    // also leaves the old file or the new one.
    const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      const int err = errno;
      if (fd >= 0) ::close(fd);
      throw Error(fmt::format("{}: cannot flush to disk: {}", path, std::strerror(err)));
    }
    ::close(fd);
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      throw Error(fmt::format("{}: cannot rename the temporary file: {}", path, std::strerror(errno)));
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

std::vector<std::string> split_list(const std::string& csv, std::string_view what) {
  std::vector<std::string> out;
  for (std::size_t pos = 0; !csv.empty() && pos <= csv.size();) {
    const auto c = csv.find(',', pos);
    out.push_back(csv.substr(pos, c == std::string::npos ? std::string::npos : c - pos));
    if (out.back().empty()) throw Error(fmt::format("{} '{}': empty item", what, csv));
    if (c == std::string::npos) break;
    pos = c + 1;
  }
  return out;
}

double parse_number(std::string_view token, std::string_view what) {
  const std::string t(trim(token));
  try {
    std::size_t used = 0;
    const double v = std::stod(t, &used);
    if (used == t.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  throw Error(fmt::format("{}: '{}' is not a number", what, token));
}

long parse_count(std::string_view token, std::string_view what) {
  const double v = parse_number(token, what);
  if (v != std::floor(v) || std::abs(v) > 2147483647.0) throw Error(fmt::format("{}: '{}' is not a whole number", what, token));
  return static_cast<long>(v);
}

std::vector<double> per_species_values(const std::string& text, const std::vector<std::string>& species, std::string_view what,
                                       double fill, bool positive) {
  std::vector<double> out;
  if (text.empty()) return out;
  out.assign(species.size(), fill);
  auto number = [&](const std::string& s) {
    const double v = parse_number(s, what);
    if (positive ? !(v > 0) : !(v >= 0)) throw Error(fmt::format("{}: '{}' must be {}", what, s, positive ? "> 0" : ">= 0"));
    return v;
  };
  for (const auto& item : split_list(text, what)) {
    const auto eq = item.find('=');
    if (eq == std::string::npos) {
      out.assign(species.size(), number(item));
      continue;
    }
    const std::string name = item.substr(0, eq);
    std::size_t t = 0;
    while (t < species.size() && species[t] != name) ++t;
    if (t == species.size()) throw Error(fmt::format("{}: species '{}' is not among {}", what, name, fmt::join(species, ",")));
    out[t] = number(item.substr(eq + 1));
  }
  return out;
}

std::string extension(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const auto dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return {};
  std::string ext = path.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

}  // namespace mmtp::io
