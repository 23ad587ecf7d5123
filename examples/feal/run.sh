#!/usr/bin/env bash
# The FeAl demo (README's first command): installs dependencies if missing, builds mmtp, relaxes
# distorted B2 FeAl jointly (positions, cell and moments) with the shipped 8-member mMTP ensemble
# trained on ABINIT cDFT data, then runs 50 steps of NVE MD in ASE through `mmtp-driver serve`.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bash "$root/tools/setup.sh"
here="$root/examples/feal"
out="${TMPDIR:-/tmp}/mmtp_feal_demo"
mkdir -p "$out"
potentials=()
for f in "$here"/potential/feal.*.mtp; do potentials+=(-p "$f"); done

echo "== joint spin-lattice relaxation of B2 FeAl (16 atoms), $(( ${#potentials[@]} / 2 ))-member ensemble"
"$root/build/driver/mmtp-driver" relax "$here/b2_feal_2x2x2.xyz" "${potentials[@]}" --cell full \
    --threads 1 -o "$out/b2_feal_relaxed.xyz"
echo "== NVE molecular dynamics in ASE through the i-PI socket driver"
/usr/bin/python3 "$here/ase_md.py" --driver "$root/build/driver/mmtp-driver" --steps 50
echo "relaxed structure (extxyz, readable by ase.io.read): $out/b2_feal_relaxed.xyz"
