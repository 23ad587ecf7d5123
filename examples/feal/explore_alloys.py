#!/usr/bin/python3
"""Active learning beyond 4 atoms: explore random and ordered Fe(1-x)Al(x) cells of 8 and 16 atoms
with the committee, and choose the structures to label by its std.

    PYTHONPATH=build/python examples/feal/explore_alloys.py --out DIR [--seed 1] [--starts8 80] [--starts16 40]
        [--select8 30] [--select16 6] [--max-x 0.5] [-p POT.mtp ...]

Pool. Each start is a bcc supercell (8 atoms: 2x2x1 cubic cells; 16 atoms: 2x2x2) of random
Fe(1-x)Al(x), x = 0 .. 1/2 in steps of one atom (or up to --max-x), or (16 atoms) ordered B2 FeAl, D0_3 Fe3Al or
bcc Fe, at the lattice parameter of the data (A0_TABLE of tools/abinit-cdft), with a random
strain of up to ±5 % per cell component, every atom displaced by up to 0.05 Å, Fe moments of
0.5-3 μB with random signs and Al moments within ±0.1 μB: the starts of the reliability
benchmark (reliability.py). From each start, besides the start itself, the snapshots after 4
and 12 evaluations of joint relaxations with the cell fixed and free (moments relaxed, the
committee's std not checked: these are the points a relaxation passes through) and a Langevin
MD at 600 K (ASE, moments relaxed at every step, every 10 of 40 steps) are assessed.

Selection. The committee std of the energy per atom ranks the pool of each size; the highest
are taken, at most one per start and at most select/4 per Al count, so that compositions and
starts spread. Moments outside a species' trained range (from the potential) are put on it.

Writes DIR/pool.tsv (every assessed snapshot: start, kind, atoms, x, std [meV/atom]) and
DIR/selected-8.xyz, DIR/selected-16.xyz (initial_magmoms = the moments to constrain), labelled with

    tools/abinit-cdft --out RUNS --label DIR/selected-8.xyz --template examples/feal/learn/template.abi --prefix al8
"""
import argparse
import os
import random
import re
import sys

import numpy as np
from ase import Atoms, units
from ase.io import write

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
A0_TABLE = [(0.0, 2.83), (0.25, 2.86), (0.5, 2.88), (0.75, 3.00), (1.0, 3.20)]


def a0_of(x):
    for (x0, a0), (x1, a1) in zip(A0_TABLE, A0_TABLE[1:]):
        if x0 <= x <= x1:
            return a0 + (a1 - a0) * (x - x0) / (x1 - x0)
    raise ValueError(x)


def bcc_sites(reps):
    """Fractional sites of reps = (nx, ny, nz) cubic bcc cells (corner, centre), cell by cell."""
    out = []
    for i in range(reps[0]):
        for j in range(reps[1]):
            for k in range(reps[2]):
                out += [[i / reps[0], j / reps[1], k / reps[2]],
                        [(i + 0.5) / reps[0], (j + 0.5) / reps[1], (k + 0.5) / reps[2]]]
    return np.array(out)


def ordered(kind):
    """16-atom ordered cells on the 2x2x2 bcc sites: B2 FeAl, D0_3 Fe3Al, bcc Fe."""
    frac = bcc_sites((2, 2, 2))
    if kind == "B2":
        return ["Fe" if s % 2 == 0 else "Al" for s in range(16)]
    if kind == "D03":  # Al on a quarter of the sites: the corner sites with an even index sum
        return ["Al" if s % 2 == 0 and int(round(2 * frac[s].sum())) % 2 == 0 else "Fe" for s in range(16)]
    return ["Fe"] * 16


def start(rng, natom, species=None, name="", max_x=0.5):
    """A random start of the reliability distribution (module docstring); a random composition
    has at most max_x * natom Al atoms (and never more than half)."""
    reps = (2, 2, 1) if natom == 8 else (2, 2, 2)
    if species is None:
        n_al = rng.randint(0, int(min(max_x, 0.5) * natom + 1e-9))
        species = ["Al"] * n_al + ["Fe"] * (natom - n_al)
        rng.shuffle(species)
    x = species.count("Al") / natom
    cell = np.diag([a0_of(x) * r for r in reps])
    eps = np.array([[rng.uniform(-0.05, 0.05) for _ in range(3)] for _ in range(3)])
    cell = cell @ (np.eye(3) + 0.5 * (eps + eps.T))
    pos = bcc_sites(reps) @ cell + np.array([[rng.uniform(-0.05, 0.05) for _ in range(3)] for _ in range(natom)])
    mom = [rng.uniform(0.5, 3.0) * rng.choice([-1, 1]) if s == "Fe" else rng.uniform(-0.1, 0.1) for s in species]
    atoms = Atoms(species, positions=pos, cell=cell, pbc=True)
    atoms.set_initial_magnetic_moments(mom)
    atoms.info["origin"] = name
    return atoms


def principal_stretch_ratio(cell, start):
    """Largest over smallest principal stretch of the deformation taking the 3x3 cell `start` to
    `cell` (rows are cell vectors, Å): 1 for a uniform scaling, c/a for a tetragonal (Bain) strain."""
    deformation = np.linalg.solve(np.asarray(start), np.asarray(cell))  # cell = start @ deformation
    stretch = np.linalg.svd(deformation, compute_uv=False)
    return stretch[0] / stretch[-1]


def moment_max(path):
    m = re.search(r"mmtp:species=([^;\s]+);moment_max=([^;\s]+)", open(path).read())
    return dict(zip(m.group(1).split(","), map(float, m.group(2).split(","))))


def snapshots(pot, atoms, rng):
    """(kind, Atoms) pairs: the start, relaxation snapshots and MD frames."""
    import mmtp
    from mmtp.ase import MMTPCalculator
    from ase.md.langevin import Langevin
    out = [("start", atoms.copy())]
    for cell in ("none", "full"):
        for steps in (4, 12):
            relaxed, _ = mmtp.relax(atoms, pot, cell=cell, max_steps=steps)
            out.append((f"relax-{cell}-{steps}", relaxed))
    md = atoms.copy()
    md.calc = MMTPCalculator(pot, moments="relax")
    dyn = Langevin(md, 1.0 * units.fs, temperature_K=600, friction=0.02, rng=np.random.default_rng(rng.randint(0, 2 ** 31)))
    for k in range(4):
        try:
            dyn.run(10)
        except Exception as e:  # the MD left what the model can evaluate: keep what it had
            print(f"  md stopped: {e}", file=sys.stderr)
            break
        frame = md.copy()
        frame.calc = None
        frame.set_initial_magnetic_moments(md.calc.results["magmoms"])
        out.append((f"md-{10 * (k + 1)}", frame))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--starts8", type=int, default=80)
    ap.add_argument("--starts16", type=int, default=40)
    ap.add_argument("--select8", type=int, default=30)
    ap.add_argument("--select16", type=int, default=6)
    ap.add_argument("--max-x", type=float, default=0.5,
                    help="largest Al fraction of the random starts; ordered starts above it are left out")
    ap.add_argument("-p", dest="pots", action="append")
    a = ap.parse_args()
    import mmtp
    pots = a.pots or [os.path.join(HERE, "potential", f"feal.{k}.mtp") for k in range(8)]
    pot = mmtp.Potential(pots, max_std=0.0)  # the std is what is measured here, not a stop
    bounds = moment_max(pots[0])
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    pool = {8: [], 16: []}
    starts = [(8, None, f"random8-{k}") for k in range(a.starts8)]
    starts += [(16, ordered(kind) if kind else None, f"{kind or 'random16'}-{k}")
               for k, kind in enumerate(([None] * max(0, a.starts16 - 6)) + ["B2", "B2", "D03", "D03", "bccFe", "bccFe"])
               if kind is None or ordered(kind).count("Al") <= a.max_x * 16 + 1e-9]
    with open(os.path.join(a.out, "pool.tsv"), "w") as tsv:
        tsv.write("start\tkind\tatoms\tx_Al\tstd_meV_per_atom\n")
        for natom, species, name in starts:
            atoms = start(rng, natom, species, name, a.max_x)
            for kind, s in snapshots(pot, atoms, rng):
                try:
                    r = pot.evaluate(s)
                except Exception as e:
                    print(f"{name} {kind}: {e}", file=sys.stderr)
                    continue
                std = r["energy_std"] / len(s) * 1000
                x = s.get_chemical_symbols().count("Al") / len(s)
                tsv.write(f"{name}\t{kind}\t{natom}\t{x:.4f}\t{std:.2f}\n")
                s.info.update(origin=f"{name} {kind}", committee_std_meV_per_atom=round(std, 3))
                pool[natom].append((std, name, kind, s))
            tsv.flush()
            print(f"{name}: {len(pool[natom])} snapshots of {natom} atoms so far", flush=True)
    for natom, count in ((8, a.select8), (16, a.select16)):
        if count == 0:
            continue
        chosen, used_starts, per_al = [], set(), {}
        for std, name, kind, s in sorted(pool[natom], key=lambda t: -t[0]):
            n_al = s.get_chemical_symbols().count("Al")
            if name in used_starts or per_al.get(n_al, 0) >= max(1, count // 4):
                continue
            m = s.get_initial_magnetic_moments()
            s.set_initial_magnetic_moments([np.clip(v, -bounds[e], bounds[e]) for v, e in zip(m, s.get_chemical_symbols())])
            chosen.append(s)
            used_starts.add(name)
            per_al[n_al] = per_al.get(n_al, 0) + 1
            if len(chosen) == count:
                break
        path = os.path.join(a.out, f"selected-{natom}.xyz")
        write(path, chosen, format="extxyz")
        stds = [s.info["committee_std_meV_per_atom"] for s in chosen]
        print(f"selected {len(chosen)} of {len(pool[natom])} {natom}-atom snapshots (std {min(stds):.1f}-{max(stds):.1f} meV/atom): {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
