#!/usr/bin/python3
"""Writes the fuzz seed corpus (tests/fuzz/corpus/TARGET/) from the project's test data.

Usage: tests/fuzz/make_corpus.py   (run from anywhere; rewrites the corpus deterministically)

- mtp, cfg, extxyz: small files of tests/data and examples/feal, copied as they are.
- abinit: the ABINIT outputs of tests/data/abinit cut to the lines the reader looks at (the
  version line, DATASET headers, SCF warnings, sphere-moment tables, the final outvars block),
  so that mutations reach the parser quickly. Each cut file still reads as a labelled sample.
- ipi: byte streams a server could send (shared/docs/ipi-protocol.md): i-PI's and ASE's
  handshakes, POSDATA + GETFORCE for the fuzz template's 2 atoms, fused POSDATA, EXIT.
"""
import pathlib
import shutil
import struct

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = ROOT / "tests" / "data"


def put(target, name, data):
    d = HERE / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def copy_files():
    for name in ["rand08_2sp.mtp", "toy_feal_mag.mtp", "template_06.almtp", "template_08.almtp", "template_12.almtp"]:
        put("mtp", name, (DATA / name).read_bytes())
    for name in ["bcc_prim1.cfg", "bcc_prim1_mag.cfg", "tric4_2sp_mag.cfg", "set_mag.cfg"]:
        put("cfg", name, (DATA / name).read_bytes())
    for name in ["b2_feal_2x2x2.xyz", "d03_fe3al.xyz"]:
        put("extxyz", name, (ROOT / "examples" / "feal" / name).read_bytes())
    # Labelled frames in ASE's own spelling: stress (Voigt and 9), forces, dE_dm, a cluster.
    put("extxyz", "labelled.xyz", b"""2
Lattice="2.9 0.0 0.0 0.1 2.8 0.0 0.0 0.2 3.0" Properties=species:S:1:pos:R:3:magmoms:R:1:forces:R:3:dE_dm:R:1 energy=-16.25 stress="0.01 0.02 0.03 0.004 0.005 0.006" pbc="T T T"
Fe 0.0 0.0 0.0 2.1 0.1 -0.2 0.3 0.05
Al 1.45 1.4 1.5 -0.1 -0.1 0.2 -0.3 0.0
3
Properties=species:S:1:pos:R:3:initial_magmoms:R:1:energies:R:1:fixed:L:1 energy=-3.5 virial="1 0 0 0 2 0 0 0 3" name=cluster pbc="F F F"
Fe 0.0 0.0 0.0 1.0 -1.0 T
Fe 2.4 0.0 0.0 -1.0 -1.2 F
H 0.0 1.8 0.3 0.0 -0.5 F
""")


def cut_abinit():
    keep_after = "-outvars: echo values of variables after computation"
    for src in sorted((DATA / "abinit").glob("*.abo")):
        lines = src.read_text().splitlines()
        out, in_outvars, sphere_rows = [], False, 0
        for line in lines:
            if keep_after in line:
                in_outvars = True
            if in_outvars:
                out.append(line)
                if line.startswith("================================================================================") and len(out) > 3:
                    in_outvars = False
                continue
            if sphere_rows:
                out.append(line)
                sphere_rows -= 1
            elif (line.startswith(".Version") or line.startswith("== DATASET") or line.startswith("== END DATASET")
                  or "was not enough SCF cycles" in line):
                out.append(line)
            elif "Atom    Radius    up_density   dn_density  Total(up+dn)  Diff(up-dn)" in line:
                out.append(line)
                sphere_rows = 8
        put("abinit", src.stem + ".abo", ("\n".join(out) + "\n").encode())


def header(name):
    return name.encode().ljust(12)


def ipi_streams():
    bohr = 0.52917721067  # Å per Bohr (CODATA 2014, the wire's unit)
    a = 2.88 / bohr
    cell = struct.pack("<9d", a, 0, 0, 0, a, 0, 0, 0, a)
    inverse = struct.pack("<9d", 1 / a, 0, 0, 0, 1 / a, 0, 0, 0, 1 / a)
    pos = struct.pack("<6d", 0.0, 0.0, 0.0, 0.5 * a, 0.52 * a, 0.49 * a)
    posdata = header("POSDATA") + cell + inverse + struct.pack("<i", 2) + pos
    init = lambda rid, s: header("INIT") + struct.pack("<ii", rid, len(s)) + s
    status, getforce, exit_ = header("STATUS"), header("GETFORCE"), header("EXIT")
    put("ipi", "ipi_session", status + init(0, b"<ipi-init/>") + status + posdata + status + getforce + status + exit_)
    put("ipi", "ase_session", status + init(0, b"\0") + status + posdata + status + getforce + status + posdata + getforce)
    put("ipi", "fused_posdata", status + init(3, b"") + posdata + getforce + init(1, b"x") + posdata + getforce + exit_)
    put("ipi", "truncated", status + init(0, b"") + posdata[:60])


if __name__ == "__main__":
    shutil.rmtree(HERE / "corpus", ignore_errors=True)
    copy_files()
    cut_abinit()
    ipi_streams()
