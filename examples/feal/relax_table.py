#!/usr/bin/python3
"""Relaxation table: joint relaxations from distorted starts with the shipped FeAl ensemble.

    relax_table.py [--driver build/driver/mmtp-driver] [--potential feal.0.mtp ...] [--seed 1]

Cells: B2 FeAl (2 and 16 atoms), bcc Fe (1, 2 and 16 atoms), D0_3 Fe3Al (16 atoms). Starts: a
random strain within ±5 % on each cell component, every atom displaced by up to 0.05 Å, moments
0.5–3 μB with random signs (Al too, then bounded to its trained range by the relaxer: ΔE is
measured from that bounded start, since the energy at moments outside the range is a
meaningless extrapolation). Each cell is relaxed with --cell none, hydrostatic and full (moments
relaxed; default options). Prints one Markdown row per run: exit code (0 converged, 5 stopped at
the edge of the trained region), evaluations, volume change, energy change per atom, committee
std per atom and mean |m(Fe)|.
Exit code 1 when a run ends otherwise, changes the volume by more than 30 %, or ends more than
1 eV/atom below its start (the acceptance of the relaxation issue).
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.io import read, write

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def d03():
    a = 5.79
    atoms = bulk("Fe", "bcc", a=a / 2, cubic=True).repeat(2)
    # D0_3 on the bcc sites: Al on the fcc sublattice (0,0,0) + face centres of the doubled cell.
    al = {(0, 0, 0), (0, 2, 2), (2, 0, 2), (2, 2, 0)}
    sym = ["Al" if tuple(int(round(x)) for x in p / (a / 4)) in al else "Fe" for p in atoms.positions]
    atoms.set_chemical_symbols(sym)
    return atoms


def cells():
    return {
        "B2 FeAl (2)": bulk("FeAl", "cesiumchloride", a=2.88),
        "B2 FeAl (16)": bulk("FeAl", "cesiumchloride", a=2.88).repeat(2),
        "bcc Fe (1)": bulk("Fe", "bcc", a=2.83),
        "bcc Fe (2)": bulk("Fe", "bcc", a=2.83, cubic=True),
        "bcc Fe (16)": bulk("Fe", "bcc", a=2.83, cubic=True).repeat(2),
        "D0_3 Fe3Al (16)": d03(),
    }


def moment_ranges(potential):
    """{species: M_max} [μB] from the potential's tag (mmtp:species=…;moment_max=…), or None."""
    m = re.search(r"mmtp:species=([^;\s]+);moment_max=([^;\s]+)", open(potential).read())
    return dict(zip(m.group(1).split(","), map(float, m.group(2).split(",")))) if m else None


def in_range(atoms, ranges):
    """The start as the relaxer begins it: each moment clipped to its species' trained range."""
    atoms = atoms.copy()
    if ranges:
        cap = np.array([ranges[s] for s in atoms.get_chemical_symbols()])
        atoms.set_initial_magnetic_moments(np.clip(atoms.get_initial_magnetic_moments(), -cap, cap))
    return atoms


def distorted(atoms, rng):
    atoms = atoms.copy()
    eps = rng.uniform(-0.05, 0.05, (3, 3))
    atoms.set_cell(atoms.cell.array @ (np.eye(3) + 0.5 * (eps + eps.T)), scale_atoms=True)
    atoms.positions += rng.uniform(-0.05, 0.05, atoms.positions.shape) / np.sqrt(3)
    atoms.set_initial_magnetic_moments(rng.uniform(0.5, 3.0, len(atoms)) * rng.choice([-1, 1], len(atoms)))
    return atoms


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--driver", default=os.path.join(ROOT, "build", "driver", "mmtp-driver"))
    ap.add_argument("--potential", nargs="+", default=sorted(glob.glob(os.path.join(HERE, "potential", "feal.[0-9].mtp"))))
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    pot = [x for p in a.potential for x in ("-p", p)]
    ranges = moment_ranges(a.potential[0])
    bad = 0
    print("| cell | mode | exit | evaluations | ΔV | ΔE [eV/atom] | std [meV/atom] | mean \\|m(Fe)\\| [μB] |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for name, atoms in cells().items():
            start = distorted(atoms, rng)
            src = os.path.join(d, "start.xyz")
            write(src, start, format="extxyz")
            clipped = os.path.join(d, "start_in_range.xyz")
            write(clipped, in_range(start, ranges), format="extxyz")
            e0 = read(run_eval(a.driver, pot, clipped, d)).get_potential_energy() / len(start)
            for mode in ("none", "hydrostatic", "full"):
                out = os.path.join(d, "out.xyz")
                r = subprocess.run([a.driver, "relax", src, *pot, "--cell", mode, "-o", out, "--threads", "1"],
                                   capture_output=True, text=True)
                final = read(out)
                n = len(final)
                dv = final.get_volume() / start.get_volume() - 1
                de = final.get_potential_energy() / n - e0
                std = float(final.info.get("energy_std", 0.0)) / n * 1000
                fe = [abs(m) for s, m in zip(final.get_chemical_symbols(), final.get_initial_magnetic_moments()) if s == "Fe"]
                evals = re.search(r"after (\d+) evaluations", r.stdout)
                ok = r.returncode in (0, 5) and abs(dv) <= 0.30 and de >= -1.0
                bad += not ok
                print(f"| {name} | {mode} | {r.returncode} | {evals.group(1) if evals else '?'} | {dv:+.1%} | {de:+.3f} | "
                      f"{std:.1f} | {np.mean(fe):.2f} |{'' if ok else ' **fails**'}", flush=True)
    return 1 if bad else 0


def run_eval(driver, pot, src, d):
    out = os.path.join(d, "start_eval.xyz")
    subprocess.run([driver, "eval", *pot, src, "-o", out], check=True, capture_output=True)
    return out


if __name__ == "__main__":
    sys.exit(main())
