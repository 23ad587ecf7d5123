// The `mmtp-bench --fit` measurement for the library before the shared-equations redesign
// (commit 200c492, whose mmtp-bench has no --fit), for side-by-side timings (README, mmtp-bench).
// Not built here: it uses that commit's API. To build it there:
//   git worktree add /tmp/old 200c492 && cp tools/fit_bench_200c492.cpp /tmp/old/tools/
//   printf 'add_executable(fit-bench-200c492 fit_bench_200c492.cpp)\ntarget_link_libraries(fit-bench-200c492 PRIVATE mmtp::core)\n' >> /tmp/old/tools/CMakeLists.txt
//   cmake -S /tmp/old -B /tmp/old/build -DMMTP_BUILD_TESTS=OFF && cmake --build /tmp/old/build --target fit-bench-200c492
// Usage: fit-bench-200c492 POT.mtp DATA REPEAT THREADS; prints the loss, the gradient norm and
// fit_ms_per_evaluation_median like mmtp-bench --fit (symmetrized objective, default weights).
#include <fmt/core.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "mmtp/fit/objective.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/io/samples.hpp"

int main(int argc, char** argv) {
  if (argc != 5) {
    fmt::print(stderr, "usage: fit-bench-200c492 POT.mtp DATA REPEAT THREADS\n");
    return 2;
  }
  const std::string pot = argv[1], input = argv[2];
  const int repeat = std::max(1, std::stoi(argv[3]));
  omp_set_num_threads(std::max(1, std::stoi(argv[4])));
  const mmtp::MtpParameters p = mmtp::io::read_mtp(pot);
  std::vector<std::string> names = p.species_names;
  std::vector<std::string> warnings;
  const auto data = mmtp::io::read_labelled({input}, names, mmtp::io::AbinitOptions{}, warnings);
  Eigen::VectorXd grad;
  double loss = mmtp::fit::objective(p, data, mmtp::fit::Weights{}, mmtp::EvalMode::symmetrized, &grad);  // warm-up
  std::vector<double> ms;
  for (int k = 0; k < repeat; ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    loss = mmtp::fit::objective(p, data, mmtp::fit::Weights{}, mmtp::EvalMode::symmetrized, &grad);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
  fmt::print("loss: {:.12e}\ngradient_norm: {:.12e}\nfit_ms_per_evaluation_median: {:.3f}\n", loss, grad.norm(), median);
}
