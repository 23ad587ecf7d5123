#pragma once
// Shared by the libFuzzer targets: hands the fuzzer's bytes to mmtp's path-based readers.
#include <fcntl.h>
#include <omp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace mmtp::fuzz {

/// An anonymous in-memory file (memfd) whose contents are replaced for every input; `path()`
/// opens it like a regular file (/proc/self/fd/N), so the readers run unchanged.
class MemoryFile {
 public:
  MemoryFile() : fd_(::memfd_create("mmtp-fuzz", 0)), path_("/proc/self/fd/" + std::to_string(fd_)) {
    if (fd_ < 0) std::abort();
  }
  ~MemoryFile() { ::close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  const std::string& set(const std::uint8_t* data, std::size_t size) {
    if (::ftruncate(fd_, 0) != 0) std::abort();
    for (std::size_t done = 0; done < size;) {
      const ssize_t n = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) std::abort();
      done += static_cast<std::size_t>(n);
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

/// A private scratch directory for the writers (which write a temporary file and rename it).
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/mmtp-fuzz-XXXXXX";
    if (!::mkdtemp(tmpl)) std::abort();
    return std::string(tmpl);
  }();
  return dir;
}

}  // namespace mmtp::fuzz

#include <Eigen/Core>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "mmtp/ensemble.hpp"
#include "mmtp/error.hpp"
#include "mmtp/io/mtp.hpp"

namespace mmtp::fuzz {

/// Aborts (a finding) when a number that left mmtp is not finite.
inline void require_finite(double x, const char* what) {
  if (!std::isfinite(x)) {
    std::fprintf(stderr, "non-finite %s in an accepted result\n", what);
    std::abort();
  }
}

template <class Derived>
void require_finite(const Eigen::DenseBase<Derived>& x, const char* what) {
  if (!x.allFinite()) {
    std::fprintf(stderr, "non-finite %s in an accepted result\n", what);
    std::abort();
  }
}

inline void require_finite(const Result& r) {
  require_finite(r.energy, "energy");
  require_finite(r.site_energies, "site energies");
  require_finite(r.forces, "forces");
  require_finite(r.virial, "virial");
  require_finite(r.dE_dm, "dE/dm");
}

/// The two-species magnetic test potential (tests/data/toy_feal_mag.mtp), read once.
inline const Ensemble& test_ensemble() {
  static const Ensemble e({MagneticMtp(io::read_mtp(MMTP_FUZZ_POTENTIAL))});
  return e;
}

/// Evaluates a parsed structure with the test potential when its species fit: either a
/// documented error (mmtp::Error, std::invalid_argument) or finite numbers.
inline void evaluate_if_possible(const Structure& s) {
  const auto& e = test_ensemble();
  for (int t : s.species)
    if (t < 0 || t >= e.members().front().parameters().species_count) return;
  try {
    require_finite(e.evaluate(s).mean);
  } catch (const Error&) {
  } catch (const std::invalid_argument&) {
  }
}

}  // namespace mmtp::fuzz

// One evaluation thread per run: libFuzzer measures and reproduces a single thread best.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  omp_set_num_threads(1);
  return 0;
}
