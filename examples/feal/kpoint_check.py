#!/usr/bin/python3
"""kpoint_check.py: the k-point sampling error of archived cDFT labels, and what it does to the errors.

Reruns archived ABINIT cDFT runs with every ngkpt entry multiplied by --factor (all other input
unchanged, so the same constrained moments, cell and smearing) and compares the total energies:

    examples/feal/kpoint_check.py --archive examples/feal/data/abinit/heldout-s2030?.tar.xz \
        --only b2-00,b2-01,... --out kdense [--factor 2] [--no-run] \
        [--eval heldout_eval.xyz --reference examples/feal/data/heldout_cdft.xyz]

A constant energy shift per atom of each species does not matter to a fit (the mMTP's species
energies absorb it), so the shift ΔE = E(dense) - E(standard) is fitted by least squares as
sum_t n_t c_t over the species counts n_t; what is left, per atom, is the k-point error of the
standard label that a potential would have to learn (as a function of the structure and its
moments) to reproduce the standard labels; its RMS is printed. With --eval (an `mmtp-driver
eval` output of the same structures) and --reference (the labels it was evaluated against), the
committee's error is given against both labels (the dense one moved by the fitted species
shifts) with Spearman(std, |error|).

Runs (OUT/SEED/NAME/NAME.abi) are made one after the other on one core by tools/abinit-cdft's
runner (its resume rule: a run whose .abo ends with "Calculation completed." and whose .abi is
the one being written is not run again; several instances with different --only lists may share
OUT; OUT/SEED/status.tsv logs each attempt). --no-run only reads what is there. A run that did
not complete or whose SCF did not converge is left out, with a message.
Energies: the final echo of `etotal` [Ha], converted with CODATA 2018 (27.211386245988 eV/Ha).
"""

import argparse
import importlib.machinery
import importlib.util
import os
import re
import sys
import tarfile

import numpy as np

HARTREE_EV = 27.211386245988


def abinit_cdft():
    """tools/abinit-cdft as a module (its `run`: write, resume and run one ABINIT input)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "abinit-cdft")
    loader = importlib.machinery.SourceFileLoader("abinit_cdft", path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("abinit_cdft", loader))
    loader.exec_module(module)
    return module


CDFT = abinit_cdft()


def total_energy(abo_text):
    """The final etotal of a completed ABINIT output [Ha], or None if it did not complete or its SCF
    did not converge."""
    if not all(CDFT.abo_status(abo_text)):
        return None
    found = re.findall(r"^\s+etotal1?\s+(\S+)", abo_text, re.M)
    return float(found[-1].replace("D", "E")) if found else None


def finished_energy(directory, name, abi_text):
    """total_energy of directory/name.abo [Ha] when directory/name.abi is `abi_text`, else None."""
    abi, abo = (os.path.join(directory, name + ext) for ext in (".abi", ".abo"))
    if not (os.path.exists(abi) and os.path.exists(abo)) or open(abi).read() != abi_text:
        return None
    return total_energy(open(abo).read())


def species_of(abi_text):
    """Atoms' chemical symbols from znucl/typat of an mmtp-written ABINIT input."""
    symbol = {26: "Fe", 13: "Al"}
    znucl = [int(float(z)) for z in re.search(r"^znucl\s+(.+)$", abi_text, re.M).group(1).split()]
    typat = [int(t) for t in re.search(r"^typat\s+(.+)$", abi_text, re.M).group(1).split()]
    return [symbol[znucl[t - 1]] for t in typat]


def moments_of(abi_text):
    """The constrained moments [μB]: z components of spinat."""
    block = re.search(r"^spinat\s+((?:[-+.\deE]+\s+)+)", abi_text, re.M).group(1).split()
    return [float(z) for z in block[2::3]]


def denser(abi_text, factor):
    def scale(m):
        return "ngkpt " + " ".join(str(int(n) * factor) for n in m.group(1).split())

    out, count = re.subn(r"^ngkpt[ \t]+(\d+[ \t]+\d+[ \t]+\d+)[ \t]*$", scale, abi_text, flags=re.M)
    if count != 1:
        raise SystemExit("kpoint_check: the input has no single 'ngkpt n1 n2 n3' line")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archive", required=True, nargs="+", help="tar.xz of ABINIT runs (SEED/NAME/NAME.abi and .abo)")
    ap.add_argument("--only", required=True, help="comma-separated run names (in every archive)")
    ap.add_argument("--out", required=True, help="directory of the dense runs (OUT/SEED/NAME/NAME.abi)")
    ap.add_argument("--factor", type=int, default=2, help="multiply every ngkpt entry by this")
    ap.add_argument("--abinit", default="abinit", help="ABINIT executable")
    ap.add_argument("--no-run", action="store_true", help="run nothing: compare the completed dense runs only")
    ap.add_argument("--eval", help="mmtp-driver eval output (extxyz) of the archived structures")
    ap.add_argument("--reference", help="the labels --eval was compared with (extxyz, same order)")
    args = ap.parse_args()
    if args.factor < 1:
        ap.error("--factor must be >= 1")
    names = [n for n in args.only.split(",") if n]

    standard = {}
    for archive in args.archive:
        with tarfile.open(archive) as tar:
            for m in tar.getmembers():
                parts = m.name.split("/")
                if len(parts) == 3 and parts[1] in names and parts[2] in (parts[1] + ".abi", parts[1] + ".abo"):
                    standard[(parts[0], parts[1], parts[2][-3:])] = tar.extractfile(m).read().decode()
    rows = []
    for seed, name, kind in sorted(k for k in standard if k[2] == "abi"):
        abi = denser(standard[(seed, name, "abi")], args.factor)
        e_std = total_energy(standard.get((seed, name, "abo"), ""))
        e_dense = finished_energy(os.path.join(args.out, seed, name), name, abi)
        if e_dense is None and not args.no_run:
            print(f"kpoint_check: running {name} ({args.factor}x k-grid)", file=sys.stderr, flush=True)
            CDFT.run(name, abi, os.path.join(args.out, seed), 1, args.abinit, False)
            e_dense = finished_energy(os.path.join(args.out, seed, name), name, abi)
        if e_std is None or e_dense is None:
            print(f"kpoint_check: {seed}/{name}: no completed and converged {'standard' if e_std is None else 'dense'} "
                  "run, left out", file=sys.stderr)
            continue
        rows.append((f"{seed}/{name}", species_of(abi), e_std * HARTREE_EV, e_dense * HARTREE_EV, moments_of(abi)))
    if len(rows) < 3:
        raise SystemExit(f"kpoint_check: {len(rows)} completed pairs, need at least 3")

    species = sorted({s for r in rows for s in r[1]})
    counts = np.array([[r[1].count(s) for s in species] for r in rows], float)
    natoms = counts.sum(axis=1)
    shift = np.array([r[3] - r[2] for r in rows])
    per_species, *_ = np.linalg.lstsq(counts, shift, rcond=None)
    noise = (shift - counts @ per_species) / natoms  # eV/atom
    print(f"{len(rows)} runs, k-grid x{args.factor}; fitted shift per atom: "
          + ", ".join(f"{s} {1000 * c:.2f} meV" for s, c in zip(species, per_species)))
    print("| run | atoms | mean abs m(Fe) [μB] | E(dense) - E(standard) [meV/atom] | minus species shifts [meV/atom] |")
    print("|---|---|---|---|---|")
    for r, d, n, z in zip(rows, shift, natoms, noise):
        fe = [abs(m) for s, m in zip(r[1], r[4]) if s == "Fe"]
        print(f"| {r[0]} | {int(n)} | {np.mean(fe) if fe else 0:.2f} | {1000 * d / n:.2f} | {1000 * z:+.2f} |")
    print(f"k-point error of the standard labels beyond the species shifts (RMS of the last column): {1000 * np.sqrt(np.mean(noise ** 2)):.2f} meV/atom")

    if args.eval and args.reference:
        from ase.io import read
        from scipy.stats import spearmanr  # python3-scipy (tools/setup.sh)

        model = {a.info["source"].split(".abo")[0]: a for a in read(args.eval, ":")}
        label = {a.info["source"].split(".abo")[0]: a for a in read(args.reference, ":")}
        e_s, e_d, sd = [], [], []
        for r, d, n, c in zip(rows, shift, natoms, counts):
            key = f"{r[0]}/{r[0].split('/')[1]}"
            if key not in model or key not in label:
                continue
            m = model[key].info
            err = (m["energy"] - label[key].info["energy"]) / n
            e_s.append(err)
            e_d.append(err - (d - c @ per_species) / n)
            sd.append(m["energy_std"] / n)
        if len(sd) >= 3:
            e_s, e_d, sd = (1000 * np.array(x) for x in (e_s, e_d, sd))
            print(f"committee mean against the standard labels: RMSE {np.sqrt(np.mean(e_s ** 2)):.2f} meV/atom, "
                  f"Spearman(std, |error|) {spearmanr(sd, abs(e_s))[0]:.2f}")
            print(f"committee mean against the dense labels:    RMSE {np.sqrt(np.mean(e_d ** 2)):.2f} meV/atom, "
                  f"Spearman(std, |error|) {spearmanr(sd, abs(e_d))[0]:.2f}  ({len(sd)} structures)")


if __name__ == "__main__":
    main()
