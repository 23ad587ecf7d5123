"""The FeAl example's programs: ASE MD through the socket driver, parity plots of the shipped
ensemble's report, tools/abinit-cdft (deterministic inputs; a real ABINIT cDFT run, its
resume, and its output read back by mmtp-convert), examples/feal/kpoint_check.py and
examples/feal/cdft_force_fd.py."""
import importlib.machinery
import json
import os
import re
import shutil
import sys
import tarfile
import types

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write

from common import arguments, run, tmpdir

args = arguments()
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "feal")
PY = "/usr/bin/python3"
bindir = os.path.dirname(os.path.dirname(args.driver))

# 1. ASE MD (NVE, 1 fs) through `mmtp-driver serve` with the shipped 8-member committee:
#    the driver exits 0 when ASE closes the socket, and the total energy is conserved.
r = run([PY, os.path.join(EXAMPLE, "ase_md.py"), "--driver", args.driver, "--steps", "20"])
m = re.search(r"energy drift over 20 steps of 1.0 fs: ([-+.0-9e]+) meV/atom \(largest excursion ([.0-9e]+)", r.stdout)
assert m, r.stdout
drift, excursion = float(m.group(1)), float(m.group(2))
assert abs(drift) < 0.05 and excursion < 0.1, r.stdout
assert "driver exit 0" in r.stdout, r.stdout

# 2. Parity plots from the shipped report: PNGs written, RMSEs equal the report's.
out = tmpdir()
r = run([PY, os.path.join(ROOT, "tools", "parity"), os.path.join(EXAMPLE, "potential", "feal.report.json"), "-o", out])
report = json.load(open(os.path.join(EXAMPLE, "potential", "feal.report.json")))
for name in ("parity_energy.png", "parity_forces.png", "parity_stress.png", "parity_dE_dm.png", "error_vs_std.png"):
    assert os.path.getsize(os.path.join(out, name)) > 10000, name
for part in ("train", "valid"):
    e = float(re.search(rf"energy {part}: RMSE ([.0-9e]+) eV/atom", r.stdout).group(1))
    f = float(re.search(rf"forces {part}: RMSE ([.0-9e]+) eV/Å", r.stdout).group(1))
    # printed with 4 significant digits
    assert abs(e * 1000 / report[part]["mean"]["energy_rmse_meV_per_atom"] - 1) < 1e-3, (e, part)
    assert abs(f / report[part]["mean"]["force_rmse_eV_per_A"] - 1) < 1e-3, (f, part)
# The ideal-committee reference beside the Spearman: stds spread over six decades with |error| =
# std rank perfectly (1.00), and a calibrated committee would rank them well too; stds within
# 5 % of each other leave it nothing to rank; equal stds print no reference.
def synthetic(sd, err=None):
    err = sd if err is None else err
    recs = [{"atoms": 2, "energy": 1e-3 * e, "energy_dft": 0.0, "energy_std": 1e-3 * x} for x, e in zip(sd, err)]
    path = os.path.join(out, "synthetic.report.json")
    json.dump({"committee_alpha": 1.0, "valid": {"structures": recs}}, open(path, "w"))
    r = run([PY, os.path.join(ROOT, "tools", "parity"), path, "-o", out])
    return re.search(r"calibration valid: Spearman\(std, \|error\|\) = (\S+?)(?: \(calibrated committee with these "
                     r"stds: (\S+), 10-90 % (\S+)-(\S+)\))?, \d+ % of \|error\| within 2 std over \d+", r.stdout), r.stdout
m, text = synthetic(10.0 ** np.linspace(-3, 3, 50))
assert m and m.group(1) == "1.00" and 0.7 < float(m.group(2)) < 1 and float(m.group(3)) <= float(m.group(2)) <= float(m.group(4)), text
m, text = synthetic(np.linspace(1.0, 1.05, 50))
assert m and abs(float(m.group(2))) < 0.15, text
m, text = synthetic(np.ones(50))
assert m and m.group(2) is None, text
# Three structures: their rank correlation takes four values, and no floor brings its median below
# 0.5; said so (this once doubled the floor until it overflowed).
m, text = synthetic(np.array([1.0, 2.0, 4.0]), np.array([0.5, 3.0, 2.0]))
assert m and "too few structures for a floor to matter" in text, text
# The error model recovers a and s0 of errors drawn from N(0, (2 std)² + 3²) (2000 structures,
# a fixed seed; the maximum-likelihood estimates are within a few % there).
sd = 10.0 ** np.random.default_rng(7).uniform(-1, 1.5, 2000)
m, text = synthetic(sd, np.random.default_rng(8).standard_normal(2000) * np.sqrt((2 * sd) ** 2 + 9))
fit = re.search(r"calibration valid: errors as N\(0, \(a std\)² \+ s0²\): a = (\S+), s0 = (\S+) meV/atom .*; "
                r"such errors give Spearman (\S+), .*; a median of 0\.5 needs s0 below (\S+) meV/atom", text)
assert fit and abs(float(fit.group(1)) - 2) < 0.15 and abs(float(fit.group(2)) - 3) < 0.3, text
# Their band's median is above 0.5, so the floor that would bring it to 0.5 is above theirs.
assert float(fit.group(3)) > 0.5 and float(fit.group(4)) > float(fit.group(2)), text
# Mixed cell sizes: one line per atom count with that group's RMSE and share within 2 std
# (2-atom errors 3 and 5 meV/atom, std 2: RMSE 4.123, 50 %; 8-atom 30 meV/atom, std 20: 100 %).
recs = [{"atoms": n, "energy": 1e-3 * e, "energy_dft": 0.0, "energy_std": 1e-3 * s}
        for n, e, s in ((2, 3.0, 2.0), (2, -5.0, 2.0), (8, 30.0, 20.0))]
json.dump({"committee_alpha": 1.0, "valid": {"structures": recs}}, open(os.path.join(out, "sizes.report.json"), "w"))
text = run([PY, os.path.join(ROOT, "tools", "parity"), os.path.join(out, "sizes.report.json"), "-o", out]).stdout
assert "size valid 2 atoms: 2 structures, energy RMSE 4.123 meV/atom, 50 % within 2 std" in text, text
assert "size valid 8 atoms: 1 structures, energy RMSE 30 meV/atom, 100 % within 2 std" in text, text
# Committee-size scan (--members): three members whose per-atom energies on structure j = 1 … 5 are
# j + j·(−1, 0, +1) meV/atom, DFT 0: every committee's std and |mean| grow with j (Spearman 1); the
# mean's RMSE is sqrt(11) = 3.317 meV/atom for all three, and over the pairs j/2, j, 3j/2 (median sqrt(11));
# the medians 1, 1 extrapolate to 1 for an unlimited committee.


def frames(per_atom_mev):
    """FeAl cells whose energy per atom is per_atom_mev(j) meV for j = 1 … 5, forces zero."""
    res = []
    for j in range(1, 6):
        a = Atoms("FeAl", positions=[[0, 0, 0], [1.4, 1.4, 1.4]], cell=[2.8] * 3, pbc=True)
        a.calc = SinglePointCalculator(a, energy=2e-3 * per_atom_mev(j), forces=np.zeros((2, 3)))
        res.append(a)
    return res


members = [os.path.join(out, f"member{i}.xyz") for i in range(3)]
for path, shift in zip(members, (-1, 0, 1)):
    write(path, frames(lambda j: j + j * shift))
reference = os.path.join(out, "dft.xyz")
write(reference, frames(lambda j: 0.0))
text = run([PY, os.path.join(ROOT, "tools", "parity"), "--eval", members[1], "--reference", reference, "-o", out,
            "--members", *members]).stdout
assert ("committee size 2 of 3: Spearman(std, |error|) median 1.00, 10-90 % 1.00-1.00 over 3 subsets; "
        "energy RMSE of the mean 3.317 meV/atom (median)") in text, text
assert "committee size 3 of 3: Spearman(std, |error|) median 1.00, 10-90 % 1.00-1.00 over 1 subsets; energy RMSE of the mean 3.317" in text, text
assert "unlimited committee of such members: Spearman(std, |error|) about 1.00" in text, text
# The extrapolation itself: medians 0.5 − 0.2/(k−1) for k = 2 … 8 lie on its line, intercept 0.5.
loader = importlib.machinery.SourceFileLoader("parity", os.path.join(ROOT, "tools", "parity"))
parity = types.ModuleType(loader.name)
loader.exec_module(parity)
rows = [(k, 1, 0.5 - 0.2 / (k - 1), 0.0, 1.0, 0.0) for k in range(2, 9)]
assert abs(parity.unlimited_committee(rows) - 0.5) < 1e-12, parity.unlimited_committee(rows)
# Force and dE/dm components within 2 std: every error 1 (eV/Å, eV/μB), std 1 on the first atom and 0.4
# on the second: half within, 30 force and 10 dE/dm components.
with_std = frames(lambda j: j)
for a in with_std:
    a.calc.results["forces"] = np.ones((2, 3))
    a.new_array("forces_std", np.array([[1.0] * 3, [0.4] * 3]))
    a.new_array("dE_dm", np.ones(2))
    a.new_array("dE_dm_std", np.array([1.0, 0.4]))
write(os.path.join(out, "with_std.xyz"), with_std)
labelled = frames(lambda j: 0.0)
for a in labelled:
    a.new_array("dE_dm", np.zeros(2))
write(os.path.join(out, "labelled.xyz"), labelled)
text = run([PY, os.path.join(ROOT, "tools", "parity"), "--eval", os.path.join(out, "with_std.xyz"),
            "--reference", os.path.join(out, "labelled.xyz"), "-o", out]).stdout
assert "calibration eval forces: 50 % of |error| within 2 std over 30 components" in text, text
assert "calibration eval dE_dm: 50 % of |error| within 2 std over 10 components" in text, text
r = run([PY, os.path.join(ROOT, "tools", "parity"), "--eval", members[1], "--reference", reference, "--members", members[0]],
        expect_rc=2)
assert "--members needs at least 2 files" in r.stderr, r.stderr
write(os.path.join(out, "short.xyz"), frames(lambda j: j)[:4])
r = run([PY, os.path.join(ROOT, "tools", "parity"), "--eval", members[1], "--reference", reference, "-o", out,
         "--members", members[0], os.path.join(out, "short.xyz")], expect_rc=1)
assert r.stderr.startswith("parity: ") and "short.xyz: 4 structures, the reference has 5" in r.stderr, r.stderr
r = run([PY, os.path.join(ROOT, "tools", "parity"), os.path.join(out, "missing.json")], expect_rc=1)
assert r.stderr.startswith("parity: ") and "missing.json" in r.stderr, r.stderr

# 3. tools/abinit-cdft: inputs are a pure function of the arguments; ABINIT's rules hold.
tool = os.path.join(ROOT, "tools", "abinit-cdft")
a, b = tmpdir(), tmpdir()
run([PY, tool, "--out", a, "--count", "6", "--seed", "3", "--dry-run"])
run([PY, tool, "--out", b, "--count", "6", "--seed", "3", "--dry-run"])
names = sorted(os.listdir(a))
assert len(names) == 6 and names == sorted(os.listdir(b)), names
zval = {"1": 16, "2": 3}
for n in names:
    text = open(os.path.join(a, n, n + ".abi")).read()
    assert text == open(os.path.join(b, n, n + ".abi")).read(), n
    natom = int(re.search(r"^natom (\d+)", text, re.M).group(1))
    spinat = re.findall(r"0\.0 0\.0 (-?[.0-9]+)", text)
    typat = re.search(r"^typat (.*)$", text, re.M).group(1).split()
    assert len(spinat) == natom == len(typat), n
    assert "constraint_kind" in text and "magcon_lambda 2.000" in text and "iscf 7" in text, n
    for t, mom in zip(typat, spinat):
        assert abs(float(mom)) <= (3.0 if zval[t] == 16 else 0.1), (n, mom)
    nel = sum(zval[t] for t in typat)
    need = -(-(nel + sum(abs(float(x)) for x in spinat)) // 2)
    assert int(re.search(r"^nband (\d+)", text, re.M).group(1)) >= need + 4, n

# --k-length sets the k-grid rule: 23 Å doubles the 4x4x4 grid of the 2-atom E(V) cells and
# changes nothing else; --label takes its k-point density from the template instead.
k1, k2 = tmpdir(), tmpdir()
run([PY, tool, "--out", k1, "--eos", "b2", "--dry-run"])
run([PY, tool, "--out", k2, "--eos", "b2", "--dry-run", "--k-length", "23"])
for n in sorted(os.listdir(k1)):
    t1, t2 = (open(os.path.join(k, n, n + ".abi")).read() for k in (k1, k2))
    assert "ngkpt 4 4 4" in t1 and t2 == t1.replace("ngkpt 4 4 4", "ngkpt 8 8 8"), n
r = run([PY, tool, "--out", k1, "--label", "x.xyz", "--template", "x.abi", "--k-length", "23"], expect_rc=2)
assert "--k-length" in r.stderr, r.stderr

# A real constrained-DFT run with Debian's abinit (CI installs it): targets met, dE/dm read,
# and a second call skips the finished run.
if shutil.which("abinit") and os.path.isdir("/usr/share/abinit/psp/Pseudodojo_paw_pbe_standard"):
    d = tmpdir()
    r = run([PY, tool, "--out", d, "--count", "1", "--seed", "5"], expect_rc=0)
    assert "converged" in r.stdout and "NOT" not in r.stdout, r.stdout
    r = run([PY, tool, "--out", d, "--count", "1", "--seed", "5"], expect_rc=0)
    assert open(os.path.join(d, "status.tsv")).read().count("\n") == 1, "the finished run was repeated"
    xyz = os.path.join(d, "data.xyz")
    abo = [os.path.join(d, n, n + ".abo") for n in sorted(os.listdir(d)) if os.path.isdir(os.path.join(d, n))]
    run([os.path.join(bindir, "tools", "mmtp-convert"), *abo, "--species", "Fe,Al", "-o", xyz])
    from ase.io import read
    atoms = read(xyz)
    targets = [float(x) for x in re.findall(r"0\.0 0\.0 (-?[.0-9]+)", open(abo[0][:-4] + ".abi").read())]
    assert max(abs(x - y) for x, y in zip(atoms.get_initial_magnetic_moments(), targets)) < 1e-6
    assert abs(atoms.arrays["dE_dm"]).max() > 0 and abs(atoms.get_forces()).max() > 0
    print("abinit run:", r.stdout.strip().splitlines()[-1])
else:
    print("abinit not installed: the real-run part was not exercised", file=sys.stderr)

# 4. kpoint_check.py on three archived held-out runs with --factor 1, so that the "dense" inputs
#    are the archived ones: two are put in place as finished runs (read, not rerun) and ABINIT
#    reruns the third. Every energy difference is then zero to ABINIT's SCF tolerance, and the
#    committee's errors against both labels agree.
check = os.path.join(EXAMPLE, "kpoint_check.py")
archive = os.path.join(EXAMPLE, "data", "abinit", "heldout-s20303.tar.xz")
names = ["b2-01", "b2-07", "b2-10"]
d = tmpdir()
with tarfile.open(archive) as tar:
    for m in tar.getmembers():
        if m.name.split("/")[1:2] in ([names[1]], [names[2]]) and m.name.endswith((".abi", ".abo")):
            tar.extract(m, d)
base = [PY, check, "--archive", archive, "--only", ",".join(names), "--out", d, "--factor", "1"]
r = run(base + ["--no-run"], expect_rc=1)
assert "2 completed pairs, need at least 3" in r.stderr and "running" not in r.stderr, r.stderr
if shutil.which("abinit") and os.path.isdir("/usr/share/abinit/psp/Pseudodojo_paw_pbe_standard"):
    ev = os.path.join(d, "heldout_eval.xyz")
    reference = os.path.join(EXAMPLE, "data", "heldout_cdft.xyz")
    members = sorted(f for f in os.listdir(os.path.join(EXAMPLE, "potential")) if f.endswith(".mtp"))
    run([args.driver, "eval", *sum((["-p", os.path.join(EXAMPLE, "potential", f)] for f in members), []), reference, "-o", ev])
    r = run(base + ["--eval", ev, "--reference", reference])
    assert r.stderr.count("running") == 1 and "running b2-01" in r.stderr, r.stderr
    shifts = [float(x) for x in re.findall(r"^\| s20303/b2-\d\d \| 2 \| [.0-9]+ \| (\S+) \|", r.stdout, re.M)]
    assert len(shifts) == 3 and max(abs(x) for x in shifts) < 0.01, r.stdout
    assert re.search(r"k-point error of the standard labels beyond the species shifts \(RMS of the last column\): 0\.00 meV/atom", r.stdout), r.stdout
    rmse = re.findall(r"against the (?:standard|dense) labels: +RMSE (\S+) meV/atom, Spearman\(std, \|error\|\) (\S+)", r.stdout)
    assert len(rmse) == 2 and rmse[0] == rmse[1], r.stdout
    r = run(base + ["--no-run"])
    assert "running" not in r.stderr and len(re.findall(r"^\| s20303/", r.stdout, re.M)) == 3, r.stderr

# 5. cdft_force_fd.py on a constructed label: `write` moves the atom and axis of the largest |force| by ±h
#    and keeps the target moments; `compare` on two "labelled runs" whose energies differ by −2h·F gives
#    F_fd = F (here 0.25 eV/Å, the reference's force 0.30) and the curvature from the two runs' forces; with
#    `--potential`, the members' numbers; it refuses two runs moved in two coordinates, and `write` a structure
#    without force labels.
fd_tool = os.path.join(EXAMPLE, "cdft_force_fd.py")
d = tmpdir()
label = Atoms("FeAl", positions=[[0, 0, 0], [1.4, 1.5, 1.36]], cell=[2.9, 2.9, 2.9], pbc=True, magmoms=[2.1, -0.05])
label.calc = SinglePointCalculator(label, energy=-10.0, forces=[[0.0, 0.02, -0.30], [0.0, -0.02, 0.30]])
write(os.path.join(d, "label.xyz"), label, format="extxyz")
r = run([PY, fd_tool, "write", os.path.join(d, "label.xyz"), "--h", "0.02", "-o", os.path.join(d, "fd.xyz")])
assert "atom 0 (Fe) moved by ±0.02 Å along z" in r.stdout, r.stdout
plus, minus = read(os.path.join(d, "fd.xyz"), index=":")
assert np.allclose(plus.positions[0] - minus.positions[0], [0, 0, 0.04]) and np.allclose(plus.positions[1], label.positions[1])
assert np.allclose(plus.get_initial_magnetic_moments(), [2.1, -0.05]), plus.arrays
for s, e, f in ((plus, -10.0 - 0.02 * 0.25, 0.24), (minus, -10.0 + 0.02 * 0.25, 0.26)):
    s.calc = SinglePointCalculator(s, energy=e, forces=[[0, 0, f], [0, 0, -f]])
write(os.path.join(d, "fd-labelled.xyz"), [plus, minus], format="extxyz")
r = run([PY, fd_tool, "compare", os.path.join(d, "fd-labelled.xyz"), "--reference", os.path.join(d, "label.xyz")])
assert ("atom 0 axis z, h = 0.02 Å: F_fd = +0.2500 eV/Å, mean of the two runs' forces +0.2500, curvature 0.5 eV/Å² "
        "(equilibrium +0.5000 Å away), reference label -0.3000") in r.stdout, r.stdout
# `--potential`: each member's force and curvature there (from its forces at ±h) equal the central differences of
# its energies from `mmtp-driver eval` (E₋, E₀, E₊) to O(h²). Where the build has no Python module (the
# sanitizer build), the one-line error that says so.
pymod = os.path.join(bindir, "python")
members = [os.path.join(EXAMPLE, "potential", f"feal.{k}.mtp") for k in (0, 1)]
compare = [PY, fd_tool, "compare", os.path.join(d, "fd-labelled.xyz"), "--potential"] + members
if os.path.isdir(os.path.join(pymod, "mmtp")):
    r = run(compare, env=dict(os.environ, PYTHONPATH=pymod))
    write(os.path.join(d, "three.xyz"), [plus, label, minus], format="extxyz")
    printed = re.findall(r"feal\.\d\.mtp: force ([-+.0-9]+) eV/Å, curvature ([-+.0-9e]+) eV/Å²", r.stdout)
    assert len(printed) == 2 and "committee of 2: force" in r.stdout, r.stdout
    for member, (f, k) in zip(members, printed):
        run([args.driver, "eval", "-p", member, os.path.join(d, "three.xyz"), "-o", os.path.join(d, "e.xyz")])
        ep, e0, em = (s.get_potential_energy() for s in read(os.path.join(d, "e.xyz"), index=":"))
        assert abs(float(f) + (ep - em) / 0.04) < 2e-3, (r.stdout, ep, em)
        assert abs(float(k) - (ep + em - 2 * e0) / 0.02 ** 2) < 0.02 * abs(float(k)), (r.stdout, ep, e0, em)
else:
    r = run(compare, expect_rc=1, env=dict(os.environ, PYTHONPATH=pymod))
    assert "--potential needs the mmtp module" in r.stderr, r.stderr
p2 = plus.get_positions()
p2[1, 0] += 0.01
plus.set_positions(p2)
write(os.path.join(d, "bad.xyz"), [plus, minus], format="extxyz")
r = run([PY, fd_tool, "compare", os.path.join(d, "bad.xyz")], expect_rc=1)
assert "must differ in one coordinate of one atom" in r.stderr, r.stderr
r = run([PY, fd_tool, "write", os.path.join(EXAMPLE, "b2_feal_2x2x2.xyz"), "-o", os.path.join(d, "none.xyz")], expect_rc=1)
assert "needs forces and initial_magmoms" in r.stderr and not os.path.exists(os.path.join(d, "none.xyz")), r.stderr
print("ok")
