"""Output safety (issue 7): `mmtp-driver eval`, `mmtp-driver relax` and `mmtp-fit` are killed
(SIGKILL) at moments spread over their run; every output path then holds the old file or a
complete new one, never a partial one. A killed `mmtp-fit` resumes from its checkpoint, which
is complete and at most one checkpoint interval behind the last evaluation it reported."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import arguments, data, run, tmpdir  # noqa: E402

OLD = "old contents\n"


def xyz_frames(path):
    """Number of complete extxyz frames; raises on a partial file."""
    lines = open(path).read().split("\n")
    assert lines[-1] == "", f"{path}: no final newline"
    i, frames = 0, 0
    while i < len(lines) - 1:
        n = int(lines[i])
        assert len(lines) - 1 >= i + 2 + n, f"{path}: frame {frames} is cut"
        for atom in lines[i + 2:i + 2 + n]:
            assert len(atom.split()) >= 4, f"{path}: short atom line"
        i += 2 + n
        frames += 1
    return frames


def kill_times(cmd, t_total, count):
    """Runs `cmd` `count` times, each killed with SIGKILL after a delay spread over (0, t_total)."""
    for k in range(count):
        delay = t_total * (k + 0.5) / count
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        yield delay


def check_killed(cmd, outputs, complete, count=12):
    """Measures one undisturbed run, then kills `count` runs; each output must be OLD or pass
    `complete(path)`. Returns (run time, kills that left the old file, kills that left new)."""
    for path in outputs:
        open(path, "w").write(OLD)
    t = time.time()
    run(cmd)
    t_run = time.time() - t
    for path in outputs:
        complete(path)
    old = new = 0
    for path in outputs:
        open(path, "w").write(OLD)
    for _ in kill_times(cmd, 1.2 * t_run, count):
        for path in outputs:
            if open(path).read() == OLD:
                old += 1
            else:
                complete(path)
                new += 1
                open(path, "w").write(OLD)
    return t_run, old, new


def big_frames(path, frames, reps):
    """`frames` B2 Fe-Al supercells (reps³ × 2 atoms) with small random displacements."""
    rng = np.random.default_rng(7)
    a = 2.88
    out = []
    for f in range(frames):
        lines = []
        for i in range(reps):
            for j in range(reps):
                for k in range(reps):
                    for sp, off, m in (("Fe", 0.0, 2.0), ("Al", 0.5, 0.0)):
                        p = (np.array([i, j, k]) + off) * a + rng.normal(0, 0.03, 3)
                        lines.append(f"{sp} {p[0]:.6f} {p[1]:.6f} {p[2]:.6f} {m}")
        L = a * reps
        out.append(f"{len(lines)}\nLattice=\"{L} 0 0 0 {L} 0 0 0 {L}\" Properties=species:S:1:pos:R:3:initial_magmoms:R:1 "
                   f"pbc=\"T T T\"\n" + "\n".join(lines) + "\n")
    open(path, "w").write("".join(out))


def main():
    args = arguments()
    d = tmpdir()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    pot = os.path.join(root, "examples", "feal", "potential", "feal.0.mtp")
    fit = os.path.join(os.path.dirname(args.driver), "..", "tools", "mmtp-fit")

    inp = os.path.join(d, "frames.xyz")
    big_frames(inp, 40, 6)  # 40 frames of 432 atoms
    out = os.path.join(d, "eval.xyz")
    def all_frames(path):
        assert xyz_frames(path) == 40, path

    t_run, old, new = check_killed([args.driver, "eval", "-p", pot, inp, "-o", out, "--threads", "1"], [out], all_frames)
    print(f"  eval ({t_run:.2f} s): 12 kills, old file left {old}, complete new file {new}, partial 0")

    out = os.path.join(d, "relaxed.xyz")
    traj = os.path.join(d, "traj.xyz")
    b2 = os.path.join(root, "examples", "feal", "b2_feal_2x2x2.xyz")
    t_run, old, new = check_killed([args.driver, "relax", b2, "-p", pot, "--cell", "full", "--threads", "1", "-o", out,
                                    "--trajectory", traj], [out, traj], xyz_frames)
    print(f"  relax ({t_run:.2f} s): 12 kills, old files left {old}, complete new files {new}, partial 0")

    # mmtp-fit: killed after a few checkpoints, then resumed.
    abo = [data(args, f"abinit/{n}.abo") for n in ("b2-00", "b2-ideal-m00")]
    prefix = os.path.join(d, "fit")
    cmd = [fit, *abo, "--species", "Fe,Al", "--level", "8", "--ensemble", "1", "--max-iter", "100000", "--tol", "0",
           "--checkpoint-every", "5", "--threads", "1", "-o", prefix]
    open(prefix + ".0.mtp", "w").write(OLD)
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    reported = []
    while len(reported) < 4:  # the checkpoint lines of a batch run (stderr is not a terminal)
        line = p.stderr.readline()
        assert line, "mmtp-fit ended before its fourth checkpoint"
        if "checkpoint at evaluation" in line:
            reported.append(int(line.split("evaluation ")[1].split(",")[0]))
    time.sleep(0.37)
    p.send_signal(signal.SIGKILL)
    p.wait()
    reported += [int(l.split("evaluation ")[1].split(",")[0]) for l in p.stderr if "checkpoint at evaluation" in l]
    assert open(prefix + ".0.mtp").read() == OLD, "the killed fit replaced its final output"
    # On disk: the last checkpoint the run announced, or the next one (killed between writing
    # and announcing it). Evaluations after it, fewer than 5, are what the kill cost.
    state = json.load(open(prefix + ".0.checkpoint.json"))
    assert state["evaluations"] in (reported[-1], reported[-1] + 5), (state, reported[-1])
    # The checkpoint is a complete potential: it evaluates.
    run([args.driver, "eval", "-p", prefix + ".0.checkpoint.mtp", b2, "-o", os.path.join(d, "ck.xyz")])
    # Resume with no further iterations: the state is the checkpoint's, nothing older.
    r = run([*cmd[:cmd.index("--max-iter")], "--max-iter", "0", "--checkpoint-every", "5", "--threads", "1", "-o", prefix,
             "--resume"])
    assert f"resuming from {prefix}.0.checkpoint.mtp (evaluation {state['evaluations']})" in r.stderr, r.stderr
    report = json.load(open(prefix + ".report.json"))
    m = report["members"][0]
    assert m["evaluations"] == state["evaluations"], (m, state)
    assert m["loss"] <= state["loss"] * (1 + 1e-9), (m["loss"], state["loss"])
    # Resume with more iterations: it goes on from there.
    r = run([*cmd[:cmd.index("--max-iter")], "--max-iter", "20", "--checkpoint-every", "5", "--threads", "1", "-o", prefix,
             "--resume"])
    m2 = json.load(open(prefix + ".report.json"))["members"][0]
    assert m2["evaluations"] > state["evaluations"] and m2["loss"] <= m["loss"], (m2, m)
    print(f"  mmtp-fit: killed after reporting evaluation {reported[-1]}; checkpoint at evaluation "
          f"{state['evaluations']} (loss {state['loss']:.6e}); resumed: loss {m['loss']:.6e}, then {m2['loss']:.6e} "
          f"after {m2['evaluations']} evaluations")
    print("output_safety: OK")


if __name__ == "__main__":
    main()
