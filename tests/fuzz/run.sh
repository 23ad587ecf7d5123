#!/usr/bin/env bash
# Fuzzes one libFuzzer target, in one of two modes:
#   run.sh BINARY SECONDS WORKDIR INPUT_DIR...              a campaign: random seed, SECONDS long
#   run.sh --seed S --runs N BINARY WORKDIR INPUT_DIR...    reproducible: seed S, N executions,
#                                                           from an empty WORKDIR/corpus (CI)
# New inputs go to WORKDIR/corpus (the source tree is never written); a crash, leak, timeout
# or out-of-memory input is saved as WORKDIR/artifacts/crash-* (etc.) and fails the run.
# Limits: 10 s per input, 2 GiB of RSS, inputs up to 64 KiB.
set -euo pipefail
limit=()
launch=()
if [ "${1:-}" = --seed ]; then
  [ "${3:-}" = --runs ] || { echo "run.sh: --seed S needs --runs N" >&2; exit 2; }
  limit=(-seed="$2" -runs="$4")
  shift 4
  binary=$1 work=$2
  shift 2
  rm -rf "$work/corpus"  # the same seed from the same start: the same inputs
  # Address-space randomisation off where the machine allows it: libFuzzer's comparison
  # dictionary records the values a target compares, pointers included.
  if setarch "$(uname -m)" -R true 2>/dev/null; then launch=(setarch "$(uname -m)" -R); fi
else
  binary=$1 seconds=$2 work=$3
  shift 3
  limit=(-max_total_time="$seconds")
fi
mkdir -p "$work/corpus" "$work/artifacts"
exec "${launch[@]}" "$binary" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" "$@"
