#pragma once
// pair_style mmtp: the magnetic moment tensor potential (one potential or a committee) inside
// LAMMPS, with collinear magnetic moments as a per-atom property and MPI domain decomposition.
// Syntax, units and the per-atom properties: README.md, "LAMMPS".
#include <memory>
#include <string>
#include <vector>

#include "fix_mmtp_history.hpp"
#include "lammps_headers.hpp"
#include "mmtp/ensemble.hpp"
#include "mmtp/relax.hpp"

namespace mmtp::lammps {

/// pair_style mmtp [raw] [moments fixed|relax] [max_std S] [alpha A] [mmax X] [max_steps N]
///                 [max_moment_step D] [bound_moments yes|no] [unconverged warn|error]
/// pair_coeff * * POT.mtp [POT2.mtp ...] ELEMENT_OF_TYPE_1 ... ELEMENT_OF_TYPE_N
///
/// Each rank evaluates the sites of its local atoms with mmtp's own neighbour list over its local
/// and ghost atoms (Debian's liblammps has no neigh_request.h for a full list); the forces and
/// dE/dm of every committee member on ghosts go back to their owners by this style's reverse
/// communication, so newton_pair on and off give the same numbers. Units metal: eV, Å, μB.
class PairMMTP : public LAMMPS_NS::Pair {
 public:
  explicit PairMMTP(LAMMPS_NS::LAMMPS* lmp);
  ~PairMMTP() override;
  /// For Force::pair_map (mmtp-lammps registers it as "mmtp").
  static LAMMPS_NS::Pair* create(LAMMPS_NS::LAMMPS* lmp) { return new PairMMTP(lmp); }

  void compute(int eflag, int vflag) override;
  void settings(int narg, char** arg) override;
  void coeff(int narg, char** arg) override;
  void init_style() override;
  double init_one(int i, int j) override;
  int pack_forward_comm(int n, int* list, double* buf, int pbc_flag, int* pbc) override;
  void unpack_forward_comm(int n, int first, double* buf) override;
  int pack_reverse_comm(int n, int first, double* buf) override;
  void unpack_reverse_comm(int n, int* list, double* buf) override;
  double memory_usage() override;

 private:
  /// What tally() leaves for report(): per member its energy's deviation from the mean over
  /// this rank's sites [eV], and the largest per-atom |σ_F| of this rank [eV/Å].
  struct Tally {
    std::vector<double> member_deviation;
    double forces_std_max = 0.0;
  };
  /// The stages of compute(): this rank's atoms (local, then ghosts) as a structure; the
  /// committee's evaluation (moments relaxed first with `moments relax`); forces, energies,
  /// virials and per-atom properties after the ghosts' reverse communication; the committee's
  /// std and the trained region over all ranks (compute pair mmtp, the warning).
  Structure local_structure();
  EnsembleResult evaluate(Structure& s);
  Tally tally(const EnsembleResult& r);
  void report(const EnsembleResult& r, const Tally& t);
  void allocate();
  /// Index into atom->dvector of the per-atom property d_NAME, or −1.
  int property(const char* name) const;
  /// Minimises E over the moments of all ranks at fixed positions (distributed L-BFGS); the
  /// result is in d_magmom and s.magmoms.
  void relax_moments(Structure& s, const std::vector<Geometry>& geometry);
  /// Drops the moment relaxation's memory (L-BFGS pairs, each atom's last relaxed moments): on
  /// new settings or potentials. A new `run` keeps it, so MD continues where it stopped.
  void forget_moment_history();
  double sum(double x) const;
  double max(double x) const;

  std::unique_ptr<Ensemble> ensemble_;
  std::vector<int> type_of_;  ///< LAMMPS type → the potential's type (−1: NULL)
  std::vector<std::string> files_;
  bool relax_ = false, unconverged_error_ = false;
  double alpha_ = 0.0;
  MomentRelaxOptions relax_options_;  ///< mmax, max_steps, max_moment_step, bound_moments, mode: serve's defaults
  TrainedRegion region_;              ///< max_std

  int magmom_ = -1;           ///< atom->dvector index of d_magmom
  std::vector<double> comm_;  ///< reverse-communicated per-atom values, comm_width_ per atom
  int comm_width_ = 0;
  /// The moment relaxation's memory, per atom so that it moves with the atoms between ranks
  /// (created in init_style with `moments relax`): each atom's last relaxed moments and the
  /// L-BFGS curvature pairs' entries (columns: see pair_mmtp.cpp, History).
  FixMMTPHistory* history_ = nullptr;
  int pairs_ = 0;  ///< L-BFGS curvature pairs in that memory (the same on every rank)
  bool warned_outside_ = false, warned_unconverged_ = false;
  double steps_outside_ = 0, unconverged_ = 0, evaluations_ = 0;
};

}  // namespace mmtp::lammps
