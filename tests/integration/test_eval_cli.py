"""mmtp-driver eval: MLIP-3 agreement through the command line, committees, error reporting."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import arguments, assert_close, data, read_cfg, run, tmpdir  # noqa: E402


def read_exact(path):
    cfgs = []
    for line in open(path):
        f = line.split()
        if line.startswith("# cfg"):
            cfgs.append({"atoms": []})
        elif f and f[0] == "energy":
            cfgs[-1]["energy"] = float(f[1])
        elif f and f[0].startswith("stress_virial_full"):
            cfgs[-1]["virial"] = [float(x) for x in f[2:]]
        elif f and not f[0].startswith(("#", "stress")):
            cfgs[-1]["atoms"].append([float(x) for x in f[2:]])
    return cfgs


def main():
    args = arguments()
    d = tmpdir()
    checked = 0
    for pot, cfg in [("rand16_2sp_mag2", "set_mag"), ("rand12_2sp_mag2_R8", "set_mag"), ("rand08_2sp", "set_nonmag")]:
        out = os.path.join(d, f"{pot}.cfg")
        run([args.driver, "eval", "-p", data(args, pot + ".mtp"), data(args, cfg + ".cfg"), "-o", out, "--raw"])
        for got, ref in zip(read_cfg(out), read_exact(data(args, f"{pot}__{cfg}.exact.txt"))):
            assert_close([got["energy"]], [ref["energy"]], 1e-10, f"{pot} energy")
            assert_close(sum(got["virial"], []), ref["virial"], 1e-10, f"{pot} virial")
            f_got = [a[k] for a in got["atoms"] for k in ("fx", "fy", "fz")]
            assert_close(f_got, [x for a in ref["atoms"] for x in a[:3]], 1e-10, f"{pot} forces")
            if len(ref["atoms"][0]) > 3:
                assert_close([a["en_der_mx"] for a in got["atoms"]], [a[3] for a in ref["atoms"]], 1e-10, f"{pot} dE/dm")
            checked += 1

    # Committee of two: the std is reported and the mean lies between the members.
    out = os.path.join(d, "committee.cfg")
    one = os.path.join(d, "one.cfg")
    two = os.path.join(d, "two.cfg")
    src = data(args, "tric4_2sp_mag.cfg")
    run([args.driver, "eval", "-p", data(args, "rand16_2sp_mag2.mtp"), "-p", data(args, "rand12_2sp_mag2_R8.mtp"), src, "-o", out])
    run([args.driver, "eval", "-p", data(args, "rand16_2sp_mag2.mtp"), src, "-o", one])
    run([args.driver, "eval", "-p", data(args, "rand12_2sp_mag2_R8.mtp"), src, "-o", two])
    e = [read_cfg(p)[0]["energy"] for p in (out, one, two)]
    assert_close([e[0]], [(e[1] + e[2]) / 2], 1e-12, "committee mean")
    std = float(read_cfg(out)[0]["energy_std"])
    assert_close([std], [abs(e[1] - e[2]) / 2], 1e-10, "committee std")
    # A committee std above --max-std [eV/atom] is announced on stderr (0 switches it off).
    r = run([args.driver, "eval", "-p", data(args, "rand16_2sp_mag2.mtp"), "-p", data(args, "rand12_2sp_mag2_R8.mtp"), src,
             "-o", out, "--max-std", str(0.5 * std / 4)])
    assert re.search(r"structure 1: outside the trained region: .*committee std [0-9.]+ eV/atom above max_std", r.stderr), r.stderr
    r = run([args.driver, "eval", "-p", data(args, "rand16_2sp_mag2.mtp"), "-p", data(args, "rand12_2sp_mag2_R8.mtp"), src,
             "-o", out, "--max-std", "0"])
    assert "committee std" not in r.stderr, r.stderr

    # Errors: one line "mmtp-driver: FILE:LINE: what", exit 1, no output file left behind.
    bad = os.path.join(d, "bad.mtp")
    with open(data(args, "rand08_2sp.mtp")) as f:
        text = f.read().replace("species_count = 2", "species_count = 2x")
    open(bad, "w").write(text)
    missing_out = os.path.join(d, "never.cfg")
    r = run([args.driver, "eval", "-p", bad, src, "-o", missing_out], expect_rc=1)
    assert re.fullmatch(rf"mmtp-driver: {re.escape(bad)}:4: species_count: '2x' is not an integer\n", r.stderr), r.stderr
    assert not os.path.exists(missing_out)
    r = run([args.driver, "eval", "-p", data(args, "rand08_2sp.mtp"), data(args, "set_mag.cfg"), "-o", os.path.join(d, "x.txt")], expect_rc=1)
    assert "unknown output format" in r.stderr, r.stderr
    r = run([args.driver, "eval", "-p", data(args, "template_08.almtp"), src, "-o", missing_out], expect_rc=1)
    assert "untrained template" in r.stderr, r.stderr
    run([args.driver, "frobnicate"], expect_rc=1)
    assert "--raw" in run([args.driver, "eval", "--help"]).stdout
    print(f"eval_cli: {checked} MLIP-3 reference configurations agree; committee and errors OK")


if __name__ == "__main__":
    main()
