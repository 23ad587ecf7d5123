// mmtp._mmtp: the library for Python (pybind11). Thin: arrays in, the library's functions with
// the GIL released, dicts of numpy arrays out. The Python-facing API is python/mmtp/*.py.
#include <fmt/core.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "mmtp/error.hpp"
#include "mmtp/fit/committee.hpp"
#include "mmtp/io/mtp.hpp"
#include "mmtp/io/samples.hpp"
#include "mmtp/moment_basis.hpp"
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

mmtp::CellMode cell_mode(const std::string& cell) {
  if (cell == "none") return mmtp::CellMode::none;
  if (cell == "hydrostatic") return mmtp::CellMode::hydrostatic;
  if (cell == "full") return mmtp::CellMode::full;
  throw mmtp::InputError(fmt::format("cell '{}' is not none, hydrostatic or full", cell));
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
                         bool bound_moments) const {
    mmtp::Structure s = structure(model_, symbols, positions, cell, pbc, magmoms);
    mmtp::MomentRelaxOptions o;
    o.mmax = mmax;
    o.max_steps = max_steps;
    o.bound_moments = bound_moments;
    mmtp::MomentRelaxReport rep;
    {
      py::gil_scoped_release release;
      rep = mmtp::relax_moments(model_, s, o);
    }
    py::dict d = results(s, rep.result, region_);
    d["moment_relaxation"] = mmtp::to_string(rep.status);
    d["moment_evaluations"] = rep.evaluations;
    d["moments_pushed_out"] = rep.moments_pushed_out;
    return d;
  }

  py::dict relax(const std::vector<std::string>& symbols, const Array& positions, const Array& cell, const std::array<bool, 3>& pbc,
                 const std::optional<Array>& magmoms, const std::string& cell_mode_name, bool relax_moments, double fmax,
                 double mmax, double smax, int max_steps, double pressure, bool bound_moments, double max_step,
                 double max_moment_step, double max_strain_step) const {
    const mmtp::Structure s = structure(model_, symbols, positions, cell, pbc, magmoms);
    mmtp::RelaxOptions o;
    o.cell = cell_mode(cell_mode_name);
    o.relax_moments = relax_moments && s.has_magmoms();
    o.fmax = fmax, o.mmax = mmax, o.smax = smax, o.max_steps = max_steps, o.pressure = pressure;
    o.bound_moments = bound_moments;
    o.max_displacement = max_step, o.max_moment_step = max_moment_step, o.max_strain_step = max_strain_step;
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

/// A committee fit from labelled files to PREFIX.K.mtp and PREFIX.report.json; returns the
/// report's JSON text (python/mmtp/__init__.py parses it).
std::string fit(const std::vector<std::string>& train_files, const std::vector<std::string>& valid_files, const std::string& prefix,
                std::vector<std::string> species, int level, const std::string& template_file, int radial_basis_size,
                int magnetic_basis_size, double rmin, double rcut, const std::vector<double>& moment_max, int members,
                unsigned seed, bool bootstrap, int max_iter, double valid_fraction, double w_energy, double w_force,
                double w_stress, double w_magnetic, double l2, const std::vector<double>& fit_moment_max) {
  std::vector<std::string> warnings;
  auto train = mmtp::io::read_labelled(train_files, species, {}, warnings);
  auto valid = mmtp::io::read_labelled(valid_files, species, {}, warnings);
  for (const auto& w : warnings) PyErr_WarnEx(PyExc_UserWarning, w.c_str(), 1);
  py::gil_scoped_release release;
  auto split = mmtp::fit::split_validation(std::move(train), valid_fraction, seed, static_cast<int>(species.size()));
  valid.insert(valid.end(), split.valid.begin(), split.valid.end());
  mmtp::fit::BasisOptions b;
  b.rmin = rmin, b.rcut = rcut, b.radial_basis_size = radial_basis_size, b.magnetic_basis_size = magnetic_basis_size;
  b.moment_max = moment_max;
  mmtp::MtpParameters start = template_file.empty() ? mmtp::moment_tensor_basis(level) : mmtp::io::read_mtp(template_file);
  if (!start.trained()) start = mmtp::fit::untrained_potential(start, species, b, split.train);
  start.species_names = species;
  mmtp::fit::EnsembleOptions o;
  o.members = members, o.bootstrap = bootstrap;
  o.train.seed = seed, o.train.max_iter = max_iter;
  o.train.weights = {w_energy, w_force, w_stress, w_magnetic, l2};
  o.fit_moment_max = fit_moment_max;
  const auto summary = mmtp::fit::fit_committee({start}, split.train, valid, o, prefix, {"mmtp.fit", prefix});
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
      .def_property_readonly("cutoff", &Potential::cutoff)
      .def("evaluate", &Potential::evaluate, py::arg("symbols"), py::arg("positions"), py::arg("cell"), py::arg("pbc"),
           py::arg("magmoms"), py::arg("symmetrized"))
      .def("relax_moments", &Potential::relax_moments, py::arg("symbols"), py::arg("positions"), py::arg("cell"),
           py::arg("pbc"), py::arg("magmoms"), py::arg("mmax"), py::arg("max_steps"), py::arg("bound_moments"))
      .def("relax", &Potential::relax, py::arg("symbols"), py::arg("positions"), py::arg("cell"), py::arg("pbc"),
           py::arg("magmoms"), py::arg("cell_mode"), py::arg("relax_moments"), py::arg("fmax"), py::arg("mmax"),
           py::arg("smax"), py::arg("max_steps"), py::arg("pressure"), py::arg("bound_moments"), py::arg("max_step"),
           py::arg("max_moment_step"), py::arg("max_strain_step"));
  m.def("fit", &fit, py::arg("train"), py::arg("valid"), py::arg("prefix"), py::arg("species"), py::arg("level"),
        py::arg("template"), py::arg("radial_basis_size"), py::arg("magnetic_basis_size"), py::arg("rmin"), py::arg("rcut"),
        py::arg("moment_max"), py::arg("members"), py::arg("seed"), py::arg("bootstrap"), py::arg("max_iter"),
        py::arg("valid_fraction"), py::arg("w_energy"), py::arg("w_force"), py::arg("w_stress"), py::arg("w_magnetic"),
        py::arg("l2"), py::arg("fit_moment_max"));
}
