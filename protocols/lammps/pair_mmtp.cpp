#include "pair_mmtp.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <string>

#include "mmtp/error.hpp"
#include "mmtp/io/ensemble.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/optimizer.hpp"
#include "mmtp/relax.hpp"
#include "modify.h"

namespace mmtp::lammps {

using namespace LAMMPS_NS;

namespace {

constexpr const char* where = "pair mmtp: ";
/// Extra global quantities of compute pair mmtp (pvector; compute pair sums them over ranks, so
/// the non-additive ones are on rank 0 only).
enum Extra {
  energy_std,            ///< committee std of the total energy [eV]: α-scaled spread ⊕ N·floor
  energy_std_per_atom,   ///< … divided by the atom count [eV/atom]
  max_forces_std,        ///< largest per-atom committee std of the force, |σ_F| [eV/Å]
  short_pairs,           ///< pairs closer than the potential's min_dist
  moments_out_of_range,  ///< moments outside their species' trained range
  steps_outside,         ///< evaluations outside the trained region so far
  unconverged,           ///< moment relaxations that did not converge so far
  moment_evaluations,    ///< moment-only evaluations of this step's relaxation
  extras
};

/// The columns of FixMMTPHistory: an atom's last three relaxed moments (newest first) [μB], how
/// many of them are set, the timestep of the newest, then its entries of the L-BFGS curvature
/// pairs s_k and y_k (k < memory).
struct History {
  static constexpr int moments = 0, count = 3, step = 4, pairs = 5;
  static constexpr const char* fix_id = "MMTP_HISTORY";
  static int memory() { return optimize::Lbfgs(nullptr, nullptr).memory; }
  static int columns() { return pairs + 2 * memory(); }
};

}  // namespace

PairMMTP::PairMMTP(LAMMPS* lmp) : Pair(lmp) {
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  no_virial_fdotr_compute = 1;  // the virial is computed from the pair terms (Result::virial)
  centroidstressflag = CENTROID_NOTAVAIL;
  comm_forward = 1;  // the moments
  nextra = extras;
  pvector = new double[nextra];
  std::fill(pvector, pvector + nextra, 0.0);
}

PairMMTP::~PairMMTP() {
  if (history_ && modify->find_fix(History::fix_id) >= 0) modify->delete_fix(History::fix_id);
  delete[] pvector;
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

void PairMMTP::allocate() {
  allocated = 1;
  const int n = atom->ntypes;
  memory->create(setflag, n + 1, n + 1, "pair:setflag");
  memory->create(cutsq, n + 1, n + 1, "pair:cutsq");
  for (int i = 1; i <= n; ++i)
    for (int j = i; j <= n; ++j) setflag[i][j] = 0;
}

void PairMMTP::settings(int narg, char** arg) {
  auto value = [&](int& k, const char* what) -> std::string {
    if (k + 1 >= narg) error->all(FLERR, std::string(where) + "'" + what + "' needs a value");
    return arg[++k];
  };
  auto number = [&](int& k, const char* what) {
    const std::string v = value(k, what);
    return utils::numeric(FLERR, v.c_str(), false, lmp);
  };
  for (int k = 0; k < narg; ++k) {
    const std::string key = arg[k];
    if (key == "raw") {
      relax_options_.mode = EvalMode::raw;
    } else if (key == "moments") {
      const std::string v = value(k, "moments");
      if (v != "fixed" && v != "relax") error->all(FLERR, std::string(where) + "moments '" + v + "' is not fixed or relax");
      relax_ = v == "relax";
    } else if (key == "max_std") {
      region_.max_std = number(k, "max_std");
    } else if (key == "alpha") {
      alpha_ = number(k, "alpha");
    } else if (key == "mmax") {
      relax_options_.mmax = number(k, "mmax");
    } else if (key == "max_steps") {
      const std::string v = value(k, "max_steps");
      relax_options_.max_steps = utils::inumeric(FLERR, v.c_str(), false, lmp);
    } else if (key == "max_moment_step") {
      relax_options_.max_moment_step = number(k, "max_moment_step");
    } else if (key == "bound_moments" || key == "unconverged") {
      const std::string v = value(k, key.c_str());
      const bool yes = v == "yes" || v == "error", no = v == "no" || v == "warn";
      if (!yes && !no) error->all(FLERR, std::string(where) + key + " '" + v + "' is not " + (key == "unconverged" ? "warn or error" : "yes or no"));
      (key == "unconverged" ? unconverged_error_ : relax_options_.bound_moments) = yes;
    } else {
      error->all(FLERR, std::string(where) + "unknown keyword '" + key +
                            "' (raw, moments fixed|relax, max_std, alpha, mmax, max_steps, max_moment_step, "
                            "bound_moments yes|no, unconverged warn|error)");
    }
  }
  if (alpha_ < 0) error->all(FLERR, std::string(where) + "alpha must be >= 0");
  try {
    relax_options_.validate();
    region_.validate();
  } catch (const std::exception& e) {
    error->all(FLERR, std::string(where) + e.what());
  }
  forget_moment_history();  // new settings (symmetrized or raw, bounds): start afresh
}

void PairMMTP::coeff(int narg, char** arg) {
  const int ntypes = atom->ntypes;
  if (!allocated) allocate();
  if (narg < 3 + ntypes || std::strcmp(arg[0], "*") != 0 || std::strcmp(arg[1], "*") != 0)
    error->all(FLERR, std::string(where) + "pair_coeff * * POT.mtp [POT2.mtp ...] followed by one element (or NULL) for each of the " +
                          std::to_string(ntypes) + " atom types");
  files_.assign(arg + 2, arg + narg - ntypes);
  try {
    ensemble_ = std::make_unique<Ensemble>(io::read_ensemble(files_, {}, alpha_));
  } catch (const std::exception& e) {
    error->all(FLERR, std::string(where) + e.what());
  }
  const MtpParameters& p = ensemble_->members().front().parameters();
  type_of_.assign(static_cast<std::size_t>(ntypes + 1), -1);
  for (int t = 1; t <= ntypes; ++t) {
    const std::string element = arg[narg - ntypes + t - 1];
    if (element == "NULL") continue;
    try {
      type_of_[static_cast<std::size_t>(t)] = p.type_of(element);
    } catch (const std::exception& e) {
      error->all(FLERR, std::string(where) + "atom type " + std::to_string(t) + ": " + e.what());
    }
  }
  // Every pair is marked set: a NULL type is refused with its own message in init_style (this
  // style does not take part in pair_style hybrid).
  for (int i = 1; i <= ntypes; ++i)
    for (int j = i; j <= ntypes; ++j) setflag[i][j] = 1;
  // Reverse communication: per committee member the force and dE/dm of each ghost.
  comm_reverse = comm_reverse_off = 4 * static_cast<int>(ensemble_->members().size());
  forget_moment_history();  // another model: its moments and curvatures differ
}

int PairMMTP::property(const char* name) const {
  int flag = 0, cols = 0;
  const int index = atom->find_custom(name, flag, cols);
  return index >= 0 && flag == 1 && cols == 0 ? index : -1;
}

void PairMMTP::init_style() {
  // No neighbour request: this style builds the neighbourhoods of its local atoms itself.
  if (!ensemble_) error->all(FLERR, std::string(where) + "pair_coeff * * POT.mtp ... is missing");
  if (std::strcmp(update->unit_style, "metal") != 0)
    error->all(FLERR, std::string(where) + "needs units metal (eV, Å; moments in μB)");
  for (int t = 1; t <= atom->ntypes; ++t)
    if (type_of_[static_cast<std::size_t>(t)] < 0)
      error->all(FLERR, std::string(where) + "atom type " + std::to_string(t) +
                            " is not covered by pair_coeff (NULL): every type needs an element of the potential");
  magmom_ = property("magmom");
  if (magmom_ < 0 && ensemble_->members().front().parameters().magnetic)
    error->all(FLERR, std::string(where) +
                          "needs the magnetic moments [μB] as a per-atom property: fix property/atom d_magmom ghost yes "
                          "(then read_data ... fix ID NULL Moments, or set ... d_magmom)");
  if (relax_ && magmom_ < 0) error->all(FLERR, std::string(where) + "moments relax needs d_magmom");
  if (relax_) {
    // Looked up at every run: a user's `unfix MMTP_HISTORY` (or another style's fix of that ID)
    // leaves no dangling pointer; the memory then starts afresh.
    const int k = modify->find_fix(History::fix_id);
    auto* found = k >= 0 ? dynamic_cast<FixMMTPHistory*>(modify->fix[k]) : nullptr;
    if (!history_ || found != history_) {  // first run, or ours was removed or replaced
      if (k >= 0) modify->delete_fix(History::fix_id);
      modify->add_fix(std::string(History::fix_id) + " all MMTP/HISTORY " + std::to_string(History::columns()));
      history_ = dynamic_cast<FixMMTPHistory*>(modify->fix[modify->find_fix(History::fix_id)]);
      if (!history_) error->all(FLERR, std::string(where) + "cannot create its fix MMTP/HISTORY");
      pairs_ = 0;
    }
  }
}

void PairMMTP::forget_moment_history() {
  pairs_ = 0;
  if (history_) history_->clear();
}

double PairMMTP::init_one(int i, int j) {
  if (setflag[i][j] == 0) error->all(FLERR, std::string("All pair coeffs are not set"));
  return ensemble_->cutoff();
}

double PairMMTP::sum(double x) const {
  double y = 0.0;
  MPI_Allreduce(&x, &y, 1, MPI_DOUBLE, MPI_SUM, world);
  return y;
}

double PairMMTP::max(double x) const {
  double y = 0.0;
  MPI_Allreduce(&x, &y, 1, MPI_DOUBLE, MPI_MAX, world);
  return y;
}

void PairMMTP::compute(int eflag, int vflag) {
  ev_init(eflag, vflag);
  Structure s = local_structure();
  const EnsembleResult r = evaluate(s);
  const Tally t = tally(r);
  report(r, t);
}

Structure PairMMTP::local_structure() {
  const int nall = atom->nlocal + atom->nghost;
  // This rank's atoms, local then ghosts (periodic images already placed): no cell needed.
  Structure s;
  s.pbc = {false, false, false};
  s.positions.resize(3, nall);
  s.species.resize(static_cast<std::size_t>(nall));
  for (int i = 0; i < nall; ++i) {
    for (int d = 0; d < 3; ++d) s.positions(d, i) = atom->x[i][d];
    s.species[static_cast<std::size_t>(i)] = type_of_[static_cast<std::size_t>(atom->type[i])];
  }
  if (magmom_ >= 0) {
    comm->forward_comm_pair(this);  // moments set or relaxed since the last borders()
    s.magmoms = Eigen::Map<const Eigen::VectorXd>(atom->dvector[magmom_], nall);
  }
  return s;
}

EnsembleResult PairMMTP::evaluate(Structure& s) {
  // Each stage may fail on one rank only (coincident atoms, say): every rank learns it before
  // the next collective call, and the failing one names the cause.
  auto agree = [&](int ok, const std::string& what) {
    int all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, world);
    if (!ok) error->one(FLERR, std::string(where) + what);
    if (!all_ok) error->all(FLERR, std::string(where) + "the evaluation failed on another rank");
  };
  NeighborList nl;
  std::vector<Geometry> geometry;
  std::string what;
  int ok = 1;
  try {
    nl = NeighborList::build(s, ensemble_->cutoff(), atom->nlocal);
    if (relax_) geometry = ensemble_->geometry(s, nl);
  } catch (const std::exception& e) {
    ok = 0, what = e.what();
  }
  agree(ok, what);
  if (relax_) relax_moments(s, geometry);
  EnsembleResult r;
  try {
    const Derivatives derivatives = vflag_atom ? Derivatives::all_and_site_virials : Derivatives::all;
    r = relax_ ? ensemble_->evaluate(s, geometry, relax_options_.mode, derivatives)  // the step's geometry once
               : ensemble_->evaluate(s, nl, relax_options_.mode, derivatives);
  } catch (const std::exception& e) {
    ok = 0, what = e.what();
  }
  agree(ok, what);
  return r;
}

PairMMTP::Tally PairMMTP::tally(const EnsembleResult& r) {
  const int nlocal = atom->nlocal, nall = nlocal + atom->nghost;
  const int K = static_cast<int>(ensemble_->members().size());
  // Every member's force and dE/dm on the ghosts back to their owners.
  comm_width_ = 4 * K;
  comm_.assign(static_cast<std::size_t>(nall) * comm_width_, 0.0);
  const bool magnetic = r.mean.dE_dm.size() == nall;
  for (int q = 0; q < K; ++q) {
    const Result& m = r.members[static_cast<std::size_t>(q)];
    for (int i = 0; i < nall; ++i) {
      double* c = &comm_[static_cast<std::size_t>(i) * comm_width_ + 4 * q];
      c[0] = m.forces(0, i), c[1] = m.forces(1, i), c[2] = m.forces(2, i);
      c[3] = magnetic ? m.dE_dm[i] : 0.0;
    }
  }
  comm->reverse_comm_pair(this);

  // Per local atom: the committee mean drives the dynamics; the stds go to the properties.
  Tally t;
  t.member_deviation.assign(static_cast<std::size_t>(K), 0.0);
  const int dE_dm = property("dE_dm"), estd = property("energy_std"), fstd = property("forces_std");
  double local_energy = 0.0;
  for (int i = 0; i < nlocal; ++i) {
    const double* c = &comm_[static_cast<std::size_t>(i) * comm_width_];
    double mean[4] = {0, 0, 0, 0}, var[4] = {0, 0, 0, 0}, e_mean = 0.0, e_var = 0.0;
    for (int q = 0; q < K; ++q) {
      for (int v = 0; v < 4; ++v) mean[v] += c[4 * q + v] / K;
      e_mean += r.members[static_cast<std::size_t>(q)].site_energies[i] / K;
    }
    for (int q = 0; q < K; ++q) {
      for (int v = 0; v < 4; ++v) var[v] += (c[4 * q + v] - mean[v]) * (c[4 * q + v] - mean[v]) / K;
      const double de = r.members[static_cast<std::size_t>(q)].site_energies[i] - e_mean;
      e_var += de * de / K;
      // Each member's deviation from the mean, summed over sites (no cancellation of the totals).
      t.member_deviation[static_cast<std::size_t>(q)] += de;
    }
    for (int d = 0; d < 3; ++d) atom->f[i][d] += mean[d];
    const double e = r.mean.site_energies[i];
    local_energy += e;
    if (eflag_atom) eatom[i] += e;
    if (vflag_atom)
      for (int v = 0; v < 6; ++v) vatom[i][v] += r.mean.site_virials(v, i);
    const double sigma_f = std::sqrt(var[0] + var[1] + var[2]);
    t.forces_std_max = std::max(t.forces_std_max, sigma_f);
    if (dE_dm >= 0) atom->dvector[dE_dm][i] = mean[3];
    if (estd >= 0) atom->dvector[estd][i] = std::sqrt(e_var);
    if (fstd >= 0) atom->dvector[fstd][i] = sigma_f;
  }
  if (eflag_global) eng_vdwl += local_energy;
  if (vflag_global) {
    const Eigen::Matrix3d& w = r.mean.virial;
    const double v[6] = {w(0, 0), w(1, 1), w(2, 2), w(0, 1), w(0, 2), w(1, 2)};
    for (int k = 0; k < 6; ++k) virial[k] += v[k];
  }
  return t;
}

void PairMMTP::report(const EnsembleResult& r, const Tally& t) {
  const int K = static_cast<int>(t.member_deviation.size());
  std::vector<double> deviation(t.member_deviation.size());
  MPI_Allreduce(t.member_deviation.data(), deviation.data(), K, MPI_DOUBLE, MPI_SUM, world);
  double var_e = 0.0;
  for (double d : deviation) var_e += d * d / K;
  const double natoms = static_cast<double>(atom->natoms);
  const double std_e = std::hypot(std::sqrt(var_e), ensemble_->committee_floor() * natoms);  // as Ensemble's energy_std
  const double fmax_all = max(t.forces_std_max);
  const double counts_local[2] = {static_cast<double>(r.mean.extrapolation.short_pairs),
                                  static_cast<double>(r.mean.extrapolation.moments_out_of_range)};
  double counts[2] = {0, 0};
  MPI_Allreduce(counts_local, counts, 2, MPI_DOUBLE, MPI_SUM, world);
  const double max_std = region_.max_std;
  const bool outside = counts[0] > 0 || counts[1] > 0 || (max_std > 0 && std_e / natoms > max_std);
  if (outside) {
    ++steps_outside_;
    if (!warned_outside_ && comm->me == 0) {
      std::string why;
      if (counts[0] > 0) why += std::to_string(static_cast<long>(counts[0])) + " pairs closer than min_dist; ";
      if (counts[1] > 0) why += std::to_string(static_cast<long>(counts[1])) + " moments outside their trained range; ";
      if (max_std > 0 && std_e / natoms > max_std)
        why += "committee std " + std::to_string(std_e / natoms) + " eV/atom above max_std " + std::to_string(max_std) + "; ";
      error->warning(FLERR, std::string(where) + "step " + std::to_string(update->ntimestep) + " left the trained region: " + why +
                                "said once; compute pair mmtp counts the steps outside (c_ID[6])");
    }
    warned_outside_ = true;
  }
  const bool root = comm->me == 0;
  pvector[energy_std] = root ? std_e : 0.0;
  pvector[energy_std_per_atom] = root ? std_e / natoms : 0.0;
  pvector[max_forces_std] = root ? fmax_all : 0.0;
  pvector[short_pairs] = counts_local[0];
  pvector[moments_out_of_range] = counts_local[1];
  pvector[steps_outside] = root ? steps_outside_ : 0.0;
  pvector[unconverged] = root ? unconverged_ : 0.0;
  pvector[moment_evaluations] = root ? evaluations_ : 0.0;
}

void PairMMTP::relax_moments(Structure& s, const std::vector<Geometry>& geometry) {
  const int nlocal = atom->nlocal, nall = nlocal + atom->nghost;
  double* magmom = atom->dvector[magmom_];
  // The memory lives in FixMMTPHistory, per atom: it follows the atoms when LAMMPS
  // re-neighbours (atoms migrate between ranks, are sorted). An atom without one (new, or
  // created) contributes zeros to the curvature pairs and starts from its own moment.
  const int memory = History::memory();
  std::deque<Eigen::VectorXd> history_s, history_y;
  for (int k = 0; k < pairs_; ++k) {
    Eigen::VectorXd sk(nlocal), yk(nlocal);
    for (int i = 0; i < nlocal; ++i) {
      sk[i] = history_->row(i)[History::pairs + k];
      yk[i] = history_->row(i)[History::pairs + memory + k];
    }
    history_s.push_back(std::move(sk));
    history_y.push_back(std::move(yk));
  }
  optimize::Problem p;
  p.reduce.sum = [this](double x) { return sum(x); };
  p.reduce.max = [this](double x) { return max(x); };
  const double inf = std::numeric_limits<double>::infinity();
  p.lb = Eigen::VectorXd::Constant(nlocal, -inf);
  p.ub = Eigen::VectorXd::Constant(nlocal, inf);
  if (relax_options_.bound_moments) {
    const auto [lo, hi] = ensemble_->moment_bounds(s, relax_options_.mode);
    p.lb = lo.head(nlocal), p.ub = hi.head(nlocal);
  }
  evaluations_ = 0;
  p.evaluate = [&](const Eigen::VectorXd& m, double& e, Eigen::VectorXd& g) {
    ++evaluations_;
    std::copy(m.data(), m.data() + nlocal, magmom);
    comm->forward_comm_pair(this);
    s.magmoms = Eigen::Map<const Eigen::VectorXd>(magmom, nall);
    int ok = 1;
    double local = 0.0;
    comm_width_ = 1;
    comm_.assign(static_cast<std::size_t>(nall), 0.0);
    try {
      const EnsembleResult r = ensemble_->evaluate(s, geometry, relax_options_.mode, Derivatives::moments);
      std::copy(r.mean.dE_dm.data(), r.mean.dE_dm.data() + nall, comm_.data());
      local = r.mean.site_energies.head(nlocal).sum();
    } catch (const std::exception&) {
      ok = 0;  // a failed trial step (every rank learns it below)
    }
    comm->reverse_comm_pair(this);
    g = Eigen::Map<const Eigen::VectorXd>(comm_.data(), nlocal);
    e = sum(local);
    int all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, world);
    return all_ok == 1 && std::isfinite(e);
  };
  p.converged = [&](const Eigen::VectorXd& m, const Eigen::VectorXd& g) {
    return max(optimize::projected_max(m, g, p.lb, p.ub)) <= relax_options_.mmax;
  };
  p.step_limit = [&](const Eigen::VectorXd&, const Eigen::VectorXd& d) {
    const double big = p.reduce.max_abs(d);
    return big > 0 ? relax_options_.max_moment_step / big : inf;
  };
  // Start from the quadratic extrapolation of each atom's last three relaxed moments (as serve
  // does for a bead). A second call at the same step (LAMMPS's setup of a new run) starts from
  // that step's moments, which d_magmom holds. A moment that is no longer the one relaxed last
  // was set by the user (`set ... d_magmom`): it starts there, and its trajectory afresh.
  const bigint step = update->ntimestep;
  Eigen::VectorXd m = Eigen::Map<const Eigen::VectorXd>(magmom, nlocal);
  for (int i = 0; i < nlocal; ++i) {
    double* h = history_->row(i);
    const int count = static_cast<int>(h[History::count]);
    if (count == 0) continue;
    if (magmom[i] != h[History::moments]) {
      h[History::count] = 0;
    } else if (static_cast<bigint>(h[History::step]) != step) {
      m[i] = extrapolate_moment(h + History::moments, count);
    }
  }
  m = m.cwiseMax(p.lb).cwiseMin(p.ub);
  Eigen::VectorXd g;
  double e = 0.0;
  if (!p.evaluate(m, e, g)) error->all(FLERR, std::string(where) + "the moments cannot be evaluated at the start of the step");
  optimize::Lbfgs solver(&history_s, &history_y);
  solver.initial_inverse_curvature = 1.0;  // moment curvatures are of order 1 eV/μB²
  solver.diagonal_scaling = true;
  const optimize::Outcome outcome = solver.minimize(p, m, e, g, relax_options_.max_steps);
  std::copy(m.data(), m.data() + nlocal, magmom);  // the accepted point
  comm->forward_comm_pair(this);
  pairs_ = static_cast<int>(history_s.size());
  for (int i = 0; i < nlocal; ++i) {
    double* h = history_->row(i);
    for (int k = 0; k < pairs_; ++k) {
      h[History::pairs + k] = history_s[static_cast<std::size_t>(k)][i];
      h[History::pairs + memory + k] = history_y[static_cast<std::size_t>(k)][i];
    }
    double* past = h + History::moments;
    if (h[History::count] > 0 && static_cast<bigint>(h[History::step]) == step) {
      past[0] = m[i];  // the same step again: its moments, not a new point of the trajectory
    } else {
      past[2] = past[1], past[1] = past[0], past[0] = m[i];
      h[History::count] = std::min(3.0, h[History::count] + 1);
    }
    h[History::step] = static_cast<double>(step);
  }
  s.magmoms = Eigen::Map<const Eigen::VectorXd>(magmom, nall);
  if (outcome != optimize::Outcome::converged) {
    ++unconverged_;
    const double residual = max(optimize::projected_max(m, g, p.lb, p.ub));
    const std::string msg = std::string(where) + "step " + std::to_string(update->ntimestep) +
                            ": the moment relaxation did not converge (" +
                            (outcome == optimize::Outcome::max_steps ? "max_steps" : "line search failed") +
                            ", max|dE/dm| = " + std::to_string(residual) + " eV/μB > mmax)";
    if (unconverged_error_) error->all(FLERR, msg + "; stopping (unconverged error)");
    if (!warned_unconverged_ && comm->me == 0)
      error->warning(FLERR, msg + "; the step uses these moments (said once; compute pair mmtp counts them, c_ID[7])");
    warned_unconverged_ = true;
  }
}

int PairMMTP::pack_forward_comm(int n, int* list, double* buf, int, int*) {
  const double* magmom = atom->dvector[magmom_];
  for (int k = 0; k < n; ++k) buf[k] = magmom[list[k]];
  return n;
}

void PairMMTP::unpack_forward_comm(int n, int first, double* buf) {
  double* magmom = atom->dvector[magmom_];
  for (int k = 0; k < n; ++k) magmom[first + k] = buf[k];
}

int PairMMTP::pack_reverse_comm(int n, int first, double* buf) {
  std::copy_n(&comm_[static_cast<std::size_t>(first) * comm_width_], static_cast<std::size_t>(n) * comm_width_, buf);
  return n * comm_width_;
}

void PairMMTP::unpack_reverse_comm(int n, int* list, double* buf) {
  for (int k = 0; k < n; ++k)
    for (int v = 0; v < comm_width_; ++v) comm_[static_cast<std::size_t>(list[k]) * comm_width_ + v] += buf[k * comm_width_ + v];
}

double PairMMTP::memory_usage() {
  return Pair::memory_usage() + static_cast<double>(comm_.capacity() * sizeof(double));
}

}  // namespace mmtp::lammps
