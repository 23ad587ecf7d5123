"""mmtp-driver serve against a misbehaving scripted server (issue 7): garbage and truncated
messages, hostile sizes, a server that stalls, SIGTERM during a long evaluation, connects
refused until late or for ever, a server that leaves while the driver answers. Each case
checks the exit code, the one-line message, that the driver ends promptly, and that it
sleeps (CPU time < wall time / 2) while it waits."""
import os
import signal
import socket
import struct
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import arguments, data, tmpdir  # noqa: E402
from fake_ipi import FakeIPI, header  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU time of a running process [s] (/proc/PID/stat fields 14 and 15)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def write_template(path, reps):
    """tric4_2sp_mag.cfg repeated reps×reps×reps times as a cfg; returns cell rows, positions."""
    cell = np.array([[3.1, 0.2, -0.1], [0.4, 2.9, 0.3], [-0.2, 0.5, 3.3]])
    base = np.array([[0.066, 0.033, 0.001], [1.798, 1.511, 0.191], [1.429, 0.44, 1.643], [0.149, 1.774, 1.709]])
    types, moments = [0, 1, 0, 1], [0.029124166425, -0.84004626482, 0.3042736312, -0.081524952344]
    shifts = np.array([[i, j, k] for i in range(reps) for j in range(reps) for k in range(reps)], float) @ cell
    pos = (shifts[:, None, :] + base[None, :, :]).reshape(-1, 3)
    big = cell * reps
    rows = [f"BEGIN_CFG\n Size\n {len(pos)}\n Supercell\n"]
    rows += [" " + " ".join(f"{x:.12f}" for x in r) + "\n" for r in big]
    rows.append(" AtomData: id type cartes_x cartes_y cartes_z magmom_x magmom_y magmom_z\n")
    for a, p in enumerate(pos):
        rows.append(f" {a + 1} {types[a % 4]} {p[0]:.12f} {p[1]:.12f} {p[2]:.12f} {moments[a % 4]:.12f} 0 0\n")
    rows.append("END_CFG\n")
    open(path, "w").write("".join(rows))
    return big, pos


class Case:
    """One driver against one scripted server on a fresh UNIX socket."""

    def __init__(self, d, extra, listen=True):
        self.sock = os.path.join(d, "faults.sock")
        self.server = FakeIPI(self.sock) if listen else None
        self.t0 = time.time()
        self.proc = subprocess.Popen([ARGS.driver, "serve", "--unix", self.sock, "--threads", "1", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if listen:
            self.server.accept()

    def finish(self, rc, message, within):
        """Waits for the exit; checks code, message and wall time since `self.t0`."""
        try:
            code = self.proc.wait(timeout=within + 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"driver still running {within + 30} s after the fault")
        wall = time.time() - self.t0
        err = self.proc.stderr.read()
        if self.server:
            self.server.close()
        assert code == rc, f"exit {code}, expected {rc}: {err}"
        assert message in err, f"'{message}' not in: {err}"
        lines = [l for l in err.splitlines() if not l.startswith("mmtp-driver: warning:")]
        assert len(lines) == 1, f"not one line: {err}"
        err = lines[0]
        assert wall < within, f"took {wall:.1f} s (limit {within} s)"
        return err, wall


def assert_sleeps(pid, seconds, what):
    """The driver uses < half a core while it waits `seconds`."""
    c0, t0 = cpu_seconds(pid), time.time()
    time.sleep(seconds)
    used, wall = cpu_seconds(pid) - c0, time.time() - t0
    assert used < 0.5 * wall, f"{what}: {used:.2f} s CPU in {wall:.2f} s"
    return used, wall


def report(name, behaviour):
    print(f"  {name}: {behaviour}")


def garbage(d, pot, tmpl, cell, pos):
    c = Case(d, ["-p", pot, "--structure", tmpl])
    c.server.send(bytes([0, 255, 7, 65, 66, 10, 13, 1, 2, 3, 4, 5]))
    err, wall = c.finish(1, "unknown message header", 5)
    report("garbage header", f"exit 1 after {wall:.2f} s: {err.strip()}")

    c = Case(d, ["-p", pot, "--structure", tmpl])
    c.server.send(b"STAT")
    c.server.conn.close()
    c.server.conn = None
    err, wall = c.finish(1, "connection closed inside a header (4 of 12 bytes read)", 5)
    report("disconnect inside a header", f"exit 1: {err.strip()}")

    c = Case(d, ["-p", pot, "--structure", tmpl])
    c.server.send(header("INIT") + struct.pack("ii", 0, 100) + b"abc")
    c.server.conn.close()
    c.server.conn = None
    err, wall = c.finish(1, "connection closed inside INIT", 5)
    report("disconnect inside INIT", f"exit 1: {err.strip()}")

    for n, msg in [(-5, "INIT string length -5 is out of range"), (1 << 30, "INIT string length 1073741824 is out of range")]:
        c = Case(d, ["-p", pot, "--structure", tmpl])
        c.server.send(header("INIT") + struct.pack("ii", 0, n))
        err, wall = c.finish(1, msg, 5)
    report("hostile INIT length", f"exit 1, nothing allocated: {err.strip()}")

    c = Case(d, ["-p", pot, "--structure", tmpl])
    c.server.init(0)
    c.server.send(header("POSDATA") + bytes(144) + struct.pack("i", 2**31 - 1))
    err, wall = c.finish(1, "POSDATA has 2147483647 atoms but the template has 4", 5)
    report("hostile atom count", f"exit 1, nothing allocated: {err.strip()}")

    c = Case(d, ["-p", pot, "--structure", tmpl])
    c.server.init(0)
    bad = np.array(pos, float)
    bad[1, 0] = np.nan
    c.server.send(c.server.posdata(cell, bad))
    err, wall = c.finish(1, "non-finite cell or position", 5)
    report("NaN position on the wire", f"exit 1: {err.strip()}")

    c = Case(d, ["-p", pot, "--structure", tmpl])
    c.server.init(0)
    # The server stops reading before it asks for the forces, so the reply can only fail
    # (on a UNIX socket the peer's writes get EPIPE at once); closing after GETFORCE instead
    # races the driver's reply and may turn the write error into a read error (ECONNRESET).
    c.server.send(c.server.posdata(cell, pos))
    c.server.conn.shutdown(socket.SHUT_RD)
    c.server.send(header("GETFORCE"))
    c.server.conn.close()
    c.server.conn = None
    err, wall = c.finish(1, "socket write failed", 5)
    report("server leaves before the reply", f"exit 1: {err.strip()}")


def stall(d, pot, tmpl, cell, pos):
    # No read timeout (default): the driver sleeps through a 3 s stall and then carries on.
    c = Case(d, ["-p", pot, "--structure", tmpl])
    assert c.server.status() == "NEEDINIT"
    used, wall = assert_sleeps(c.proc.pid, 3.0, "stalled server")
    c.server.init(0)
    e = c.server.compute(cell, pos)[0]
    assert np.isfinite(e)
    c.server.send(header("EXIT"))
    c.finish(0, "the server sent EXIT", 20)
    report("server stalls 3 s (no --read-timeout)", f"waits, {used:.3f} s CPU in {wall:.2f} s, then serves; exit 0")

    # --read-timeout 1: a stall inside a message or between messages ends the run.
    c = Case(d, ["-p", pot, "--structure", tmpl, "--read-timeout", "1"])
    assert c.server.status() == "NEEDINIT"
    c.t0 = time.time()
    err, wall = c.finish(1, "no data from the server for 1 s while waiting for a header (read timeout)", 3)
    report("server stalls past --read-timeout 1", f"exit 1 after {wall:.2f} s: {err.strip()}")
    c = Case(d, ["-p", pot, "--structure", tmpl, "--read-timeout", "1"])
    c.server.init(0)
    c.server.send(c.server.posdata(cell, pos)[:100])
    c.t0 = time.time()
    err, wall = c.finish(1, "while waiting for POSDATA", 3)
    report("stall inside POSDATA, --read-timeout 1", f"exit 1 after {wall:.2f} s")


def sigterm_during_evaluation(d, pot):
    big = os.path.join(d, "big.cfg")
    cell, pos = write_template(big, 16)  # 16384 atoms
    c = Case(d, ["-p", pot, "--structure", big])
    c.server.init(0)
    t = time.time()
    e0 = c.server.compute(cell, pos)[0]
    t_eval = time.time() - t
    # Second request: SIGTERM while it is being evaluated.
    c.server.send(c.server.posdata(cell, pos + 0.01) + header("GETFORCE"))
    time.sleep(min(0.3 * t_eval, 1.0))
    c.proc.send_signal(signal.SIGTERM)
    c.t0 = time.time()
    e1 = c.server.force_ready()[0]  # the request in progress is still answered
    assert np.isfinite(e1) and e1 != e0
    err, wall = c.finish(0, "stopped by a signal after 2 requests", t_eval + 5)
    report("SIGTERM during a long evaluation", f"{len(pos)} atoms, evaluation {t_eval:.2f} s: the request is answered, "
           f"exit 0 {wall:.2f} s after the signal")

    # A second signal leaves at once (128 + SIGTERM), even in the middle of an evaluation.
    c = Case(d, ["-p", pot, "--structure", big])
    c.server.init(0)
    c.server.send(c.server.posdata(cell, pos) + header("GETFORCE"))
    time.sleep(min(0.3 * t_eval, 1.0))
    c.proc.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    c.proc.send_signal(signal.SIGTERM)
    c.t0 = time.time()
    code = c.proc.wait(timeout=10)
    wall = time.time() - c.t0
    c.server.close()
    assert code == 128 + signal.SIGTERM, code
    assert wall < 1.0 + 0.3 * t_eval, wall
    report("second SIGTERM during an evaluation", f"exit {code} after {wall:.2f} s")


def late_server(d, pot, tmpl, cell, pos):
    c = Case(d, ["-p", pot, "--structure", tmpl, "--connect-timeout", "30"], listen=False)
    time.sleep(0.5)  # start-up
    used, wall = assert_sleeps(c.proc.pid, 3.0, "connect retries")
    c.server = FakeIPI(c.sock)
    c.server.accept()
    c.server.init(0)
    assert np.isfinite(c.server.compute(cell, pos)[0])
    c.server.send(header("EXIT"))
    c.finish(0, "the server sent EXIT", 30)
    report("connects refused for 3.5 s", f"retries every 0.2 s ({used:.3f} s CPU in {wall:.2f} s), then serves; exit 0")

    c = Case(d, ["-p", pot, "--structure", tmpl, "--connect-timeout", "1.5"], listen=False)
    err, wall = c.finish(1, "within 1.5 s", 5)
    report("connects refused for ever (--connect-timeout 1.5)", f"exit 1 after {wall:.2f} s: {err.strip()}")


def long_path(d, pot, tmpl):
    # LAMMPS overflows sockaddr_un with a long name; the driver refuses it before connecting.
    t0 = time.time()
    r = subprocess.run([ARGS.driver, "serve", "-p", pot, "--structure", tmpl, "--unix", "x" * 200], capture_output=True,
                       text=True, timeout=30)
    wall = time.time() - t0
    assert r.returncode == 1 and "has 209 bytes; the limit is 107" in r.stderr, r.stderr
    report("UNIX socket path of 209 bytes", f"exit 1 after {wall:.2f} s: {r.stderr.strip()}")


def main():
    global ARGS
    ARGS = arguments()
    d = tmpdir()
    pot = data(ARGS, "rand16_2sp_mag2.mtp")
    tmpl = os.path.join(d, "tmpl.cfg")
    cell, pos = write_template(tmpl, 1)
    print("serve_faults:")
    garbage(d, pot, tmpl, cell, pos)
    long_path(d, pot, tmpl)
    stall(d, pot, tmpl, cell, pos)
    late_server(d, pot, tmpl, cell, pos)
    sigterm_during_evaluation(d, pot)
    print("serve_faults: OK")


if __name__ == "__main__":
    main()
