#!/usr/bin/env bash
# install-deps.sh — installs the Debian 12 packages morphd needs to build and test, and only
# those that are missing (so `make run` and `make test` are quick on a prepared machine).
# Runs apt-get as root, or through sudo when available; otherwise prints the command to run.
#   deploy/install-deps.sh           build + run dependencies
#   deploy/install-deps.sh --test    also what the tests need (clang for the fuzz targets; node
#                                    and npm for tests/integration, redis-server for them to run)
set -euo pipefail

packages=(build-essential cmake pkg-config libjansson-dev libpng-dev libjpeg62-turbo-dev
          libassimp-dev zlib1g-dev libcurl4-openssl-dev libuv1-dev libmicrohttpd-dev
          libhiredis-dev nettle-dev  # nettle: SHA-256 (Idempotency-Key, S3 SigV4)
          libcairo2-dev fonts-dejavu-core  # heatmap figures: cairo draws, DejaVu Sans labels
          redis-server curl)  # `make run` starts a redis-server and polls /readyz with curl
# analysis/: animation.mp4 through libavcodec (with libx264), libavformat and libswscale
packages+=(libavcodec-dev libavformat-dev libswscale-dev libavutil-dev libx264-164)
if [ "${1:-}" = "--test" ]; then
  packages+=(clang libclang-rt-14-dev redis-server)
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
"${run[@]}" apt-get update -qq
"${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
