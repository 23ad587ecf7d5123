#include "mmtp/structure.hpp"

#include "mmtp/error.hpp"

#include <fmt/core.h>

#include <Eigen/LU>
#include <cmath>
#include <stdexcept>

namespace mmtp {

void Structure::validate() const {
  auto fail = [](const std::string& what) { throw InputError(what); };
  const Index n = size();
  if (static_cast<Index>(species.size()) != n)
    fail(fmt::format("species has {} entries for {} atoms", species.size(), n));
  if (magmoms.size() != 0 && magmoms.size() != n) fail(fmt::format("magmoms has {} entries for {} atoms", magmoms.size(), n));
  if (!cell.allFinite()) fail("cell is not finite");
  for (Index i = 0; i < n; ++i) {
    if (!positions.col(i).allFinite()) fail(fmt::format("position of atom {} is not finite", i + 1));
    if (species[i] < 0) fail(fmt::format("species of atom {} is negative", i + 1));
    if (magmoms.size() && !std::isfinite(magmoms[i])) fail(fmt::format("magnetic moment of atom {} is not finite", i + 1));
  }
  for (int d = 0; d < 3; ++d)
    if (pbc[d] && cell.col(d).norm() == 0.0) fail(fmt::format("periodic along lattice vector {} but it is zero", d + 1));
}

double volume(const Structure& s) { return std::abs(s.cell.determinant()); }

}  // namespace mmtp
