// libFuzzer target: the MLIP-3 `.mtp`/`.almtp` reader (io::read_mtp), then the evaluator on the
// potential it accepted, then the writer (round trip).
#include "mmtp/mtp.hpp"
#include "round_trip.hpp"

using namespace mmtp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::MemoryFile file;
  MtpParameters p;
  try {
    p = io::read_mtp(file.set(data, size));
  } catch (const Error&) {
    return 0;
  }
  // An accepted potential is either refused by the evaluator (documented) or gives finite
  // numbers for a plain dimer in a periodic box.
  try {
    const MagneticMtp mtp(p);
    Structure s;
    s.cell = 4.0 * Eigen::Matrix3d::Identity();
    s.species = {0, p.species_count > 1 ? 1 : 0};
    s.positions = Eigen::Matrix3Xd(3, 2);
    s.positions << 0.0, 1.1, 0.0, 1.3, 0.0, 1.5;
    if (p.magnetic) s.magmoms = Eigen::Vector2d(1.5, -0.5);
    fuzz::require_finite(mtp.evaluate(s));
  } catch (const Error&) {
  } catch (const std::invalid_argument&) {
  }
  fuzz::require_round_trip(
      p, [](const std::string& path, const MtpParameters& q) { io::write_mtp(path, q); },
      [](const std::string& path) { return io::read_mtp(path); }, "mtp");
  return 0;
}
