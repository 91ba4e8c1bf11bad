#!/usr/bin/env bash
# run-local.sh — the whole job server on this machine, for trying it out (`make run` calls it):
# a private redis-server (unix socket only, AOF on), one `morphd worker` and one `morphd api`
# with file storage, all under one data folder. Stays in the foreground; Ctrl-C or SIGTERM
# stops api, worker and redis in that order (api stops taking jobs, the worker drains within
# 10 s: finished jobs are stored, unfinished ones go back to the queue, redis writes its AOF). If any of the three dies, the others are stopped and the script
# exits non-zero naming it.
#
#   deploy/run-local.sh [DATA]     DATA defaults to out/run
#   MORPHD_PORT=8081 deploy/run-local.sh       another port (default 8080)
#   MORPHD_BUILD=build-asan deploy/run-local.sh  binaries from another build folder
#
# The children run in their own sessions (setsid), so a Ctrl-C reaches only this script, which
# then stops them in order instead of all of them at once.
set -euo pipefail

data=${1:-out/run}
port=${MORPHD_PORT:-8080}
build=${MORPHD_BUILD:-build}
morphd=$build/morphd
morph=$build/morph
api_url=http://127.0.0.1:$port

say() { printf 'run-local: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ -x "$morphd" ] || die "$morphd is not built (run \`make build-programs\`, or set MORPHD_BUILD)"
[ -x "$morph" ] || die "$morph is not built (run \`make build-programs\`, or set MORPHD_BUILD)"
command -v redis-server >/dev/null || die "redis-server is not installed (deploy/install-deps.sh)"
command -v curl >/dev/null || die "curl is not installed (deploy/install-deps.sh)"
case $port in '' | *[!0-9]*) die "MORPHD_PORT='$port' is not a port number" ;; esac

mkdir -p "$data/redis" "$data/store"
data=$(cd "$data" && pwd) # absolute: the URLs below need it
sock=$data/redis.sock
redis_url=unix://$sock
storage_url=file://$data/store

# A socket left by an earlier run is removed; one that answers belongs to a live run.
if [ -S "$sock" ]; then
  if redis-cli -s "$sock" ping >/dev/null 2>&1; then
    die "a redis-server already serves $sock: another run-local.sh uses $data (stop it, or pass another DATA)"
  fi
  rm -f "$sock"
fi
if curl -s -o /dev/null --max-time 1 "$api_url/healthz"; then
  die "something already answers on $api_url (stop it, or set MORPHD_PORT)"
fi

names=()
pids=()
stopping=0

start() { # start NAME CMD...: runs CMD in its own session, remembers its pid under NAME
  local name=$1
  shift
  setsid "$@" &
  names+=("$name")
  pids+=($!)
}

alive() { kill -0 "$1" 2>/dev/null; }

# Stops every child, newest first (api, worker, redis), each with SIGTERM and up to 30 s to
# finish (the worker drains in 10 s) before SIGKILL.
stop_all() {
  local i pid t
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    alive "$pid" || continue
    say "stopping ${names[i]} (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((t = 0; t < 300; t++)); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      say "${names[i]} did not stop in 30 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
}

on_signal() {
  stopping=1
  stop_all
  say "stopped"
  exit 0
}
trap on_signal INT TERM
trap 'stop_all' EXIT

# Exits non-zero naming the first child that is no longer running.
check_children() {
  local i status
  for i in "${!pids[@]}"; do
    if ! alive "${pids[i]}"; then
      status=0
      wait "${pids[i]}" 2>/dev/null || status=$?
      say "${names[i]} exited (status $status); stopping the others"
      [ "${names[i]}" = redis-server ] && say "redis log: $data/redis.log"
      stop_all
      exit 1
    fi
  done
}

# ---- redis ----
start redis-server redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 \
  --dir "$data/redis" --appendonly yes --appendfsync everysec --save "" \
  --logfile "$data/redis.log" --daemonize no
for ((t = 0; t < 100; t++)); do
  redis-cli -s "$sock" ping >/dev/null 2>&1 && break
  check_children
  sleep 0.1
done
redis-cli -s "$sock" ping >/dev/null 2>&1 || die "redis-server did not answer on $sock in 10 s (see $data/redis.log)"
say "redis-server on $sock (AOF in $data/redis)"

# ---- worker and api ----
start "morphd worker" "$morphd" worker --redis "$redis_url" --storage "$storage_url" \
  --drain-s 10
start "morphd api" "$morphd" api --listen "127.0.0.1:$port" --redis "$redis_url" \
  --storage "$storage_url"

# /readyz answers 200 once Redis, storage and a worker heartbeat are all there.
for ((t = 0; t < 300; t++)); do
  check_children
  curl -s -o /dev/null -f --max-time 1 "$api_url/readyz" && break
  sleep 0.1
done
curl -s -o /dev/null -f --max-time 1 "$api_url/readyz" ||
  { say "$api_url/readyz is not ready after 30 s: $(curl -s --max-time 1 "$api_url/readyz" || true)"; exit 1; }

"$morph" sample "$data/sample" >/dev/null
s=$data/sample
srv="" # the client's default server is this one unless the port moved
[ "$port" = 8080 ] || srv=" --server $api_url"
cat <<EOF

morphd is running: api $api_url, one worker, redis on $sock, files in $data/store.
Ctrl-C stops all three.

Submit a job with curl (prints the job; poll its "id"):
  curl -F source=@$s/sample_A.obj -F target=@$s/sample_B.obj \\
       -F source_texture=@$s/sample_A.png -F target_texture=@$s/sample_B.png \\
       -F 'spec={"frames":41}' $api_url/jobs
  curl $api_url/jobs/ID

Or with the morph client:
  id=\$($morph submit $s/sample_A.obj $s/sample_B.obj --source-texture $s/sample_A.png --target-texture $s/sample_B.png --frames 41$srv)
  $morph wait \$id$srv
  $morph fetch \$id -o out/fetched$srv

Metrics: curl $api_url/metrics
EOF

# ---- foreground: wait until a signal arrives or a child dies ----
while :; do
  done_pid=
  status=0
  wait -n -p done_pid "${pids[@]}" 2>/dev/null || status=$?
  [ "$stopping" = 1 ] && break
  [ -n "$done_pid" ] || continue # woken by a signal whose trap returned
  for i in "${!pids[@]}"; do
    if [ "${pids[i]}" = "$done_pid" ]; then
      say "${names[i]} exited (status $status); stopping the others"
      [ "${names[i]}" = redis-server ] && say "redis log: $data/redis.log"
    fi
  done
  stop_all
  exit 1
done
