"""mmtp-driver serve against a scripted i-PI server (the binary, end to end): committee JSON
extras, both message orders, per-call moment relaxation with the envelope theorem checked by
finite differences, and the endings (EXIT, SIGTERM, broken messages)."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import arguments, data, read_cfg, run, tmpdir  # noqa: E402
from fake_ipi import FakeIPI, header  # noqa: E402


def template(d):
    """tric4_2sp_mag.cfg as a template; returns (path, cell rows [Å], positions [Å], cfg dict)."""
    path = os.path.join(d, "tmpl.cfg")
    src = open(os.path.join(ARGS.data, "tric4_2sp_mag.cfg")).read()
    open(path, "w").write(src)
    lines = src.split("\n")
    i = [k for k, l in enumerate(lines) if l.strip() == "Supercell"][0]
    cell = np.array([[float(x) for x in lines[i + 1 + r].split()] for r in range(3)])
    atoms = [l.split() for l in lines[i + 5:i + 9]]
    pos = np.array([[float(x) for x in a[2:5]] for a in atoms])
    return path, cell, pos


def start(args, d, extra):
    sock = os.path.join(d, "ipi.sock")
    server = FakeIPI(sock)
    proc = subprocess.Popen([args.driver, "serve", "--unix", sock, *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    server.accept()
    return server, proc


def finish(server, proc, rc=0):
    code = proc.wait(timeout=30)
    err = proc.stderr.read()
    server.close()
    assert code == rc, f"driver exit {code}, expected {rc}: {err}"
    return err


def committee(args, d):
    tmpl, cell, pos = template(d)
    a, b = data(args, "rand16_2sp_mag2.mtp"), data(args, "rand12_2sp_mag2_R8.mtp")
    server, proc = start(args, d, ["-p", a, "-p", b, "--structure", tmpl, "--max-std", "1e-9"])
    assert server.status() == "NEEDINIT"
    server.init(0)
    assert server.status() == "READY"
    e, f, w, extras = server.compute(cell, pos, fused=False)
    e2, f2, w2, extras2 = server.compute(cell, pos + 0.01, fused=True)
    server.send(header("EXIT"))
    err = finish(server, proc)
    x = json.loads(extras)
    # Beyond --max-std: a warning per request and the cause in the extras.
    assert "committee std" in x["extrapolation"], x["extrapolation"]
    assert err.count("outside the trained region") == 2, err
    assert len(x["committee_pot"]) == 2 and len(x["committee_force"]) == 2 and len(x["committee_virial"]) == 2
    assert not {"raw", "pot", "force", "virial", "uncertainty"} & set(x)
    hartree, bohr = 27.21138602, 0.52917721067
    assert abs(np.mean(x["committee_pot"]) * hartree - e) <= 1e-12 * abs(e)
    assert np.allclose(np.mean(x["committee_force"], axis=0).reshape(-1, 3) * hartree / bohr, f, rtol=0, atol=1e-10)
    assert np.allclose(np.mean(x["committee_virial"], axis=0).reshape(3, 3) * hartree, w, rtol=0, atol=1e-9)
    assert len(x["magmom"]) == 4 and len(x["dE_dm"]) == 4
    # The socket values equal `mmtp-driver eval` of the same committee.
    out = os.path.join(d, "committee.cfg")
    run([args.driver, "eval", "-p", a, "-p", b, tmpl, "-o", out])
    ref = read_cfg(out)[0]
    assert abs(ref["energy"] - e) <= 1e-9 * abs(e), (ref["energy"], e)
    assert np.allclose(np.array(ref["virial"]), w, rtol=1e-9, atol=1e-9)


def relax(args, d):
    tmpl, cell, pos = template(d)
    pot = data(args, "rand16_2sp_mag2.mtp")
    server, proc = start(args, d, ["-p", pot, "--structure", tmpl, "--moments", "relax", "--mmax", "1e-6"])

    def call(p, rid=0):
        assert server.status() == "NEEDINIT"  # relax mode asks for the bead before every request
        server.init(rid)
        return server.compute(cell, p)

    e, f, w, extras = call(pos)
    x = json.loads(extras)
    # Converged on the gradient projected on the bounds |m| <= 3 μB (the potential's range):
    # free moments have dE/dm = 0, moments at a bound are pushed outwards.
    pushed = []
    for i, (m, g) in enumerate(zip(x["magmom"], np.array(x["dE_dm"]) * 27.21138602)):
        if abs(m) < 3 - 1e-9:
            assert abs(g) <= 1e-6, (x["magmom"], x["dE_dm"])
        else:
            assert g * np.sign(m) <= 0, (x["magmom"], x["dE_dm"])
            if abs(g) > 1e-6:
                pushed.append(i)
    # The atoms held at a bound by an outward force are listed (and said once on stderr).
    assert pushed and x["moments_pushed_out"] == pushed, (pushed, x)
    # Envelope theorem: forces of the moment-relaxed state are total derivatives.
    h = 1e-4
    for atom, axis in [(0, 0), (2, 1), (3, 2)]:
        dp = np.zeros_like(pos)
        dp[atom, axis] = h
        ep = call(pos + dp)[0]
        em = call(pos - dp)[0]
        fd = -(ep - em) / (2 * h)
        assert abs(fd - f[atom, axis]) <= 1e-5 * max(1.0, abs(fd)), (atom, axis, fd, f[atom, axis])
    e_other_bead = call(pos, rid=5)[0]
    assert abs(e_other_bead - e) <= 1e-6 * abs(e)
    server.send(header("EXIT"))
    err = finish(server, proc)
    assert err.count("end at the edge of their trained range, pushed outwards") == 1, err
    assert "moments ended at the edge of their trained range" in err, err


def unconverged(args, d):
    """A moment relaxation that cannot converge (one step, mmax 1e-12): one line per request and
    the outcome in the extras; with --exit-on-unconverged, exit 1 instead of an answer."""
    tmpl, cell, pos = template(d)
    pot = data(args, "rand16_2sp_mag2.mtp")
    opts = ["-p", pot, "--structure", tmpl, "--moments", "relax", "--mmax", "1e-12", "--max-steps", "1"]
    server, proc = start(args, d, opts)
    assert server.status() == "NEEDINIT"
    server.init(0)
    _, _, _, extras = server.compute(cell, pos)
    server.send(header("EXIT"))
    err = finish(server, proc)
    assert json.loads(extras)["moment_relaxation"] == "max_steps", extras
    assert "request 1: the moment relaxation did not converge (max_steps" in err, err
    server, proc = start(args, d, opts + ["--exit-on-unconverged"])
    assert server.status() == "NEEDINIT"
    server.init(0)
    server.send(server.posdata(cell, pos))
    try:  # the driver computes on POSDATA and may have exited already: no answer either way
        server.send(header("GETFORCE"))
    except (BrokenPipeError, ConnectionResetError):
        pass
    err = finish(server, proc, rc=1)
    assert "did not converge" in err and "exiting (--exit-on-unconverged) instead of answering" in err, err
    # A converging one says so in the extras.
    server, proc = start(args, d, ["-p", pot, "--structure", tmpl, "--moments", "relax"])
    assert server.status() == "NEEDINIT"
    server.init(0)
    _, _, _, extras = server.compute(cell, pos)
    server.send(header("EXIT"))
    finish(server, proc)
    assert json.loads(extras)["moment_relaxation"] == "converged", extras


def endings(args, d):
    tmpl, cell, pos = template(d)
    pot = data(args, "rand16_2sp_mag2.mtp")
    # SIGTERM while waiting: clean exit, promptly, without spinning.
    server, proc = start(args, d, ["-p", pot, "--structure", tmpl])
    assert server.status() == "NEEDINIT"
    t0 = time.time()
    time.sleep(2.0)  # the driver waits for a message: it must sleep, not spin
    proc.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = finish(server, proc, rc=0)
    assert wall < 5 and "stopped by a signal" in err, err
    # CPU of this driver alone (start-up included) stays well under half the wall time.
    assert usage.ru_utime + usage.ru_stime < 0.5 * wall, (usage, wall)
    # Unknown header: exit 1 with the header shown.
    server, proc = start(args, d, ["-p", pot, "--structure", tmpl])
    server.send(header("BOGUS"))
    err = finish(server, proc, rc=1)
    assert "unknown message header 'BOGUS'" in err, err
    # EOF inside a message: exit 1.
    server, proc = start(args, d, ["-p", pot, "--structure", tmpl])
    server.init(0)
    server.send(server.posdata(cell, pos)[:50])
    server.conn.close()
    server.conn = None
    err = finish(server, proc, rc=1)
    assert "connection closed inside POSDATA" in err, err
    # A nat that does not match the template: exit 1, nothing sent back.
    server, proc = start(args, d, ["-p", pot, "--structure", tmpl])
    server.init(0)
    server.send(server.posdata(cell, pos[:3]))
    err = finish(server, proc, rc=1)
    assert "3 atoms but the template has 4" in err, err


def main():
    global ARGS
    ARGS = arguments()
    d = tmpdir()
    committee(ARGS, d)
    relax(ARGS, d)
    unconverged(ARGS, d)
    endings(ARGS, d)
    print("serve_fake_ipi: committee JSON and --max-std, relaxed moments (envelope theorem), unconverged relaxations, endings OK")


if __name__ == "__main__":
    main()
