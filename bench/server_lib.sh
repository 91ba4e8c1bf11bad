# shellcheck shell=bash
# server_lib.sh — sourced by bench/bench_http.sh and bench/bench_end_to_end.sh: starts
# redis-server, `morphd api` and `morphd worker` on free ports in a private temp folder, the way
# tests/integration/harness.mjs does, and stops all of them on exit (trap).
#   MORPHD_BIN (default build/morphd), MORPH_BIN (build/morph), MORPHD_DATA (../shared/data),
#   BENCH_ENGINE (worker engine, default auto), BENCH_KEEP=1 keeps the temp folder.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MORPHD_BIN="${MORPHD_BIN:-$ROOT/build/morphd}"
MORPH_BIN="${MORPH_BIN:-$ROOT/build/morph}"
MORPHD_DATA="${MORPHD_DATA:-$ROOT/../shared/data}"
BENCH_ENGINE="${BENCH_ENGINE:-auto}"
BENCH_TMP="$(mktemp -d "${TMPDIR:-/tmp}/morphd-bench.XXXXXX")"
PIDS=()

bench_cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: kept $BENCH_TMP" >&2; else rm -rf "$BENCH_TMP"; fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

need() { command -v "$1" >/dev/null 2>&1 || { echo "bench: $1 is not installed ($2)" >&2; exit 1; }; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_redis → REDIS_URL
start_redis() {
  need redis-server "apt-get install redis-server"
  local port; port=$(free_port)
  mkdir -p "$BENCH_TMP/redis"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly yes --dir "$BENCH_TMP/redis" \
    >"$BENCH_TMP/redis.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    [ "$(redis-cli -p "$port" ping 2>/dev/null || true)" = PONG ] && break
    sleep 0.1
  done
  REDIS_URL="redis://127.0.0.1:$port"
}

# start_api [CPU] [--limit k=v ...] → API_PORT, API (base URL), API_PID. CPU pins it with taskset.
start_api() {
  local cpu="$1"; shift
  [ -x "$MORPHD_BIN" ] || { echo "bench: $MORPHD_BIN is not built" >&2; exit 1; }
  API_PORT=$(free_port)
  STORAGE="file://$BENCH_TMP/store"
  mkdir -p "$BENCH_TMP/store"
  local pin=()
  [ -n "$cpu" ] && pin=(taskset -c "$cpu")
  "${pin[@]}" "$MORPHD_BIN" api --listen "127.0.0.1:$API_PORT" --redis "$REDIS_URL" \
    --storage "$STORAGE" "$@" >"$BENCH_TMP/api.log" 2>&1 &
  API_PID=$!
  PIDS+=("$API_PID")
  API="http://127.0.0.1:$API_PORT"
  for _ in $(seq 200); do
    curl -fs "$API/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "bench: morphd api did not start; log:" >&2; tail -20 "$BENCH_TMP/api.log" >&2; exit 1
}

# start_worker NAME [CPU] [args...] → WORKER_PID
start_worker() {
  local name="$1" cpu="$2"; shift 2
  local pin=()
  [ -n "$cpu" ] && pin=(taskset -c "$cpu")
  "${pin[@]}" "$MORPHD_BIN" worker --redis "$REDIS_URL" --storage "$STORAGE" --name "$name" \
    --engine "$BENCH_ENGINE" "$@" >"$BENCH_TMP/worker-$name.log" 2>&1 &
  WORKER_PID=$!
  PIDS+=("$WORKER_PID")
}

wait_ready() {
  for _ in $(seq 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$API/readyz")" = 200 ] && return 0
    sleep 0.1
  done
  echo "bench: /readyz never 200" >&2; exit 1
}

# json_field FIELD < json   (dotted path, e.g. progress.frames_done)
json_field() {
  python3 -c 'import json,sys
v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[k]
print(v)' "$1"
}

# submit_job SOURCE TARGET [SOURCE_TEX TARGET_TEX] [SPEC] → job id on stdout
submit_job() {
  local args=(-F "source=@$1" -F "target=@$2")
  [ -n "${3:-}" ] && args+=(-F "source_texture=@$3")
  [ -n "${4:-}" ] && args+=(-F "target_texture=@$4")
  [ -n "${5:-}" ] && args+=(-F "spec=$5")
  curl -fsS "${args[@]}" "$API/jobs" | json_field id
}

job_status() { curl -fsS "$API/jobs/$1" | json_field status; }

# wait_jobs ID... — until every job is terminal; fails if one did not succeed.
wait_jobs() {
  local id st
  for id in "$@"; do
    while :; do
      st=$(job_status "$id")
      case "$st" in
        succeeded) break ;;
        failed|canceled) echo "bench: job $id $st" >&2; exit 1 ;;
      esac
      sleep 0.05
    done
  done
}

now() { date +%s.%N; }
