#include "mmtp/ipi/wire.hpp"

#include <fmt/core.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "mmtp/error.hpp"
#include "mmtp/units.hpp"

namespace mmtp::ipi::wire {
namespace {

using RowMajor3 = Eigen::Matrix<double, 3, 3, Eigen::RowMajor>;
constexpr double bohr_per_angstrom = 1.0 / units::angstrom_per_bohr;
constexpr double hartree_per_ev = 1.0 / units::ev_per_hartree;

template <class T>
void put(std::vector<char>& buf, const T& value) {
  const auto* p = reinterpret_cast<const char*>(&value);
  buf.insert(buf.end(), p, p + sizeof(T));
}

void require_finite(bool ok, const char* what) {
  if (!ok) throw Error(fmt::format("refusing to send a non-finite {} to the server", what));
}

}  // namespace

Header header(std::string_view name) {
  Header h;
  h.fill(' ');
  std::memcpy(h.data(), name.data(), std::min(name.size(), header_size));
  return h;
}

std::string printable(const Header& h) {
  std::string out;
  for (char c : h) out += (c >= 32 && c < 127) ? std::string(1, c) : fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

void decode_positions(const double* h_bohr, const double* q_bohr, Index nat, Eigen::Matrix3d& cell,
                      Eigen::Matrix3Xd& positions) {
  cell = Eigen::Map<const RowMajor3>(h_bohr) * units::angstrom_per_bohr;
  positions = Eigen::Map<const Eigen::Matrix3Xd>(q_bohr, 3, nat) * units::angstrom_per_bohr;
}

std::vector<char> force_ready(const Result& r, std::string_view extras) {
  const Index nat = r.forces.cols();
  require_finite(std::isfinite(r.energy), "energy");
  require_finite(r.forces.allFinite(), "force");
  require_finite(r.virial.allFinite(), "virial");
  if (extras.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
    throw Error("extras too long for the wire");
  std::vector<char> buf;
  buf.reserve(header_size + 8 + 4 + 24 * static_cast<std::size_t>(nat) + 72 + 4 + extras.size());
  const Header h = header("FORCEREADY");
  buf.insert(buf.end(), h.begin(), h.end());
  put(buf, r.energy * hartree_per_ev);
  put(buf, static_cast<std::int32_t>(nat));
  const Eigen::Matrix3Xd f = r.forces * (hartree_per_ev / bohr_per_angstrom);
  const auto* fp = reinterpret_cast<const char*>(f.data());
  buf.insert(buf.end(), fp, fp + sizeof(double) * 3 * static_cast<std::size_t>(nat));
  const RowMajor3 w = 0.5 * (r.virial + r.virial.transpose()) * hartree_per_ev;
  const auto* wp = reinterpret_cast<const char*>(w.data());
  buf.insert(buf.end(), wp, wp + sizeof(double) * 9);
  put(buf, static_cast<std::int32_t>(extras.size()));
  buf.insert(buf.end(), extras.begin(), extras.end());
  return buf;
}

std::string extras_json(const Result& mean, const std::vector<Result>& members, const Eigen::VectorXd& magmoms,
                        const ExtrasNotes& notes) {
  nlohmann::json j = nlohmann::json::object();
  auto vec = [](const auto& m, double factor, const char* what) {
    std::vector<double> v(m.data(), m.data() + m.size());
    for (double& x : v) {
      x *= factor;
      require_finite(std::isfinite(x), what);
    }
    return v;
  };
  j["magmom"] = vec(magmoms, 1.0, "moment");
  j["dE_dm"] = vec(mean.dE_dm, hartree_per_ev, "dE/dm");
  j["short_pairs"] = mean.extrapolation.short_pairs;
  j["moments_out_of_range"] = mean.extrapolation.moments_out_of_range;
  j["extrapolation"] = notes.extrapolation;
  if (!notes.moment_relaxation.empty()) {
    j["moment_relaxation"] = notes.moment_relaxation;
    j["moments_pushed_out"] = notes.moments_pushed_out;
  }
  if (members.size() >= 2) {
    auto& pot = j["committee_pot"] = nlohmann::json::array();
    auto& force = j["committee_force"] = nlohmann::json::array();
    auto& virial = j["committee_virial"] = nlohmann::json::array();
    for (const Result& m : members) {
      require_finite(std::isfinite(m.energy), "committee energy");
      pot.push_back(m.energy * hartree_per_ev);
      force.push_back(vec(m.forces, hartree_per_ev / bohr_per_angstrom, "committee force"));
      const RowMajor3 w = 0.5 * (m.virial + m.virial.transpose());
      virial.push_back(vec(w, hartree_per_ev, "committee virial"));
    }
  }
  return j.dump();
}

}  // namespace mmtp::ipi::wire
