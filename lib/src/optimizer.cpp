#include "mmtp/optimizer.hpp"

#include <algorithm>
#include <cmath>

namespace mmtp::optimize {

std::vector<bool> active_set(const VectorXd& x, const VectorXd& g, const VectorXd& lb, const VectorXd& ub) {
  std::vector<bool> active(static_cast<std::size_t>(x.size()));
  for (Eigen::Index i = 0; i < x.size(); ++i) active[i] = (x[i] <= lb[i] && g[i] > 0) || (x[i] >= ub[i] && g[i] < 0);
  return active;
}

double projected_max(const VectorXd& x, const VectorXd& g, const VectorXd& lb, const VectorXd& ub) {
  if (x.size() == 0) return 0.0;
  return ((x - g).cwiseMax(lb).cwiseMin(ub) - x).cwiseAbs().maxCoeff();
}

Outcome line_search(const Problem& p, VectorXd& x, double& f, VectorXd& g, const VectorXd& d, const VectorXd& gf,
                    const std::function<void(const VectorXd&, const VectorXd&)>& on_accept) {
  double alpha = std::min(1.0, p.step_limit(x, d));
  // Rounding of a large total energy: a change below this is no evidence of an increase.
  const double noise = 1e-12 * std::max(1.0, std::abs(f));
  VectorXd xt, gt;
  double ft = 0.0;
  for (int trial = 0; trial < 30 && alpha > 1e-12; ++trial) {
    xt = (x + alpha * d).cwiseMax(p.lb).cwiseMin(p.ub);
    const double slope = p.reduce.dot(gf, xt - x);
    const bool ok = p.evaluate(xt, ft, gt);
    if (p.stop()) return Outcome::stopped;
    if (ok && std::isfinite(ft) && ft <= f + 1e-4 * slope + noise) {
      if (on_accept) on_accept(xt - x, gt - g);
      x = xt;
      f = ft;
      g = gt;
      p.accepted();
      return Outcome::converged;
    }
    double next = 0.5 * alpha;
    if (ok && std::isfinite(ft) && slope < 0) {
      const double q = -slope * alpha / (2.0 * (ft - f - slope));
      if (std::isfinite(q)) next = std::clamp(q, 0.1 * alpha, 0.5 * alpha);
    }
    alpha = next;
  }
  return Outcome::line_search_failed;
}

Lbfgs::Lbfgs(std::deque<VectorXd>* s, std::deque<VectorXd>* y) {
  if (s && y) s_ = s, y_ = y;
  else s_ = &own_s_, y_ = &own_y_;
}

void Lbfgs::clear() {
  s_->clear();
  y_->clear();
}

Outcome Lbfgs::minimize(const Problem& p, VectorXd& x, double& f, VectorXd& g, int max_steps) {
  if (s_->size() != y_->size() || (!s_->empty() && s_->front().size() != x.size())) clear();
  auto remember = [&](const VectorXd& s, const VectorXd& y) {
    const double sy = p.reduce.dot(s, y);
    if (sy > 1e-12 * p.reduce.dot(y, y) && sy > 0) {
      s_->push_back(s);
      y_->push_back(y);
      if (static_cast<int>(s_->size()) > memory) {
        s_->pop_front();
        y_->pop_front();
      }
    }
  };
  for (int step = 0;; ++step) {
    if (p.converged(x, g)) return Outcome::converged;
    if (step >= max_steps) return Outcome::max_steps;
    const auto active = active_set(x, g, p.lb, p.ub);
    VectorXd gf = g;
    for (Eigen::Index i = 0; i < x.size(); ++i)
      if (active[i]) gf[i] = 0.0;
    bool fresh = s_->empty();
    VectorXd d = direction(p, gf);
    if (!(p.reduce.dot(d, gf) < 0)) {  // not a descent direction: forget the curvature pairs
      clear();
      fresh = true;
      d = direction(p, gf);
    }
    for (;;) {
      const Outcome o = line_search(p, x, f, g, d, gf, remember);
      if (o == Outcome::stopped) return o;
      if (o == Outcome::converged) break;  // a step was accepted
      if (fresh) return Outcome::line_search_failed;
      // Restart from the current (best) point with fresh memory: steepest descent.
      clear();
      ++restarts;
      fresh = true;
      d = direction(p, gf);
    }
  }
}

VectorXd Lbfgs::direction(const Problem& p, const VectorXd& g) const {
  VectorXd q = g;
  const std::size_t m = s_->size();
  std::vector<double> a(m), rho(m);
  for (std::size_t k = m; k-- > 0;) {
    rho[k] = 1.0 / p.reduce.dot((*s_)[k], (*y_)[k]);
    a[k] = rho[k] * p.reduce.dot((*s_)[k], q);
    q -= a[k] * (*y_)[k];
  }
  const double gamma =
      m ? p.reduce.dot((*s_)[m - 1], (*y_)[m - 1]) / p.reduce.dot((*y_)[m - 1], (*y_)[m - 1]) : initial_inverse_curvature;
  if (diagonal_scaling && m) {
    VectorXd sy = VectorXd::Zero(g.size()), yy = VectorXd::Zero(g.size());
    for (std::size_t k = 0; k < m; ++k) sy += (*s_)[k].cwiseProduct((*y_)[k]), yy += (*y_)[k].cwiseAbs2();
    for (Eigen::Index i = 0; i < g.size(); ++i) q[i] *= sy[i] > 0 && yy[i] > 0 ? sy[i] / yy[i] : gamma;
  } else {
    q *= gamma;
  }
  for (std::size_t k = 0; k < m; ++k) q += (a[k] - rho[k] * p.reduce.dot((*y_)[k], q)) * (*s_)[k];
  for (Eigen::Index i = 0; i < g.size(); ++i)
    if (g[i] == 0.0) q[i] = 0.0;  // active bounds (and exactly stationary coordinates) stay
  return -q;
}

}  // namespace mmtp::optimize
