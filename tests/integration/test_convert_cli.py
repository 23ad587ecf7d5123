"""mmtp-convert: ABINIT cDFT outputs → extxyz and cfg that ASE and mmtp read back with the same
labels; unconverged runs are reported and skipped."""
import os
import sys

import numpy as np
from ase.io import read

sys.path.insert(0, os.path.dirname(__file__))
from common import arguments, data, read_cfg, run, tmpdir  # noqa: E402


def main():
    args = arguments()
    convert = os.path.join(os.path.dirname(args.driver), "..", "tools", "mmtp-convert")
    d = tmpdir()
    files = [data(args, f"abinit/{n}.abo") for n in ("b2-00", "b2-ideal-m00", "fe4-211-05")]
    xyz, cfg = os.path.join(d, "feal.xyz"), os.path.join(d, "feal.cfg")
    r = run([convert, *files, "-o", xyz, "--species", "Fe,Al"])
    assert "fe4-211-05.abo: dataset 1: SCF did not converge" in r.stderr, r.stderr
    assert "wrote 2 structures" in r.stdout, r.stdout
    run([convert, xyz, "-o", cfg, "--species", "Fe,Al"])
    frames = read(xyz, index=":")
    c = read_cfg(cfg)
    assert len(frames) == 2 and len(c) == 2
    e = frames[0].get_potential_energy()
    assert abs(e - (-1.2655040721e02 * 27.21138602)) < 1e-9, e
    assert abs(c[0]["energy"] - e) < 1e-9
    assert np.allclose(frames[0].get_initial_magnetic_moments(), [-1.480463, -0.042015])
    assert np.allclose([a["en_der_mx"] for a in c[0]["atoms"]], frames[0].arrays["dE_dm"], rtol=0, atol=1e-12)
    r = run([convert, files[2], "-o", os.path.join(d, "none.xyz"), "--strict"], expect_rc=1)
    assert "dataset 1: SCF did not converge" in r.stderr, r.stderr
    print("convert_cli: ABINIT → extxyz → cfg round trip OK")


if __name__ == "__main__":
    main()
