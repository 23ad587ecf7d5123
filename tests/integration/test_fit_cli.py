"""mmtp-fit end to end on real ABINIT cDFT outputs (small and short): the ensemble files are
MLIP-3 potentials that mmtp-driver evaluates, the report has every member, --valid-seed fixes
the validation split across runs, bad input fails with a one-line error."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import arguments, data, run, tmpdir  # noqa: E402


def main():
    args = arguments()
    fit = os.path.join(os.path.dirname(args.driver), "..", "tools", "mmtp-fit")
    d = tmpdir()
    abo = [data(args, f"abinit/{n}.abo") for n in ("b2-00", "b2-ideal-m00", "fe4-211-05")]
    prefix = os.path.join(d, "feal")
    r = run([fit, *abo, "--species", "Fe,Al", "--level", "6", "--ensemble", "2", "--max-iter", "30", "-o", prefix,
             "--checkpoint-every", "10"])
    assert "fe4-211-05.abo: dataset 1: SCF did not converge" in r.stderr, r.stderr
    assert "training on 2 structures" in r.stdout, r.stdout
    report = json.load(open(prefix + ".report.json"))
    assert len(report["members"]) == 2 and report["species"] == ["Fe", "Al"]
    assert report["members"][0]["loss"] <= report["members"][0]["initial_loss"]
    assert report["train"]["mean"]["energy_rmse_meV_per_atom"] >= 0
    for k in range(2):
        pot = f"{prefix}.{k}.mtp"
        text = open(pot).read()
        assert "magnetic_basis_type = BChebyshev" in text and "mmtp:species=Fe,Al" in text
        assert os.path.exists(f"{prefix}.{k}.checkpoint.mtp")
    # The potentials evaluate the training structures (converted to extxyz).
    convert = os.path.join(os.path.dirname(fit), "mmtp-convert")
    xyz = os.path.join(d, "train.xyz")
    run([convert, abo[0], abo[1], "-o", xyz, "--species", "Fe,Al"])
    run([args.driver, "eval", "-p", f"{prefix}.0.mtp", "-p", f"{prefix}.1.mtp", xyz, "-o", os.path.join(d, "eval.xyz")])
    # Resume from the checkpoints.
    r = run([fit, *abo[:2], "--species", "Fe,Al", "--level", "6", "--ensemble", "2", "--max-iter", "5", "-o", prefix,
             "--checkpoint-every", "10", "--resume"])
    # Warm start: one trained member per member continues on the data; a count mismatch is refused.
    r = run([fit, *abo[:2], "--species", "Fe,Al", "--ensemble", "2", "--max-iter", "5", "-o", os.path.join(d, "warm"),
             "--template", f"{prefix}.0.mtp", f"{prefix}.1.mtp"])
    warm = json.load(open(os.path.join(d, "warm.report.json")))
    assert all(m["loss"] <= m["initial_loss"] for m in warm["members"]), warm["members"]
    r = run([fit, *abo[:2], "--species", "Fe,Al", "--ensemble", "3", "-o", os.path.join(d, "warm"),
             "--template", f"{prefix}.0.mtp", f"{prefix}.1.mtp"], expect_rc=1)
    assert "2 templates for 3 members" in r.stderr, r.stderr
    # --valid-seed: a member fitted alone with another --seed holds out the same structures as --seed 1
    # (and --seed 3 alone other ones), so members of separate runs share one validation split.
    heldout = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "feal", "data", "heldout_cdft.xyz")

    def held_out(*options):
        out = os.path.join(d, "split")
        run([fit, heldout, "--species", "Fe,Al", "--level", "4", "--ensemble", "1", "--max-iter", "1",
             "--valid-fraction", "0.3", "-o", out, *options])
        return sorted(v["source"] for v in json.load(open(out + ".report.json"))["valid"]["structures"])

    seed1 = held_out("--seed", "1")
    assert len(seed1) > 10 and held_out("--seed", "3", "--valid-seed", "1") == seed1
    assert held_out("--seed", "3") != seed1
    r = run([fit, *abo[:2], "--species", "Fe,Al", "--valid-seed", "-2", "-o", os.path.join(d, "bad")], expect_rc=1)
    assert "valid_seed -2 is not −1 or a seed" in r.stderr, r.stderr
    # Bad input.
    r = run([fit, abo[2], "--species", "Fe,Al", "-o", prefix], expect_rc=1)
    assert "empty training set" in r.stderr, r.stderr
    r = run([fit, os.path.join(d, "missing.abo"), "-o", prefix], expect_rc=1)
    assert "cannot open" in r.stderr, r.stderr
    r = run([fit, *abo[:2], "--template", data(args, "mlip3_trained.almtp"), "-o", prefix], expect_rc=1)
    assert "1 species, but the data has 2" in r.stderr, r.stderr
    r = run([fit, *abo[:2], "--species", "Fe,Al", "--weighting", "molecules", "-o", os.path.join(d, "bad")], expect_rc=1)
    assert "mmtp-fit: weighting 'molecules': expected per-structure or vibrations" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(d, "bad.0.mtp"))
    nan = os.path.join(d, "nan.xyz")
    open(nan, "w").write('1\nLattice="3 0 0 0 3 0 0 0 3" Properties=species:S:1:pos:R:3 energy=nan pbc="T T T"\nFe 0 0 0\n')
    r = run([fit, nan, "--species", "Fe", "-o", prefix], expect_rc=1)
    assert f"{nan}:2:" in r.stderr and "not a finite number" in r.stderr, r.stderr
    print("fit_cli: ensemble written, evaluated, resumed; bad input rejected")


if __name__ == "__main__":
    main()
