#pragma once
#include <functional>
#include <string>
#include <vector>

#include "mmtp/ensemble.hpp"
#include "mmtp/fit/train.hpp"

namespace mmtp::fit {

/// A seeded random split of labelled data into training and validation structures.
struct Split {
  std::vector<Sample> train, valid;
};

/// Holds out round(fraction·N) structures chosen by `seed`, but never the last training
/// structure of a composition (reduced atom counts per species): a composition the model never
/// saw would test extrapolation, not the fit. Throws InputError for a fraction outside [0, 1).
Split split_validation(std::vector<Sample> data, double fraction, unsigned seed, int species_count);

/// Settings of a committee fit: K members with seeds seed … seed+K−1.
struct EnsembleOptions {
  TrainOptions train;           ///< per member (its seed is train.seed + k)
  int members = 5;
  bool bootstrap = false;       ///< each member sees a seeded resample (with repetition) of the data
  /// Checkpoints PREFIX.K.checkpoint.mtp and .json every train.checkpoint_every evaluations
  /// (empty: none); `resume` starts each member from its checkpoint when present.
  std::string checkpoint_prefix;
  bool resume = false;
  /// Moment range per species of the Chebyshev basis while training [μB] (empty or 0: each
  /// start's own). Members train on these ranges (with_moment_ranges: the same model space;
  /// checkpoints hold them) and are re-expanded exactly onto their start's ranges when done.
  /// A wider range conditions the fit of a species with small moments: ∂E/∂m weighs the
  /// coefficients of its moment basis by 1/M_max².
  std::vector<double> fit_moment_max;
  void validate() const;        ///< throws InputError naming the field
};

/// Member k's checkpoint: PREFIX.k.checkpoint.mtp (its state: checkpoint_state_path).
std::string checkpoint_path(const std::string& prefix, int member);

/// Trains the committee: members in parallel (OpenMP, one thread each), the geometry of the
/// data computed once for all members of one basis (members may differ in level, radial basis
/// size or R_min/R_cut: one geometry per kind; they must agree in the species). `starts` holds
/// one starting potential for every member (warm starts) or a single one for all (its radial
/// coefficients, when missing, are drawn from each member's seed). Progress is reported per
/// member. Deterministic for the seeds. Throws InputError for bad options, empty data or starts
/// that differ in species, mmtp::Error from evaluation or checkpoint I/O.
std::vector<TrainReport> train_ensemble(const std::vector<MtpParameters>& starts, const std::vector<Sample>& data,
                                        const EnsembleOptions& options,
                                        const std::function<void(int member, const TrainProgress&)>& progress = {});

/// Root-mean-square and mean absolute errors of a model on labelled data.
struct Errors {
  double energy_rmse = 0, energy_mae = 0;  ///< per atom [eV/atom]
  double force_rmse = 0, force_mae = 0;    ///< per component [eV/Å]
  double stress_rmse = 0, stress_mae = 0;  ///< per component of −W/V [eV/Å³]
  double dE_dm_rmse = 0, dE_dm_mae = 0;    ///< per atom [eV/μB]
  std::size_t structures = 0;
};
/// Errors of member `member` (−1: the committee mean) of `results[k]` against `data[k]`.
Errors errors(const std::vector<EnsembleResult>& results, const std::vector<Sample>& data, int member = -1);

/// How well a committee's spread predicts its error, on energies per atom.
struct Calibration {
  double alpha = 1.0;          ///< the std multiplier applied (or fitted)
  double floor = 0.0;          ///< error floor s0 [eV/atom] applied (or fitted)
  double spearman = 0.0;       ///< rank correlation of std and |error of the mean|
  double within_2sigma = 0.0;  ///< fraction of structures with |error| ≤ 2·sqrt((α·std)² + s0²)
  std::size_t structures = 0;
};
/// Fits the energy std per atom sqrt((α·σ)² + s0²) of a committee with spread σ [eV/atom]:
/// first its shape, the ratio r = s0/α, by maximising the Gaussian likelihood of the errors
/// e ~ N(0, a²(σ² + r²)) (Musil et al., J. Chem. Theory Comput. 15, 906 (2019), Eq. 14, with a
/// floor: the part of the error that no spread ranks), then its scale, so that 95 % of the
/// errors lie within 2·std (α is the 95th percentile of |e|/(2·sqrt(σ² + r²)), s0 = α·r;
/// distribution-free: a few extrapolated structures cannot dominate it). r = 0 gives the
/// plain α of earlier versions. α stays ≥ 1 when there is a floor (otherwise s0 alone is
/// scaled to 95 %): errors that hardly follow the spread in the validation data must not
/// shrink the spread, which is what grows outside the trained region. `results` must come
/// from a committee with α = 1 and no floor.
/// Throws InputError with fewer than 3 labelled structures.
Calibration calibrate(const std::vector<EnsembleResult>& results, const std::vector<Sample>& data);
/// The same numbers for a given α and floor [eV/atom] applied to the stds of `results` (e.g. on a
/// held-out set; α = 1 and no floor when `results` come from a calibrated committee).
Calibration check_calibration(const std::vector<EnsembleResult>& results, const std::vector<Sample>& data, double alpha,
                              double floor = 0.0);

/// Spearman rank correlation (average ranks for ties); 0 for fewer than 3 pairs.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace mmtp::fit

namespace mmtp::fit {

/// Sizes of a new potential.
struct BasisOptions {
  double rmin = 2.1, rcut = 4.5;  ///< R_min, R_cut [Å]
  int radial_basis_size = 8;
  int magnetic_basis_size = 2;    ///< Chebyshev functions per moment (1 = non-magnetic)
  /// M_max^z per species [μB]; empty or 0 entries: the largest |m| of that species in the data.
  std::vector<double> moment_max;
};

/// An untrained potential with the alpha tables of `basis` (a level template or a file),
/// `species` and the sizes of `options`. Moment ranges per species (Kotykhov et al. 2023: "the
/// maximal absolute value of the magnetic moment for atom type z in the training set"); a
/// species with no moment above zero in `data` gets the largest range of the others. Throws
/// InputError for bad sizes.
MtpParameters untrained_potential(MtpParameters basis, const std::vector<std::string>& species, const BasisOptions& options,
                                  const std::vector<Sample>& data);

/// A trained potential `p` as the start of a refit on `data` (a warm start): the same model
/// (with_moment_ranges, exact) on moment ranges that cover the data: options.moment_max where
/// given, otherwise per species the wider of p's own range and the largest |m| in `data`
/// [μB]. Only the ranges of `options` are used; p keeps its basis and cut-offs. Throws
/// InputError for an untrained `p` or a species count other than species.size().
MtpParameters warm_start(MtpParameters p, const std::vector<std::string>& species, const BasisOptions& options,
                         const std::vector<Sample>& data);

/// Everything a fit report holds: the run, its members and the committee (α = 1) on the data.
struct FitSummary {
  std::vector<std::string> command, species;
  std::vector<std::string> member_files;
  std::vector<TrainReport> members;
  unsigned first_seed = 1;
  const std::vector<Sample>* train = nullptr;
  const std::vector<Sample>* valid = nullptr;
  std::vector<EnsembleResult> train_results, valid_results;
  Calibration calibration;  ///< fitted on the validation data (on the training data without it)
};

/// A committee fit from start to files: train_ensemble on `train`; the committee evaluated on
/// `train` and `valid`; α calibrated on `valid` (on `train` with fewer than 3 validation
/// structures; left at 1 for one member); PREFIX.K.mtp written (MLIP-3 format, α in the tags)
/// and PREFIX.report.json. The summary's train/valid point at the arguments. Throws like
/// train_ensemble, and mmtp::Error when a file cannot be written.
FitSummary fit_committee(const std::vector<MtpParameters>& starts, const std::vector<Sample>& train,
                         const std::vector<Sample>& valid, const EnsembleOptions& options, const std::string& prefix,
                         std::vector<std::string> command,
                         const std::function<void(int member, const TrainProgress&)>& progress = {});

/// The JSON report of a fit (mmtp-fit's PREFIX.report.json, read by tools/parity and mmtp-learn):
/// per member and for the committee mean the RMSE and MAE of energy [meV/atom], forces [eV/Å],
/// stress [GPa] and dE/dm [eV/μB] on train and validation, the calibration (α, Spearman, share
/// within 2σ), and every structure's prediction, std and label.
std::string report_json(const FitSummary& s);

}  // namespace mmtp::fit
