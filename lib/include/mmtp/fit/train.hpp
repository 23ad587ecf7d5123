#pragma once
#include <functional>
#include <string>
#include <vector>

#include "mmtp/fit/objective.hpp"

namespace mmtp::fit {

struct TrainOptions {
  Weights weights;
  EvalMode mode = EvalMode::symmetrized;  ///< the ±M augmentation of Eq. 5 (symmetrized model)
  int max_iter = 1000;                    ///< L-BFGS iterations
  double tol = 1e-9;                      ///< stop when the loss changes by less (relative) over 10 iterations
  unsigned seed = 1;                      ///< random initial radial coefficients
  double init_scale = 1e-2;               ///< they are uniform in [−init_scale, init_scale]
  int checkpoint_every = 0;               ///< write `checkpoint` (and its state) every N evaluations (0 = never)
  std::string checkpoint;                 ///< .mtp path of the checkpoint (best point so far)
  int first_evaluation = 0;               ///< evaluations done before `start` (resuming a checkpoint)
  bool linear_solve = true;               ///< solve species/moment coefficients first (not when resuming)
  void validate() const;                  ///< throws InputError naming the field
};

struct TrainProgress {
  int evaluations = 0;      ///< counted from TrainOptions::first_evaluation
  double loss = 0.0;        ///< best so far
  double seconds = 0.0;
  bool checkpoint = false;  ///< the checkpoint file was just written (atomically) with this state
};

struct TrainReport {
  MtpParameters params;       ///< the best point found
  double loss = 0.0;
  double initial_loss = 0.0;  ///< after the linear solve (at `start` without it)
  int evaluations = 0;        ///< including TrainOptions::first_evaluation
  double seconds = 0.0;
  std::string stop;           ///< why it stopped: "max_iter", "tolerance", or the solver's message
};

/// The state file beside a checkpoint: PREFIX.checkpoint.mtp → PREFIX.checkpoint.json, holding
/// the evaluation count, the loss and the seconds at the checkpoint.
std::string checkpoint_state_path(const std::string& checkpoint);
/// The evaluation count of a checkpoint's state file; 0 when it is missing or unreadable.
int checkpoint_evaluations(const std::string& checkpoint);

/// Fits all coefficients of `start` to `data`: when `start` has no radial coefficients they
/// are drawn from `seed`; then species and moment coefficients are solved exactly
/// (solve_linear, unless `linear_solve` is off: a resumed checkpoint continues from exactly its
/// state), then L-BFGS (LBFGS++) runs over all parameters with the exact gradient.
/// Deterministic for a seed and thread count. Throws InputError for bad options or
/// empty data, mmtp::Error from evaluation or checkpoint I/O.
TrainReport train(MtpParameters start, const Dataset& data, const TrainOptions& options,
                  const std::function<void(const TrainProgress&)>& progress = {}, const std::vector<double>& multiplicity = {});

}  // namespace mmtp::fit
