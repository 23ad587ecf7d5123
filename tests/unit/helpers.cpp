#include "helpers.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "mmtp/io/cfg.hpp"
#include "mmtp/io/mtp.hpp"

namespace mmtp::test {

std::string data(const std::string& name) {
  const char* dir = std::getenv("MMTP_TEST_DATA_DIR");
  if (!dir) throw std::runtime_error("MMTP_TEST_DATA_DIR is not set");
  return std::string(dir) + "/" + name;
}

std::vector<Reference> read_exact(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<Reference> out;
  std::vector<std::vector<double>> atoms;
  auto finish = [&] {
    if (out.empty()) return;
    Reference& r = out.back();
    r.forces.resize(3, static_cast<Index>(atoms.size()));
    if (!atoms.empty() && atoms[0].size() > 5) r.dE_dm.resize(static_cast<Index>(atoms.size()));
    for (std::size_t a = 0; a < atoms.size(); ++a) {
      for (int d = 0; d < 3; ++d) r.forces(d, static_cast<Index>(a)) = atoms[a][2 + d];
      if (r.dE_dm.size()) r.dE_dm[static_cast<Index>(a)] = atoms[a][5];
    }
    atoms.clear();
  };
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string head;
    ss >> head;
    if (head == "#" && line.find("# cfg") == 0) {
      finish();
      out.emplace_back();
    } else if (head == "energy") {
      ss >> out.back().energy;
    } else if (head == "stress_virial_full(row-major") {
      std::string rest;
      ss >> rest;  // "3x3)"
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) ss >> out.back().virial(a, b);
    } else if (!head.empty() && head[0] != '#' && head.rfind("stress", 0) != 0) {
      std::vector<double> v{std::stod(head)};
      double x;
      while (ss >> x) v.push_back(x);
      atoms.push_back(v);
    }
  }
  finish();
  return out;
}

MagneticMtp load(const std::string& name) { return MagneticMtp(io::read_mtp(data(name))); }

Structure structure(const std::string& name) { return io::read_cfg(data(name)).front().structure; }

std::string temp_path(const std::string& suffix) {
  static std::atomic<int> counter{0};
  return "/tmp/mmtp_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + suffix;
}

}  // namespace mmtp::test

namespace mmtp::test {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string write_temp(const std::string& text, const std::string& suffix) {
  const std::string p = temp_path(suffix);
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("test fixture: '" + from + "' not found");
  return text.replace(at, from.size(), to);
}

}  // namespace mmtp::test

#include <gtest/gtest.h>

#include "mmtp/error.hpp"

namespace mmtp::test {

void expect_parse_error(const std::function<void(const std::string&)>& read, const std::string& text,
                        const std::string& suffix, long line, const std::string& fragment) {
  const std::string path = write_temp(text, suffix);
  try {
    read(path);
    ADD_FAILURE() << "no error for: " << fragment;
  } catch (const ParseError& e) {
    EXPECT_EQ(e.file(), path);
    if (line >= 0) {
      EXPECT_EQ(e.line(), line) << e.what();
    }
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind(path + ":", 0), 0u) << e.what();
  }
  std::remove(path.c_str());
}

}  // namespace mmtp::test
