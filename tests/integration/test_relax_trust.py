"""Relaxations that end converged or say why not (issue: relaxations you can trust).

Every cell mode on 2-atom B2 FeAl with the shipped FeAl ensemble (the hydrostatic mode once
collapsed the cell to 0.18 Å³ at E = -4e20 eV), and the MLIP-3 self-test potential on a rattled
2x2x2 B2 cell (unbounded moments once ran to -100 μB): each run exits 0 (converged) or 5 (left the
trained region, stopped at the last point inside), never with a volume change above 30 %, an
energy more than 1 eV/atom below the start, or a moment outside its trained range."""
import glob
import os
import sys

import numpy as np
from ase.build import bulk
from ase.io import read, write

sys.path.insert(0, os.path.dirname(__file__))
from common import arguments, data, run, tmpdir  # noqa: E402


def check(args, d, name, atoms, potentials, options, bound, species=()):
    src, out = os.path.join(d, f"{name}.xyz"), os.path.join(d, f"{name}_out.xyz")
    write(src, atoms, format="extxyz")
    pot = [x for p in potentials for x in ("-p", p)] + list(species)
    # The energy of the start, from the same committee.
    start = os.path.join(d, f"{name}_start.xyz")
    run([args.driver, "eval", *pot, src, "-o", start])
    e0 = read(start).get_potential_energy() / len(atoms)
    r = run([args.driver, "relax", src, *pot, "-o", out, *options], expect_rc=None)
    assert r.returncode in (0, 5), f"{name}: exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr}"
    if r.returncode == 5:
        assert "left the trained region" in r.stderr or "outside the trained region" in r.stderr, r.stderr
    final = read(out)
    dv = final.get_volume() / atoms.get_volume() - 1
    de = final.get_potential_energy() / len(atoms) - e0
    m = final.get_initial_magnetic_moments()
    assert abs(dv) <= 0.30, f"{name}: volume change {dv:+.1%}"
    assert de >= -1.0, f"{name}: energy {de:+.3f} eV/atom below the start"
    assert np.abs(m).max() <= bound + 1e-9, f"{name}: moments {m}"
    # A moment held at the bound by an outward magnetic force is announced.
    dEdm = final.arrays["dE_dm"]
    pushed = ((m <= -bound + 1e-6) & (dEdm > 1e-3)) | ((m >= bound - 1e-6) & (dEdm < -1e-3))
    assert pushed.any() == ("end at the edge of their trained range" in r.stderr), (name, m, dEdm, r.stderr)
    return r.returncode, dv, de, int(pushed.sum())


def main():
    args = arguments()
    d = tmpdir()
    feal = sorted(glob.glob(os.path.join(args.data, "..", "..", "examples", "feal", "potential", "feal.[0-9].mtp")))
    assert feal, "the shipped FeAl ensemble is missing"
    b2 = bulk("FeAl", "cesiumchloride", a=2.95)
    b2.set_initial_magnetic_moments([2.0, 0.0])
    lines = []
    for mode in ("none", "hydrostatic", "full"):
        rc, dv, de, _ = check(args, d, f"b2_{mode}", b2, feal, ["--cell", mode, "--moments", "relax"], bound=3.0)
        lines.append(f"B2 {mode}: exit {rc}, dV {dv:+.1%}, dE {de:+.3f} eV/atom")
    # A start outside the trained region (16-atom bcc Fe, random moment signs) once shrank by 35 %
    # in the hydrostatic mode. Now it stops as soon as a point is further outside than the start,
    # or, if it walks into the region first, as soon as it leaves it again; which of the two
    # depends on the ensemble. The point written is the last one no further outside than the
    # start, or, if it converges outside, there. Its committee std fell with every ensemble trained
    # on larger cells (0.1-0.5 eV/atom before them, 0.043 with step 4, inside the driver's default
    # 0.05, where it converges; step 8 walks from 0.033 into 0.012), so the trained region is set to
    # half the smaller of the start's std and that of the state a default run converges to: both
    # outside by construction.
    fe16 = bulk("Fe", "bcc", a=2.83, cubic=True).repeat(2)
    rng = np.random.default_rng(1)
    fe16.positions += rng.uniform(-0.03, 0.03, fe16.positions.shape)
    fe16.set_initial_magnetic_moments(rng.uniform(0.5, 3.0, len(fe16)) * rng.choice([-1, 1], len(fe16)))
    src, out = os.path.join(d, "fe16.xyz"), os.path.join(d, "fe16_out.xyz")
    write(src, fe16, format="extxyz")
    pot = [x for p in feal for x in ("-p", p)]
    start = os.path.join(d, "fe16_start.xyz")
    run([args.driver, "eval", *pot, src, "-o", start])
    std0 = read(start).info["energy_std"] / len(fe16)
    run([args.driver, "relax", src, *pot, "--cell", "hydrostatic", "-o", out], expect_rc=None)  # the default run's end state
    max_std = min(0.05, std0, read(out).info["energy_std"] / len(fe16)) / 2  # eV/atom; 0.05 is the driver's default
    r = run([args.driver, "relax", src, *pot, "--cell", "hydrostatic", "--max-std", str(max_std), "-o", out], expect_rc=5)
    walked_in = "left the trained region" in r.stderr
    assert walked_in or "further outside the trained region than its start" in r.stderr \
        or "started outside the trained region and ended there" in r.stderr, r.stderr
    final = read(out)
    assert final.info["energy_std"] / len(fe16) <= max(std0, max_std) + 1e-9, (std0, final.info["energy_std"], r.stderr)
    assert abs(final.get_volume() / fe16.get_volume() - 1) < 0.30
    lines.append(f"bcc Fe 16, random moments (std {std0:.3f} eV/atom), hydrostatic: exit 5, "
                 + ("walked into the trained region and stopped on leaving it" if walked_in else "stopped outside, where it started"))
    # MLIP-3's self-test potential (one range -1.3..3.1 μB: |m| <= 1.3 symmetrized).
    cell = bulk("FeAl", "cesiumchloride", a=2.87).repeat(2)
    rng = np.random.default_rng(3)
    cell.positions += rng.uniform(-0.05, 0.05, cell.positions.shape)
    cell.set_initial_magnetic_moments([1.0 if s == "Fe" else 0.1 for s in cell.get_chemical_symbols()])
    selftest = data(args, "mlip3_selftest_al_fe_mag.mtpr")
    rc, dv, de, pushed = check(args, d, "selftest", cell, [selftest], ["--cell", "full", "--moments", "relax"], bound=1.3,
                               species=("--species", "Fe,Al"))
    lines.append(f"MLIP-3 self-test 2x2x2: exit {rc}, dV {dv:+.1%}, dE {de:+.3f} eV/atom, {pushed} moments held at the bound")
    print("relax_trust: " + "; ".join(lines))


if __name__ == "__main__":
    main()
