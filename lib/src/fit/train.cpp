#include "mmtp/fit/train.hpp"

#include "mmtp/mtp.hpp"

#include "mmtp/error.hpp"

#include <fmt/core.h>

#include <LBFGS.h>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>

#include "mmtp/io/mtp.hpp"
#include "mmtp/io/text.hpp"

namespace mmtp::fit {

void TrainOptions::validate() const {
  weights.validate();
  if (max_iter < 0) throw InputError(fmt::format("max_iter = {} must be >= 0", max_iter));
  if (!(tol >= 0)) throw InputError(fmt::format("tol = {} must be >= 0", tol));
  if (!(init_scale > 0)) throw InputError(fmt::format("init_scale = {} must be positive", init_scale));
  if (checkpoint_every < 0) throw InputError("checkpoint_every must be >= 0");
  if (first_evaluation < 0) throw InputError("first_evaluation must be >= 0");
  if (checkpoint_every > 0 && checkpoint.empty()) throw InputError("checkpoint_every needs a checkpoint path");
}

std::string checkpoint_state_path(const std::string& checkpoint) {
  const std::string ext = ".mtp";
  const bool has = checkpoint.size() >= ext.size() && checkpoint.compare(checkpoint.size() - ext.size(), ext.size(), ext) == 0;
  return (has ? checkpoint.substr(0, checkpoint.size() - ext.size()) : checkpoint) + ".json";
}

int checkpoint_evaluations(const std::string& checkpoint) {
  std::ifstream in(checkpoint_state_path(checkpoint));
  if (!in) return 0;
  const auto j = nlohmann::json::parse(in, nullptr, false);
  return j.is_object() && j.value("evaluations", -1) >= 0 ? j["evaluations"].get<int>() : 0;
}

TrainReport train(MtpParameters p, const Dataset& data, const TrainOptions& o,
                  const std::function<void(const TrainProgress&)>& progress, const std::vector<double>& multiplicity) {
  o.validate();
  if (data.size() == 0) throw InputError("empty training set");
  const auto t0 = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  if (p.radial_coeffs.empty()) {
    std::mt19937_64 rng(o.seed);
    std::uniform_real_distribution<double> u(-o.init_scale, o.init_scale);
    p.radial_coeffs.resize(p.radial_coeff_count());
    for (double& c : p.radial_coeffs) c = u(rng);
  }
  if (p.species_coeffs.empty()) p.species_coeffs.assign(static_cast<std::size_t>(p.species_count), 0.0);
  if (p.moment_coeffs.empty()) p.moment_coeffs.assign(static_cast<std::size_t>(p.alpha_scalar_moments()), 0.0);
  p.validate(true);

  TrainReport report;
  report.evaluations = o.first_evaluation;
  report.initial_loss = o.linear_solve ? solve_linear(p, data, o.weights, o.mode, multiplicity)
                                      : objective(p, data, o.weights, o.mode, nullptr, multiplicity);
  report.params = p;
  report.loss = report.initial_loss;
  MtpParameters work = p;
  MagneticMtp model(p);  // built once; each evaluation sets its coefficients
  // The checkpoint is written through a temporary file and renamed (io::write_mtp): a killed
  // run leaves the previous checkpoint or this one, and loses fewer than checkpoint_every
  // evaluations.
  auto save_checkpoint = [&] {
    io::write_mtp(o.checkpoint, report.params);
    // Its evaluation count and loss beside it, written after the .mtp: a kill in between
    // leaves a count that is low, never high.
    io::write_atomically(checkpoint_state_path(o.checkpoint), [&](std::ostream& os) {
      os << fmt::format("{{\"evaluations\": {}, \"loss\": {:.17g}, \"seconds\": {:.3f}}}\n", report.evaluations, report.loss,
                        seconds());
    });
    if (progress) progress(TrainProgress{report.evaluations, report.loss, seconds(), true});
  };
  auto f = [&](const Eigen::VectorXd& theta, Eigen::VectorXd& grad) -> double {
    unpack(theta, work);
    model.set_coefficients(work);
    const double loss = objective(model, data, o.weights, o.mode, &grad, multiplicity);
    ++report.evaluations;
    if (loss < report.loss) {
      report.loss = loss;
      report.params = work;
    }
    if (progress) progress(TrainProgress{report.evaluations, report.loss, seconds(), false});
    if (o.checkpoint_every > 0 && report.evaluations % o.checkpoint_every == 0) save_checkpoint();
    return loss;
  };
  LBFGSpp::LBFGSParam<double> param;  // the solver keeps a reference: it must outlive it
  param.epsilon = 0.0;
  param.epsilon_rel = 0.0;
  param.past = 10;
  param.delta = o.tol;
  param.max_iterations = o.max_iter;
  param.max_linesearch = 40;
  LBFGSpp::LBFGSSolver<double> solver(param);
  Eigen::VectorXd theta = pack(p);
  double fx = 0.0;
  if (o.max_iter > 0) {
    try {
      const int iterations = solver.minimize(f, theta, fx);
      report.stop = iterations >= o.max_iter ? "max_iter" : "tolerance";
    } catch (const std::exception& e) {
      report.stop = e.what();  // the best point is kept
    }
  } else {
    report.stop = "max_iter";
  }
  if (o.checkpoint_every > 0) save_checkpoint();
  report.seconds = seconds();
  return report;
}

}  // namespace mmtp::fit
