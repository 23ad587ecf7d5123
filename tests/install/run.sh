#!/usr/bin/env bash
# cmake --install of the build tree into a temporary prefix, then a separate project that uses
# find_package(mmtp) and links mmtp::core. Arguments: BUILD_DIR SOURCE_DIR DATA_DIR.
set -euo pipefail
build="$1" src="$2" data="$3"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -x "$tmp/prefix/bin/mmtp-driver" && test -x "$tmp/prefix/bin/mmtp-fit"
cmake -S "$src/tests/install" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tmp/consumer" >/dev/null
"$tmp/consumer/c" "$data/rand08_2sp.mtp"
