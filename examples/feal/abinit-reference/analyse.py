#!/usr/bin/python3
"""E(V) scans of ideal cells with free moments (tools/abinit-cdft --eos) -> a0, B0, moments.

    analyse.py DIR [DIR...]     (each DIR holds NAME/NAME.abo from one --eos scan)

Reads, from each completed .abo: the cubic lattice parameter (acell*rprim, Angstrom),
etotal (Ha, -outvars echo) and the last "Integrated ... magnetization densities in atomic
spheres" table (Diff(up-dn) per atom, muB). Fits E(V) per atom with a cubic polynomial in V
and reports the minimum: a0 [Angstrom], B0 [GPa], E0 [eV/atom] and the sphere moment of
each atom linearly interpolated at a0. Prints a TSV table and the summary.
"""
import glob
import importlib.machinery
import importlib.util
import os
import sys

import numpy as np
from ase.units import GPa, Bohr, Hartree  # CODATA 2014, the constants ABINIT 9 uses


def abinit_cdft():
    """tools/abinit-cdft as a module: its abo_status is where ABINIT's output markers are known."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tools", "abinit-cdft")
    loader = importlib.machinery.SourceFileLoader("abinit_cdft", path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("abinit_cdft", loader))
    loader.exec_module(module)
    return module


CDFT = abinit_cdft()


def read(abo):
    text = open(abo, errors="replace").read()
    if not CDFT.abo_status(text)[0]:
        return None
    lines = text.splitlines()
    etotal = a = acell = None
    moments = []
    after = False  # inside the "-outvars: echo values of variables after computation" block
    for i, line in enumerate(lines):
        w = line.split()
        after = after or line.startswith(" -outvars: echo values of variables after computation")
        if after and w[:1] == ["etotal"]:
            etotal = float(w[1]) * Hartree
        if after and w[:1] == ["acell"]:
            acell = float(w[1]) * Bohr
        if after and w[:1] == ["rprim"]:
            a = float(w[1]) * acell
        if line.startswith(" Atom    Radius    up_density"):
            moments = []
            for row in lines[i + 1:]:
                c = row.split()
                if not c or not c[0].isdigit():
                    break
                moments.append(float(c[5]))
    return a, etotal, moments


def fit(points):
    """Least-squares cubic E(V); returns V0, E0, B0 = V0 E''(V0) at the minimum nearest the lowest sample."""
    v, e = np.array(points).T
    c = np.polynomial.Polynomial.fit(v, e, 3)
    d1, d2 = c.deriv(1), c.deriv(2)
    minima = [x.real for x in d1.roots() if abs(x.imag) < 1e-12 and d2(x.real) > 0]
    v0 = min(minima, key=lambda x: abs(x - v[np.argmin(e)]))
    return v0, c(v0), v0 * d2(v0)


def main(dirs):
    for d in dirs:
        rows = []
        for abo in sorted(glob.glob(os.path.join(d, "*", "*.abo"))):
            r = read(abo)
            if r:
                rows.append(r)
        if len(rows) < 4:
            sys.exit(f"{d}: {len(rows)} completed runs, need 4")
        nat = len(rows[0][2])
        print(f"# {d}\n# a[A]\tE[eV/atom]\t" + "\t".join(f"m{i + 1}[muB]" for i in range(nat)))
        for a, e, m in rows:
            print(f"{a:.5f}\t{e / nat:.6f}\t" + "\t".join(f"{x:.4f}" for x in m))
        # V per atom of the cubic 2-atom cell
        v0, e0, b0 = fit([(a ** 3 / nat, e / nat) for a, e, _ in rows])
        a0 = (v0 * nat) ** (1 / 3)
        j = max(i for i in range(len(rows) - 1) if rows[i][0] <= a0) if rows[0][0] <= a0 else 0
        (a1, _, m1), (a2, _, m2) = rows[j], rows[j + 1]
        m0 = [x + (y - x) * (a0 - a1) / (a2 - a1) for x, y in zip(m1, m2)]
        print(f"minimum: a0 = {a0:.4f} A, B0 = {b0 / GPa:.0f} GPa, E0 = {e0:.6f} eV/atom, "
              "moments at a0 = " + ", ".join(f"{x:.3f}" for x in m0) + " muB\n")


if __name__ == "__main__":
    main(sys.argv[1:] or ["."])
