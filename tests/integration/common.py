"""Helpers shared by the integration tests (standard library only)."""
import argparse
import os
import subprocess
import tempfile


def arguments():
    p = argparse.ArgumentParser()
    p.add_argument("--driver", required=True)
    p.add_argument("--data", required=True)
    return p.parse_args()


def run(cmd, expect_rc=0, env=None):
    """Runs a command (in `env`, default this process's); expect_rc=None accepts any exit code."""
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    if expect_rc is not None and r.returncode != expect_rc:
        raise AssertionError(f"{cmd}: exit {r.returncode}, expected {expect_rc}\n{r.stdout}\n{r.stderr}")
    return r


def read_cfg(path):
    """Minimal MLIP cfg reader: list of dicts with energy, virial (3x3), rows of AtomData."""
    out, lines, i = [], open(path).read().split("\n"), 0
    while i < len(lines):
        t = lines[i].strip()
        if t == "BEGIN_CFG":
            cur = {"atoms": []}
            out.append(cur)
        elif t.startswith("AtomData"):
            cols = t.split()[1:]
            n = cur["size"]
            cur["atoms"] = [dict(zip(cols, map(float, lines[i + 1 + a].split()))) for a in range(n)]
            i += n
        elif t == "Size":
            cur["size"] = int(lines[i + 1])
        elif t == "Energy":
            cur["energy"] = float(lines[i + 1])
        elif t.startswith("PlusStress"):
            xx, yy, zz, yz, xz, xy = map(float, lines[i + 1].split())
            cur["virial"] = [[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]]
        elif t.startswith("Feature"):
            f = t.split()
            cur[f[1]] = f[2] if len(f) > 2 else ""
        i += 1
    return out


def tmpdir():
    return tempfile.mkdtemp(prefix="mmtp_it_")


def assert_close(a, b, rel, what):
    scale = max(1.0, max(abs(x) for x in b))
    err = max(abs(x - y) for x, y in zip(a, b)) / scale
    if not err <= rel:
        raise AssertionError(f"{what}: relative error {err:.3e} > {rel:.1e}")


def data(args, name):
    return os.path.join(args.data, name)
