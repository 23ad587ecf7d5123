#pragma once
// fix MMTP/HISTORY: per-atom values that move with their atoms (LAMMPS's exchange between ranks,
// atom sorting, deletions), for pair_style mmtp's moment relaxation memory. Internal: pair mmtp
// creates it as `fix MMTP_HISTORY all MMTP/HISTORY COLUMNS`; it is written to no data or
// restart file, and removed with the pair style.
#include <vector>

#include "lammps_headers.hpp"
#include "fix.h"

namespace mmtp::lammps {

class FixMMTPHistory : public LAMMPS_NS::Fix {
 public:
  /// arg: ID group MMTP/HISTORY COLUMNS (COLUMNS ≥ 1 values per atom, all zero at first).
  FixMMTPHistory(LAMMPS_NS::LAMMPS* lmp, int narg, char** arg);
  ~FixMMTPHistory() override;
  /// For Modify::fix_map (mmtp-lammps registers it as "MMTP/HISTORY").
  static LAMMPS_NS::Fix* create(LAMMPS_NS::LAMMPS* lmp, int narg, char** arg) {
    return new FixMMTPHistory(lmp, narg, arg);
  }

  int setmask() override { return 0; }  // no hook in the time step: storage only
  void grow_arrays(int nmax) override;
  void copy_arrays(int i, int j, int delflag) override;
  void set_arrays(int i) override;  // an atom created here: zeros
  int pack_exchange(int i, double* buf) override;
  int unpack_exchange(int nlocal, double* buf) override;
  double memory_usage() override;

  int columns() const { return columns_; }
  /// The values of local atom i: columns() doubles.
  double* row(int i) { return values_.data() + static_cast<std::size_t>(i) * columns_; }
  /// Zeros for every atom.
  void clear();

 private:
  int columns_ = 0;
  std::vector<double> values_;  ///< atom->nmax × columns_, row-major
};

}  // namespace mmtp::lammps
