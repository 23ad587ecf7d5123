"""mmtp: magnetic Moment Tensor Potentials in-process (Novikov et al., npj Comput. Mater. 2022;
Kotykhov et al., Sci. Rep. 2023).

    import mmtp
    pot = mmtp.Potential(["feal.0.mtp", "feal.1.mtp"])          # one file or a committee
    res = pot.evaluate(atoms)                                    # dict of numpy arrays
    relaxed, report = mmtp.relax(atoms, pot, cell="full")        # joint spin-lattice relaxation
    report = mmtp.fit(["data.xyz"], "feal", species=["Fe", "Al"])  # train a committee

Units: eV, Å, μB; stress in eV/Å³ with ASE's sign and Voigt order (xx, yy, zz, yz, xz, xy).
Moments are `atoms.get_initial_magnetic_moments()`. Bad input raises ValueError with the
library's one-line message. The C++ work runs with the GIL released.
"""
import json

import numpy as np

from . import _mmtp

__all__ = ["Potential", "relax", "fit"]


def _arrays(atoms):
    moments = atoms.get_initial_magnetic_moments() if atoms.has("initial_magmoms") else None
    return (atoms.get_chemical_symbols(), np.ascontiguousarray(atoms.positions, dtype=float),
            np.ascontiguousarray(atoms.cell.array, dtype=float), [bool(p) for p in atoms.pbc],
            None if moments is None else np.ascontiguousarray(moments, dtype=float))


class Potential:
    """A magnetic MTP, or a committee of them, read from MLIP-3 files (mmtp's element names,
    per-species moment ranges and committee α travel in the files).

    paths: a file or a list of files (a committee: the mean is evaluated, the std reported).
    species: element of each potential type, e.g. ["Fe", "Al"], when the files name none.
    committee_alpha: std multiplier (0: the value in the files, else 1).
    max_std: committee std of E per atom [eV/atom] beyond which a result is reported as an
    extrapolation (in "extrapolation"; 0 = not checked).
    Raises ValueError for unreadable or inconsistent files.
    """

    def __init__(self, paths, species=None, committee_alpha=0.0, max_std=0.05):
        self.paths = [paths] if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__") else list(paths)
        self._impl = _mmtp.Potential([str(p) for p in self.paths], list(species or []), committee_alpha, max_std)

    @property
    def species(self):
        return self._impl.species

    @property
    def committee_alpha(self):
        return self._impl.committee_alpha

    def evaluate(self, atoms, symmetrized=True):
        """Energy and derivatives of an ase.Atoms: a dict with energy [eV], free_energy, forces
        (N, 3) [eV/Å] (−∂E/∂r), stress (6,) [eV/Å³] (periodic cells), energies (N,) [eV] (site
        energies), dE_dm (N,) [eV/μB] (+∂E/∂m) and magnetic_forces (−∂E/∂m), magmoms, the
        committee std (energy_std [eV], forces_std (N, 3), dE_dm_std (N,)), the extrapolation
        counts short_pairs and moments_out_of_range, and extrapolation (why the structure is
        outside the trained region; "" inside). symmetrized=False gives E(M) as MLIP-3 does."""
        return self._impl.evaluate(*_arrays(atoms), symmetrized)

    def relax_moments(self, atoms, mmax=1e-4, max_steps=500, bound_moments=True):
        """evaluate() at the moments that minimise E at fixed positions and cell (bounded to each
        species' trained range); "magmoms" holds them, "moment_relaxation" the outcome and
        "moments_pushed_out" the atoms (0-based) left on a range bound by an outward force."""
        symbols, positions, cell, pbc, moments = _arrays(atoms)
        if moments is None:
            raise ValueError("relaxing moments needs initial moments (atoms.set_initial_magnetic_moments)")
        return self._impl.relax_moments(symbols, positions, cell, pbc, moments, mmax, max_steps, bound_moments)


def relax(atoms, potential, cell="full", moments=True, fmax=0.01, mmax=0.01, smax=6.2415e-5, max_steps=500,
          pressure=0.0, bound_moments=True, max_step=0.2, max_moment_step=0.2, max_strain_step=0.03):
    """Joint spin-lattice relaxation (mmtp-driver relax): positions, the cell (cell = "none",
    "hydrostatic" or "full") and the moments (moments=True) by bounded-step L-BFGS. fmax [eV/Å],
    mmax [eV/μB], smax and pressure [eV/Å³]. Returns (a relaxed copy of atoms with its moments as
    initial_magmoms, a report dict: status "converged", "max_steps", "line_search_failed" or
    "extrapolation" (left the trained region: "extrapolation" says why), evaluations, energy,
    forces, stress, moments_pushed_out (atoms whose moment ends on its trained-range bound, pushed
    outwards), ...). `potential` is a Potential or what Potential() takes."""
    pot = potential if isinstance(potential, Potential) else Potential(potential)
    symbols, positions, cell_rows, pbc, moments_in = _arrays(atoms)
    report = pot._impl.relax(symbols, positions, cell_rows, pbc, moments_in, cell, moments, fmax, mmax, smax, max_steps,
                             pressure, bound_moments, max_step, max_moment_step, max_strain_step)
    out = atoms.copy()
    out.calc = None
    out.set_cell(report["cell"], scale_atoms=False)
    out.positions = report["positions"]
    if "magmoms" in report:
        out.set_initial_magnetic_moments(report["magmoms"])
    return out, report


def fit(train, prefix, species, valid=(), level=16, template="", radial_basis_size=8, magnetic_basis_size=2, rmin=2.1,
        rcut=4.5, mmax=None, ensemble=5, seed=1, bootstrap=False, max_iter=1000, valid_fraction=0.0, w_energy=1.0,
        w_force=0.01, w_stress=0.001, w_magnetic=0.01, l2=0.0, fit_mmax=None):
    """Trains a committee (mmtp-fit): labelled files (ABINIT .abo, cfg, extxyz) → PREFIX.K.mtp and
    PREFIX.report.json. mmax: {"Fe": 3, "Al": 0.1} moment ranges [μB] (default: the data's);
    fit_mmax: the same for the basis while training (mmtp-fit --fit-mmax; default: mmax).
    Returns the report (a dict; errors in meV/atom, eV/Å, GPa, eV/μB)."""
    species = list(species)
    ranges = [float((mmax or {}).get(s, 0.0)) for s in species] if mmax else []
    fit_ranges = [float((fit_mmax or {}).get(s, 0.0)) for s in species] if fit_mmax else []
    text = _mmtp.fit([str(f) for f in train], [str(f) for f in valid], str(prefix), species, level, str(template),
                     radial_basis_size, magnetic_basis_size, rmin, rcut, ranges, ensemble, seed, bootstrap, max_iter,
                     valid_fraction, w_energy, w_force, w_stress, w_magnetic, l2, fit_ranges)
    return json.loads(text)
