#!/usr/bin/env bash
# bench_end_to_end.sh — does cross-request batching pay? 32 default ICT jobs (skin textures,
# default spec) submitted together against one worker, versus the same job run alone (measured
# once, times 32). Prints both walls and the ratio (together / 32 x alone; below 1 is a win).
# Usage: bench/bench_end_to_end.sh   (env: see bench/server_lib.sh; BENCH_JOBS=32)
source "$(dirname "$0")/server_lib.sh"
need curl "apt-get install curl"
N="${BENCH_JOBS:-32}"
SRC="$MORPHD_DATA/faces/ict/ict_face_identity_A.obj"
DST="$MORPHD_DATA/faces/ict/ict_face_identity_B.obj"
TA="$MORPHD_DATA/textures/skin_A.png"
TB="$MORPHD_DATA/textures/skin_B.png"
for f in "$SRC" "$DST" "$TA" "$TB"; do [ -f "$f" ] || { echo "bench: $f is missing" >&2; exit 1; }; done

start_redis
start_api "" --limit max_queued=100000
start_worker w1 ""
wait_ready

# Warm-up (engine, caches), not measured.
wait_jobs "$(submit_job "$SRC" "$DST" "$TA" "$TB")"

t0=$(now)
wait_jobs "$(submit_job "$SRC" "$DST" "$TA" "$TB")"
t1=$(now)
alone=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')

ids=()
t0=$(now)
pids=()
for i in $(seq "$N"); do
  submit_job "$SRC" "$DST" "$TA" "$TB" >"$BENCH_TMP/id.$i" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for i in $(seq "$N"); do ids+=("$(cat "$BENCH_TMP/id.$i")"); done
wait_jobs "${ids[@]}"
t1=$(now)
together=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')

batches=$(curl -fsS "$API/metrics" | awk '/^morphd_batch_jobs_count/ {s += $2} END {print s + 0}')
awk -v a="$alone" -v n="$N" -v t="$together" -v b="$batches" 'BEGIN {
  printf "one job alone: %.3f s; %d x alone: %.3f s; %d submitted together: %.3f s\n", a, n, a * n, n, t
  printf "summary: ratio together / (%d x alone) = %.3f (below 1: batching wins); engine batches: %s\n", n, t / (a * n), b
}'
