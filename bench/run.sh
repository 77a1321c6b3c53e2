#!/usr/bin/env bash
# Runs every benchmark on a Release build and prints their figures. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BENCH_BUILD:-build-release}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc)" >/dev/null
for b in "$BUILD"/bin/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b"
done
for py in bench/*.py; do
  [ -f "$py" ] || continue
  echo "== $(basename "$py")"
  OCELOT_BUILD_DIR="$PWD/$BUILD" PYTHONPATH="$PWD/tools/stack" python3 "$py"
done
