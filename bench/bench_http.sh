#!/usr/bin/env bash
# bench_http.sh — HTTP throughput of `morphd api` on loopback with wrk (Debian package wrk).
#   1. GET /jobs/{id}: wrk -t1 -c16 -d10s --latency, the api pinned to one core (taskset).
#      Wanted: >= 5,000 requests/s with p99 <= 5 ms.
#   2. POST /jobs with the ICT pair (a prebuilt multipart body sent by a wrk Lua script),
#      max_queued raised so nothing is refused for a full queue. Wanted: >= 50 jobs/s accepted.
# Usage: bench/bench_http.sh   (env: see bench/server_lib.sh; API_CPU=core for the api, default
# 0; BENCH_SECONDS=10). Results go in bench/RESULTS.md by hand.
source "$(dirname "$0")/server_lib.sh"
need wrk "apt-get install wrk"
need taskset "util-linux"
need curl "apt-get install curl"
API_CPU="${API_CPU:-0}"
NCPU=$(nproc)
OTHER_CPU=$(( NCPU > 1 ? (API_CPU + 1) % NCPU : API_CPU ))
SECONDS_RUN="${BENCH_SECONDS:-10}"

SRC="$MORPHD_DATA/faces/ict/ict_face_identity_A.obj"
DST="$MORPHD_DATA/faces/ict/ict_face_identity_B.obj"
[ -f "$SRC" ] || { echo "bench: no ICT pair under $MORPHD_DATA" >&2; exit 1; }

start_redis
start_api "$API_CPU" --limit max_queued=100000000
start_worker w1 "$OTHER_CPU"
wait_ready
ID=$(submit_job "$SRC" "$DST" "" "" '{"frames":2,"width":64,"height":64}')
wait_jobs "$ID"
# The worker is not part of what is measured: stop it so it takes no CPU during the runs.
kill -TERM "$WORKER_PID"; wait "$WORKER_PID" 2>/dev/null || true

echo "== GET /jobs/$ID (api on CPU $API_CPU, wrk on CPU $OTHER_CPU)"
taskset -c "$OTHER_CPU" wrk -t1 -c16 -d"${SECONDS_RUN}s" --latency "$API/jobs/$ID" | tee "$BENCH_TMP/get.txt"

# The POST body: the ICT pair and a small spec, built once.
BOUNDARY="morphdbench$$"
BODY="$BENCH_TMP/post-body.bin"
{
  printf -- '--%s\r\nContent-Disposition: form-data; name="spec"\r\n\r\n{"frames":2,"width":64,"height":64}\r\n' "$BOUNDARY"
  printf -- '--%s\r\nContent-Disposition: form-data; name="source"; filename="ict_face_identity_A.obj"\r\nContent-Type: application/octet-stream\r\n\r\n' "$BOUNDARY"
  cat "$SRC"
  printf -- '\r\n--%s\r\nContent-Disposition: form-data; name="target"; filename="ict_face_identity_B.obj"\r\nContent-Type: application/octet-stream\r\n\r\n' "$BOUNDARY"
  cat "$DST"
  printf -- '\r\n--%s--\r\n' "$BOUNDARY"
} >"$BODY"
cat >"$BENCH_TMP/post.lua" <<LUA
-- One prebuilt multipart body, POSTed over and over; counts 202s per thread.
local f = assert(io.open("$BODY", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "multipart/form-data; boundary=$BOUNDARY"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) accepted = 0; refused = 0 end
function response(status, headers, body)
  if status == 202 then accepted = accepted + 1 else refused = refused + 1 end
end
function done(summary, latency, requests)
  local a, r = 0, 0
  for _, t in ipairs(threads) do a = a + t:get("accepted"); r = r + t:get("refused") end
  io.write(string.format("accepted %d jobs (%.1f jobs/s), other answers %d\n",
                         a, a / (summary.duration / 1e6), r))
end
LUA
echo "== POST /jobs, ICT pair ($(stat -c %s "$BODY") bytes a request)"
taskset -c "$OTHER_CPU" wrk -t1 -c8 -d"${SECONDS_RUN}s" --latency -s "$BENCH_TMP/post.lua" "$API/jobs" \
  | tee "$BENCH_TMP/post.txt"

get_rps=$(awk '/^Requests\/sec/ {print $2}' "$BENCH_TMP/get.txt")
get_p99=$(awk '$1 == "99%" {print $2}' "$BENCH_TMP/get.txt")
post_jobs=$(sed -n 's/^accepted [0-9]* jobs (\([0-9.]*\) jobs\/s).*/\1/p' "$BENCH_TMP/post.txt")
echo
echo "summary: GET /jobs/{id} ${get_rps} req/s, p99 ${get_p99} (want >= 5000 req/s, p99 <= 5ms);" \
     "POST /jobs ICT pair ${post_jobs} jobs/s accepted (want >= 50)"
