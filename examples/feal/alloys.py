#!/usr/bin/python3
"""The seed's alloy study (Kotykhov et al., Sci. Rep. 13, 19728 (2023)): bcc Fe(1-x)Al(x) across
composition with the committee — lattice parameter, magnetic moments and formation energy, each
with its committee std.

    PYTHONPATH=build/python examples/feal/alloys.py [-p POT.mtp ...] [--sizes 16,128] [--random-starts 3]
        [--max-std 0.05] [--seed 1] [--out DIR] [--cdft-check RUNS [--convert build/tools/mmtp-convert]]

Cells: random Fe(1-x)Al(x) of 16 atoms (2x2x2 cubic bcc cells) and 128 atoms (4x4x4) at
x = 0, 1/16, ..., 1/2, and the ordered B2 FeAl and D0_3 Fe3Al (16 atoms). Each cell starts at
the data's lattice parameter for its x, with moments ferromagnetic (Fe 2.2 μB, Al 0) and with
`--random-starts` random-sign starts (Fe 0.5-3 μB), and is relaxed jointly (mmtp.relax: cell
full, positions, moments bounded to their trained range, the committee std reported but not
stopping the run). Kept: the lowest energy among the converged states inside the trained region
(std ≤ `--max-std`, 50 meV/atom as mmtp's relaxer) — outside it the lowest energy is as likely
an artefact of the fit as a state (a random-moment bcc Fe cell "below" ferromagnetic bcc Fe at
a std of 78 meV/atom, seen) — else the converged state with the smallest std, whose status
then ends in ",outside" (and a warning lists those cells): an extrapolation, never silent.

For the kept state, each committee member relaxes it again alone (starting there), so that the
lattice parameter and the moments have a member spread; their std is that spread times the
committee's α (as the committee's energy std). The energies' std is the committee's energy std
at the kept state and at the references (α applied), combined in quadrature with the weights of
the formula (correlations between cells neglected). Per cell: a = (2V/N)^(1/3) [Å]; the cell's
shape c/a, the largest over the smallest principal stretch of the relaxed cell against its cubic
start (1 for a cubic cell; √2 ≈ 1.41 at fcc on the Bain path) — a kept state with c/a above
`--max-c-a` (1.05) is no longer bcc, its `a` a volume mean, and a warning lists those cells; the mean Fe
moment [μB] (signed; and its mean |m|), the total magnetisation per atom [μB], and the formation
energy per atom E_f = E/N − (1−x)·E(bcc Fe) − x·E(Al ref) [meV/atom], with references relaxed
the same way: bcc Fe (2 atoms, ferromagnetic) and fcc Al (4 atoms; outside the Fe-Al data, its
own std says how far) — and, within the data, the mixing energy on the Fe-FeAl line,
ΔE = E/N − (1−2x)·E(bcc Fe) − 2x·E(B2 FeAl). Prints a table (one row per cell, with the seconds
it took) and writes DIR/alloys.tsv and DIR/alloys.png (a, moments, E_f against x).

Direct cDFT checks: DIR/check.xyz holds the relaxed 16-atom random cells at x = 1/8, 1/4, 3/8,
1/2 with their moments (label them: tools/abinit-cdft --out RUNS --label DIR/check.xyz
--template examples/feal/learn/template.abi --prefix check). `--cdft-check RUNS` then compares
each converged label with the committee: energy difference, largest force, largest dE/dm and
stress, each against the committee's std (within 2σ or not).
"""
import argparse
import glob
import os
import random
import sys
import time

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.io import read, write

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from explore_alloys import a0_of, bcc_sites, ordered, principal_stretch_ratio  # noqa: E402

GPA = 160.21766208
# Round-off of a force or dE/dm that vanishes by symmetry (eV/Å, eV/μB): far below any error the check is for.
ROUND_OFF = 1e-6


def within_2sigma(de, e_std, f_err, f_std, dm_err, dm_std):
    """The direct check's verdict (bool): the energy error per atom `de` within 2 energy stds `e_std` (both
    meV/atom, model − cDFT), and the largest force error `f_err` and dE/dm error `dm_err` (eV/Å, eV/μB; largest
    absolute component) within 2 of the largest stds `f_std`, `dm_std`, where an std below ROUND_OFF (a
    component that vanishes by symmetry for every member) counts as ROUND_OFF. Raises nothing."""
    return abs(de) <= 2 * e_std and f_err <= 2 * max(f_std, ROUND_OFF) and dm_err <= 2 * max(dm_std, ROUND_OFF)


def cell_of(species, reps, rng, moments):
    """The ideal bcc supercell of `species` at the data's lattice parameter, with moments."""
    x = species.count("Al") / len(species)
    cell = np.diag([a0_of(x) * r for r in reps])
    atoms = Atoms(species, positions=bcc_sites(reps) @ cell, cell=cell, pbc=True)
    if moments == "ferro":
        m = [2.2 if s == "Fe" else 0.0 for s in species]
    else:
        m = [rng.uniform(0.5, 3.0) * rng.choice([-1, 1]) if s == "Fe" else 0.0 for s in species]
    atoms.set_initial_magnetic_moments(m)
    return atoms


def relax_best(mmtp, pot, starts, max_std):
    """The lowest-energy converged relaxation of the starts whose committee std per atom is at most
    max_std [eV/atom]; else the converged one (else any) with the smallest std."""
    best = None
    for atoms in starts:
        relaxed, rep = mmtp.relax(atoms, pot, cell="full", max_steps=1500)
        std = rep["energy_std"] / len(atoms)
        key = (rep["status"] != "converged", std > max_std, rep["energy"] if std <= max_std else std)
        if best is None or key < best[0]:
            best = (key, relaxed, rep)
    return best[1], best[2]


def structure_properties(atoms):
    """a = (2V/N)^(1/3) [Å], the mean Fe moment and its mean |m| [μB], the magnetisation per atom [μB]."""
    n = len(atoms)
    sym = np.array(atoms.get_chemical_symbols())
    m = atoms.get_initial_magnetic_moments()
    m = -m if m.sum() < 0 else m  # E_symm(M) = E_symm(−M) (Eq. 6): report the state with M ≥ 0
    fe = m[sym == "Fe"]
    return dict(a=(2 * atoms.get_volume() / n) ** (1 / 3), m_fe=fe.mean() if fe.size else 0.0,
                abs_m_fe=np.abs(fe).mean() if fe.size else 0.0, m_total=m.sum() / n)


def energies(energy, n, x, refs):
    """Formation energy against bcc Fe and fcc Al, and mixing energy on the Fe–FeAl line [meV/atom]."""
    ef = 1000 * (energy / n - (1 - x) * refs["Fe"] - x * refs["Al"])
    mix = 1000 * (energy / n - (1 - 2 * x) * refs["Fe"] - 2 * x * refs["FeAl"]) if x <= 0.5 else float("nan")
    return dict(e_f=ef, mixing=mix)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-p", dest="pots", action="append")
    ap.add_argument("--sizes", default="16,128")
    ap.add_argument("--random-starts", type=int, default=3)
    ap.add_argument("--max-std", type=float, default=0.05, help="trained region: committee std [eV/atom]")
    ap.add_argument("--max-c-a", type=float, default=1.05,
                    help="a kept state whose principal stretch ratio exceeds this is reported as non-cubic")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="alloys-out")
    ap.add_argument("--cdft-check", help="folder of tools/abinit-cdft --label runs of DIR/check.xyz")
    ap.add_argument("--convert", default=os.path.join(ROOT, "build", "tools", "mmtp-convert"),
                    help="mmtp-convert, which reads the ABINIT outputs for --cdft-check")
    a = ap.parse_args()
    import mmtp
    pots = a.pots or [os.path.join(HERE, "potential", f"feal.{k}.mtp") for k in range(8)]
    pot = mmtp.Potential(pots, max_std=0.0)  # report the std, do not stop on it
    members = [mmtp.Potential([p], max_std=0.0) for p in pots]
    alpha = pot.committee_alpha if len(pots) > 1 else 0.0
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(a.seed)
    if a.cdft_check:
        return cdft_check(a, pot)

    # References, per member too (their spread carries into E_f).
    ref_cells = {"Fe": bulk("Fe", "bcc", a=2.83, cubic=True), "Al": bulk("Al", "fcc", a=4.04, cubic=True),
                 "FeAl": bulk("FeAl", "cesiumchloride", a=2.88)}
    ref_moments = {"Fe": [2.2, 2.2], "Al": [0.0] * 4, "FeAl": [1.0, 0.0]}
    refs, ref_std = {}, {}
    for name, atoms in ref_cells.items():
        atoms.set_initial_magnetic_moments(ref_moments[name])
        relaxed, rep = mmtp.relax(atoms, pot, cell="full", max_steps=500)
        refs[name] = rep["energy"] / len(atoms)
        ref_std[name] = 1000 * rep["energy_std"] / len(atoms)
    print(f"references (eV/atom): bcc Fe {refs['Fe']:.4f} (std {ref_std['Fe']:.1f} meV/atom), fcc Al {refs['Al']:.4f} "
          f"(std {ref_std['Al']:.1f}), B2 FeAl {refs['FeAl']:.4f} (std {ref_std['FeAl']:.1f})")

    cells = []
    for n in [int(s) for s in a.sizes.split(",")]:
        reps = {16: (2, 2, 2), 128: (4, 4, 4)}[n]
        for k in range(0, 9):  # x = k/16
            n_al = k * n // 16
            species = ["Al"] * n_al + ["Fe"] * (n - n_al)
            rng.shuffle(species)
            cells.append((f"random {n}", species, reps))
    cells += [("B2 FeAl", ordered("B2"), (2, 2, 2)), ("D0_3 Fe3Al", ordered("D03"), (2, 2, 2))]

    rows, checks, outside, non_cubic = [], [], [], []
    header = ("cell\tatoms\tx_Al\ta_A\ta_std\tc_a\tm_Fe\tm_Fe_std\tabs_m_Fe\tm_total\tm_total_std\tE_f_meV\tE_f_std\t"
              "mixing_meV\tmixing_std\tstd_meV_per_atom\tstatus\tseconds")
    print(header)
    for name, species, reps in cells:
        t0 = time.time()
        starts = [cell_of(species, reps, rng, "ferro")] + [cell_of(species, reps, rng, "random") for _ in range(a.random_starts)]
        relaxed, rep = relax_best(mmtp, pot, starts, a.max_std)
        n = len(species)
        x = species.count("Al") / n
        p = {**structure_properties(relaxed), **energies(rep["energy"], n, x, refs)}
        c_a = principal_stretch_ratio(relaxed.cell, starts[0].cell)  # every start has the same cell
        if c_a > a.max_c_a:
            non_cubic.append(f"{name} x={x:.4f} (c/a {c_a:.2f})")
        per_member = [structure_properties(mmtp.relax(relaxed, mem, cell="full", max_steps=300)[0]) for mem in members]
        std = {key: alpha * np.std([pm[key] for pm in per_member]) for key in ("a", "m_fe", "m_total")}
        dt = time.time() - t0
        e_std = 1000 * rep["energy_std"] / n
        std["e_f"] = np.sqrt(e_std ** 2 + ((1 - x) * ref_std["Fe"]) ** 2 + (x * ref_std["Al"]) ** 2)
        std["mixing"] = np.sqrt(e_std ** 2 + ((1 - 2 * x) * ref_std["Fe"]) ** 2 + (2 * x * ref_std["FeAl"]) ** 2)
        beyond = e_std > 1000 * a.max_std
        status = rep["status"] + (",outside" if beyond else "")  # never silently extrapolated
        if beyond:
            outside.append(f"{name} x={x:.4f}")
        row = [name, n, x, p["a"], std["a"], c_a, p["m_fe"], std["m_fe"], p["abs_m_fe"], p["m_total"], std["m_total"], p["e_f"],
               std["e_f"], p["mixing"], std["mixing"], e_std, status, dt]
        rows.append(row)
        print("\t".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row), flush=True)
        if name == "random 16" and species.count("Al") in (2, 4, 6, 8):
            relaxed.info["origin"] = f"alloys.py {name} x={x:.4f}"
            checks.append(relaxed)
    with open(os.path.join(a.out, "alloys.tsv"), "w") as f:
        f.write(header + "\n")
        for row in rows:
            f.write("\t".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row) + "\n")
    write(os.path.join(a.out, "check.xyz"), checks, format="extxyz")
    plot(header.split("\t"), rows, os.path.join(a.out, "alloys.png"), a.max_c_a)
    if outside:
        print(f"warning: {len(outside)} cells kept a state outside the trained region (committee std above "
              f"{1000 * a.max_std:g} meV/atom; status ',outside'): their numbers are extrapolations: {', '.join(outside)}")
    if non_cubic:
        print(f"warning: {len(non_cubic)} cells kept a non-cubic state (principal stretch ratio above {a.max_c_a:g}; "
              f"column c_a): not bcc, their a is a volume mean: {', '.join(non_cubic)}")
    print(f"wrote {a.out}/alloys.tsv, alloys.png and check.xyz ({len(checks)} cells for the direct cDFT check)")
    return 0


def plot(columns, rows, path, max_c_a):
    """a, c/a (circled above max_c_a), mean Fe moment and E_f against x; rows follow `columns` (the table header)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    col = {name: k for k, name in enumerate(columns)}
    fig, ax = plt.subplots(1, 3, figsize=(13, 4))
    for name, marker in (("random 16", "o"), ("random 128", "s"), ("B2 FeAl", "*"), ("D0_3 Fe3Al", "D")):
        sel = [r for r in rows if r[0] == name]
        if not sel:
            continue
        x, v = [r[col["x_Al"]] for r in sel], lambda key: [r[col[key]] for r in sel]
        bars = ax[0].errorbar(x, v("a_A"), yerr=v("a_std"), fmt=marker, label=name, capsize=3)
        distorted = [r for r in sel if r[col["c_a"]] > max_c_a]  # circled: not bcc, a is a volume mean
        if distorted:
            ax[0].plot([r[col["x_Al"]] for r in distorted], [r[col["a_A"]] for r in distorted], marker, ms=11, mfc="none",
                       color=bars[0].get_color(), label=f"{name}: c/a > {max_c_a:g}")
        ax[1].errorbar(x, v("m_Fe"), yerr=v("m_Fe_std"), fmt=marker, label=f"{name}: mean m(Fe)", capsize=3)
        ax[2].errorbar(x, v("E_f_meV"), yerr=v("E_f_std"), fmt=marker, label=name, capsize=3)
    ax[0].set(xlabel="x (Al)", ylabel="a = (2V/N)^(1/3) [Å] (circled: non-cubic)")
    ax[1].set(xlabel="x (Al)", ylabel="mean Fe moment [μB]")
    ax[2].set(xlabel="x (Al)", ylabel="formation energy [meV/atom] (bcc Fe, fcc Al)")
    for axis in ax:
        axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
    fig.suptitle("bcc Fe(1-x)Al(x), mMTP committee (error bars: α·member spread)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def cdft_check(a, pot):
    """Compares the converged labels of DIR/check.xyz (tools/abinit-cdft --label) with the committee."""
    import subprocess
    abo = sorted(glob.glob(os.path.join(a.cdft_check, "*", "*.abo")))
    status = os.path.join(a.cdft_check, "status.tsv")  # tools/abinit-cdft's: run, exit, converged, ...
    if os.path.exists(status):  # only finished, converged runs (others may still be running)
        rows = [line.rstrip("\n").split("\t") for line in open(status) if line.strip()]
        done = {r[0] for r in rows if len(r) > 2 and r[2] == "True"}
        abo = [f for f in abo if os.path.basename(os.path.dirname(f)) in done]
        print(f"{len(abo)} converged runs in {status}")
    if not abo:
        sys.exit(f"alloys.py: no converged .abo files under {a.cdft_check}")
    xyz = os.path.join(a.out, "check-labelled.xyz")
    if not os.access(a.convert, os.X_OK):
        sys.exit(f"alloys.py: {a.convert}: no mmtp-convert there (build mmtp, or pass --convert)")
    subprocess.run([a.convert, *abo, "--species", "Fe,Al", "-o", xyz], check=True)
    print("cell\tdE_meV_per_atom\tE_std_meV_per_atom\tmax|F|_dft\tmax|F|_model\tF_std\tmax|dE/dm|_dft\tdEdm_std\t"
          "max|stress|_dft_GPa\tstress_model_GPa\twithin_2sigma")
    # The cell each run labelled: run PREFIX-K is structure K of DIR/check.xyz (one dataset per run).
    check_xyz = os.path.join(a.out, "check.xyz")
    checked = read(check_xyz, index=":") if os.path.exists(check_xyz) else []
    names = []
    for f in abo:
        run = os.path.basename(os.path.dirname(f))
        k = run.rsplit("-", 1)[-1]
        origin = checked[int(k)].info.get("origin", "") if k.isdigit() and int(k) < len(checked) else ""
        names.append(f"{run} {origin}".strip())
    for name, s in zip(names, read(xyz, index=":")):
        r = pot.evaluate(s)
        n = len(s)
        de = 1000 * (r["energy"] - s.get_potential_energy()) / n
        es = 1000 * r["energy_std"] / n
        f_dft = np.abs(s.get_forces()).max()
        f_mod = np.abs(r["forces"]).max()
        f_err = np.abs(r["forces"] - s.get_forces()).max()
        f_std = np.asarray(r["forces_std"]).max()
        dm = np.abs(s.arrays["dE_dm"]).max()
        dm_err = np.abs(r["dE_dm"] - s.arrays["dE_dm"]).max()
        dm_std = np.asarray(r["dE_dm_std"]).max()
        st_dft = np.abs(s.get_stress()).max() * GPA
        st_mod = np.abs(np.asarray(r["stress"])).max() * GPA
        ok = within_2sigma(de, es, f_err, f_std, dm_err, dm_std)
        print(f"{name}\t{de:.2f}\t{es:.2f}\t{f_dft:.4f}\t{f_mod:.4f}\t{f_std:.4f}\t{dm:.4f}\t{dm_std:.4f}\t"
              f"{st_dft:.3f}\t{st_mod:.3f}\t{ok}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
