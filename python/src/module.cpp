// mmtp._mmtp: the library for Python (pybind11). Thin: arrays in, the library's functions with
// the GIL released, dicts of numpy arrays out. The Python-facing API is python/mmtp/*.py.
#include <fmt/core.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "mmtp/error.hpp"
#include "mmtp/fit/committee.hpp"
#include "mmtp/fit/request.hpp"
#include "mmtp/io/ensemble.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/io/samples.hpp"
#include "mmtp/io/text.hpp"
#include "mmtp/relax.hpp"

namespace py = pybind11;
using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

namespace {

/// An ASE-like structure (symbols, Cartesian positions (N, 3) [Å], cell rows = lattice vectors
/// [Å], pbc, moments (N,) [μB] or None) as a Structure of `model`'s species.
mmtp::Structure structure(const mmtp::Ensemble& model, const std::vector<std::string>& symbols, const Array& positions,
                          const Array& cell, const std::array<bool, 3>& pbc, const std::optional<Array>& magmoms) {
  const auto n = static_cast<mmtp::Index>(symbols.size());
  if (positions.ndim() != 2 || positions.shape(0) != n || positions.shape(1) != 3)
    throw mmtp::InputError(fmt::format("positions must have shape ({}, 3)", n));
  if (cell.ndim() != 2 || cell.shape(0) != 3 || cell.shape(1) != 3) throw mmtp::InputError("the cell must have shape (3, 3)");
  mmtp::Structure s;
  const auto& p = model.members().front().parameters();
  for (const auto& symbol : symbols) s.species.push_back(p.type_of(symbol));
  s.positions = Eigen::Map<const Eigen::Matrix3Xd>(positions.data(), 3, n);
  s.cell = Eigen::Map<const Eigen::Matrix3d>(cell.data()).eval();  // row-major rows = column-major columns
  s.pbc = pbc;
  if (magmoms) {
    if (magmoms->ndim() != 1 || magmoms->shape(0) != n) throw mmtp::InputError(fmt::format("magmoms must have shape ({},)", n));
    s.magmoms = Eigen::Map<const Eigen::VectorXd>(magmoms->data(), n);
  }
  s.validate();
  return s;
}

Array rows(const Eigen::Matrix3Xd& m) {  // 3×N column-major = (N, 3) row-major
  Array a({m.cols(), static_cast<Eigen::Index>(3)});
  std::copy(m.data(), m.data() + m.size(), a.mutable_data());
  return a;
}

Array vector(const Eigen::VectorXd& v) {
  Array a(v.size());
  std::copy(v.data(), v.data() + v.size(), a.mutable_data());
  return a;
}

/// The results as ASE names them (stress in ASE's Voigt order and sign, eV/Å³), plus mmtp's.
py::dict results(const mmtp::Structure& s, const mmtp::EnsembleResult& r, const mmtp::TrainedRegion& region) {
  py::dict d;
  const auto& m = r.mean;
  d["energy"] = m.energy;
  d["free_energy"] = m.energy;
  d["forces"] = rows(m.forces);
  d["energies"] = vector(m.site_energies);
  if (s.pbc[0] && s.pbc[1] && s.pbc[2]) {
    const Eigen::Matrix3d sigma = -m.virial / mmtp::volume(s);
    Array st(6);
    const double voigt[6] = {sigma(0, 0), sigma(1, 1), sigma(2, 2), sigma(1, 2), sigma(0, 2), sigma(0, 1)};
    std::copy(voigt, voigt + 6, st.mutable_data());
    d["stress"] = st;
  }
  if (m.dE_dm.size()) {
    d["dE_dm"] = vector(m.dE_dm);
    d["magnetic_forces"] = vector(-m.dE_dm);
  }
  if (s.has_magmoms()) d["magmoms"] = vector(s.magmoms);
  d["energy_std"] = r.energy_std;
  d["forces_std"] = rows(r.forces_std);
  if (r.dE_dm_std.size()) d["dE_dm_std"] = vector(r.dE_dm_std);
  d["short_pairs"] = m.extrapolation.short_pairs;
  d["moments_out_of_range"] = m.extrapolation.moments_out_of_range;
  d["extrapolation"] = mmtp::extrapolation_cause(r, s.size(), region);
  return d;
}


/// The keyword arguments of mmtp.relax (names as mmtp-driver relax's options; Python units:
/// smax and pressure in eV/Å³) and their defaults, read from RelaxOptions.
py::dict relax_defaults() {
  const mmtp::RelaxOptions o;
  py::dict d;
  d["cell"] = "full";
  d["moments"] = o.relax_moments;
  d["fmax"] = o.fmax, d["mmax"] = o.mmax, d["smax"] = o.smax, d["max_steps"] = o.max_steps, d["pressure"] = o.pressure;
  d["bound_moments"] = o.bound_moments, d["moment_scale"] = o.moment_scale;
  d["max_step"] = o.max_displacement, d["max_moment_step"] = o.max_moment_step, d["max_strain_step"] = o.max_strain_step;
  return d;
}

/// RelaxOptions from mmtp.relax's keyword arguments (every key of relax_defaults; one line each).
mmtp::RelaxOptions relax_options(const py::dict& k) {
  mmtp::RelaxOptions o;
  o.cell = mmtp::parse_cell_mode(k["cell"].cast<std::string>(), "cell");
  o.relax_moments = k["moments"].cast<bool>();
  o.fmax = k["fmax"].cast<double>(), o.mmax = k["mmax"].cast<double>(), o.smax = k["smax"].cast<double>();
  o.max_steps = k["max_steps"].cast<int>(), o.pressure = k["pressure"].cast<double>();
  o.bound_moments = k["bound_moments"].cast<bool>(), o.moment_scale = k["moment_scale"].cast<double>();
  o.max_displacement = k["max_step"].cast<double>(), o.max_moment_step = k["max_moment_step"].cast<double>();
  o.max_strain_step = k["max_strain_step"].cast<double>();
  return o;
}

/// A committee (or one potential) and the region it was trained on.
class Potential {
 public:
  Potential(const std::vector<std::string>& paths, const std::vector<std::string>& species, double committee_alpha,
            double max_std)
      : model_(mmtp::io::read_ensemble(paths, species, committee_alpha)) {
    region_.max_std = max_std;
    region_.validate();
  }
  std::vector<std::string> species() const { return model_.members().front().parameters().species_names; }
  double committee_alpha() const { return model_.committee_alpha(); }
  double committee_floor() const { return model_.committee_floor(); }
  double cutoff() const { return model_.cutoff(); }

  py::dict evaluate(const std::vector<std::string>& symbols, const Array& positions, const Array& cell,
                    const std::array<bool, 3>& pbc, const std::optional<Array>& magmoms, bool symmetrized) const {
    const mmtp::Structure s = structure(model_, symbols, positions, cell, pbc, magmoms);
    mmtp::EnsembleResult r;
    {
      py::gil_scoped_release release;
      r = model_.evaluate(s, symmetrized ? mmtp::EvalMode::symmetrized : mmtp::EvalMode::raw);
    }
    return results(s, r, region_);
  }

  py::dict relax_moments(const std::vector<std::string>& symbols, const Array& positions, const Array& cell,
                         const std::array<bool, 3>& pbc, const Array& magmoms, double mmax, int max_steps,
                         bool bound_moments, mmtp::MomentTrajectory* trajectory) const {
    mmtp::Structure s = structure(model_, symbols, positions, cell, pbc, magmoms);
    mmtp::MomentRelaxOptions o;
    o.mmax = mmax;
    o.max_steps = max_steps;
    o.bound_moments = bound_moments;
    mmtp::MomentRelaxReport rep;
    {
      py::gil_scoped_release release;
      rep = mmtp::relax_moments(model_, s, o, trajectory);
    }
    py::dict d = results(s, rep.result, region_);
    d["moment_relaxation"] = mmtp::to_string(rep.status);
    d["moment_evaluations"] = rep.evaluations;
    d["moments_pushed_out"] = rep.moments_pushed_out;
    return d;
  }

  py::dict relax(const std::vector<std::string>& symbols, const Array& positions, const Array& cell, const std::array<bool, 3>& pbc,
                 const std::optional<Array>& magmoms, const py::dict& options) const {
    const mmtp::Structure s = structure(model_, symbols, positions, cell, pbc, magmoms);
    mmtp::RelaxOptions o = relax_options(options);
    o.relax_moments = o.relax_moments && s.has_magmoms();
    o.region = region_;
    mmtp::RelaxReport rep;
    {
      py::gil_scoped_release release;
      rep = mmtp::relax(model_, s, o);
    }
    const auto& f = rep.structure;
    py::dict d = results(f, rep.result, region_);
    d["positions"] = rows(f.positions);
    Array c({3, 3});
    const Eigen::Matrix3d t = f.cell.transpose();  // rows = lattice vectors, row-major
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) c.mutable_at(i, j) = t(i, j);
    d["cell"] = c;
    d["status"] = mmtp::to_string(rep.status);
    d["evaluations"] = rep.evaluations;
    d["extrapolation"] = rep.extrapolation;
    d["moments_pushed_out"] = rep.moments_pushed_out;
    d["fmax"] = rep.fmax, d["mmax"] = rep.mmax, d["smax"] = rep.smax;
    return d;
  }

 private:
  mmtp::Ensemble model_;
  mmtp::TrainedRegion region_;
};

/// The keyword arguments of mmtp.fit (names as mmtp-fit's options) and their defaults, read
/// from fit::FitRequest. Per-species values (mmax, fit_mmax, w_magnetic_species) are dicts or
/// None (the library's default).
py::dict fit_defaults() {
  const mmtp::fit::FitRequest r;
  const auto& e = r.ensemble;
  const auto& w = e.train.weights;
  py::dict d;
  d["level"] = r.level, d["valid_fraction"] = r.valid_fraction, d["valid_seed"] = r.valid_seed;
  d["rmin"] = r.basis.rmin, d["rcut"] = r.basis.rcut;
  d["radial_basis_size"] = r.basis.radial_basis_size, d["magnetic_basis_size"] = r.basis.magnetic_basis_size;
  d["mmax"] = py::none(), d["fit_mmax"] = py::none();
  d["ensemble"] = e.members, d["seed"] = e.train.seed, d["bootstrap"] = e.bootstrap;
  d["max_iter"] = e.train.max_iter, d["tol"] = e.train.tol, d["init_scale"] = e.train.init_scale;
  d["raw"] = e.train.mode == mmtp::EvalMode::raw;
  d["w_energy"] = w.energy, d["w_force"] = w.force, d["w_stress"] = w.stress, d["w_magnetic"] = w.magnetic;
  d["w_magnetic_species"] = py::none(), d["l2"] = w.l2, d["weighting"] = mmtp::fit::weighting_name(w.weighting);
  return d;
}

/// A committee fit from labelled files to PREFIX.K.mtp and PREFIX.report.json; returns the
/// report's JSON text (python/mmtp/__init__.py parses it). `options` has every key of
/// fit_defaults; per-species values arrive as "Fe=3,Al=0.1" text (the command line's parser).
std::string fit(const std::vector<std::string>& train_files, const std::vector<std::string>& valid_files, const std::string& prefix,
                const std::vector<std::string>& species, const std::vector<std::string>& templates, const py::dict& k) {
  mmtp::fit::FitRequest r;
  auto& e = r.ensemble;
  auto& w = e.train.weights;
  r.species = species, r.templates = templates;
  r.level = k["level"].cast<int>(), r.valid_fraction = k["valid_fraction"].cast<double>();
  r.valid_seed = k["valid_seed"].cast<long long>();
  r.basis.rmin = k["rmin"].cast<double>(), r.basis.rcut = k["rcut"].cast<double>();
  r.basis.radial_basis_size = k["radial_basis_size"].cast<int>(), r.basis.magnetic_basis_size = k["magnetic_basis_size"].cast<int>();
  r.basis.moment_max = mmtp::io::per_species_values(k["mmax"].cast<std::string>(), species, "mmax");
  e.fit_moment_max = mmtp::io::per_species_values(k["fit_mmax"].cast<std::string>(), species, "fit_mmax");
  e.members = k["ensemble"].cast<int>(), e.train.seed = k["seed"].cast<unsigned>(), e.bootstrap = k["bootstrap"].cast<bool>();
  e.train.max_iter = k["max_iter"].cast<int>(), e.train.tol = k["tol"].cast<double>(), e.train.init_scale = k["init_scale"].cast<double>();
  e.train.mode = k["raw"].cast<bool>() ? mmtp::EvalMode::raw : mmtp::EvalMode::symmetrized;
  w.energy = k["w_energy"].cast<double>(), w.force = k["w_force"].cast<double>(), w.stress = k["w_stress"].cast<double>();
  w.magnetic = k["w_magnetic"].cast<double>(), w.l2 = k["l2"].cast<double>();
  w.magnetic_species = mmtp::io::per_species_values(k["w_magnetic_species"].cast<std::string>(), species, "w_magnetic_species", 1.0, false);
  w.weighting = mmtp::fit::parse_weighting(k["weighting"].cast<std::string>());
  r.validate();
  std::vector<std::string> warnings, names = species;
  auto train = mmtp::io::read_labelled(train_files, names, {}, warnings);
  auto valid = mmtp::io::read_labelled(valid_files, names, {}, warnings);
  for (const auto& msg : warnings) PyErr_WarnEx(PyExc_UserWarning, msg.c_str(), 1);
  py::gil_scoped_release release;
  auto split = mmtp::fit::split_validation(std::move(train), r.valid_fraction, r.split_seed(), static_cast<int>(species.size()));
  valid.insert(valid.end(), split.valid.begin(), split.valid.end());
  const auto starts = mmtp::fit::starting_potentials(r, split.train);
  const auto summary = mmtp::fit::fit_committee(starts, split.train, valid, e, prefix, {"mmtp.fit", prefix});
  return mmtp::fit::report_json(summary);
}

}  // namespace

PYBIND11_MODULE(_mmtp, m) {
  m.doc() = "mmtp: magnetic moment tensor potentials (the C++ library; use the mmtp package)";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const mmtp::Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const std::invalid_argument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  py::class_<Potential>(m, "Potential")
      .def(py::init<const std::vector<std::string>&, const std::vector<std::string>&, double, double>(), py::arg("paths"),
           py::arg("species"), py::arg("committee_alpha"), py::arg("max_std"))
      .def_property_readonly("species", &Potential::species)
      .def_property_readonly("committee_alpha", &Potential::committee_alpha)
      .def_property_readonly("committee_floor", &Potential::committee_floor)
      .def_property_readonly("cutoff", &Potential::cutoff)
      .def("evaluate", &Potential::evaluate, py::arg("symbols"), py::arg("positions"), py::arg("cell"), py::arg("pbc"),
           py::arg("magmoms"), py::arg("symmetrized"))
      .def("relax_moments", &Potential::relax_moments, py::arg("symbols"), py::arg("positions"), py::arg("cell"),
           py::arg("pbc"), py::arg("magmoms"), py::arg("mmax"), py::arg("max_steps"), py::arg("bound_moments"),
           py::arg("trajectory"))
      .def("relax", &Potential::relax, py::arg("symbols"), py::arg("positions"), py::arg("cell"), py::arg("pbc"),
           py::arg("magmoms"), py::arg("options"));
  // One trajectory's moments (extrapolated starts and L-BFGS memory), kept by the ASE calculator.
  py::class_<mmtp::MomentTrajectory>(m, "MomentTrajectory").def(py::init<>());
  m.def("relax_defaults", &relax_defaults);
  m.def("fit_defaults", &fit_defaults);
  m.def("fit", &fit, py::arg("train"), py::arg("valid"), py::arg("prefix"), py::arg("species"), py::arg("templates"),
        py::arg("options"));
}
