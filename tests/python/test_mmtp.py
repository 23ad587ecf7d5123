"""The Python package against the driver (pytest, run by CTest under /usr/bin/python3 with
PYTHONPATH=build/python): same numbers as `mmtp-driver eval` and `serve --moments relax`, ASE MD
conserves energy as through the socket, ASE's cell filter relaxes with the calculator, fits, errors."""
import glob
import os
import subprocess
import sys

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.socketio import SocketIOCalculator
from ase.constraints import UnitCellFilter
from ase.io import read, write
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.md.verlet import VelocityVerlet
from ase.optimize import BFGS

import mmtp
from mmtp.ase import MMTPCalculator

DRIVER = os.environ["MMTP_DRIVER"]
DATA = os.path.abspath(os.environ["MMTP_TEST_DATA_DIR"])
ROOT = os.path.dirname(os.path.dirname(DATA))
FEAL = sorted(glob.glob(os.path.join(ROOT, "examples", "feal", "potential", "feal.[0-9].mtp")))


def b2(rattle=0.03, seed=1):
    atoms = bulk("FeAl", "cesiumchloride", a=2.88).repeat(2)
    rng = np.random.default_rng(seed)
    atoms.positions += rng.uniform(-rattle, rattle, atoms.positions.shape)
    atoms.set_cell(atoms.cell.array @ (np.eye(3) + 0.01 * rng.standard_normal((3, 3))), scale_atoms=True)
    atoms.set_initial_magnetic_moments([1.0 + 0.1 * rng.random() if s == "Fe" else 0.02 for s in atoms.get_chemical_symbols()])
    return atoms


def test_evaluate_equals_driver_eval(tmp_path):
    src, out = tmp_path / "in.xyz", tmp_path / "out.xyz"
    write(src, b2(), format="extxyz")
    atoms = read(src)  # the numbers the driver reads
    subprocess.run([DRIVER, "eval", *[x for p in FEAL for x in ("-p", p)], str(src), "-o", str(out)], check=True,
                   capture_output=True)
    ref = read(out)
    r = mmtp.Potential(FEAL).evaluate(atoms)
    assert r["energy"] == pytest.approx(ref.get_potential_energy(), rel=1e-12)
    np.testing.assert_allclose(r["forces"], ref.get_forces(), rtol=1e-12, atol=1e-12 * np.abs(r["forces"]).max())
    np.testing.assert_allclose(r["stress"], ref.get_stress(), rtol=1e-12, atol=1e-12 * np.abs(r["stress"]).max())
    np.testing.assert_allclose(r["dE_dm"], ref.arrays["dE_dm"], rtol=1e-12, atol=1e-12 * np.abs(r["dE_dm"]).max())
    assert r["energy_std"] == pytest.approx(float(ref.info["energy_std"]), rel=1e-10)
    # That std is the α-scaled spread (α given: no floor) and the files' error floor in quadrature.
    pot = mmtp.Potential(FEAL)
    assert pot.committee_floor > 0
    spread = mmtp.Potential(FEAL, committee_alpha=pot.committee_alpha).evaluate(atoms)["energy_std"]
    assert r["energy_std"] == pytest.approx(np.hypot(spread, len(atoms) * pot.committee_floor), rel=1e-12)
    # The ASE calculator gives the same numbers.
    atoms.calc = MMTPCalculator(FEAL)
    assert atoms.get_potential_energy() == pytest.approx(ref.get_potential_energy(), rel=1e-12)
    np.testing.assert_allclose(atoms.get_stress(), ref.get_stress(), rtol=1e-12, atol=1e-14)
    assert atoms.get_potential_energies().sum() == pytest.approx(ref.get_potential_energy(), rel=1e-12)


def md(calc, steps=20):
    atoms = b2(rattle=0.0)
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(7))
    Stationary(atoms)
    atoms.calc = calc
    totals = []
    dyn = VelocityVerlet(atoms, timestep=1.0 * units.fs)
    dyn.attach(lambda: totals.append(atoms.get_total_energy() / len(atoms)), interval=1)
    dyn.run(steps)
    return np.array(totals)


def test_md_conserves_energy_as_through_the_socket(tmp_path):
    inproc = md(MMTPCalculator(FEAL))
    template = tmp_path / "t.xyz"
    write(template, b2(rattle=0.0), format="extxyz")
    name = f"pytest_{os.getpid()}"
    with SocketIOCalculator(unixsocket=name) as calc:
        driver = subprocess.Popen([DRIVER, "serve", "--unix", name, "--structure", str(template), "--threads", "1",
                                   *[x for p in FEAL for x in ("-p", p)]], stderr=subprocess.DEVNULL)
        socket = md(calc)
    driver.wait(timeout=30)
    assert abs(inproc[-1] - inproc[0]) < 5e-5 and np.ptp(inproc) < 1e-4  # eV/atom
    # ASE turns the socket's Hartree into eV with its own constant (1.6e-10 relative from ours):
    # compare the energies relative to their start.
    np.testing.assert_allclose(inproc - inproc[0], socket - socket[0], rtol=0, atol=1e-8)


def test_relaxed_moments_equal_serve(tmp_path):
    template = tmp_path / "t.xyz"
    write(template, b2(), format="extxyz")
    atoms = read(template)  # the moments serve starts from
    atoms.calc = MMTPCalculator(FEAL, moments="relax")
    e = atoms.get_potential_energy()
    f = atoms.get_forces()
    m = atoms.get_magnetic_moments()
    assert atoms.calc.results["extrapolation"] == "" or "committee" in atoms.calc.results["extrapolation"]
    name = f"pytest_r{os.getpid()}"
    socket_atoms = atoms.copy()
    with SocketIOCalculator(unixsocket=name) as calc:
        driver = subprocess.Popen([DRIVER, "serve", "--unix", name, "--structure", str(template), "--moments", "relax",
                                   "--threads", "1", *[x for p in FEAL for x in ("-p", p)]], stderr=subprocess.DEVNULL)
        socket_atoms.calc = calc
        es, fs = socket_atoms.get_potential_energy(), socket_atoms.get_forces()
    driver.wait(timeout=30)
    assert e == pytest.approx(es, rel=1e-9)  # ASE's Hartree and Bohr differ from ours by ~1e-10
    np.testing.assert_allclose(f, fs, atol=1e-6)  # moments converged to |dE/dm| <= 1e-4 from inputs 1e-10 apart
    assert np.abs(m).max() > 0.3  # the Fe moments stay magnetic
    # The atoms left on a range bound by an outward force are exactly those the report lists.
    # Converged (projected |dE/dm| <= 1e-4): a larger dE/dm only on a bound, outward if m·dE/dm < 0.
    # tric4_2sp_mag.cfg with rand16_2sp_mag2.mtp (the serve test's case) ends with moments on a bound.
    tric = Atoms("FeAlFeAl", cell=[[3.1, 0.2, -0.1], [0.4, 2.9, 0.3], [-0.2, 0.5, 3.3]], pbc=True,
                 positions=[[0.066, 0.033, 0.001], [1.798, 1.511, 0.191], [1.429, 0.44, 1.643], [0.149, 1.774, 1.709]],
                 magmoms=[0.029124166425, -0.84004626482, 0.3042736312, -0.081524952344])
    r = mmtp.Potential([os.path.join(DATA, "rand16_2sp_mag2.mtp")], species=["Fe", "Al"]).relax_moments(tric)
    pushed = [i for i, (mi, g) in enumerate(zip(r["magmoms"], r["dE_dm"])) if abs(g) > 1e-4 and mi * g < 0]
    assert pushed and r["moments_pushed_out"] == pushed, (r["magmoms"], r["dE_dm"], r["moments_pushed_out"])


def test_ase_cell_filter_relaxes_with_the_calculator():
    atoms = b2()
    atoms.calc = MMTPCalculator(FEAL)
    opt = BFGS(UnitCellFilter(atoms), logfile=None)
    assert opt.run(fmax=0.005, steps=300)
    assert np.abs(atoms.get_forces()).max() < 0.005
    assert np.abs(atoms.get_stress()).max() < 0.005


def test_relax_and_fit(tmp_path):
    relaxed, report = mmtp.relax(b2(), mmtp.Potential(FEAL), cell="full")
    assert report["status"] in ("converged", "extrapolation")
    assert abs(relaxed.get_volume() / b2().get_volume() - 1) < 0.1
    abo = [os.path.join(DATA, "abinit", f"{n}.abo") for n in ("b2-00", "b2-ideal-m00")]
    rep = mmtp.fit(abo, tmp_path / "fit", species=["Fe", "Al"], level=6, ensemble=2, max_iter=20, fit_mmax={"Al": 3.0})
    assert len(rep["members"]) == 2 and rep["train_structures"] == 2
    assert os.path.exists(tmp_path / "fit.0.mtp") and os.path.exists(tmp_path / "fit.report.json")
    assert mmtp.Potential([tmp_path / "fit.0.mtp", tmp_path / "fit.1.mtp"]).species == ["Fe", "Al"]
    assert mmtp.FIT_DEFAULTS["weighting"] == "per-structure" and mmtp.FIT_DEFAULTS["valid_seed"] == -1
    with pytest.raises(ValueError, match="valid_seed -2"):
        mmtp.fit(abo, tmp_path / "bad", species=["Fe", "Al"], level=6, ensemble=1, max_iter=1, valid_seed=-2)
    with pytest.raises(ValueError, match="weighting 'molecules'"):
        mmtp.fit(abo, tmp_path / "bad", species=["Fe", "Al"], level=6, ensemble=1, max_iter=1, weighting="molecules")
    assert not os.path.exists(tmp_path / "bad.0.mtp")


def test_errors_are_value_errors():
    pot = mmtp.Potential(FEAL)
    with pytest.raises(ValueError, match="species 'Ni' is not in the potential"):
        pot.evaluate(bulk("Ni", "fcc", a=3.5))
    with pytest.raises(ValueError, match="cannot open"):
        mmtp.Potential("/nonexistent/pot.mtp")
    with pytest.raises(ValueError, match="initial moments"):
        pot.relax_moments(bulk("Fe", "bcc", a=2.83))
    with pytest.raises(ValueError, match="moments 'spin'"):
        MMTPCalculator(FEAL, moments="spin")


def test_readme_example_runs():
    example = os.path.join(ROOT, "examples", "python_example.py")
    r = subprocess.run([sys.executable, example], capture_output=True, text=True, cwd=ROOT, env=os.environ)
    assert r.returncode == 0, r.stderr
    assert "relaxed: a =" in r.stdout, r.stdout
