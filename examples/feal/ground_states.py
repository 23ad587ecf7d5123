#!/usr/bin/python3
"""Ground states of the shipped FeAl ensemble against ABINIT, and the D0_3 Fe3Al extrapolation check.

    ground_states.py [--driver build/driver/mmtp-driver] [--potential feal.0.mtp ...]

Relaxes B2 FeAl (structures/b2_feal.xyz) and bcc Fe (structures/bcc_fe.xyz) jointly in positions,
moments and, in turn, --cell none, hydrostatic and full, and compares the lattice parameter
a = (2V/N)^(1/3) [Å] and the mean |m(Fe)| [μB] with the free-moment ABINIT E(V) minima of
abinit-reference/results.txt (the training settings). Then relaxes the 16-atom D0_3 Fe3Al cell
(d03_fe3al.xyz, --cell full) and prints its committee std per atom, calibrated (the α and error
floor of the potential files, as every mmtp program applies them) and raw (α = 1, no floor). Prints a Markdown table; exit
code 1 when a ground state misses a by more than 0.5 % or m(Fe) by more than 0.10 μB, or a
relaxation neither converges (exit 0) nor stops at the edge of the trained region (exit 5).
"""
import argparse
import glob
import math
import os
import re
import subprocess
import sys
import tempfile

from ase.io import read

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def references(path):
    """{'b2': (a0, m_Fe), 'bcc': (a0, m_Fe)} from analyse.py's results.txt."""
    text = open(path).read()
    out = {}
    for name, block in re.findall(r"# eos-(\w+)\n(.*?)(?=\n# eos-|\Z)", text, re.S):
        m = re.search(r"a0 = ([.0-9]+) A.*moments at a0 = ([-.0-9]+)", block)
        out[name] = (float(m.group(1)), float(m.group(2)))
    return out


def calibration(potential):
    """The committee's α and error floor [meV/atom] stored in a member's potential_tag."""
    text = open(potential).read()
    a, f = (re.search(rf"committee_{k}=([.0-9eE+-]+)", text) for k in ("alpha", "floor"))
    return float(a.group(1)) if a else 1.0, 1000 * float(f.group(1)) if f else 0.0


def relax(driver, pot, src, mode, d):
    out = os.path.join(d, "out.xyz")
    r = subprocess.run([driver, "relax", src, *pot, "--cell", mode, "-o", out, "--threads", "1"],
                       capture_output=True, text=True)
    if not os.path.exists(out):
        sys.exit(f"ground_states.py: {src}: {r.stderr.strip()}")
    final = read(out)
    os.remove(out)
    n = len(final)
    fe = [abs(m) for s, m in zip(final.get_chemical_symbols(), final.get_initial_magnetic_moments()) if s == "Fe"]
    return r.returncode, (2 * final.get_volume() / n) ** (1 / 3), sum(fe) / len(fe), \
        float(final.info.get("energy_std", 0.0)) / n * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--driver", default=os.path.join(ROOT, "build", "driver", "mmtp-driver"))
    ap.add_argument("--potential", nargs="+", default=sorted(glob.glob(os.path.join(HERE, "potential", "feal.[0-9].mtp"))))
    a = ap.parse_args()
    pot = [x for p in a.potential for x in ("-p", p)]
    ref = references(os.path.join(HERE, "abinit-reference", "results.txt"))
    k, floor = calibration(a.potential[0])

    def raw(std):  # the members' own spread: std = sqrt((α·raw)² + floor²)
        return math.sqrt(max(std * std - floor * floor, 0.0)) / k
    bad = 0
    print(f"{len(a.potential)} members, committee α = {k:.3f}, error floor {floor:.2f} meV/atom")
    print("| cell | mode | exit | a [Å] | ABINIT a0 | Δa | m(Fe) [μB] | ABINIT | Δm | std [meV/atom] (raw) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for name, key in (("B2 FeAl", "b2"), ("bcc Fe", "bcc")):
            a0, m0 = ref[key]
            for mode in ("none", "hydrostatic", "full"):
                rc, lat, m, std = relax(a.driver, pot, os.path.join(HERE, "structures", key + ("_feal" if key == "b2" else "_fe") + ".xyz"), mode, d)
                ok = rc == 0 and abs(lat / a0 - 1) <= 0.005 and abs(m - m0) <= 0.10
                bad += not ok
                print(f"| {name} | {mode} | {rc} | {lat:.4f} | {a0:.4f} | {lat / a0 - 1:+.2%} | {m:.3f} | {m0:.3f} | "
                      f"{m - m0:+.3f} | {std:.1f} ({raw(std):.1f}) |{'' if ok else ' **misses**'}", flush=True)
        rc, lat, m, std = relax(a.driver, pot, os.path.join(HERE, "d03_fe3al.xyz"), "full", d)
        bad += rc not in (0, 5)
        print(f"| D0_3 Fe3Al (16) | full | {rc} | {lat:.4f} | — | — | {m:.3f} | — | — | {std:.1f} ({raw(std):.1f}) |")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
