#!/usr/bin/python3
"""NVE molecular dynamics in ASE through `mmtp-driver serve` (i-PI protocol, UNIX socket).

    ase_md.py [--driver build/driver/mmtp-driver] [--structure STRUCTURE.xyz]
              [--potential feal.0.mtp ...] [--steps 50] [--dt 1.0] [--temperature 300]
              [--moments fixed|relax]

ASE's SocketIOCalculator is the server: it sends positions and the cell, the driver returns
energy [eV], forces [eV/Å] and the virial. The driver holds the collinear moments of the
structure file fixed (or relaxes them at every step with --moments relax), so with fixed moments
the dynamics conserves E_kin + E_symm. Prints one line per 10 steps and the drift of the total
energy per atom between the first and last step [meV/atom] and its largest excursion.
Exit code 0 on success; a driver failure or a closed socket raises (exit 1).
"""
import argparse
import glob
import os
import subprocess
import sys
import time

import numpy as np

from ase import units
from ase.calculators.socketio import SocketIOCalculator
from ase.io import read
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.md.verlet import VelocityVerlet

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run_md(driver_path, structure, potentials, steps, dt, temperature, moments, seed, verbose=True):
    """NVE MD of `steps` steps; returns (total energies [eV] per step, seconds in md.run, driver exit code)."""
    atoms = read(structure)
    sock = f"mmtp_md_{os.getpid()}_{moments}"  # both sides use /tmp/ipi_NAME
    cmd = [driver_path, "serve", "--unix", sock, "--structure", structure, "--moments", moments, "--threads", "1"]
    for p in potentials:
        cmd += ["-p", p]
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
    Stationary(atoms)
    n = len(atoms)
    totals = []
    with SocketIOCalculator(unixsocket=sock) as calc:
        # The server listens once the calculator exists; the driver retries until it can connect.
        driver = subprocess.Popen(cmd)
        try:
            atoms.calc = calc
            md = VelocityVerlet(atoms, timestep=dt * units.fs)

            def report():
                epot, ekin = atoms.get_potential_energy(), atoms.get_kinetic_energy()
                totals.append(epot + ekin)
                step = len(totals) - 1
                if verbose and (step % 10 == 0 or step == steps):
                    print(f"step {step:4d}  Epot {epot / n:.6f}  Ekin {ekin / n:.6f}  Etot {(epot + ekin) / n:.6f} eV/atom"
                          f"  T {ekin / (1.5 * units.kB * n):6.1f} K", flush=True)

            md.attach(report, interval=1)
            report()  # step 0 (the first force call) is outside the timing
            totals.pop()
            t0 = time.perf_counter()
            md.run(steps)
            seconds = time.perf_counter() - t0
        finally:
            calc.close()
            try:
                rc = driver.wait(timeout=10)
            except subprocess.TimeoutExpired:
                driver.kill()
                rc = -1
    return np.array(totals), seconds, rc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--driver", default=os.path.join(ROOT, "build", "driver", "mmtp-driver"))
    ap.add_argument("--structure", default=os.path.join(HERE, "b2_feal_2x2x2.xyz"))
    ap.add_argument("--potential", nargs="+", default=sorted(glob.glob(os.path.join(HERE, "potential", "feal.[0-9].mtp"))))
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--dt", type=float, default=1.0, help="time step [fs]")
    ap.add_argument("--temperature", type=float, default=300.0, help="initial temperature [K]")
    ap.add_argument("--moments", choices=["fixed", "relax"], default="fixed")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    if not a.potential:
        sys.exit("ase_md.py: no potential (examples/feal/potential/feal.*.mtp missing; pass --potential)")
    totals, _, rc = run_md(a.driver, a.structure, a.potential, a.steps, a.dt, a.temperature, a.moments, a.seed)
    n = len(read(a.structure))
    drift = (totals[-1] - totals[0]) / n * 1000
    excursion = (max(totals) - min(totals)) / n * 1000
    print(f"energy drift over {a.steps} steps of {a.dt} fs: {drift:+.4f} meV/atom (largest excursion {excursion:.4f} meV/atom); driver exit {rc}")
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
