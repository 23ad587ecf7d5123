#!/usr/bin/python3
"""Is a cDFT force label the derivative of its energy label? A central finite difference on one atom.

    examples/feal/cdft_force_fd.py write LABELLED.xyz [--index K] [--atom I --axis C] [--h 0.01] -o fd.xyz
    tools/abinit-cdft --out RUNS --label fd.xyz --template examples/feal/learn/template.abi --prefix fd --np 1
    build/tools/mmtp-convert RUNS/fd-00{0,1}/*.abo --species Fe,Al -o fd-labelled.xyz
    examples/feal/cdft_force_fd.py compare fd-labelled.xyz --reference LABELLED.xyz [--index K] [--potential P.mtp ...]

`write` takes structure K of an extxyz label (mmtp-convert's output: positions, forces, and the constrained
moments as `initial_magmoms`) and writes two copies of it with atom I moved by +h and −h Å along Cartesian
axis C (default: the atom and axis of the largest |force| component), the moments unchanged: the two cDFT
runs keep every moment at its target, so their energy difference is the derivative at fixed moments that
the force label claims to be (F = −∂E/∂x at fixed moments, which is what the mMTP fits: its forces and
magnetic forces are the partial derivatives of one E(x, m)).

`compare` reads the two labelled runs (in the order written), finds the moved atom and axis from their
positions, and prints the central difference F_fd = −(E₊ − E₋)/(2h) [eV/Å] beside the reference label's
force on that component and the mean of the two runs' own forces on it (the force at the midpoint to
O(h²)), and the curvature along that coordinate, k = −(F₊ − F₋)/(2h) [eV/Å²], from the two runs' forces: with
the other atoms held, the coordinate's equilibrium lies F/k [Å] away (where k > 0). With `--potential` (the members of a
committee, .mtp; needs `PYTHONPATH=build/python`) it prints the same two numbers for each member, evaluated
(symmetrized, at the runs' moments) on the same two structures, and their mean. Errors: a missing file, an
index out of range, two structures that differ in anything but one coordinate of one atom, or a potential
that cannot be read exit with a one-line message.
"""
import argparse
import sys

import numpy as np
from ase import Atoms
from ase.io import read, write


def pick(atoms, atom, axis):
    """(atom, axis) of the largest |force| component of `atoms`, unless both are given."""
    if (atom is None) != (axis is None):
        sys.exit("cdft_force_fd.py: give both --atom and --axis, or neither")
    if atom is not None:
        if not 0 <= atom < len(atoms) or axis not in (0, 1, 2):
            sys.exit(f"cdft_force_fd.py: --atom {atom} --axis {axis}: out of range for {len(atoms)} atoms")
        return atom, axis
    forces = atoms.get_forces()
    i, c = np.unravel_index(np.argmax(np.abs(forces)), forces.shape)
    return int(i), int(c)


def has_labels(atoms):
    """Whether `atoms` carries an energy [eV] and forces [eV/Å, shape (N, 3)] (an extxyz label)."""
    return atoms.calc is not None and {"energy", "forces"} <= set(atoms.calc.results)


def load(path, index):
    """Structure `index` of the extxyz file `path`; exits with a one-line message if unreadable or out of range."""
    try:
        frames = read(path, index=":")
    except (OSError, ValueError) as e:
        sys.exit(f"cdft_force_fd.py: {path}: {e}")
    if not -len(frames) <= index < len(frames):
        sys.exit(f"cdft_force_fd.py: {path}: --index {index} out of range ({len(frames)} structures)")
    return frames[index]


def cmd_write(a):
    """`write`: the ±h copies of the label (see the module docstring)."""
    ref = load(a.labelled, a.index)
    if "initial_magmoms" not in ref.arrays or not has_labels(ref):
        sys.exit(f"cdft_force_fd.py: {a.labelled}: structure {a.index} needs forces and initial_magmoms (the target moments)")
    if not a.h > 0:
        sys.exit(f"cdft_force_fd.py: --h {a.h}: the displacement must be positive")
    i, c = pick(ref, a.atom, a.axis)
    frames = []
    for sign in (+1, -1):
        p = ref.get_positions()
        p[i, c] += sign * a.h
        s = Atoms(ref.get_chemical_symbols(), positions=p, cell=ref.cell, pbc=ref.pbc,
                  magmoms=ref.arrays["initial_magmoms"])
        s.info = {"origin": f"{a.labelled}#{a.index} atom {i} axis {'xyz'[c]} {sign * a.h:+g} A "
                            f"(cDFT force there {ref.get_forces()[i, c]:+.4f} eV/A)"}
        frames.append(s)
    write(a.output, frames, format="extxyz")
    print(f"wrote {a.output}: atom {i} ({ref[i].symbol}) moved by ±{a.h} Å along {'xyz'[c]}; "
          f"its cDFT force component {ref.get_forces()[i, c]:+.4f} eV/Å")
    return 0


def cmd_compare(a):
    """`compare`: prints F_fd [eV/Å] beside the runs' and the reference's force labels (see the module docstring)."""
    try:
        plus, minus = read(a.fd_labelled, index=":2")
    except (OSError, ValueError) as e:
        sys.exit(f"cdft_force_fd.py: {a.fd_labelled}: needs two structures, the +h and the −h run ({e})")
    if not (has_labels(plus) and has_labels(minus)):
        sys.exit(f"cdft_force_fd.py: {a.fd_labelled}: both structures need an energy and forces (mmtp-convert's labels)")
    if len(plus) != len(minus) or not np.allclose(plus.cell[:], minus.cell[:]):
        sys.exit(f"cdft_force_fd.py: {a.fd_labelled}: the two structures must differ in one coordinate of one atom")
    frac = plus.get_scaled_positions(wrap=False) - minus.get_scaled_positions(wrap=False)
    d = (frac - np.round(frac)) @ plus.cell[:]  # the minimum image: a run may write its positions wrapped
    moved = np.argwhere(np.abs(d) > 1e-6)
    if len(moved) != 1:
        sys.exit(f"cdft_force_fd.py: {a.fd_labelled}: the two structures must differ in one coordinate of one atom")
    i, c = moved[0]
    h = d[i, c] / 2
    fd = -(plus.get_potential_energy() - minus.get_potential_energy()) / (2 * h)
    mid, k = force_and_curvature(plus.get_forces()[i, c], minus.get_forces()[i, c], h)
    line = (f"atom {i} axis {'xyz'[c]}, h = {h:.4g} Å: F_fd = {fd:+.4f} eV/Å, mean of the two runs' forces {mid:+.4f}, "
            f"curvature {k:.3g} eV/Å² " + (f"(equilibrium {mid / k:+.4f} Å away)" if k > 0 else "(no minimum along it)"))
    if a.reference:
        ref = load(a.reference, a.index)
        if not has_labels(ref):
            sys.exit(f"cdft_force_fd.py: {a.reference}: structure {a.index} has no force labels")
        line += f", reference label {ref.get_forces()[i, c]:+.4f}"
    print(line)
    if a.potential:
        model_line(a.potential, plus, minus, i, c, h)
    return 0


def force_and_curvature(f_plus, f_minus, h):
    """The force at the midpoint, (F₊ + F₋)/2 [eV/Å], and the curvature −(F₊ − F₋)/(2h) [eV/Å²], from the force
    components F₊, F₋ at the displacements +h and −h [Å]; both to O(h²)."""
    return (f_plus + f_minus) / 2, -(f_plus - f_minus) / (2 * h)


def model_line(paths, plus, minus, i, c, h):
    """Prints each member's force [eV/Å] and curvature [eV/Å²] on component (i, c) of the ±h pair `plus`, `minus`
    (h [Å]), and their mean; a member outside its trained region there (short pairs, moments out of range) gives a
    warning on stderr. Exits with a one-line message if the mmtp module or a potential cannot be loaded."""
    try:
        import mmtp
    except ImportError:
        sys.exit("cdft_force_fd.py: --potential needs the mmtp module (PYTHONPATH=build/python)")
    rows = []
    for path in paths:
        try:
            member = mmtp.Potential([path], max_std=0.0)
        except (RuntimeError, ValueError, OSError) as e:
            sys.exit(f"cdft_force_fd.py: {e}")  # the message names the file
        results = [member.evaluate(s) for s in (plus, minus)]
        for r in results:
            if r["extrapolation"]:  # short pairs or moments outside the member's range: say so, keep the number
                print(f"cdft_force_fd.py: warning: {path}: outside the trained region: {r['extrapolation']}", file=sys.stderr)
        rows.append(force_and_curvature(results[0]["forces"][i, c], results[1]["forces"][i, c], h))
    f, k = np.array(rows).T
    for path, fm, km in zip(paths, f, k):
        print(f"  {path}: force {fm:+.4f} eV/Å, curvature {km:.3g} eV/Å²")
    print(f"committee of {len(paths)}: force {f.mean():+.4f} eV/Å (members {f.min():+.4f} … {f.max():+.4f}), "
          f"curvature {k.mean():.3g} eV/Å² (members {k.min():.3g} … {k.max():.3g})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write", help="the ±h displaced copies of a label, for tools/abinit-cdft --label")
    w.add_argument("labelled")
    w.add_argument("--index", type=int, default=0)
    w.add_argument("--atom", type=int)
    w.add_argument("--axis", type=int, help="0, 1, 2 for x, y, z")
    w.add_argument("--h", type=float, default=0.01, help="displacement [Å]")
    w.add_argument("-o", dest="output", required=True)
    c = sub.add_parser("compare", help="the central difference of the two labelled runs against the force labels")
    c.add_argument("fd_labelled")
    c.add_argument("--reference", help="the label the displacements were made from")
    c.add_argument("--index", type=int, default=0)
    c.add_argument("--potential", nargs="+", help="committee members (.mtp): their force and curvature there")
    a = ap.parse_args()
    return cmd_write(a) if a.command == "write" else cmd_compare(a)


if __name__ == "__main__":
    sys.exit(main())
