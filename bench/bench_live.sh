#!/usr/bin/env bash
# bench_live.sh — latency of live frames, GET /faces/{a}/morph/{b}.png (issue 13, item 6): the
# ICT face pair with the 2048² skin textures as two faces of the library, 512x512, 4 samples,
# the CPU engine, warm (the pair loaded by a first request). Requests go one at a time over one
# keep-alive connection, each at another weight t, so every answer is a new render; latency is
# measured by the client from request to the last byte. Targets: p50 <= 30 ms, p99 <= 60 ms.
# Baseline in the same run: `morph run` of the same one frame (what a lab does without the
# server: a process that loads the pair and renders one frame), median of 5.
# Usage: bench/bench_live.sh   (env: see bench/server_lib.sh; BENCH_FRAMES=200 requests,
# BENCH_THREADS=N worker engine threads, default one per core). Results go in bench/RESULTS.md.
source "$(dirname "$0")/server_lib.sh"
need curl "apt-get install curl"
need python3 "apt-get install python3"
FRAMES="${BENCH_FRAMES:-200}"
ICT="$MORPHD_DATA/faces/ict"
TEX="$MORPHD_DATA/textures"
for f in "$ICT/ict_face_identity_A.obj" "$ICT/ict_face_identity_B.obj" "$TEX/skin_A.png" \
         "$TEX/skin_B.png"; do
  [ -f "$f" ] || { echo "bench: $f is missing (MORPHD_DATA=$MORPHD_DATA)" >&2; exit 1; }
done
[ -x "$MORPH_BIN" ] || { echo "bench: $MORPH_BIN is not built" >&2; exit 1; }
BENCH_ENGINE="${BENCH_ENGINE:-cpu}"
[ "$BENCH_ENGINE" = auto ] && BENCH_ENGINE=cpu
threads=()
[ -n "${BENCH_THREADS:-}" ] && threads=(--threads "$BENCH_THREADS")

start_redis
start_api ""
start_worker w1 "" "${threads[@]}"
wait_ready
face() { curl -fsS -F "mesh=@$1" -F "texture=@$2" "$API/faces" | json_field id; }
A=$(face "$ICT/ict_face_identity_A.obj" "$TEX/skin_A.png")
B=$(face "$ICT/ict_face_identity_B.obj" "$TEX/skin_B.png")
echo "faces: $A $B"

python3 - "$API_PORT" "$A" "$B" "$FRAMES" "$BENCH_TMP/live.png" <<'PY'
import http.client, statistics, sys, time
port, a, b, n, png = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
c = http.client.HTTPConnection("127.0.0.1", port)
def get(t):
    c.request("GET", f"/faces/{a}/morph/{b}.png?t={t:.4f}&size=512&samples=4")
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit(f"bench: t={t}: {r.status} {body[:300]!r}")
    return body
t0 = time.perf_counter(); body = get(0.5); cold = time.perf_counter() - t0
open(png, "wb").write(body)
for i in range(5):
    get(0.1 * i)  # warm-up
lat = []
for i in range(n):
    t = (i * 0.61803398875) % 1.0
    t0 = time.perf_counter(); get(t); lat.append(time.perf_counter() - t0)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(f"live: first request (pair loaded) {cold*1000:.1f} ms; {n} warm frames, {len(body)} B each: "
      f"p50 {q(0.5)*1000:.1f} ms, p90 {q(0.9)*1000:.1f} ms, p99 {q(0.99)*1000:.1f} ms, "
      f"max {lat[-1]*1000:.1f} ms, mean {statistics.mean(lat)*1000:.1f} ms")
open(png + ".p50", "w").write(f"{q(0.5)}\n")
PY

echo "== baseline: morph run of the same one frame (median of 5)"
runs=()
for i in 1 2 3 4 5; do
  s=$(date +%s.%N)
  "$MORPH_BIN" run "$ICT/ict_face_identity_A.obj" "$ICT/ict_face_identity_B.obj" \
    --source-texture "$TEX/skin_A.png" --target-texture "$TEX/skin_B.png" --weights 0.5 \
    --size 512x512 --samples 4 --outputs frames -o "$BENCH_TMP/run$i" "${threads[@]}" >/dev/null
  e=$(date +%s.%N)
  runs+=("$(python3 -c "print($e - $s)")")
done
python3 - "$BENCH_TMP/live.png.p50" "${runs[@]}" <<'PY'
import statistics, sys
p50 = float(open(sys.argv[1]).read())
runs = sorted(float(x) for x in sys.argv[2:])
med = statistics.median(runs)
print(f"morph run, one frame: median {med*1000:.0f} ms (runs {', '.join(f'{r*1000:.0f}' for r in runs)} ms)")
print(f"summary: live p50 {p50*1000:.1f} ms vs morph run {med*1000:.0f} ms: {med/p50:.1f}x faster")
PY
if [ "${BENCH_KEEP:-0}" = 1 ]; then cmp "$BENCH_TMP/live.png" "$BENCH_TMP"/run1/frames/*.png \
  && echo "the live frame at t=0.5 equals morph run's byte for byte"; fi
