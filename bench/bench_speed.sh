#!/usr/bin/env bash
# bench_speed.sh — issue 15's figures in one run, as ratios against baselines measured in the
# same run: the default job (ICT face pair + 2048² skin textures, 41 frames at 512², 4 samples,
# default outputs = frames + heatmaps), the same job with frames only and with --outputs all,
# the full head when one is given, and the PNG encoder against libpng + zlib level 1 on the
# default job's frames and a 2048² texture (bench_png).
#
# Usage: bench/bench_speed.sh            (from the repository root, after a Release build)
# env: MORPHD_DATA (../shared/data), BUILD (build), BENCH_REPEAT (5), BENCH_THREADS (2),
#      BENCH_HEAD_A / BENCH_HEAD_B: a full-head pair (e.g. the ICT head with its 12 materials) to
#      time with default outputs; skipped with a note when unset.
#      BENCH_BASE_MORPH: the morph binary of an earlier commit (e.g. the one issue 15 was measured
#      on, built in a worktree); its frames-only, default and --outputs all jobs run in the same
#      run and each of ours is printed as a ratio to its own, so "half the time" is measured on
#      one machine at one time.
# Prints a table; the raw JSON of each bench_default_job run is kept in $BENCH_OUT (a temp dir).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD:-$ROOT/build}"
DATA="${MORPHD_DATA:-$ROOT/../shared/data}"
REPEAT="${BENCH_REPEAT:-5}"
THREADS="${BENCH_THREADS:-2}"
OUT="${BENCH_OUT:-$(mktemp -d /tmp/bench_speed.XXXXXX)}"
for b in bench_default_job bench_png morph; do
  [ -x "$BUILD/$b" ] || { echo "bench: $BUILD/$b is not built (cmake --build build)" >&2; exit 1; }
done
[ -d "$DATA/faces/ict" ] || { echo "bench: no test data in $DATA (set MORPHD_DATA)" >&2; exit 1; }
command -v node >/dev/null || { echo "bench: needs node (apt-get install nodejs)" >&2; exit 1; }

job() { # name, outputs[, morph binary]
  "$BUILD/bench_default_job" --data "$DATA" --threads "$THREADS" --repeat "$REPEAT" \
    --out "$OUT/$1" --morph "${3:-$BUILD/morph}" --outputs "$2" > "$OUT/$1.json"
}
echo "bench_speed: $(nproc) cores, $REPEAT runs each, $THREADS threads, $(date -u +%FT%TZ)"
echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
BASE="${BENCH_BASE_MORPH:-}"
if [ -n "$BASE" ]; then
  [ -x "$BASE" ] || { echo "bench: BENCH_BASE_MORPH=$BASE is not executable" >&2; exit 1; }
  echo "baseline: $BASE"
fi
# Baseline and ours alternate job by job, so drift in the machine's load hits both alike.
for j in "frames frames" "default minimal" "all all"; do
  set -- $j
  [ -n "$BASE" ] && job "base_$1" "$2" "$BASE"
  job "$1" "$2"
done

head_wall=""
if [ -n "${BENCH_HEAD_A:-}" ] && [ -n "${BENCH_HEAD_B:-}" ]; then
  walls=()
  for i in $(seq "$REPEAT"); do
    rm -rf "$OUT/head"
    s=$(date +%s.%N)
    "$BUILD/morph" run "$BENCH_HEAD_A" "$BENCH_HEAD_B" -o "$OUT/head" -q --threads "$THREADS"
    e=$(date +%s.%N)
    walls+=("$(echo "$e - $s" | bc)")
  done
  head_wall=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
fi

"$BUILD/bench_png" --data "$DATA" --repeat "$REPEAT" > "$OUT/png.txt"

node - "$OUT" "$head_wall" "$BASE" <<'JS'
const fs = require('fs');
const [out, head, base] = process.argv.slice(2);
const wall = (n) => JSON.parse(fs.readFileSync(`${out}/${n}.json`, 'utf8')).results.at(-1).process_wall_s;
const f = wall('frames'), d = wall('default'), a = wall('all');
const row = (what, s, ratio) => console.log(`${what.padEnd(44)} ${s.toFixed(3).padStart(8)} s   ${ratio}`);
console.log('\njob (process wall, median)                     seconds   ratio');
row('frames only', f, '1.00 (baseline)');
row('default job (frames + heatmaps)', d, `${(d / f).toFixed(2)}x frames only`);
row('--outputs all', a, `${(a / d).toFixed(2)}x default, +${(a - d).toFixed(2)} s`);
if (base) {
  const bf = wall('base_frames'), bd = wall('base_default'), ba = wall('base_all');
  console.log(`\nbaseline ${base} (same run, same jobs):`);
  row('baseline frames only', bf, `ours ${(f / bf).toFixed(2)}x of it`);
  row('baseline default job', bd, `ours ${(d / bd).toFixed(2)}x of it`);
  row('baseline --outputs all', ba, `+${(ba - bd).toFixed(2)} s over its default; ours +${(a - d).toFixed(2)} s`);
}
if (head) row('full head, default outputs', Number(head), `${(Number(head) / d).toFixed(2)}x default`);
else console.log('full head: skipped (set BENCH_HEAD_A and BENCH_HEAD_B to a head pair)');
console.log('\nPNG encoder (bench_png, per image, one core):');
process.stdout.write(fs.readFileSync(`${out}/png.txt`, 'utf8'));
JS
echo "raw results: $OUT"
