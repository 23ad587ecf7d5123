#!/usr/bin/env bash
# LAMMPS with pair_style mmtp: 2000-atom B2 FeAl, minimise then NPT at 300 K with relaxed moments.
#   bash examples/feal/lammps/run.sh [RANKS] [NPT_STEPS]        (defaults: 2 ranks, 200 steps)
# Needs build/protocols/lammps/mmtp-lammps (bash tools/setup.sh builds it with liblammps-dev).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
ranks=${1:-2} steps=${2:-200}
lmp=$root/build/protocols/lammps/mmtp-lammps
[ -x "$lmp" ] || { echo "run.sh: $lmp is missing: bash tools/setup.sh builds it (liblammps-dev)" >&2; exit 1; }
work=${WORK:-$here/out}
mkdir -p "$work"
# 125 copies of the 16-atom B2 cell (a = 2.88 Å, displacements ≤ 0.05 Å, Fe moments 2.0 ± 0.1 μB).
/usr/bin/python3 "$root/tools/lammps-data" "$root/examples/feal/b2_feal_2x2x2.xyz" "$work/feal.data" --species Fe,Al --repeat 5,5,5
cd "$work"
export OMP_NUM_THREADS=1
mpirun --oversubscribe --allow-run-as-root -np "$ranks" "$lmp" -in "$here/in.feal" -var steps "$steps" \
  -var pot "$root/examples/feal/potential" -log log.lammps
echo "run.sh: log.lammps, minimized.dump and npt.dump are in $work"
