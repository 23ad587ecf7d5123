"""mmtp-driver relax end to end: an independent `eval` of the output meets the criteria, ASE
reads the output and the trajectory, masks hold, bad input gives one-line errors and exit codes."""
import os
import sys

import numpy as np
from ase import Atoms
from ase.io import read, write

sys.path.insert(0, os.path.dirname(__file__))
from common import arguments, data, run, tmpdir  # noqa: E402

GPA = 160.21766208  # eV/Å³ per GPa⁻¹ (1 eV/Å³ = 160.2 GPa)


def b2(a=2.8, moments=True, rattle=0.04):
    rng = np.random.default_rng(1)
    atoms = Atoms("FeAl" * 8, cell=np.eye(3) * 2 * a, pbc=True)
    pos = []
    for i in range(2):
        for j in range(2):
            for k in range(2):
                pos += [a * np.array([i, j, k]), a * (np.array([i, j, k]) + 0.5)]
    atoms.positions = np.array(pos) + rattle * rng.standard_normal((16, 3))
    if moments:
        atoms.set_initial_magnetic_moments([1.6 if s == "Fe" else 0.3 for s in atoms.get_chemical_symbols()])
    return atoms


def main():
    args = arguments()
    d = tmpdir()
    pot = data(args, "toy_feal_mag.mtp")
    src, out, traj = (os.path.join(d, n) for n in ("in.xyz", "out.xyz", "traj.xyz"))
    atoms = b2()
    atoms.arrays["frozen"] = np.array([1 if i == 5 else 0 for i in range(16)])
    write(src, atoms, format="extxyz")
    r = run([args.driver, "relax", src, "-p", pot, "-o", out, "--cell", "none", "--fmax", "1e-3", "--mmax", "1e-3",
             "--fix-moments", "Al", "--fixed-atoms", "frozen", "--trajectory", traj])
    assert "# converged after" in r.stdout, r.stdout
    relaxed = read(out)
    assert relaxed.info["relax_status"] == "converged"
    # Independent evaluation of the output meets fmax, mmax and smax.
    check = os.path.join(d, "check.xyz")
    run([args.driver, "eval", "-p", pot, out, "-o", check])
    ev = read(check)
    assert np.linalg.norm(ev.get_forces()[np.arange(16) != 5], axis=1).max() <= 1e-3
    fe = np.array([s == "Fe" for s in ev.get_chemical_symbols()])
    assert np.abs(ev.arrays["dE_dm"][fe]).max() <= 1e-3
    # Masks: Al moments and atom 5 (in the relaxed cell's frame) held.
    assert np.allclose(relaxed.get_initial_magnetic_moments()[~fe], 0.3)
    frac0 = atoms.cell.scaled_positions(atoms.positions)[5]
    assert np.allclose(relaxed.cell.scaled_positions(relaxed.positions)[5], frac0, atol=1e-12)
    frames = read(traj, index=":")
    assert len(frames) >= 2 and "dE_dm" in frames[-1].arrays
    # Already relaxed: converges immediately.
    again = run([args.driver, "relax", out, "-p", pot, "-o", os.path.join(d, "again.xyz"), "--cell", "none",
                 "--fmax", "1e-3", "--mmax", "1e-3", "--fix-moments", "Al", "--fixed-atoms", "frozen"])
    n_eval = int(again.stdout.split("# converged after ")[1].split()[0])
    assert n_eval <= 2, again.stdout
    # The cell too, from the unrattled cell (rattled, the toy's B2 is unstable: see below).
    ideal = os.path.join(d, "ideal.xyz")
    write(ideal, b2(rattle=0.0), format="extxyz")
    for mode in ("hydrostatic", "full"):
        cell_out = os.path.join(d, f"cell_{mode}.xyz")
        run([args.driver, "relax", ideal, "-p", pot, "-o", cell_out, "--cell", mode, "--fmax", "1e-3", "--mmax", "1e-3",
             "--smax", "1e-3"])
        run([args.driver, "eval", "-p", pot, cell_out, "-o", check])
        assert np.abs(read(check).get_stress(voigt=False)).max() * GPA <= 1e-3 + 1e-9, mode
    # Rattled, with the cell free, the toy slides towards pairs closer than its min_dist: exit 5,
    # one line naming the cause, and the last point inside the trained region is written.
    slid = os.path.join(d, "slid.xyz")
    r = run([args.driver, "relax", src, "-p", pot, "-o", slid, "--cell", "full", "--fmax", "1e-4", "--mmax", "1e-4",
             "--smax", "1e-4"], expect_rc=5)
    assert "left the trained region" in r.stderr and "min_dist" in r.stderr, r.stderr
    assert read(slid).info["relax_status"] == "extrapolation"
    assert int(read(slid).info["short_pairs"]) == 0
    # Unbounded moments need an explicit opt-out, which warns.
    r = run([args.driver, "relax", ideal, "-p", pot, "-o", os.path.join(d, "unbounded.xyz"), "--bound-moments", "false",
             "--max-steps", "3"], expect_rc=None)
    assert "--bound-moments false" in r.stderr, r.stderr
    # Not converged within the steps: exit 3, output still written.
    capped = os.path.join(d, "capped.xyz")
    r = run([args.driver, "relax", src, "-p", pot, "-o", capped, "--cell", "none", "--fmax", "1e-9", "--max-steps", "2"],
            expect_rc=3)
    assert read(capped).info["relax_status"] == "max_steps"
    # All-zero moments: a warning, and the moments stay zero.
    zero = os.path.join(d, "zero.xyz")
    a0 = b2()
    a0.set_initial_magnetic_moments(np.zeros(16))
    write(zero, a0, format="extxyz")
    r = run([args.driver, "relax", zero, "-p", pot, "-o", os.path.join(d, "zero_out.xyz"), "--max-steps", "20"],
            expect_rc=None)
    assert "stationary point" in r.stderr, r.stderr
    assert np.abs(read(os.path.join(d, "zero_out.xyz")).get_initial_magnetic_moments()).max() == 0.0
    # Bad input: one line, exit 1.
    r = run([args.driver, "relax", src, "-p", pot, "-o", os.path.join(d, "x.xyz"), "--fix-moments", "Ni"], expect_rc=1)
    assert "species 'Ni' is not in the potential (it has Fe,Al)" in r.stderr, r.stderr
    singular = os.path.join(d, "singular.xyz")
    a1 = b2()
    a1.cell[2] = a1.cell[0]
    write(singular, a1, format="extxyz")
    r = run([args.driver, "relax", singular, "-p", pot, "-o", os.path.join(d, "x.xyz"), "--cell", "full"], expect_rc=1)
    assert "singular cell" in r.stderr, r.stderr
    nan = os.path.join(d, "nan.xyz")
    text = open(src).read().split("\n")
    text[3] = "Al nan 0 0 0.3 1"
    open(nan, "w").write("\n".join(text))
    r = run([args.driver, "relax", nan, "-p", pot, "-o", os.path.join(d, "x.xyz")], expect_rc=1)
    assert f"{nan}:4:" in r.stderr and "not a finite number" in r.stderr, r.stderr
    empty = os.path.join(d, "empty.xyz")
    open(empty, "w").write('0\nLattice="5 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3 pbc="T T T"\n')
    r = run([args.driver, "relax", empty, "-p", pot, "-o", os.path.join(d, "x.xyz"), "--moments", "fixed"], expect_rc=1)
    assert "empty structure" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(d, "x.xyz"))
    print(f"relax_cli: converged, verified by eval; masks, trajectory ({len(frames)} frames), exit codes and errors OK")


if __name__ == "__main__":
    main()
