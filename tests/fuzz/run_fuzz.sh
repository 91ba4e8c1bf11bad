#!/bin/sh
# run_fuzz.sh BIN SCRATCH SEEDS [PATTERN...] — runs one libFuzzer target briefly, as ctest's
# fuzz label does: ${MORPHD_FUZZ_SECONDS:-20} seconds on its committed seeds (SEEDS) plus, when
# $MORPHD_DATA/formats exists, the files there whose names match the PATTERNs (find -iname) and
# that are at most 64 KiB. Those are linked into a temporary folder that is removed afterwards:
# the shared test data is read where it lies at run time, never copied into the repository.
# New inputs the fuzzer finds go to SCRATCH (a folder in the build tree).
set -eu
bin=$1
scratch=$2
seeds=$3
shift 3
mkdir -p "$scratch"
extra=""
if [ $# -gt 0 ] && [ -n "${MORPHD_DATA:-}" ] && [ -d "$MORPHD_DATA/formats" ]; then
    extra=$(mktemp -d)
    trap 'rm -rf "$extra"' EXIT
    n=0
    for pattern in "$@"; do
        for f in $(find "$MORPHD_DATA/formats" -type f -iname "$pattern" -size -65k | sort); do
            n=$((n + 1))
            ln -s "$f" "$extra/$n-$(basename "$f")"
        done
    done
    echo "run_fuzz.sh: $n seed(s) from $MORPHD_DATA/formats ($*)"
fi
# The extra folder is read, never written: libFuzzer writes only into the first corpus folder.
"$bin" -max_total_time="${MORPHD_FUZZ_SECONDS:-20}" -rss_limit_mb=2048 "$scratch" "$seeds" $extra
