# In-process mmtp from Python (README: Python). Run from the repository root.
import glob
import mmtp
from mmtp.ase import MMTPCalculator
from ase.build import bulk

atoms = bulk("FeAl", "cesiumchloride", a=2.95)
atoms.set_initial_magnetic_moments([2.0, 0.0])
atoms.calc = MMTPCalculator(sorted(glob.glob("examples/feal/potential/feal.*.mtp")), moments="relax")
print("E =", atoms.get_potential_energy(), "eV, moments", atoms.get_magnetic_moments(), "μB")
relaxed, report = mmtp.relax(atoms, atoms.calc.potential, cell="full")
print("relaxed: a =", relaxed.cell.lengths()[0], "Å,", report["status"], ", moments", relaxed.get_initial_magnetic_moments())
