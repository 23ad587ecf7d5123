"""pair_style mmtp in mmtp-lammps (issue 24), under MPI on 1, 2 and 3 ranks:
1. energy, forces, virial, per-atom energy and virial, dE/dm and the committee's stds equal
   `mmtp-driver eval` on the same structure to 1e-10 (relative to the largest component), for a
   triclinic 16-atom cell smaller than twice the cutoff (per rank it is far smaller), with
   newton_pair on and off;
2. relaxed moments (`moments relax`) equal `mmtp-driver relax --cell none --moments relax` with
   every atom fixed to 1e-6 μB, on every rank count; with atoms migrating between 2 ranks and
   sorted at every NVE step, the relaxation's memory moves with them: as many moment
   evaluations as on one rank, the same energies;
3. NVE with fixed and with relaxed moments (2000-atom B2 FeAl, 300 K, 200 steps of 1 fs)
   conserves the total energy to 1e-4 eV/atom;
4. bad input ends with LAMMPS's one-line ERROR and exit code 1, never a crash or a hang.
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import tmpdir  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--lammps", required=True)
ap.add_argument("--driver", required=True)
ap.add_argument("--root", required=True)
ap.add_argument("--part", choices=["eval", "relax", "nve", "errors"], action="append",
                help="run these parts only (default: all)")
a = ap.parse_args()
parts = set(a.part or ["eval", "relax", "nve", "errors"])
ROOT = a.root
POT = [os.path.join(ROOT, "examples", "feal", "potential", f"feal.{k}.mtp") for k in range(8)]
TOOL = os.path.join(ROOT, "tools", "lammps-data")
NKTV2P = 1.6021765e6  # LAMMPS units metal: eV/Å³ -> bar
env = dict(os.environ, OMP_NUM_THREADS="1")


def mpirun(np_, inp, cwd, expect_rc=0, timeout=240):
    cmd = ["mpirun", "--oversubscribe", "--allow-run-as-root", "-np", str(np_), a.lammps, "-in", inp, "-log", "none"]
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    if expect_rc is not None and r.returncode != expect_rc:
        raise AssertionError(f"{' '.join(cmd)}: exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def thermo(out, names):
    """The thermo line after the header naming `names` (last occurrence)."""
    lines = out.splitlines()
    k = max(i for i, l in enumerate(lines) if l.split()[:len(names)] == names)
    return [float(x) for x in lines[k + 1].split()]


def write_structure(path, cell, symbols, pos, moments, extra=""):
    lat = " ".join(f"{x:.17g}" for x in np.asarray(cell).ravel())
    props = "species:S:1:pos:R:3:initial_magmoms:R:1" + (":fixed:R:1" if extra else "")
    rows = [f"{s} {p[0]:.17g} {p[1]:.17g} {p[2]:.17g} {m:.17g}" + (" 1" if extra else "") for s, p, m in zip(symbols, pos, moments)]
    open(path, "w").write(f"{len(symbols)}\nLattice=\"{lat}\" Properties={props} pbc=\"T T T\"\n" + "\n".join(rows) + "\n")


def read_xyz(path):
    from ase.io import read
    return read(path)


d = tmpdir()
# A triclinic 16-atom B2 cell (edges 5.7-5.8 Å < 2 R_cut = 10.4 Å), rotated and sheared.
from ase.io import read  # noqa: E402
b2 = read(os.path.join(ROOT, "examples", "feal", "b2_feal_2x2x2.xyz"))
b2.rotate(10, "z", rotate_cell=True)
cell = b2.cell.array.copy()
cell[1, 0] += 0.3
cell[2, 1] += 0.2
b2.set_cell(cell, scale_atoms=True)
b2.write(os.path.join(d, "tri.xyz"))
subprocess.run([sys.executable, TOOL, os.path.join(d, "tri.xyz"), os.path.join(d, "tri.data"), "--species", "Fe,Al"], check=True)

HEAD = """units metal
atom_style atomic
atom_modify map array
boundary p p p
newton {newton}
fix mag all property/atom d_magmom ghost yes
fix out all property/atom d_dE_dm d_energy_std d_forces_std
read_data {data} fix mag NULL Moments
pair_style mmtp {style}
pair_coeff * * {pots} Fe Al
"""
EVAL = HEAD + """compute pm all pair mmtp
compute pe all pe/atom
compute sa all stress/atom NULL virial
compute p all pressure NULL virial
thermo_style custom step pe vol c_p[1] c_p[2] c_p[3] c_p[4] c_p[5] c_p[6] c_pm[1] c_pm[3] c_pm[4] c_pm[5]
thermo_modify format float %.17g
dump d all custom 1 {dump} id type x y z fx fy fz d_magmom d_dE_dm c_pe d_energy_std d_forces_std c_sa[1] c_sa[2] c_sa[3] c_sa[4] c_sa[5] c_sa[6]
dump_modify d format float %.17g
run 0
"""
committee = " ".join(POT[:3])


def rel(x, ref):
    return np.abs(np.asarray(x) - np.asarray(ref)).max() / max(1e-300, np.abs(ref).max())


# 1. Equality with mmtp-driver eval.
for newton in ("on", "off") if "eval" in parts else ():
    for np_ in (1, 2, 3):
        dump = f"ev-{newton}-{np_}.dump"
        inp = os.path.join(d, f"ev-{newton}-{np_}.in")
        open(inp, "w").write(EVAL.format(newton=newton, data="tri.data", style="", pots=committee, dump=dump))
        r = mpirun(np_, inp, d)
        t = thermo(r.stdout, ["Step", "PotEng"])
        cols = open(os.path.join(d, dump)).read().split("ITEM: ATOMS")[1].splitlines()[0].split()
        rows = np.loadtxt(os.path.join(d, dump), skiprows=9)
        rows = rows[np.argsort(rows[:, 0])]
        c = {n: rows[:, q] for q, n in enumerate(cols)}
        xyz = os.path.join(d, f"ev-{newton}-{np_}.xyz")
        subprocess.run([sys.executable, TOOL, "--dump", os.path.join(d, dump), "--species", "Fe,Al", "-o", xyz], check=True)
        out = os.path.join(d, f"ref-{newton}-{np_}.xyz")
        subprocess.run([a.driver, "eval", *sum((["-p", p] for p in POT[:3]), []), xyz, "-o", out, "--threads", "1"],
                       check=True, capture_output=True)
        ref = read_xyz(out)
        volume = ref.get_volume()
        e_ref = ref.info["energy"] if "energy" in ref.info else ref.get_potential_energy()
        assert abs(t[1] - e_ref) <= 1e-10 * abs(e_ref), (newton, np_, t[1], e_ref)
        forces = np.stack([c["fx"], c["fy"], c["fz"]], 1)
        assert rel(forces, ref.arrays["forces"]) < 1e-10, (newton, np_, rel(forces, ref.arrays["forces"]))
        assert rel(c["d_dE_dm"], ref.arrays["dE_dm"]) < 1e-10, (newton, np_)
        assert rel(c["c_pe"], ref.arrays["energies"]) < 1e-10, (newton, np_)
        # Virial: LAMMPS's pressure tensor (virial part) p = W/V·nktv2p; the extxyz stress = −W/V.
        stress = ref.info["stress"]  # 3x3 in ASE's read (or Voigt)
        stress = np.asarray(stress).reshape(-1)
        W = -(np.array([[stress[0], stress[5], stress[4]], [stress[5], stress[1], stress[3]], [stress[4], stress[3], stress[2]]])
              if stress.size == 6 else stress.reshape(3, 3)) * volume
        p = np.array(t[3:9]) * volume / NKTV2P
        W6 = np.array([W[0, 0], W[1, 1], W[2, 2], W[0, 1], W[0, 2], W[1, 2]])
        assert rel(p, W6) < 1e-10, (newton, np_, p, W6)
        # Per-atom virial (compute stress/atom = −W_i·nktv2p) sums to the global one.
        sa = np.stack([c[f"c_sa[{k}]"] for k in range(1, 7)], 1).sum(0) / -NKTV2P
        assert rel(sa, W6) < 1e-10, (newton, np_, sa, W6)
        # The committee: energy std (compute pair mmtp, c_pm[1]) and per-atom force std norm.
        assert abs(t[9] - ref.info["energy_std"]) <= 1e-9 * abs(ref.info["energy_std"]), (t[9], ref.info["energy_std"])
        fstd = np.linalg.norm(ref.arrays["forces_std"], axis=1)
        assert rel(c["d_forces_std"], fstd) < 1e-9, (newton, np_)
        assert abs(t[10] - fstd.max()) <= 1e-9 * fstd.max() and t[11] == 0 and t[12] == 0, (t[10:13], fstd.max())
if "eval" in parts:
    print("1: eval equality on 1-3 ranks, newton on/off: ok")


def relaxed_moments():
    """2. Relaxed moments against the serial relaxation of mmtp-driver relax (every atom fixed)."""
    ref_in, ref_out = os.path.join(d, "fixed.xyz"), os.path.join(d, "relaxed.xyz")
    write_structure(ref_in, b2.cell.array, b2.get_chemical_symbols(), b2.positions, b2.get_initial_magnetic_moments(),
                    extra="fixed")
    subprocess.run([a.driver, "relax", ref_in, *sum((["-p", p] for p in POT[:3]), []), "-o", ref_out, "--cell", "none",
                    "--moments", "relax", "--fixed-atoms", "fixed", "--mmax", "1e-8", "--threads", "1"], check=True,
                   capture_output=True)
    m_ref = read_xyz(ref_out).get_initial_magnetic_moments()
    for np_ in (1, 2, 3):
        dump = f"relax-{np_}.dump"
        inp = os.path.join(d, f"relax-{np_}.in")
        open(inp, "w").write(EVAL.format(newton="on", data="tri.data", style="moments relax mmax 1e-9", pots=committee, dump=dump))
        mpirun(np_, inp, d)
        rows = np.loadtxt(os.path.join(d, dump), skiprows=9)
        m = rows[np.argsort(rows[:, 0])][:, 8]
        assert np.abs(m - m_ref).max() < 1e-6, (np_, np.abs(m - m_ref).max())
    print("2: relaxed moments equal mmtp-driver relax on 1-3 ranks: ok")

    # The relaxation's memory moves with the atoms: NVE with atoms crossing between 2 ranks and
    # sorted at every step (the 128-atom cell's sub-domain boundary lies on a lattice plane)
    # takes as many moment evaluations as on one rank, and the same trajectory.
    data = os.path.join(d, "b2_128.data")
    subprocess.run([sys.executable, TOOL, os.path.join(ROOT, "examples", "feal", "b2_feal_2x2x2.xyz"), data,
                    "--species", "Fe,Al", "--repeat", "2,2,2"], check=True)
    text = HEAD + """neigh_modify every 1 delay 0 check no
atom_modify sort 1 1.0
velocity all create 900 4928459 mom yes rot yes dist gaussian
timestep 0.001
fix nve all nve
compute pm all pair mmtp
thermo_style custom step pe c_pm[8] c_pm[7]
thermo_modify format float %.15g
thermo 1
run 30
"""
    runs = {}
    for np_ in (1, 2):
        inp = os.path.join(d, f"migrate-{np_}.in")
        open(inp, "w").write(text.format(newton="on", data=data, style="moments relax mmax 1e-6", pots=committee))
        lines = mpirun(np_, inp, d).stdout.splitlines()
        k = next(i for i, l in enumerate(lines) if l.split()[:2] == ["Step", "PotEng"])
        runs[np_] = np.array([[float(x) for x in l.split()] for l in lines[k + 1:k + 32]])
    one, two = runs[1], runs[2]
    evaluations = [r[1:, 2].sum() for r in (one, two)]
    print(f"2: 30 NVE steps, atoms migrating and sorted every step: moment evaluations 1 rank {evaluations[0]:.0f}, "
          f"2 ranks {evaluations[1]:.0f}; largest |ΔE_pot| {np.abs(one[:, 1] - two[:, 1]).max():.2e} eV")
    assert two[-1, 3] == 0 and one[-1, 3] == 0
    assert evaluations[1] <= 1.15 * evaluations[0] + 3, evaluations
    assert np.abs(one[:, 1] - two[:, 1]).max() < 1e-6 * 128, (one[:, 1], two[:, 1])

    # Between two runs at one step, moments the user sets start the next relaxation (here all
    # reversed: E_symm(M) = E_symm(−M), so it finds the mirror image), and `unfix MMTP_HISTORY`
    # only makes the memory start afresh.
    dump = "write_dump all custom flip-{k}.dump id d_magmom modify sort id format float %.17g\n"
    inp = os.path.join(d, "flip.in")
    style = dict(newton="on", data=data, style="moments relax mmax 1e-8", pots=committee)
    open(inp, "w").write((HEAD + "run 0\n" + dump.format(k=0)).format(**style))
    mpirun(2, inp, d)
    m0 = np.loadtxt(os.path.join(d, "flip-0.dump"), skiprows=9)[:, 1]
    reverse = "".join(f"set atom {i + 1} d_magmom {-m:.17g}\n" for i, m in enumerate(m0))
    open(inp, "w").write((HEAD + "run 0\n").format(**style) + reverse + "run 0\n" + dump.format(k=1) +
                         "unfix MMTP_HISTORY\nrun 0\n" + dump.format(k=2))
    mpirun(2, inp, d)
    flips = [np.loadtxt(os.path.join(d, f"flip-{k}.dump"), skiprows=9)[:, 1] for k in range(3)]
    print(f"2: moments reversed by the user between runs: relaxed to the mirror image within "
          f"{np.abs(flips[1] + flips[0]).max():.1e} μB; after unfix MMTP_HISTORY {np.abs(flips[2] - flips[1]).max():.1e}")
    assert np.abs(flips[0]).max() > 1.0
    assert np.abs(flips[1] + flips[0]).max() < 1e-5 and np.abs(flips[2] - flips[1]).max() < 1e-5


def nve():
    """3. NVE energy drift of the 2000-atom B2 cell at 300 K, 200 steps of 1 fs, fixed and relaxed
    moments, with the shipped ensemble (its mean drives the dynamics)."""
    data = os.path.join(d, "b2_2000.data")
    subprocess.run([sys.executable, TOOL, os.path.join(ROOT, "examples", "feal", "b2_feal_2x2x2.xyz"), data,
                    "--species", "Fe,Al", "--repeat", "5,5,5"], check=True)
    text = HEAD + """velocity all create 300 4928459 mom yes rot yes dist gaussian
timestep 0.001
fix nve all nve
compute pm all pair mmtp
thermo_style custom step pe ke etotal c_pm[7]
thermo_modify format float %.12g
thermo 20
run 200
"""
    for style in ("", "moments relax"):
        inp = os.path.join(d, f"nve-{len(style)}.in")
        open(inp, "w").write(text.format(newton="on", data=data, style=style, pots=" ".join(POT)))
        r = mpirun(2, inp, d, timeout=1500)
        lines = r.stdout.splitlines()
        k = next(i for i, l in enumerate(lines) if l.split()[:4] == ["Step", "PotEng", "KinEng", "TotEng"])
        rows = [[float(x) for x in l.split()] for l in lines[k + 1:k + 12]]
        etot = [row[3] for row in rows]
        drift = (max(etot) - min(etot)) / 2000
        print(f"3: NVE {style or 'fixed moments'}: largest |E_tot(t) - E_tot(s)| {drift:.2e} eV/atom over 200 steps, "
              f"unconverged moment relaxations {rows[-1][4]:.0f}")
        assert drift <= 1e-4 and rows[-1][4] == 0, drift


def errors():
    """4. Bad input: one line, exit code 1, no hang (2 ranks)."""
    bad = {
        "no moment property": (HEAD.replace("fix mag all property/atom d_magmom ghost yes\n", "").replace(" fix mag NULL Moments", ""),
                               "needs the magnetic moments"),
        "unknown species": (HEAD.replace("{pots} Fe Al", "{pots} Fe Ni"), "Ni"),
        "missing potential": (HEAD.replace("{pots}", "missing.mtp"), "missing.mtp"),
        "malformed potential": (HEAD.replace("{pots}", "bad.mtp"), "bad.mtp"),
        "type not covered": (HEAD.replace("{pots} Fe Al", "{pots} Fe NULL"), "not covered by pair_coeff"),
        "unknown keyword": (HEAD.replace("pair_style mmtp {style}", "pair_style mmtp moments sideways"), "sideways"),
    }
    open(os.path.join(d, "bad.mtp"), "w").write("MTP\nversion = 1.1.0\nspecies_count = two\n")
    text = open(os.path.join(d, "tri.data")).read()
    open(os.path.join(d, "plain.data"), "w").write(text[:text.index("Moments")])
    for what, (text, fragment) in bad.items():
        inp = os.path.join(d, "bad.in")
        data = "plain.data" if what == "no moment property" else "tri.data"
        open(inp, "w").write(text.format(newton="on", data=data, style="", pots=POT[0]) + "run 0\n")
        r = mpirun(2, inp, d, expect_rc=1, timeout=60)
        lines = [l for l in (r.stdout + r.stderr).splitlines() if l.startswith("ERROR")]
        assert lines and fragment in lines[0], (what, r.stdout[-2000:], r.stderr[-2000:])
        print(f"4: {what}: {lines[0]}")


if "relax" in parts:
    relaxed_moments()
if "nve" in parts:
    nve()
if "errors" in parts:
    errors()
print("ok")
