#!/usr/bin/env bash
# image_smoke.sh — ctest `image_smoke` (label image): the container images, built and run here.
#   image_smoke.sh SOURCE_DIR WORK_DIR
# 1. deploy/build-image.sh builds morphd:cpu in a private buildah store under WORK_DIR, from a
#    debian:12 base made with debootstrap.
# 2. In morphd:cpu: `morphd --version`, `morph --version`, no library missing, user 10001, a
#    HEALTHCHECK in the image config.
# 3. A smoke job: redis-server on this machine; the image's `morphd api` and `morphd worker`
#    (CPU engine), each in its own `buildah run` of one container (chroot isolation, so the
#    host's network and pids), sharing a storage folder; the image's own `morph` makes the
#    sample meshes, submits a 5-frame job, waits, fetches it; the frames are checked here (PNG,
#    count, manifest). The image's health check passes for both programs. Both stop on SIGTERM
#    with exit status 0.
# 4. The CPU image's containers and the store are removed, then the CUDA image's build stage is
#    built (morphd:cuda-build: Debian's CUDA toolkit, the CUDA engine compiled, the runtime
#    linked statically) and its morphd run (no GPU here: the CUDA engine must say so, not be
#    missing). vfs copies every layer whole, so the two never share the disk.
# Skips (77) when not root, without buildah/debootstrap/redis-server, or with less than 30 GiB
# free under WORK_DIR (the CUDA stage alone takes about 20). The store is removed at the end
# unless MORPHD_KEEP_IMAGES=1. MORPHD_IMAGE_CUDA_ARCHS overrides the CUDA archs.
set -euo pipefail
src=$(cd "$1" && pwd)
work=$2
skip() { echo "image_smoke: skipped: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, buildah's chroot isolation)"
for tool in buildah debootstrap redis-server curl; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed (deploy/install-deps.sh --test)"
done

rm -rf "$work"
mkdir -p "$work/store" "$work/data/store" "$work/client"
free_gib=$(df -P -BG "$work" | awk 'NR == 2 { sub("G", "", $4); print $4 }')
[ "$free_gib" -ge 30 ] || skip "needs 30 GiB free under $work (vfs copies image layers whole); $free_gib GiB free"
chown 10001 "$work/data/store" "$work/client"
store=$work/store
bh=(buildah --storage-driver vfs --root "$store" --runroot "$store/run")
run=("${bh[@]}" run --isolation chroot)
pids=()
ctr=""
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    [ -n "${redis_port:-}" ] && redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
    "${bh[@]}" rm --all >/dev/null 2>&1 || true
    [ "${MORPHD_KEEP_IMAGES:-0}" = 1 ] || rm -rf "$store"
}
trap cleanup EXIT
fail() { echo "image_smoke: FAILED: $*" >&2; exit 1; }
step() { echo "== $* ($(date +%T))"; }
expect_eq() { # what expected got
    [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

step "build morphd:cpu"
t0=$(date +%s)
"$src/deploy/build-image.sh" cpu --root "$store"
t1=$(date +%s)
echo "image_smoke: base + cpu image $((t1 - t0)) s"

step "morphd:cpu: versions, libraries, user, health check"
ctr=$("${bh[@]}" from --pull=never morphd:cpu)
"${run[@]}" "$ctr" -- morphd --version
"${run[@]}" "$ctr" -- morph --version
missing=$("${run[@]}" "$ctr" -- sh -c 'ldd /usr/local/bin/morphd /usr/local/bin/morph | grep "not found" || true')
expect_eq "libraries not found in the image" "" "$missing"
expect_eq "user in the image" "10001" "$("${run[@]}" "$ctr" -- id -u)"
hc=$("${bh[@]}" inspect --type image --format '{{.Docker.Config.Healthcheck.Test}}' morphd:cpu)
expect_eq "image HEALTHCHECK" "[CMD morphd-healthcheck]" "$hc"

step "smoke job: redis here, api and worker in the image"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
redis_port=$(port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --dir "$work" --logfile "$work/redis.log" >/dev/null
api_port=$(port)
vol=(-v "$work/data/store:/data/store")
"${run[@]}" "${vol[@]}" "$ctr" -- morphd worker --redis "redis://127.0.0.1:$redis_port" \
    --storage file:///data/store --engine cpu --name smoke-worker >"$work/worker.log" 2>&1 &
worker_run=$!
pids+=("$worker_run")
"${run[@]}" "${vol[@]}" "$ctr" -- morphd api --listen "127.0.0.1:$api_port" \
    --redis "redis://127.0.0.1:$redis_port" --storage file:///data/store >"$work/api.log" 2>&1 &
api_run=$!
pids+=("$api_run")
base="http://127.0.0.1:$api_port"
ready=""
for _ in $(seq 1 150); do
    ready=$(curl -sS --max-time 2 "$base/readyz" 2>/dev/null || true)
    case "$ready" in *'"status":"ready"'*) break ;; esac
    kill -0 "$api_run" 2>/dev/null || fail "the api exited: $(tail -5 "$work/api.log")"
    kill -0 "$worker_run" 2>/dev/null || fail "the worker exited: $(tail -5 "$work/worker.log")"
    sleep 0.2
done
case "$ready" in *'"status":"ready"'*) ;; *) fail "/readyz never said ready: $ready" ;; esac

cli=("${run[@]}" -v "$work/client:/work" "$ctr" --)
"${cli[@]}" morph sample /work/sample >/dev/null
id=$("${cli[@]}" morph submit /work/sample/sample_A.obj /work/sample/sample_B.obj \
        --source-texture /work/sample/sample_A.png --target-texture /work/sample/sample_B.png \
        --frames 5 --size 96x96 --label image-smoke --server "$base")
echo "image_smoke: job $id"
"${cli[@]}" morph wait "$id" --timeout 120 --server "$base" || fail "job $id did not succeed: $(curl -sS "$base/jobs/$id")"
"${cli[@]}" morph fetch "$id" -o /work/out --server "$base" >/dev/null
frames=$(find "$work/client/out" -name '*.png' -path '*frames*' | sort)
expect_eq "frames fetched" 5 "$(echo "$frames" | grep -c .)"
for f in $frames; do
    sig=$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')
    expect_eq "PNG signature of $f" 89504e470d0a1a0a "$sig"
done
grep -q '"succeeded"' "$work/client/out/manifest.json" ||
    fail "manifest.json does not say succeeded: $(head -c 400 "$work/client/out/manifest.json")"

step "health check in the image, then SIGTERM"
wpid=$(pgrep -f '^/usr/local/bin/morphd worker .*smoke-worker') || fail "no worker process"
apid=$(pgrep -f "^/usr/local/bin/morphd api --listen 127.0.0.1:$api_port") || fail "no api process"
"${run[@]}" "$ctr" -- env MORPHD_HEALTH_PID="$wpid" morphd-healthcheck || fail "worker health check"
"${run[@]}" "$ctr" -- env MORPHD_HEALTH_PID="$apid" MORPHD_HEALTH_URL="$base/healthz" \
    morphd-healthcheck || fail "api health check"
kill -TERM "$wpid" "$apid"
rc=0; wait "$worker_run" || rc=$?
expect_eq "worker exit status after SIGTERM" 0 "$rc"
rc=0; wait "$api_run" || rc=$?
expect_eq "api exit status after SIGTERM" 0 "$rc"
pids=()

step "free the CPU image's store, build the CUDA build stage"
"${bh[@]}" rm --all >/dev/null
"${bh[@]}" rmi --all --force >/dev/null
archs=()
[ -n "${MORPHD_IMAGE_CUDA_ARCHS:-}" ] && archs=(--cuda-archs "$MORPHD_IMAGE_CUDA_ARCHS")
t2=$(date +%s)
"$src/deploy/build-image.sh" cuda-build --root "$store" "${archs[@]}"
echo "image_smoke: base + cuda build stage $(($(date +%s) - t2)) s"
cb=$("${bh[@]}" from --pull=never morphd:cuda-build)
"${run[@]}" "$cb" -- /src/build/morphd --version
out=$("${run[@]}" "$cb" -- /src/build/morphd worker --engine cuda --storage file:///tmp/s \
        --redis "redis://127.0.0.1:$redis_port" 2>&1) && fail "--engine cuda started without a GPU: $out"
echo "image_smoke: --engine cuda without a GPU: $out"
case "$out" in
*"no CUDA engine"*) fail "the CUDA engine is missing from the build: $out" ;;
*"CUDA device"*) ;; # "no CUDA device found" or "no usable CUDA device": the engine is there
*) fail "--engine cuda without a GPU: expected a message about the CUDA device, got: $out" ;;
esac
echo "image_smoke: passed"
