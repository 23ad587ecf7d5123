#!/usr/bin/env bash
# The FeAl demo: installs dependencies if missing, builds mmtp, and evaluates the symmetrized
# mMTP energy, forces, stress and magnetic forces dE/dm of a distorted B2 FeAl supercell.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bash "$root/tools/setup.sh"
here="$root/examples/feal"
out="${TMPDIR:-/tmp}/mmtp_b2_feal_eval.xyz"
"$root/build/driver/mmtp-driver" eval -p "$here/placeholder_random_feal.mtp" "$here/b2_feal_2x2x2.xyz" -o "$out"
echo "per-atom results (extxyz, readable by ase.io.read): $out"
