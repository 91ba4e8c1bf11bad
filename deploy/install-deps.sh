#!/usr/bin/env bash
# install-deps.sh — installs the Debian 12 packages morphd needs, and only those that are missing
# (so `make run` and `make test` are quick on a prepared machine). One list per use, here only:
# the container images run this script too, so a library added to the build is added to them.
# Runs apt-get as root, or through sudo when available; otherwise prints the command to run.
#   deploy/install-deps.sh            build + run dependencies
#   deploy/install-deps.sh --test     also what the tests need (clang for the fuzz targets; node
#                                     and npm for tests/integration, redis-server for them to run;
#                                     buildah and debootstrap for the image tests)
#   deploy/install-deps.sh --runtime  only what the built programs load (the images' runtime
#                                     stage: shared libraries, fonts, CA certificates, curl for
#                                     health checks)
#   deploy/install-deps.sh --cuda     build dependencies plus Debian's CUDA toolkit (11.8, from
#                                     the contrib and non-free components, which the caller
#                                     enables: the CUDA image's build stage does) and the host
#                                     compiler it supports
#   deploy/install-deps.sh --image    what deploy/build-image.sh needs (buildah, debootstrap)
set -euo pipefail

mode=${1:-}
case "$mode" in
"" | --test | --runtime | --cuda | --image) ;;
*) echo "install-deps: unknown option '$mode' (--test, --runtime, --cuda or --image)" >&2; exit 2 ;;
esac

if [ "$mode" = --image ]; then
  packages=(buildah debootstrap)
elif [ "$mode" = --runtime ]; then
  # The sonames of the -dev packages below, as Debian 12 names them.
  packages=(libjansson4 libpng16-16 libjpeg62-turbo libassimp5 zlib1g libcurl4 libmicrohttpd12
            libuv1 libhiredis0.14 libnettle8 libdeflate0 libcairo2 fonts-dejavu-core
            libavcodec59 libavformat59 libswscale6 libavutil57 libx264-164
            ca-certificates curl)
else
  packages=(build-essential cmake pkg-config libjansson-dev libpng-dev libjpeg62-turbo-dev
            libassimp-dev zlib1g-dev libcurl4-openssl-dev libuv1-dev libmicrohttpd-dev
            libhiredis-dev nettle-dev  # nettle: SHA-256 (Idempotency-Key, S3 SigV4)
            libdeflate-dev  # PNG encoding (mesh/png_write.c)
            libcairo2-dev fonts-dejavu-core  # heatmap figures: cairo draws, DejaVu Sans labels
            redis-server curl)  # `make run` starts a redis-server and polls /readyz with curl
  # analysis/: animation.mp4 through libavcodec (with libx264), libavformat and libswscale
  packages+=(libavcodec-dev libavformat-dev libswscale-dev libavutil-dev libx264-164)
fi
if [ "$mode" = --cuda ]; then
  # nvcc 11.8 accepts GCC up to 11; Debian's nvcc picks g++-11 when it is installed.
  packages+=(nvidia-cuda-toolkit g++-11)
fi
if [ "$mode" = --test ]; then
  packages+=(clang libclang-rt-14-dev redis-server buildah debootstrap)
  # tests/integration runs on Node >= 18 (Debian 12 has 18.19). A node already on PATH (from
  # NodeSource, nvm...) is kept: Debian's nodejs package would conflict with it.
  if ! command -v node >/dev/null 2>&1; then
    packages+=(nodejs)
  fi
  if ! command -v npm >/dev/null 2>&1; then
    packages+=(npm)
  fi
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  run=()
elif command -v sudo >/dev/null 2>&1; then
  run=(sudo)
else
  echo "install-deps: not root and no sudo; run as root:" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { "${run[@]}" apt-get update -qq && \
       "${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -25 "$log" >&2
  rm -f "$log"
  echo "install-deps: apt-get failed (its last lines above)" >&2
  exit 1
fi
rm -f "$log"
