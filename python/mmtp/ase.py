"""An in-process ASE calculator for magnetic MTPs (mmtp.Potential)."""
import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from . import MomentTrajectory, Potential


class MMTPCalculator(Calculator):
    """ASE calculator: energy, free_energy, forces, stress, energies (per atom) and magmoms.

    potentials: a file, a list of files (a committee) or an mmtp.Potential.
    moments: "fixed" — atoms.get_initial_magnetic_moments() are held; "relax" — at every call the
    moments minimise E at the given positions and cell (the adiabatic surface; forces are total
    derivatives), starting from the extrapolation of the last relaxed moments of the same atoms
    (mmtp.MomentTrajectory, as mmtp-driver serve does per bead), and are returned as magmoms as
    ASE's DFT calculators do.
    calc.results also holds dE_dm and magnetic_forces [eV/μB], the committee std (energy_std,
    forces_std, dE_dm_std), the extrapolation counts and "extrapolation" (why the structure is
    outside the trained region; "" inside). Other keywords: species, committee_alpha, max_std (as
    mmtp.Potential), symmetrized, mmax [eV/μB] and max_steps of the moment relaxation.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress", "energies", "magmoms"]

    def __init__(self, potentials, moments="fixed", species=None, committee_alpha=0.0, max_std=0.05, symmetrized=True,
                 mmax=1e-4, max_steps=500, **kwargs):
        super().__init__(**kwargs)
        if moments not in ("fixed", "relax"):
            raise ValueError(f"moments '{moments}' is not 'fixed' or 'relax'")
        self.potential = potentials if isinstance(potentials, Potential) else Potential(potentials, species,
                                                                                        committee_alpha, max_std)
        self.moments, self.symmetrized, self.mmax, self.max_steps = moments, symmetrized, mmax, max_steps
        self._trajectory = MomentTrajectory()

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if self.moments == "relax":
            if "initial_magmoms" in system_changes or "numbers" in system_changes:
                self._trajectory = MomentTrajectory()  # new moments or atoms: start from them
            r = self.potential.relax_moments(self.atoms, mmax=self.mmax, max_steps=self.max_steps, trajectory=self._trajectory)
        else:
            r = self.potential.evaluate(self.atoms, symmetrized=self.symmetrized)
        self.results = dict(r)
        if "magmoms" not in self.results:
            self.results["magmoms"] = np.zeros(len(self.atoms))
        self.results["magmom"] = float(np.sum(self.results["magmoms"]))
