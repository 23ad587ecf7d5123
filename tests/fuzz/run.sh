#!/usr/bin/env bash
# Fuzzes one libFuzzer target for a bounded time: run.sh BINARY SECONDS WORKDIR INPUT_DIR...
# New inputs go to WORKDIR/corpus (the source tree is never written); a crash, leak, timeout
# or out-of-memory input is saved as WORKDIR/artifacts/crash-* (etc.) and fails the run.
# Limits: 10 s per input, 2 GiB of RSS, inputs up to 64 KiB.
set -euo pipefail
binary=$1 seconds=$2 work=$3
shift 3
mkdir -p "$work/corpus" "$work/artifacts"
exec "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" "$@"
