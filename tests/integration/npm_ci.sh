#!/bin/sh
# npm_ci.sh — installs the integration tests' npm packages (package-lock.json, npm registry)
# into tests/integration/node_modules, once: a stamp beside them records the lock file they came
# from, so later runs (plain and ASan builds) reuse them. ctest runs this as the fixture
# integration_npm_ci.
set -eu
cd "$(dirname "$0")"
stamp=node_modules/.morphd-lock
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
  echo "npm_ci: node_modules is up to date"
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "npm_ci: npm is not installed (deploy/install-deps.sh --test)" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"
