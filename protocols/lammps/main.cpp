// mmtp-lammps: Debian's LAMMPS (liblammps, stable 29 Sep 2021) with pair_style mmtp registered.
// It takes LAMMPS's own command line (-in, -var, -log, -screen, ...), as lmp does:
//   mpirun -np 4 mmtp-lammps -in in.feal
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <typeinfo>

#include "pair_mmtp.hpp"  // first: LAMMPS's headers need its fmt declaration (lammps_headers.hpp)
#include "input.h"
#include "lammps.h"
#include "modify.h"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  try {
    LAMMPS_NS::LAMMPS lmp(argc, argv, MPI_COMM_WORLD);
    (*lmp.force->pair_map)["mmtp"] = &mmtp::lammps::PairMMTP::create;
    (*lmp.modify->fix_map)["MMTP/HISTORY"] = &mmtp::lammps::FixMMTPHistory::create;  // pair mmtp's own
    lmp.input->file();
  } catch (const std::exception& e) {
    // Debian's LAMMPS is built with LAMMPS_EXCEPTIONS (its exceptions.h is not shipped): the
    // error is already printed. error->one (one rank) throws LAMMPSAbortException: abort the
    // others; error->all (every rank) throws LAMMPSException: finish cleanly, exit code 1.
    if (std::string(typeid(e).name()).find("LAMMPSAbortException") != std::string::npos) MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Finalize();
    return 1;
  }
  MPI_Finalize();
  return 0;
}
