"""mmtp-driver serve against a real peer: ASE's SocketIOCalculator (Debian python3-ase 3.22) as
the i-PI server, over a UNIX socket and over TCP, on a triclinic FeAl cell with a magnetic
potential. Energies, forces and stress must agree with `mmtp-driver eval` on the same frames;
a short MD and a BFGS run must finish; the driver must exit 0 when ASE closes."""
import os
import socket
import subprocess
import sys
import time

import numpy as np
from ase import Atoms, units
from ase.calculators.socketio import SocketIOCalculator
from ase.io import read, write
from ase.md.verlet import VelocityVerlet
from ase.optimize import BFGS

sys.path.insert(0, os.path.dirname(__file__))
from common import arguments, data, run, tmpdir  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def feal_cell():
    rng = np.random.default_rng(11)
    cell = np.array([[5.8, 0.3, -0.2], [0.4, 5.6, 0.5], [-0.3, 0.2, 6.1]])
    frac = np.array([[i / 2, j / 2, k / 2] for i in range(2) for j in range(2) for k in range(2)])
    atoms = Atoms("FeAlFeAlAlFeAlFe", scaled_positions=frac + 0.015 * rng.standard_normal((8, 3)), cell=cell, pbc=True)
    atoms.set_initial_magnetic_moments([2.1, 0.1, -1.9, 0.2, -0.1, 2.0, 0.05, 1.8])
    return atoms


def serve_and_check(args, transport, d):
    atoms = feal_cell()
    template = os.path.join(d, "template.xyz")
    write(template, atoms, format="extxyz")
    atoms = read(template)  # exactly what the driver sees
    pot = data(args, "rand12_2sp_mag2_R8.mtp")
    cmd = [args.driver, "serve", "-p", pot, "--species", "Fe,Al", "--structure", template, "--connect-timeout", "30"]
    if transport == "unix":
        name = f"mmtp_test_{os.getpid()}"
        cmd += ["--unix", name]
        calc_args = {"unixsocket": name}
    else:
        port = free_port()
        cmd += ["--inet", f"localhost:{port}"]
        calc_args = {"port": port}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        calc = SocketIOCalculator(timeout=60, **calc_args)
        atoms.calc = calc
        frames, got = [], []
        rng = np.random.default_rng(3)
        for k in range(3):
            a = atoms.copy()
            a.set_initial_magnetic_moments(atoms.get_initial_magnetic_moments())
            a.positions += 0.05 * rng.standard_normal(a.positions.shape)
            if k == 2:  # far outside the cell: the driver applies periodic boundaries itself
                a.positions += 2 * a.cell[0] - 3 * a.cell[2]
            atoms.positions = a.positions
            got.append((atoms.get_potential_energy(), atoms.get_forces().copy(), atoms.get_stress(voigt=False).copy()))
            frames.append(atoms.copy())
        frames_file = os.path.join(d, f"frames_{transport}.xyz")
        for f in frames:
            f.set_initial_magnetic_moments(atoms.get_initial_magnetic_moments())
        write(frames_file, frames, format="extxyz")
        out = os.path.join(d, f"eval_{transport}.xyz")
        run([args.driver, "eval", "-p", pot, "--species", "Fe,Al", frames_file, "-o", out])
        for (e, f, s), ref in zip(got, read(out, index=":")):
            e_ref = ref.get_potential_energy()
            assert abs(e - e_ref) <= 1e-6 * max(1.0, abs(e_ref)), (transport, e, e_ref)
            f_ref = ref.get_forces()
            assert np.abs(f - f_ref).max() <= 1e-6 * max(1.0, np.abs(f_ref).max()), transport
            s_ref = ref.get_stress(voigt=False)
            assert np.abs(s - s_ref).max() <= 1e-6 * max(1.0, np.abs(s_ref).max()), (transport, s, s_ref)
        # A short MD and a BFGS run through the socket.
        atoms.set_momenta(np.zeros_like(atoms.positions))
        md = VelocityVerlet(atoms, 0.2 * units.fs)
        md.run(5)
        BFGS(atoms, logfile=None).run(fmax=1e-3, steps=5)
        calls = 3 + 5 + 5
        calc.close()
        rc = proc.wait(timeout=30)
        stderr = proc.stderr.read()
        assert rc == 0, f"driver exited {rc}: {stderr}"
        assert "closed the connection" in stderr, stderr
        return calls
    finally:
        if proc.poll() is None:
            proc.kill()


def main():
    args = arguments()
    d = tmpdir()
    t0 = time.time()
    for transport in ("unix", "tcp"):
        serve_and_check(args, transport, d)
    print(f"ase_socket: UNIX and TCP agree with eval; MD and BFGS ran; clean exits ({time.time() - t0:.1f} s)")


if __name__ == "__main__":
    main()
