// A program built against an installed mmtp (find_package(mmtp)): prints the number of basis
// functions of a level-16 MTP and the energy of a tiny structure of a potential it reads.
#include <mmtp/io/mtp.hpp>
#include <mmtp/moment_basis.hpp>
#include <mmtp/mtp.hpp>

#include <cmath>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  mmtp::MagneticMtp model(mmtp::io::read_mtp(argv[1]));
  mmtp::Structure s;
  s.pbc = {false, false, false};
  s.species = {0, 0};
  s.positions = Eigen::Matrix3Xd::Zero(3, 2);
  s.positions(0, 1) = 2.5;
  std::printf("basis functions at level 16: %d; dimer energy finite: %d\n", mmtp::moment_tensor_basis(16).alpha_scalar_moments(),
              std::isfinite(model.evaluate(s).energy) ? 1 : 0);
}
