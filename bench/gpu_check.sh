#!/usr/bin/env bash
# gpu_check.sh — the GPU engine's check, for the day a GPU machine is lent (../shared/GPU.md).
#
#   bench/gpu_check.sh prepare   HERE (no GPU needed): builds build-gpu/ for sm_90 (Hopper; set
#                                CUDA_ARCHS for another GPU) with the GPU tests and the GPU
#                                bench; copies the shared libraries they load into .gpu-libs/
#                                (../shared/tools/gpu-carry) and the ICT pair into .gpu-data/;
#                                ignores the three in .git/info/exclude; prints the device
#                                command to run. All must fit the device tool's 64 MiB.
#   bench/gpu_check.sh run       THERE (the device machine, both folders carried): under
#                                8 minutes, prints one table and writes it (and the logs) under
#                                $OUT when set:
#     1. the GPU: name, driver, memory (nvidia-smi);
#     2. ctest -L gpu (engine selection, parity with the CPU engine, batches);
#     3. compute-sanitizer memcheck and racecheck on test_gpu_batch;
#     4. the default job's 41 frames on the CUDA engine against the CPU engine's, pixel by pixel
#        (bench_gpu_batch --parity): 0 differing pixels wanted;
#     5. bench_gpu_batch: batches of 1, 8 and 64 default jobs on the CUDA engine (kernel µs per
#        job, frames/s end to end with PNG on every core), and the CPU engine on the same machine
#        as the baseline.
#   Without a GPU (no nvidia-smi or no device) `run` says so and exits 77.
# Each step has its own time limit and a failing step does not stop the others; the exit status
# is 0 only when every step passed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mode=${1:-}
build=build-gpu
libs=.gpu-libs
data=${MORPHD_DATA:-$root/../shared/data}

prepare() {
    set -e
    local archs=${CUDA_ARCHS:-90}
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMORPHD_CUDA=ON \
        "-DCMAKE_CUDA_ARCHITECTURES=$archs" >/dev/null
    cmake --build "$build" -j "$(nproc)" --target test_gpu_select test_gpu_parity test_gpu_batch \
        bench_gpu_batch
    rm -rf "$libs"
    "$root/../shared/tools/gpu-carry" "$libs" "$build"/tests/test_gpu_* "$build/bench_gpu_batch"
    for p in "/$build/" "/$libs/"; do
        grep -qxF "$p" .git/info/exclude 2>/dev/null || echo "$p" >>.git/info/exclude
    done
    # The shared data the checks read travels too (the device machine has no ../shared).
    rm -rf .gpu-data && mkdir -p .gpu-data/faces/ict .gpu-data/textures
    cp "$data"/faces/ict/ict_face_identity_[AB].obj .gpu-data/faces/ict/
    cp "$data"/textures/skin_[AB].png .gpu-data/textures/
    grep -qxF "/.gpu-data/" .git/info/exclude || echo "/.gpu-data/" >>.git/info/exclude
    du -sh "$build" "$libs" .gpu-data
    echo
    echo "device run: carry [\"$build\", \"$libs\", \".gpu-data\"], timeout_s 560, command:"
    echo "  bench/gpu_check.sh run"
}

# Runs one step with a time limit; records PASS/FAIL/SKIP and the seconds it took.
declare -a rows=()
failed=0
step() { # name limit_s command...
    local name=$1 limit=$2
    shift 2
    local log="$out/$name.log" t0 rc
    t0=$(date +%s.%N)
    timeout "$limit" "$@" >"$log" 2>&1
    rc=$?
    local dt
    dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    local verdict=PASS
    if [ $rc -eq 77 ]; then
        verdict=SKIP
    elif [ $rc -eq 124 ]; then
        verdict="FAIL (over ${limit} s)"
        failed=1
    elif [ $rc -ne 0 ]; then
        verdict="FAIL (exit $rc)"
        failed=1
    fi
    rows+=("$(printf '%-22s %-18s %6s s' "$name" "$verdict" "$dt")")
    echo "== $name: $verdict in $dt s (log $log)"
    tail -n 15 "$log"
}

run() {
    if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
        echo "gpu_check: no NVIDIA GPU on this machine (nvidia-smi finds none): nothing to check"
        exit 77
    fi
    [ -x "$build/bench_gpu_batch" ] || { echo "gpu_check: $build/ is missing: run 'bench/gpu_check.sh prepare' here first and carry it" >&2; exit 2; }
    out=${OUT:-$root/gpu-check-out}
    mkdir -p "$out"
    export LD_LIBRARY_PATH=$root/$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export MORPHD_DATA=$root/.gpu-data
    # ctest files hold the absolute paths of the machine that configured them.
    local here
    here=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
    if [ -n "$here" ] && [ "$here" != "$root" ] && [ ! -e "$here" ]; then
        mkdir -p "$(dirname "$here")" && ln -sfn "$root" "$here"
    fi
    local cs
    cs=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)

    step gpu 20 nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv
    step ctest_gpu 150 sh -c "cd $build && ctest -L gpu --output-on-failure"
    if [ -n "$cs" ]; then
        step memcheck 120 "$cs" --tool memcheck --error-exitcode 1 "$build/tests/test_gpu_batch"
        step racecheck 120 "$cs" --tool racecheck --error-exitcode 1 "$build/tests/test_gpu_batch"
    else
        rows+=("$(printf '%-22s %-18s' sanitizers 'SKIP (no compute-sanitizer)')")
    fi
    step parity_default_job 60 "$build/bench_gpu_batch" --parity --engine cuda
    step bench_cuda 120 "$build/bench_gpu_batch" --engine cuda --batches 1,8,64 --repeat 3
    step bench_cpu 60 "$build/bench_gpu_batch" --engine cpu --batches 1,8 --repeat 1

    {
        echo "gpu_check $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
        head -n 2 "$out/gpu.log"
        printf '%s\n' "${rows[@]}"
        echo "-- CUDA engine, default job batches:"
        cat "$out/bench_cuda.log"
        echo "-- CPU engine, same machine:"
        cat "$out/bench_cpu.log"
    } | tee "$out/gpu_check.txt"
    exit $failed
}

case "$mode" in
prepare) prepare ;;
run) run ;;
*)
    sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
