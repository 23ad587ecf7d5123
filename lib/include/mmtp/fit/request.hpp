#pragma once
// The front door of a committee fit: what mmtp-fit's options, mmtp-learn's config keys and
// mmtp.fit's keyword arguments all map onto. The defaults live here and nowhere else; a new fit
// option is a field here plus one line in each front end's mapping (README of lib/).
#include <string>
#include <vector>

#include "mmtp/fit/committee.hpp"

namespace mmtp::fit {

/// One committee fit.
struct FitRequest {
  std::vector<std::string> species;    ///< element of each type, type 0 first (Fe,Al)
  int level = 16;                      ///< level of the moment tensor basis when no template is given (2..28)
  /// An untrained template (.mtp/.almtp: its alpha tables, this request's sizes), or trained
  /// potentials — one for every member, or one for all — that keep their coefficients, basis and
  /// cut-offs (warm start; moment ranges widened to cover the data). Empty: the level's basis.
  std::vector<std::string> templates;
  BasisOptions basis;                  ///< R_min, R_cut, radial and magnetic basis sizes, moment ranges
  EnsembleOptions ensemble;            ///< members, seeds, bootstrap, L-BFGS, weights, checkpoints
  double valid_fraction = 0.0;         ///< of the training data held out to calibrate α (split_validation)
  /// Seed of that split; −1: the first member's seed (ensemble.train.seed). Members fitted in
  /// separate runs, each with its own seed, share one validation split when they share this.
  long long valid_seed = -1;
  /// The seed split_validation gets: valid_seed, or the first member's seed when it is −1.
  unsigned split_seed() const { return valid_seed < 0 ? ensemble.train.seed : static_cast<unsigned>(valid_seed); }
  /// Throws InputError naming the field: sizes, ranges, weights (per-species factors for each
  /// species), template count (one, or one per member).
  void validate() const;
};

/// The starting potential(s) of `r` for training data `train`: untrained_potential of the
/// template (or of the level's basis), or warm_start of each trained file. Throws InputError /
/// ParseError / mmtp::Error (a file that cannot be read, a species count that is not the data's).
std::vector<MtpParameters> starting_potentials(const FitRequest& r, const std::vector<Sample>& train);

/// Member k's potential file: PREFIX.k.mtp (written by fit_committee).
std::string member_path(const std::string& prefix, int member);
/// The K member files of a committee written with `prefix`.
std::vector<std::string> member_paths(const std::string& prefix, int members);

}  // namespace mmtp::fit
