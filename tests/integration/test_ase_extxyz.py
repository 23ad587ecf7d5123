"""extxyz interoperability with a real peer: ASE (Debian python3-ase) writes, mmtp reads and
evaluates, ASE reads mmtp's output back; numbers agree with the cfg output of the same run."""
import os
import sys

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write

sys.path.insert(0, os.path.dirname(__file__))
from common import arguments, data, read_cfg, run, tmpdir  # noqa: E402


def main():
    args = arguments()
    d = tmpdir()
    rng = np.random.default_rng(5)
    cell = np.array([[5.8, 0.3, -0.2], [0.4, 5.6, 0.5], [-0.3, 0.2, 6.1]])  # rows = lattice vectors
    frac = np.array([[i / 2, j / 2, k / 2] for i in range(2) for j in range(2) for k in range(2)]) + 0.02 * rng.standard_normal((8, 3))
    atoms = Atoms("FeAlFeAlAlFeAlFe", scaled_positions=frac % 1.0, cell=cell, pbc=True)
    atoms.set_initial_magnetic_moments(rng.uniform(-2.4, 2.4, 8))
    atoms.calc = SinglePointCalculator(atoms, energy=-1.0, forces=np.zeros((8, 3)), stress=np.zeros(6))
    src = os.path.join(d, "ase.xyz")
    write(src, atoms, format="extxyz")

    pot = data(args, "rand12_2sp_mag2_R8.mtp")
    out_xyz, out_cfg = os.path.join(d, "out.xyz"), os.path.join(d, "out.cfg")
    run([args.driver, "eval", "-p", pot, "--species", "Fe,Al", src, "-o", out_xyz])
    run([args.driver, "eval", "-p", pot, "--species", "Fe,Al", src, "-o", out_cfg])

    atoms = read(src, format="extxyz")  # what mmtp saw: ASE writes 8 decimals
    back = read(out_xyz, format="extxyz")
    assert back.get_chemical_symbols() == atoms.get_chemical_symbols()
    assert np.array_equal(back.get_positions(), atoms.get_positions())
    assert np.array_equal(back.cell.array, atoms.cell.array)
    assert np.array_equal(back.get_initial_magnetic_moments(), atoms.get_initial_magnetic_moments())
    cfg = read_cfg(out_cfg)[0]
    e = back.get_potential_energy()
    assert abs(e - cfg["energy"]) <= 1e-12 * abs(e), (e, cfg["energy"])
    f_cfg = np.array([[a["fx"], a["fy"], a["fz"]] for a in cfg["atoms"]])
    assert np.allclose(back.get_forces(), f_cfg, rtol=0, atol=1e-12)
    # ASE stress = (1/V) dE/dε = −virial/V.
    stress = back.get_stress(voigt=False)
    assert np.allclose(stress, -np.array(cfg["virial"]) / atoms.get_volume(), rtol=1e-12, atol=1e-14)
    m_cfg = np.array([a["magmom_x"] for a in cfg["atoms"]])
    assert np.array_equal(m_cfg, atoms.get_initial_magnetic_moments())
    assert np.allclose(back.arrays["dE_dm"], [a["en_der_mx"] for a in cfg["atoms"]], rtol=0, atol=1e-12)
    assert abs(back.arrays["energies"].sum() - e) < 1e-9
    print(f"ase_extxyz: ASE {__import__('ase').__version__} round trip OK, E = {e:.6f} eV")


if __name__ == "__main__":
    main()
