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

__all__ = ["Potential", "MomentTrajectory", "relax", "fit", "RELAX_DEFAULTS", "FIT_DEFAULTS"]


def _arrays(atoms):
    moments = atoms.get_initial_magnetic_moments() if atoms.has("initial_magmoms") else None
    return (atoms.get_chemical_symbols(), np.ascontiguousarray(atoms.positions, dtype=float),
            np.ascontiguousarray(atoms.cell.array, dtype=float), [bool(p) for p in atoms.pbc],
            None if moments is None else np.ascontiguousarray(moments, dtype=float))


class Potential:
    """A magnetic MTP, or a committee of them, read from MLIP-3 files (mmtp's element names,
    per-species moment ranges, committee α and error floor travel in the files).

    paths: a file or a list of files (a committee: the mean is evaluated, the std reported).
    species: element of each potential type, e.g. ["Fe", "Al"], when the files name none.
    committee_alpha: std multiplier (0: the value in the files, with their error floor; else α
    alone, no floor).
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

    @property
    def committee_floor(self):
        """Error floor s0 [eV/atom]: energy_std = sqrt((α·spread)² + (N·s0)²) for N atoms."""
        return self._impl.committee_floor

    def evaluate(self, atoms, symmetrized=True):
        """Energy and derivatives of an ase.Atoms: a dict with energy [eV], free_energy, forces
        (N, 3) [eV/Å] (−∂E/∂r), stress (6,) [eV/Å³] (periodic cells), energies (N,) [eV] (site
        energies), dE_dm (N,) [eV/μB] (+∂E/∂m) and magnetic_forces (−∂E/∂m), magmoms, the
        committee std (energy_std [eV], with the error floor; forces_std (N, 3), dE_dm_std (N,)),
        the extrapolation counts short_pairs and moments_out_of_range, and extrapolation (why the structure is
        outside the trained region; "" inside). symmetrized=False gives E(M) as MLIP-3 does."""
        return self._impl.evaluate(*_arrays(atoms), symmetrized)

    def relax_moments(self, atoms, mmax=1e-4, max_steps=500, bound_moments=True, trajectory=None):
        """evaluate() at the moments that minimise E at fixed positions and cell (bounded to each
        species' trained range); "magmoms" holds them, "moment_relaxation" the outcome and
        "moments_pushed_out" the atoms (0-based) left on a range bound by an outward force.
        trajectory: a MomentTrajectory() kept from call to call along an MD run: the relaxation
        starts from the extrapolation of its last relaxed moments and keeps its L-BFGS memory."""
        symbols, positions, cell, pbc, moments = _arrays(atoms)
        if moments is None:
            raise ValueError("relaxing moments needs initial moments (atoms.set_initial_magnetic_moments)")
        return self._impl.relax_moments(symbols, positions, cell, pbc, moments, mmax, max_steps, bound_moments, trajectory)


MomentTrajectory = _mmtp.MomentTrajectory


RELAX_DEFAULTS = _mmtp.relax_defaults()
FIT_DEFAULTS = _mmtp.fit_defaults()


def _options(defaults, given, what):
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise TypeError(f"{what}() got unexpected keyword argument(s) {', '.join(unknown)} (known: {', '.join(sorted(defaults))})")
    return {**defaults, **given}


def relax(atoms, potential, **options):
    """Joint spin-lattice relaxation (mmtp-driver relax): positions, the cell (cell = "none",
    "hydrostatic" or "full") and the moments (moments=True) by bounded-step L-BFGS. Keyword
    arguments and their defaults: mmtp.RELAX_DEFAULTS, read from the library (the options of
    mmtp-driver relax with "-" as "_"; fmax [eV/Å], mmax [eV/μB], smax and pressure [eV/Å³], max_step
    [Å], max_moment_step [μB], max_strain_step). Returns (a relaxed copy of atoms with its moments as
    initial_magmoms, a report dict: status "converged", "max_steps", "line_search_failed" or
    "extrapolation" (left the trained region: "extrapolation" says why), evaluations, energy,
    forces, stress, moments_pushed_out (atoms whose moment ends on its trained-range bound, pushed
    outwards), ...). `potential` is a Potential or what Potential() takes. Raises TypeError for an
    unknown keyword, ValueError for a bad value."""
    pot = potential if isinstance(potential, Potential) else Potential(potential)
    symbols, positions, cell_rows, pbc, moments_in = _arrays(atoms)
    report = pot._impl.relax(symbols, positions, cell_rows, pbc, moments_in, _options(RELAX_DEFAULTS, options, "relax"))
    out = atoms.copy()
    out.calc = None
    out.set_cell(report["cell"], scale_atoms=False)
    out.positions = report["positions"]
    if "magmoms" in report:
        out.set_initial_magnetic_moments(report["magmoms"])
    return out, report


def fit(train, prefix, species, valid=(), template=(), **options):
    """Trains a committee (mmtp-fit): labelled files (ABINIT .abo, cfg, extxyz) → PREFIX.K.mtp and
    PREFIX.report.json. `template`: a file or files as mmtp-fit --template. Keyword arguments and
    their defaults: mmtp.FIT_DEFAULTS, read from the library (mmtp-fit's options with "-" as "_");
    the per-species ones (mmax, fit_mmax [μB], w_magnetic_species) are dicts such as
    {"Fe": 3, "Al": 0.1}. Returns the report (a dict; errors in meV/atom, eV/Å, GPa, eV/μB).
    Raises TypeError for an unknown keyword, ValueError for a bad value."""
    o = _options(FIT_DEFAULTS, options, "fit")
    for key in ("mmax", "fit_mmax", "w_magnetic_species"):
        o[key] = ",".join(f"{k}={v}" for k, v in (o[key] or {}).items())
    templates = [template] if isinstance(template, (str, bytes)) or hasattr(template, "__fspath__") else list(template)
    text = _mmtp.fit([str(f) for f in train], [str(f) for f in valid], str(prefix), list(species), [str(t) for t in templates], o)
    return json.loads(text)
