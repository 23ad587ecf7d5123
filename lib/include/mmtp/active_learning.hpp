#pragma once
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mmtp/fit/committee.hpp"
#include "mmtp/fit/request.hpp"
#include "mmtp/learn.hpp"

/// The active-learning loop of mmtp-learn: fit → explore → select → label, repeated, with all
/// its state in one directory (DIR/iter-NN/{fit/, candidates.xyz, selected.xyz, labelled.xyz},
/// DIR/report.json, DIR/potential/). Every step writes its result atomically and is skipped when
/// the result is there: calling run() again continues where a killed run stopped.
namespace mmtp::learn {

/// The exploration of one iteration.
struct RelaxTask {
  std::string name;
  Structure start;
  std::vector<CellMode> cells;
};
struct ScanTask {
  std::string name;
  Structure start;
  bool moment = false;      ///< false: isotropic strain from .. to; true: moments of `type` from .. to [μB]
  int type = 0;
  double from = 0, to = 0;
  int points = 1;
};
struct MdTask {
  std::string name;
  Structure start;
  MdOptions md;
};
struct GivenTask {          ///< structures met elsewhere (i-PI's active_output)
  std::string name;
  std::vector<Structure> structures;
};
struct Tasks {
  std::vector<RelaxTask> relax;
  std::vector<ScanTask> scans;
  std::vector<MdTask> md;
  std::vector<GivenTask> given;
  int relax_steps = 200;
  int record_every = 5;
};

/// Every candidate the tasks produce, assessed by `committee`.
std::vector<Candidate> explore(const Ensemble& committee, const Tasks& tasks);

/// A ground state to follow: relaxed (cell full, moments) after every fit and compared with a
/// lattice parameter a = (2V/N)^(1/3) [Å] and the mean |m| of species `type` [μB].
struct Reference {
  std::string name;
  Structure start;
  double a = 0, m = 0;
  int type = 0;
};

struct LoopOptions {
  /// The fits (species, level, basis, committee, weights). Iteration 0 fits from it; later ones
  /// warm-start from the previous members when warm_start. Unlike mmtp-fit, 15 % of the data is
  /// held out by default: the loop's α is always calibrated.
  fit::FitRequest fit = [] {
    fit::FitRequest r;
    r.valid_fraction = 0.15;
    return r;
  }();
  int iterations = 3;          ///< labelling rounds; the last fit follows the last round
  int refit_max_iter = 1000;   ///< L-BFGS iterations of the warm-started refits
  bool warm_start = true;
  Tasks explore;
  SelectOptions select;
  std::vector<Reference> references;
};

/// Labels the candidates of one iteration (also written to DIR/iter-NN/selected.xyz): returns
/// the labelled structures, or nullopt while the labels are not there yet (external runs).
using Labeller = std::function<std::optional<std::vector<Sample>>(const std::filesystem::path& iteration_dir, int iteration,
                                                                  const std::vector<Candidate>& selected)>;

/// Runs or continues the loop in `dir`. `initial` gives the starting labelled data (read again
/// at every iteration), `heldout` a random set that is never trained on or selected (its
/// errors and calibration go into the report). Progress lines go to `log`; `reported` is called
/// with DIR/report.json whenever an iteration was added to it (e.g. to plot it). Returns true
/// when all iterations are done, false when the labeller is waiting. Throws InputError for bad
/// options, mmtp::Error from fits, evaluations and file I/O.
bool run(const std::filesystem::path& dir, const LoopOptions& options, const std::function<std::vector<Sample>()>& initial,
         const std::vector<Sample>& heldout, const Labeller& label, const std::function<void(const std::string&)>& log,
         const std::function<void(const std::filesystem::path&)>& reported = {});

}  // namespace mmtp::learn
