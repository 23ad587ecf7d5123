#pragma once
// The minimiser behind every relaxation: bounded-step L-BFGS with box bounds by projection and
// an Armijo line search, for a coordinate vector that may be spread over several processes
// (LAMMPS ranks) — every scalar it decides on goes through Reduction, so all processes take
// the same steps.
#include <Eigen/Core>
#include <deque>
#include <functional>
#include <vector>

namespace mmtp::optimize {

using Eigen::VectorXd;

/// Sums and maxima over the processes that share one coordinate vector, each holding a part.
/// The default is one process (identity).
struct Reduction {
  std::function<double(double)> sum = [](double x) { return x; };
  std::function<double(double)> max = [](double x) { return x; };
  double dot(const VectorXd& a, const VectorXd& b) const { return sum(a.dot(b)); }
  /// max_i |a_i| over all parts (0 for an empty vector).
  double max_abs(const VectorXd& a) const { return max(a.size() ? a.cwiseAbs().maxCoeff() : 0.0); }
};

/// What a minimisation needs to know of its problem. `evaluate` returns false when x cannot
/// be evaluated (a failed trial step); `stop` ends the run after an evaluation (the trained
/// region was left); `accepted` is told that the last evaluated point became the current one.
/// f is the global value; x, g, lb and ub this process's part.
struct Problem {
  std::function<bool(const VectorXd& x, double& f, VectorXd& g)> evaluate;
  std::function<bool(const VectorXd& x, const VectorXd& g)> converged;
  std::function<double(const VectorXd& x, const VectorXd& d)> step_limit;  ///< largest α for the step caps (global)
  std::function<bool()> stop = [] { return false; };
  std::function<void()> accepted = [] {};
  VectorXd lb, ub;
  Reduction reduce;
};

enum class Outcome { converged, max_steps, line_search_failed, stopped };

/// Variables at a bound whose gradient pushes outwards: they stay where they are.
std::vector<bool> active_set(const VectorXd& x, const VectorXd& g, const VectorXd& lb, const VectorXd& ub);
/// Residual of the gradient projected on the bounds, max_i |P(x − g)_i − x_i|, of this part.
double projected_max(const VectorXd& x, const VectorXd& g, const VectorXd& lb, const VectorXd& ub);

/// Armijo backtracking along d from α = min(1, step_limit), the next α from the minimum of the
/// quadratic through f, the slope and the trial value (kept within [0.1, 0.5]·α; Nocedal &
/// Wright Alg. 3.1 with interpolation). `gf` is g with the active bounds zeroed. Returns
/// converged when a step was accepted (x, f, g updated, then `on_accept(s, y)` with the step and
/// the gradient change), line_search_failed when none was, stopped when p.stop() asked.
Outcome line_search(const Problem& p, VectorXd& x, double& f, VectorXd& g, const VectorXd& d, const VectorXd& gf,
                    const std::function<void(const VectorXd&, const VectorXd&)>& on_accept = {});

/// Bounded-step L-BFGS (two-loop recursion, Nocedal & Wright Alg. 7.4) with box bounds by
/// projection. Unlike LBFGS++ (which tries a unit-norm first step in whatever units the
/// coordinates have: 1 Å, or a 50 % strain), every step is first scaled to the caps of
/// Problem::step_limit, as ASE's optimisers do. After a failed line search it restarts once
/// from the best point with fresh memory. The curvature pairs may live outside (`s`, `y`) and
/// so carry over from one call to the next.
class Lbfgs {
 public:
  explicit Lbfgs(std::deque<VectorXd>* s = nullptr, std::deque<VectorXd>* y = nullptr);
  int restarts = 0;
  int memory = 20;
  double initial_inverse_curvature = 1.0 / 70.0;  ///< ASE's LBFGS: α = 70 eV/Å²
  /// H₀ = diag(γ_i), γ_i = Σ_k s_ki·y_ki / Σ_k y_ki² over the stored pairs (Gilbert & Lemaréchal
  /// 1989, diagonal updating), instead of one γ: for coordinates whose curvatures differ by
  /// species (Al moments ~10× stiffer than Fe's).
  bool diagonal_scaling = false;

  Outcome minimize(const Problem& p, VectorXd& x, double& f, VectorXd& g, int max_steps);
  void clear();

 private:
  /// −H·g by the two-loop recursion; H₀ = γI with γ = s'y/y'y of the newest pair (or diagonal_scaling).
  VectorXd direction(const Problem& p, const VectorXd& g) const;

  std::deque<VectorXd>* s_;
  std::deque<VectorXd>* y_;
  std::deque<VectorXd> own_s_, own_y_;
};

}  // namespace mmtp::optimize
