#!/usr/bin/env bash
# A fuzzing campaign with random seeds (issue 22; CI's short runs use fixed seeds instead):
#   bash tests/fuzz/campaign.sh BUILD_DIR SECONDS [TARGET ...]      (default: every target)
# fuzzes each target of a -DMMTP_FUZZ=ON build for SECONDS, one after the other, from the seed
# corpus and the kept regressions, and lists what it found. Work and findings go to
# BUILD_DIR/campaign/TARGET/ (corpus/, artifacts/crash-*, log). Exit code 1 if anything was found:
# minimise it (`fuzz_TARGET -minimize_crash=1 -runs=10000 FILE`), fix it, and keep it in
# tests/fuzz/regressions/TARGET/ under a name that says what it found.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1 seconds=$2
shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(ipi mtp cfg extxyz abinit)
found=0
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/fuzz_$t work=$build/campaign/$t
  [ -x "$bin" ] || { echo "campaign: $bin is missing (configure with -DMMTP_FUZZ=ON)" >&2; exit 2; }
  inputs=("$here/corpus/$t")
  [ -d "$here/regressions/$t" ] && inputs+=("$here/regressions/$t")
  mkdir -p "$work"
  bash "$here/run.sh" "$bin" "$seconds" "$work" "${inputs[@]}" >"$work/log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$')
  seed=$(grep -o 'Seed: [0-9]*' "$work/log" | head -1 | grep -o '[0-9]*$')
  artifacts=$(ls "$work/artifacts" 2>/dev/null | wc -l)
  echo "$t: seed ${seed:-?}, ${execs:-?} executions in ${seconds} s, exit $rc, $artifacts finding(s) in $work/artifacts"
  [ "$rc" -eq 0 ] && [ "$artifacts" -eq 0 ] || found=1
done
exit $found
