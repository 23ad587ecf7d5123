#include "fix_mmtp_history.hpp"

#include <algorithm>
#include <string>

namespace mmtp::lammps {

using namespace LAMMPS_NS;

FixMMTPHistory::FixMMTPHistory(LAMMPS* lmp, int narg, char** arg) : Fix(lmp, narg, arg) {
  if (narg != 4) error->all(FLERR, std::string("fix MMTP/HISTORY: ID group MMTP/HISTORY COLUMNS"));
  columns_ = std::atoi(arg[3]);
  if (columns_ < 1) error->all(FLERR, std::string("fix MMTP/HISTORY: COLUMNS must be >= 1"));
  maxexchange = columns_;
  create_attribute = 1;
  grow_arrays(atom->nmax);
  atom->add_callback(Atom::GROW);
}

FixMMTPHistory::~FixMMTPHistory() { atom->delete_callback(id, Atom::GROW); }

void FixMMTPHistory::grow_arrays(int nmax) {
  values_.resize(static_cast<std::size_t>(std::max(nmax, 1)) * columns_, 0.0);
}

void FixMMTPHistory::copy_arrays(int i, int j, int) { std::copy(row(i), row(i) + columns_, row(j)); }

void FixMMTPHistory::set_arrays(int i) { std::fill(row(i), row(i) + columns_, 0.0); }

int FixMMTPHistory::pack_exchange(int i, double* buf) {
  std::copy(row(i), row(i) + columns_, buf);
  return columns_;
}

int FixMMTPHistory::unpack_exchange(int nlocal, double* buf) {
  std::copy(buf, buf + columns_, row(nlocal));
  return columns_;
}

double FixMMTPHistory::memory_usage() { return static_cast<double>(values_.capacity() * sizeof(double)); }

void FixMMTPHistory::clear() { std::fill(values_.begin(), values_.end(), 0.0); }

}  // namespace mmtp::lammps
