#pragma once
#include <string>
#include <vector>

#include "mmtp/ensemble.hpp"
#include "mmtp/relax.hpp"

/// Active learning with a committee (the route of Kotykhov et al. 2023 and arXiv:2405.07069):
/// explore with the current committee, select the structures where its members disagree,
/// label them with constrained DFT, refit. This namespace holds the exploration and the
/// selection; mmtp-learn (tools/learn.cpp) runs the loop, the labelling and the refits.
namespace mmtp::learn {

/// A structure met during exploration and the committee's disagreement on it.
struct Candidate {
  Structure structure;
  std::string origin;      ///< task and step, e.g. "relax b2.xyz full, evaluation 12"
  double energy_std = 0;   ///< committee std of E per atom [eV/atom]
  double force_std = 0;    ///< largest per-atom |σ_F| [eV/Å]
  double dE_dm_std = 0;    ///< largest σ of ∂E/∂m [eV/μB]
  double score = 0;        ///< largest std relative to its selection threshold (select())
};

/// The committee's view of `s` as a candidate (std of E per atom, largest force and dE/dm std).
Candidate assess(const Structure& s, const EnsembleResult& r, std::string origin);

/// Joint relaxation (moments bounded to their trained ranges, not stopped at the trained
/// region's edge: that is where the candidates are), every `every`-th evaluation and the last
/// one recorded. At most `max_steps` steps.
std::vector<Candidate> explore_relax(const Ensemble& committee, const Structure& start, CellMode cell, int max_steps,
                                     int every, const std::string& name);

/// Energy-volume scan: the cell and positions scaled isotropically by (1 + s) for `points`
/// linear strains s in [from, to], moments relaxed at each (bounded).
std::vector<Candidate> explore_volume_scan(const Ensemble& committee, const Structure& start, double from, double to,
                                           int points, const std::string& name);

/// Energy-moment scan: every moment of species `type` set to m for `points` values in
/// [from, to] μB, the other moments relaxed (bounded) at fixed positions.
std::vector<Candidate> explore_moment_scan(const Ensemble& committee, const Structure& start, int type, double from, double to,
                                           int points, const std::string& name);

/// Settings of a Langevin molecular dynamics run (BAOAB splitting; Leimkuhler & Matthews,
/// Appl. Math. Res. Express 2013, 34) on the adiabatic surface: moments relaxed at every step.
/// A run stops early when a pair comes closer than the committee's R_min (the trajectory has
/// left the region the model describes; what follows would be an artefact of extrapolation).
struct MdOptions {
  double temperature = 300;    ///< [K]
  double timestep = 1.0;       ///< [fs]
  double friction = 0.01;      ///< Langevin friction γ [1/fs]
  int steps = 200;
  int every = 20;              ///< record a candidate every this many steps
  unsigned seed = 1;
  std::vector<double> masses;  ///< per potential type [amu]
  void validate(int species_count) const;  ///< throws InputError naming the field
};
std::vector<Candidate> explore_md(const Ensemble& committee, const Structure& start, const MdOptions& options,
                                  const std::string& name);

/// What makes a candidate worth labelling.
struct SelectOptions {
  double energy_std = 0.005;   ///< [eV/atom]
  double force_std = 0.2;      ///< [eV/Å]
  double dE_dm_std = 0.1;      ///< [eV/μB]
  int max_candidates = 10;     ///< per iteration
  int max_per_task = 0;        ///< per exploration task (the origin up to its first comma); 0 = no limit
  double min_distance = 0.05;  ///< fingerprint distance below which two structures are the same
  int max_atoms = 4;           ///< larger structures cannot be labelled (skipped)
  /// Structures with a pair closer than this [Å] are skipped: below R_min the radial basis has
  /// no support, and such labels (an exploded MD, a collapsed cell) teach the fit nothing it can
  /// use. 0: the committee's smallest R_min (set by the loop).
  double min_pair_distance = 0.0;
  void validate() const;       ///< throws InputError naming the field
};

/// Candidates above any threshold, ranked by their largest std relative to its threshold,
/// taken greedily while each differs from those taken and from `known` (labelled data) by at
/// least min_distance in fingerprint(); at most max_candidates (and max_per_task from one
/// exploration task), none larger than max_atoms.
std::vector<Candidate> select(std::vector<Candidate> pool, const std::vector<Structure>& known, const SelectOptions& options,
                              int species_count, double cutoff);

/// A descriptor of a structure for de-duplication: per species of the central atom, the mean
/// over its atoms of the Gaussian-smeared (σ = 0.1 Å) neighbour-distance histogram per neighbour
/// species on 1.5 Å … cutoff, and of |m_i| [μB]; the atom fraction of each species and the
/// volume per atom [Å³]. distance() is the Euclidean distance relative to the mean norm of the
/// two (0 … 2; 2 for fingerprints of different species counts).
std::vector<double> fingerprint(const Structure& s, int species_count, double cutoff);
double distance(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace mmtp::learn
