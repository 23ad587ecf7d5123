"""mmtp-learn end to end with a known potential standing in for DFT (the toy magnetic FeAl mMTP
labels through `mmtp-driver eval`): two iterations of fit, explore, select and label lower the
error on a random held-out set; the state directory resumes; ABINIT inputs for external labels."""
import json
import os
import subprocess
import sys

import numpy as np
from ase.build import bulk
from ase.io import read, write

sys.path.insert(0, os.path.dirname(__file__))
from common import arguments, data, run, tmpdir  # noqa: E402


def random_cells(n, seed, truth, driver, d, name):
    """n distorted B2 FeAl / bcc Fe cells with random moments, labelled by the truth."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n):
        atoms = bulk("FeAl" if k % 3 else "Fe2", "cesiumchloride" if k % 3 else "bcc", a=2.86, cubic=True) \
            if k % 3 else bulk("Fe", "bcc", a=2.84, cubic=True)
        eps = rng.uniform(-0.03, 0.03, (3, 3))
        atoms.set_cell(atoms.cell.array @ (np.eye(3) + 0.5 * (eps + eps.T)), scale_atoms=True)
        atoms.positions += rng.uniform(-0.06, 0.06, atoms.positions.shape)
        atoms.set_initial_magnetic_moments([rng.uniform(0.5, 2.8) if s == "Fe" else rng.uniform(-0.1, 0.1)
                                            for s in atoms.get_chemical_symbols()])
        frames.append(atoms)
    raw, out = os.path.join(d, f"{name}_raw.xyz"), os.path.join(d, f"{name}.xyz")
    write(raw, frames, format="extxyz")
    run([driver, "eval", "-p", truth, raw, "-o", out])
    return out


def main():
    args = arguments()
    learn = os.path.join(os.path.dirname(args.driver), "..", "tools", "mmtp-learn")
    truth = data(args, "toy_feal_mag.mtp")
    d = tmpdir()
    train = random_cells(10, 1, truth, args.driver, d, "train")
    heldout = random_cells(20, 2, truth, args.driver, d, "heldout")
    b2 = bulk("FeAl", "cesiumchloride", a=2.95)
    b2.set_initial_magnetic_moments([1.5, 0.0])
    write(os.path.join(d, "b2.xyz"), b2, format="extxyz")
    config = os.path.join(d, "learn.ini")
    open(config, "w").write(f"""species = Fe,Al
train = train.xyz
heldout = heldout.xyz
level = 8
magnetic-basis-size = 2
radial-basis-size = 6
rmin = 1.9
rcut = 5.0
mmax = Fe=3,Al=0.1
ensemble = 3
bootstrap = false
max-iter = 300
refit-max-iter = 200
iterations = 2
valid-fraction = 0
[explore]
relax = b2.xyz none full
volume-scan = b2.xyz -0.06 0.06 5
moment-scan = b2.xyz Fe 0.2 2.8 5
relax-steps = 40
record-every = 4
[select]
energy-std = 0.0005
force-std = 0.01
dE-dm-std = 0.01
max = 6
min-distance = 0.01
[label]
mode = command
command = {args.driver} eval -p {truth} {{selected}} -o {{labelled}}
[report]
reference = b2.xyz 2.85 2.2 Fe
""")
    state = os.path.join(d, "state")
    r = run([learn, state, "--config", config, "--threads", "1"])
    assert "done: 2 iterations" in r.stdout, r.stdout + r.stderr
    report = json.load(open(os.path.join(state, "report.json")))
    assert [it["iteration"] for it in report] == [0, 1, 2]
    first, last = report[0]["heldout"], report[-1]["heldout"]
    assert report[-1]["structures"] > report[0]["structures"]
    assert last["energy_rmse_meV_per_atom"] < first["energy_rmse_meV_per_atom"], (first, last)
    assert last["dE_dm_rmse_eV_per_muB"] < first["dE_dm_rmse_eV_per_muB"], (first, last)
    assert last["force_rmse_eV_per_A"] < 1.1 * first["force_rmse_eV_per_A"], (first, last)
    assert report[0]["selected"] > 0 and "ground_states" in report[-1]
    cs = report[0]["candidate_std"]
    assert report[0]["candidates"] >= report[0]["selected"]
    assert cs["energy_max_meV_per_atom"] >= cs["energy_median_meV_per_atom"] >= 0, cs
    assert os.path.getsize(os.path.join(state, "report.png")) > 10000  # tools/learn-plot, after every iteration
    # The committee is usable: its files carry the calibration and the per-species ranges.
    pot = os.path.join(state, "potential", "pot.0.mtp")
    assert "moment_max=3,0.1" in open(pot).read() and "committee_alpha=" in open(pot).read()
    # Run again: everything is there, nothing is recomputed.
    r = run([learn, state, "--threads", "1"])
    assert "fitting" not in r.stdout and "labelling" not in r.stdout and "done: 2 iterations" in r.stdout, r.stdout
    # External labels: ABINIT inputs are written at a template's settings, and the loop waits.
    ext = os.path.join(d, "external.ini")
    text = open(config).read().replace("mode = command", f"mode = external\ntemplate = {data(args, 'abinit/b2-00.abi')}\npoll-seconds = 0")
    open(ext, "w").write(text.replace("iterations = 2", "iterations = 1"))
    r = run([learn, os.path.join(d, "ext"), "--config", ext, "--threads", "1"], expect_rc=3)
    inputs = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(d, "ext")) for f in fs if f.endswith(".abi")]
    assert inputs and "waiting" in r.stdout, r.stdout
    abi = open(inputs[0]).read()
    assert "constraint_kind" in abi and "ecut 15.0" in abi and "spinat" in abi, abi
    print(f"learn_cli: held-out E {first['energy_rmse_meV_per_atom']:.2f} -> {last['energy_rmse_meV_per_atom']:.2f} meV/atom, "
          f"dE/dm {first['dE_dm_rmse_eV_per_muB']:.3f} -> {last['dE_dm_rmse_eV_per_muB']:.3f} eV/μB over "
          f"{report[0]['structures']} -> {report[-1]['structures']} structures; resume and external labels OK")


if __name__ == "__main__":
    main()
