#!/usr/bin/env bash
# soak.sh — the job server under 10 minutes of mixed load (submits, polls, artifact downloads,
# cancels, deletes, listings, bad requests), a worker killed with SIGKILL and started again
# every minute and Redis restarted once; then checks that every accepted job is terminal and
# none lost, that no answer was a 5xx other than 503, and that the api's RSS and fd count are
# flat (start and end printed, worker's too). bench/soak.mjs has the details; ctest runs the
# same for 60 s (label soak).
# Usage: bench/soak.sh [SECONDS]   (default 600; MORPHD_BUILD=build, MORPHD_DATA unused)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MORPHD_BUILD:-$root/build}
secs=${1:-600}
for b in morphd morph; do
    [ -x "$build/$b" ] || { echo "soak: $build/$b is missing (cmake --build build)" >&2; exit 2; }
done
command -v node >/dev/null || { echo "soak: node is not installed (deploy/install-deps.sh --test)" >&2; exit 2; }
[ -d "$root/tests/integration/node_modules" ] || sh "$root/tests/integration/npm_ci.sh"
export MORPHD_BIN="$build/morphd" MORPH_BIN="$build/morph" MORPHD_SOAK_S="$secs"
export MORPHD_TEST_DEADLINE_S=$((secs + 600))
export MORPHD_TEST_TMP="${MORPHD_TEST_TMP:-$build/test-tmp/soak}"
exec node "$root/tests/integration/launch.mjs" ../../bench/soak.mjs
