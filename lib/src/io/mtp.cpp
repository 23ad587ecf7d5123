#include "mmtp/io/mtp.hpp"

#include <fmt/core.h>
#include <fmt/ostream.h>

#include <map>
#include <ostream>
#include <set>
#include <stdexcept>

#include "mmtp/error.hpp"
#include "mmtp/io/text.hpp"

namespace mmtp::io {
namespace {

/// mmtp's `potential_tag`: `mmtp:species=Fe,Al;moment_max=3,0.1;committee_alpha=1.7;committee_floor=0.004`
/// (keys optional; MLIP-3 ignores the tag). Each value is a comma list.
constexpr std::string_view tag_prefix = "mmtp:";

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    const auto c = s.find(',', pos);
    out.push_back(s.substr(pos, c == std::string::npos ? std::string::npos : c - pos));
    if (c == std::string::npos) break;
    pos = c + 1;
  }
  return out;
}

/// Reads the keys of an mmtp tag into `p` (species_names, moment_max, committee_alpha,
/// committee_floor).
void parse_tag(const std::string& tag, MtpParameters& p, std::vector<double>& moment_max, const std::string& file, long line) {
  if (tag.rfind(tag_prefix, 0) != 0) return;
  std::string body = tag.substr(tag_prefix.size());
  const auto words = split_ws(body);
  body = words.empty() ? "" : std::string(words[0]);
  std::size_t pos = 0;
  while (pos < body.size()) {
    const auto semi = body.find(';', pos);
    const std::string item = body.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos);
    pos = semi == std::string::npos ? body.size() : semi + 1;
    const auto eq = item.find('=');
    if (eq == std::string::npos) throw ParseError(file, line, fmt::format("potential_tag: '{}' is not key=value", item));
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "species") p.species_names = split_commas(value);
    else if (key == "moment_max")
      for (const auto& v : split_commas(value)) moment_max.push_back(parse_double(v, file, line, "moment_max"));
    else if (key == "committee_alpha") p.committee_alpha = parse_double(value, file, line, "committee_alpha");
    else if (key == "committee_floor") {
      p.committee_floor = parse_double(value, file, line, "committee_floor");
      if (!(p.committee_floor >= 0)) throw ParseError(file, line, "potential_tag: committee_floor must be >= 0");
    }
    else throw ParseError(file, line, fmt::format("potential_tag: unknown key '{}'", key));
  }
}

/// The tag write_mtp stores: element names, per-species moment ranges, committee α and floor.
std::string make_tag(const MtpParameters& p) {
  std::vector<std::string> items;
  auto join = [](const auto& v) {
    std::string s;
    for (std::size_t k = 0; k < v.size(); ++k) s += (k ? "," : "") + fmt::format("{}", v[k]);
    return s;
  };
  if (!p.species_names.empty()) items.push_back("species=" + join(p.species_names));
  if (!p.moment_max.empty()) {
    std::vector<std::string> m;
    for (double x : p.moment_max) m.push_back(fmt::format("{:.17g}", x));
    items.push_back("moment_max=" + join(m));
  }
  if (p.committee_alpha > 0) items.push_back(fmt::format("committee_alpha={:.17g}", p.committee_alpha));
  if (p.committee_floor > 0) items.push_back(fmt::format("committee_floor={:.17g}", p.committee_floor));
  if (items.empty()) return p.potential_tag;
  std::string tag(tag_prefix);
  for (std::size_t k = 0; k < items.size(); ++k) tag += (k ? ";" : "") + items[k];
  return tag;
}

/// Parses "{a, b, c}" into numbers.
std::vector<double> parse_list(std::string_view v, const std::string& file, long line, std::string_view key) {
  v = trim(v);
  if (v.size() < 2 || v.front() != '{' || v.back() != '}')
    throw ParseError(file, line, fmt::format("{}: expected {{...}}", key));
  v = v.substr(1, v.size() - 2);
  std::vector<double> out;
  if (trim(v).empty()) return out;
  std::size_t pos = 0;
  while (pos <= v.size()) {
    const auto comma = v.find(',', pos);
    const auto tok = v.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    out.push_back(parse_double(tok, file, line, key));
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::vector<int> parse_int_list(std::string_view v, const std::string& file, long line, std::string_view key) {
  std::vector<int> out;
  for (double d : parse_list(v, file, line, key)) out.push_back(integer_value(d, file, line, key));
  return out;
}

/// Parses "{{a, b, c, d}, {...}}" into 4-tuples.
std::vector<std::array<int, 4>> parse_tuples(std::string_view v, const std::string& file, long line, std::string_view key) {
  v = trim(v);
  if (v.size() < 2 || v.front() != '{' || v.back() != '}')
    throw ParseError(file, line, fmt::format("{}: expected {{{{...}}, ...}}", key));
  v = v.substr(1, v.size() - 2);
  std::vector<std::array<int, 4>> out;
  std::size_t pos = 0;
  while (true) {
    const auto open = v.find('{', pos);
    if (open == std::string_view::npos) {
      if (!trim(v.substr(pos)).empty())
        throw ParseError(file, line, fmt::format("{}: junk after the last tuple", key));
      break;
    }
    const auto close = v.find('}', open);
    if (close == std::string_view::npos) throw ParseError(file, line, fmt::format("{}: unbalanced braces", key));
    const auto sep = trim(v.substr(pos, open - pos));
    if (!(sep.empty() || sep == ",")) throw ParseError(file, line, fmt::format("{}: unexpected '{}'", key, sep));
    const auto nums = parse_int_list(v.substr(open, close - open + 1), file, line, key);
    if (nums.size() != 4) throw ParseError(file, line, fmt::format("{}: tuples have 4 integers, found {}", key, nums.size()));
    out.push_back({nums[0], nums[1], nums[2], nums[3]});
    pos = close + 1;
  }
  return out;
}

int brace_balance(std::string_view s) {
  int d = 0;
  for (char c : s) d += (c == '{') - (c == '}');
  return d;
}

}  // namespace

MtpParameters read_mtp(const std::string& path) {
  const auto lines = read_lines(path, "#MVS");
  MtpParameters p;
  std::size_t n = 0;
  auto lineno = [&](std::size_t i) { return static_cast<long>(i) + 1; };
  while (n < lines.size() && trim(lines[n]).empty()) ++n;
  if (n == lines.size() || trim(lines[n]) != "MTP")
    throw ParseError(path, n < lines.size() ? lineno(n) : 0, "not an MLIP potential: the first line is not 'MTP'");
  ++n;

  std::set<std::string> seen;
  std::map<std::string, std::pair<long, long>> counts;  // declared *_count: value and line
  bool have_radial_coeffs = false;
  std::vector<double> moment_max;  // per-species ranges from the tag
  long tag_line = 0;
  auto need = [&](const char* key, long line) {
    if (!seen.count(key)) throw ParseError(path, line, fmt::format("'{}' must come before this line", key));
  };
  for (; n < lines.size(); ++n) {
    const auto line = trim(lines[n]);
    const long ln = lineno(n);
    if (line.empty()) continue;
    if (line == "radial_coeffs") {
      for (const char* k : {"species_count", "radial_basis_size", "radial_funcs_count"}) need(k, ln);
      const int s = p.species_count, nf = p.radial_funcs_count, per = p.radial_coeffs_per_function();
      p.radial_coeffs.assign(p.radial_coeff_count(), 0.0);
      std::set<std::pair<int, int>> pairs;
      for (int blk = 0; blk < s * s; ++blk) {
        ++n;
        if (n >= lines.size()) throw ParseError(path, 0, fmt::format("truncated: radial_coeffs has {} of {} species pairs", blk, s * s));
        const auto head = trim(lines[n]);
        const auto dash = head.find('-');
        if (dash == std::string_view::npos)
          throw ParseError(path, lineno(n), fmt::format("expected a species pair 'i-j', found '{}'", head));
        const long zi = parse_int(head.substr(0, dash), path, lineno(n), "species pair");
        const long zj = parse_int(head.substr(dash + 1), path, lineno(n), "species pair");
        if (zi < 0 || zj < 0 || zi >= s || zj >= s || !pairs.insert({zi, zj}).second)
          throw ParseError(path, lineno(n), fmt::format("species pair '{}' is out of range or repeated", head));
        for (int mu = 0; mu < nf; ++mu) {
          ++n;
          if (n >= lines.size()) throw ParseError(path, 0, "truncated inside radial_coeffs");
          const auto c = parse_list(lines[n], path, lineno(n), "radial_coeffs");
          if (static_cast<int>(c.size()) != per)
            throw ParseError(path, lineno(n), fmt::format("radial_coeffs: expected {} numbers (radial_basis_size x basis_size^2), found {}", per, c.size()));
          std::copy(c.begin(), c.end(), p.radial_coeffs.begin() + static_cast<long>(p.radial_coeff_index(zi, zj, mu, 0, 0, 0)));
        }
      }
      have_radial_coeffs = true;
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) throw ParseError(path, ln, fmt::format("expected 'key = value', found '{}'", line));
    const std::string key(trim(line.substr(0, eq)));
    std::string value(trim(line.substr(eq + 1)));
    // A brace list may continue over several lines.
    while (brace_balance(value) > 0 && n + 1 < lines.size()) value += std::string(trim(lines[++n]));
    if (brace_balance(value) != 0) throw ParseError(path, ln, fmt::format("{}: unbalanced braces", key));
    if (!seen.insert(key).second) throw ParseError(path, ln, fmt::format("'{}' is given twice", key));
    auto num = [&] { return parse_double(value, path, ln, key); };
    auto integer = [&](long lo, long hi) {
      const long v = parse_int(value, path, ln, key);
      if (v < lo || v > hi) throw ParseError(path, ln, fmt::format("{} = {} is not in {}..{}", key, v, lo, hi));
      return static_cast<int>(v);
    };
    if (key == "version") p.version = value;
    else if (key == "potential_name") p.potential_name = value;
    else if (key == "potential_tag") {
      p.potential_tag = value;
      tag_line = ln;
      parse_tag(value, p, moment_max, path, ln);
    } else if (key == "scaling") p.scaling = num();
    else if (key == "species_count") p.species_count = integer(1, 1000);
    else if (key == "radial_basis_type") {
      if (value != "RBChebyshev") throw ParseError(path, ln, fmt::format("radial_basis_type '{}' is not supported (only RBChebyshev)", value));
    } else if (key == "magnetic_basis_type") {
      if (value != "BChebyshev") throw ParseError(path, ln, fmt::format("magnetic_basis_type '{}' is not supported (only BChebyshev)", value));
      p.magnetic = true;
    } else if (key == "min_dist") p.min_dist = num();
    else if (key == "max_dist") p.max_dist = num();
    else if (key == "radial_basis_size") p.radial_basis_size = integer(1, 1000);
    else if (key == "radial_funcs_count") p.radial_funcs_count = integer(1, 1000);
    else if (have_radial_coeffs && (key == "min_val" || key == "min_mag" || key == "max_val" || key == "max_mag" ||
                                    key == "basis_size" || key == "mag_basis_size" || key == "radial_basis_size" ||
                                    key == "radial_funcs_count" || key == "species_count"))
      throw ParseError(path, ln, fmt::format("'{}' must come before radial_coeffs", key));
    else if (key == "min_val" || key == "min_mag") { p.min_val = num(); p.magnetic = true; }
    else if (key == "max_val" || key == "max_mag") { p.max_val = num(); p.magnetic = true; }
    else if (key == "basis_size" || key == "mag_basis_size") { p.magnetic_basis_size = integer(1, 32); p.magnetic = true; }
    else if (key == "alpha_moments_count") p.alpha_moments_count = integer(1, 10'000'000);
    else if (key == "alpha_index_basic_count" || key == "alpha_index_times_count" || key == "alpha_scalar_moments") {
      counts[key] = {integer(0, 10'000'000), ln};
    } else if (key == "alpha_index_basic") p.alpha_index_basic = parse_tuples(value, path, ln, key);
    else if (key == "alpha_index_times") p.alpha_index_times = parse_tuples(value, path, ln, key);
    else if (key == "alpha_moment_mapping") p.alpha_moment_mapping = parse_int_list(value, path, ln, key);
    else if (key == "species_coeffs") p.species_coeffs = parse_list(value, path, ln, key);
    else if (key == "moment_coeffs") p.moment_coeffs = parse_list(value, path, ln, key);
    else throw ParseError(path, ln, fmt::format("unknown key '{}'", key));
  }
  for (const char* k : {"species_count", "min_dist", "max_dist", "radial_basis_size", "radial_funcs_count",
                        "alpha_moments_count", "alpha_index_basic", "alpha_index_times", "alpha_moment_mapping"})
    if (!seen.count(k)) throw ParseError(path, 0, fmt::format("missing key '{}' (truncated file?)", k));
  auto check_count = [&](const char* key, std::size_t actual) {
    const auto it = counts.find(key);
    if (it != counts.end() && static_cast<std::size_t>(it->second.first) != actual)
      throw ParseError(path, it->second.second, fmt::format("{} = {} but {} entries follow", key, it->second.first, actual));
  };
  check_count("alpha_index_basic_count", p.alpha_index_basic.size());
  check_count("alpha_index_times_count", p.alpha_index_times.size());
  check_count("alpha_scalar_moments", p.alpha_moment_mapping.size());
  if (have_radial_coeffs && p.magnetic && !seen.count("basis_size") && !seen.count("mag_basis_size"))
    throw ParseError(path, 0, "magnetic block without basis_size");
  try {
    p.validate(/*require_coefficients=*/false);
    if (!moment_max.empty()) {
      p = to_species_moment_ranges(p, moment_max);
      p.validate(false);
    }
  } catch (const InputError& e) {
    throw ParseError(path, moment_max.empty() ? 0 : tag_line, e.what());
  }
  return p;
}

void write_mtp(const std::string& path, const MtpParameters& species_p) {
  species_p.validate(false);
  // One moment range in the file (MLIP-3's format); the per-species ranges go into the tag.
  const MtpParameters p = to_common_moment_range(species_p);
  const std::string tag = make_tag(species_p);
  auto list = [](std::ostream& o, auto begin, auto end) {
    o << '{';
    for (auto it = begin; it != end; ++it) fmt::print(o, "{}{:.16e}", it == begin ? "" : ", ", *it);
    o << '}';
  };
  auto tuples = [](std::ostream& o, const std::vector<std::array<int, 4>>& t) {
    o << '{';
    for (std::size_t i = 0; i < t.size(); ++i)
      fmt::print(o, "{}{{{}, {}, {}, {}}}", i ? ", " : "", t[i][0], t[i][1], t[i][2], t[i][3]);
    o << '}';
  };
  write_atomically(path, [&](std::ostream& o) {
    fmt::print(o, "MTP\nversion = {}\npotential_name = {}\nscaling = {:.16e}\nspecies_count = {}\npotential_tag = {}\n",
               p.version, p.potential_name, p.scaling, p.species_count, tag);
    fmt::print(o, "radial_basis_type = RBChebyshev\n\tmin_dist = {:.16e}\n\tmax_dist = {:.16e}\n\tradial_basis_size = {}\n",
               p.min_dist, p.max_dist, p.radial_basis_size);
    if (p.magnetic)
      fmt::print(o, "magnetic_basis_type = BChebyshev\n\tmin_val = {:.16e}\n\tmax_val = {:.16e}\n\tbasis_size = {}\n",
                 p.min_val, p.max_val, p.magnetic_basis_size);
    fmt::print(o, "\tradial_funcs_count = {}\n", p.radial_funcs_count);
    if (!p.radial_coeffs.empty()) {
      o << "\tradial_coeffs\n";
      const int per = p.radial_coeffs_per_function();
      for (int zi = 0; zi < p.species_count; ++zi)
        for (int zj = 0; zj < p.species_count; ++zj) {
          fmt::print(o, "\t\t{}-{}\n", zi, zj);
          for (int mu = 0; mu < p.radial_funcs_count; ++mu) {
            const auto b = p.radial_coeffs.begin() + static_cast<long>(p.radial_coeff_index(zi, zj, mu, 0, 0, 0));
            o << "\t\t\t";
            list(o, b, b + per);
            o << '\n';
          }
        }
    }
    fmt::print(o, "alpha_moments_count = {}\nalpha_index_basic_count = {}\nalpha_index_basic = ", p.alpha_moments_count,
               p.alpha_index_basic.size());
    tuples(o, p.alpha_index_basic);
    fmt::print(o, "\nalpha_index_times_count = {}\nalpha_index_times = ", p.alpha_index_times.size());
    tuples(o, p.alpha_index_times);
    fmt::print(o, "\nalpha_scalar_moments = {}\nalpha_moment_mapping = {{", p.alpha_moment_mapping.size());
    for (std::size_t i = 0; i < p.alpha_moment_mapping.size(); ++i) fmt::print(o, "{}{}", i ? ", " : "", p.alpha_moment_mapping[i]);
    o << "}\n";
    if (!p.species_coeffs.empty()) {
      o << "species_coeffs = ";
      list(o, p.species_coeffs.begin(), p.species_coeffs.end());
      o << '\n';
    }
    if (!p.moment_coeffs.empty()) {
      o << "moment_coeffs = ";
      list(o, p.moment_coeffs.begin(), p.moment_coeffs.end());
      o << '\n';
    }
  });
}

}  // namespace mmtp::io
