#pragma once
// LAMMPS's C++ headers as Debian 12's liblammps-dev (stable 29 Sep 2021) ships them.
//
// The fmt pitfall (shared/docs/lammps-debian.md): pointers.h, utils.h and error.h were written
// for the fmt 7 that LAMMPS bundles (its symbols are in fmt::v7_lmp), but the include finds
// Debian's fmt 9, which lacks fmt::make_args_checked. Their formatting templates name it, so it
// is declared here — never defined: only LAMMPS's non-template overloads taking std::string
// (error->all(FLERR, std::string), utils::logmesg(lmp, std::string)) may be called, since the
// templates would need fmt 7's types.
#include <fmt/format.h>

namespace fmt {
template <typename... Args, typename S, typename... Ts>
int make_args_checked(const S&, Ts&&...);
}  // namespace fmt

#include "atom.h"      // IWYU pragma: export
#include "comm.h"      // IWYU pragma: export
#include "error.h"     // IWYU pragma: export
#include "force.h"     // IWYU pragma: export
#include "memory.h"    // IWYU pragma: export
#include "neighbor.h"  // IWYU pragma: export
#include "pair.h"      // IWYU pragma: export
#include "update.h"    // IWYU pragma: export
