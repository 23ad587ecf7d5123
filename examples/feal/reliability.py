#!/usr/bin/python3
"""Relaxation reliability of a committee on 16-atom Fe-Al cells (the measure of arXiv:2405.07069:
the share of structures that relax to almost zero forces, stresses and magnetic forces).

    PYTHONPATH=build/python examples/feal/reliability.py [-p POT.mtp ...] [--random 17] [--seed 1]
        [--max-steps 1000] [--max-c-a 1.05] [--out TABLE.tsv] [--write-non-cubic STATES.xyz]

Starts (the distribution of issue 23): 16-atom bcc cells (2x2x2 cubic) of random Fe(1-x)Al(x),
x = 0 .. 1/2 in steps of one atom (`--random` of them), plus ordered B2 FeAl, D0_3 Fe3Al and bcc
Fe; the lattice parameter of the data at that x, a random strain of up to ±5 % on each cell
component, every atom displaced by up to 0.05 Å, Fe moments 0.5-3 μB with random signs, Al
moments within ±0.1 μB. Each start is relaxed jointly (positions, moments, and the cell as the
mode says) with every cell mode: none, hydrostatic, full — 3·(random + 3) relaxations, 60 by
default. The relaxer is mmtp's (mmtp.relax: bounded-step L-BFGS, moments bounded to their
trained range, stop at the edge of the trained region with committee std above 0.05 eV/atom).

A run counts as reliable when it ends converged (mmtp-driver's exit 0) with fmax ≤ 0.01 eV/Å,
max |dE/dm| ≤ 0.01 eV/μB over the moments not held on a range bound (the relaxer's projected
residual; moments on a bound pushed outwards are counted apart), and, where the cell moves,
|stress| ≤ 0.1 GPa (hydrostatic: the pressure; full: every component). Prints one row per run,
the table of exits and causes per cell mode, and the reliability. Exit code 0. The column c_a is
the relaxed cell's shape (alloys.py's principal stretch ratio against the cubic cell: 1 for a
cubic cell, √2 at fcc on the Bain path; none and hydrostatic keep the start's strain, up to about
1.1); the full-mode runs that end above --max-c-a (1.05) are counted: reliable or not, they are no
longer bcc.
"""
import argparse
import collections
import os
import random
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from explore_alloys import ordered, principal_stretch_ratio, start  # noqa: E402

GPA = 160.21766208  # eV/Å³ in GPa


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-p", dest="pots", action="append")
    ap.add_argument("--random", type=int, default=17)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=1000)
    ap.add_argument("--max-c-a", type=float, default=1.05, help="count full-mode runs ending above this c/a")
    ap.add_argument("--out", help="write the per-run table (TSV) here too")
    ap.add_argument("--write-non-cubic", metavar="FILE.xyz",
                    help="write the full-mode end states above --max-c-a (extxyz, relaxed moments as initial_magmoms): "
                         "candidates for cDFT labels (tools/abinit-cdft --label)")
    a = ap.parse_args()
    import mmtp
    pots = a.pots or [os.path.join(HERE, "potential", f"feal.{k}.mtp") for k in range(8)]
    pot = mmtp.Potential(pots)
    rng = random.Random(a.seed)
    starts = [(f"random-{k}", start(rng, 16, None, f"random-{k}")) for k in range(a.random)]
    starts += [(kind, start(rng, 16, ordered(kind), kind)) for kind in ("B2", "D03", "bccFe")]
    rows, non_cubic_states, t0 = [], [], time.time()
    print("start\tx_Al\tcell\tstatus\tevaluations\tfmax\tmmax\tstress_GPa\tc_a\tstd_meV_per_atom\tpushed_out\treliable\tcause")
    for name, atoms in starts:
        x = atoms.get_chemical_symbols().count("Al") / len(atoms)
        for cell in ("none", "hydrostatic", "full"):
            relaxed, rep = mmtp.relax(atoms, pot, cell=cell, max_steps=a.max_steps)
            stress = np.asarray(rep["stress"]) * GPA
            s_max = 0.0 if cell == "none" else (abs(stress[:3].mean()) if cell == "hydrostatic" else np.abs(stress).max())
            std = 1000 * rep.get("energy_std", 0.0) / len(atoms)
            c_a = principal_stretch_ratio(relaxed.cell, np.eye(3))  # against the cubic cell, not the strained start
            causes = []
            if rep["status"] != "converged":
                causes.append(rep["status"] + (f" ({rep['extrapolation']})" if rep.get("extrapolation") else ""))
            if rep["fmax"] > 0.01:
                causes.append(f"fmax {rep['fmax']:.3g}")
            if rep["mmax"] > 0.01:
                causes.append(f"mmax {rep['mmax']:.3g}")
            if s_max > 0.1:
                causes.append(f"stress {s_max:.3g} GPa")
            ok = not causes
            row = dict(start=name, x=x, cell=cell, status=rep["status"], evaluations=rep["evaluations"], fmax=rep["fmax"],
                       mmax=rep["mmax"], stress=s_max, c_a=c_a, std=std, pushed=len(rep.get("moments_pushed_out", [])), ok=ok,
                       cause="; ".join(causes))
            rows.append(row)
            if cell == "full" and c_a > a.max_c_a:
                relaxed.info.update(origin=f"reliability {name} full", c_a=float(c_a))
                non_cubic_states.append(relaxed)
            print(f"{name}\t{x:.4f}\t{cell}\t{rep['status']}\t{rep['evaluations']}\t{rep['fmax']:.4f}\t{rep['mmax']:.4f}\t"
                  f"{s_max:.4f}\t{c_a:.3f}\t{std:.2f}\t{row['pushed']}\t{ok}\t{row['cause']}", flush=True)
    if a.write_non_cubic and non_cubic_states:
        from ase.io import write
        write(a.write_non_cubic + ".tmp", non_cubic_states, format="extxyz")
        os.replace(a.write_non_cubic + ".tmp", a.write_non_cubic)  # no partial file
    if a.out:
        with open(a.out, "w") as f:
            f.write("\t".join(rows[0]) + "\n")
            for r in rows:
                f.write("\t".join(str(v) for v in r.values()) + "\n")
    print(f"\n{len(rows)} relaxations of {len(starts)} 16-atom starts in {time.time() - t0:.0f} s; {len(pots)} potential(s)")
    print("\n| cell mode | runs | reliable | converged | stopped at the trained region's edge | max_steps | line search failed | other causes |")
    print("|---|---|---|---|---|---|---|---|")
    for cell in ("none", "hydrostatic", "full", "all"):
        sel = [r for r in rows if cell in ("all", r["cell"])]
        st = collections.Counter(r["status"] for r in sel)
        other = sum(1 for r in sel if r["status"] == "converged" and not r["ok"])
        print(f"| {cell} | {len(sel)} | {sum(r['ok'] for r in sel)} | {st['converged']} | {st['extrapolation']} | "
              f"{st['max_steps']} | {st['line_search_failed']} | {other} |")
    full = [r for r in rows if r["cell"] == "full"]
    non_cubic = [r for r in full if r["c_a"] > a.max_c_a]
    print(f"\nfull-mode runs ending non-cubic (c/a > {a.max_c_a:g}): {len(non_cubic)} of {len(full)}"
          + (f" ({', '.join(r['start'] + (' reliable' if r['ok'] else '') for r in non_cubic)})" if non_cubic else ""))
    reliable = sum(r["ok"] for r in rows)
    print(f"\nreliability: {reliable}/{len(rows)} = {100 * reliable / len(rows):.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
