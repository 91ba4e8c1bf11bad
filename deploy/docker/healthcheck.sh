#!/bin/sh
# healthcheck.sh — the images' HEALTHCHECK, for whichever program the container runs (pid 1):
#   morphd api     healthy while /healthz answers (the event loop runs) on $MORPHD_HEALTH_URL
#                  (http://127.0.0.1:8080/healthz: the images' --listen port)
#   morphd worker  healthy while its heartbeat reaches Redis: the worker sets the modification
#                  time of $MORPHD_HEALTH_FILE (the images set it) at every beat that does, so a
#                  file older than $MORPHD_HEALTH_MAX_AGE_S (30) seconds, or none, is unhealthy
#   anything else  healthy (morph, keygen...: nothing long-running to watch)
# Readiness (Redis, storage and a live worker) is /readyz's job, for load balancers, not this.
# MORPHD_HEALTH_PID names another process than pid 1 (tests/integration/worker_health.mjs).
set -eu
cmd=$(tr '\0' ' ' </proc/"${MORPHD_HEALTH_PID:-1}"/cmdline)
case "$cmd" in
*"morphd api"*)
    exec curl -fsS --max-time 4 -o /dev/null "${MORPHD_HEALTH_URL:-http://127.0.0.1:8080/healthz}"
    ;;
*"morphd worker"*)
    file=${MORPHD_HEALTH_FILE:-}
    if [ -z "$file" ] || [ ! -e "$file" ]; then
        echo "no health file ${file:-(MORPHD_HEALTH_FILE unset)}: the worker has not started" \
             "its heartbeat, or has stopped" >&2
        exit 1
    fi
    mtime=$(stat -c %Y "$file")
    if [ "$mtime" -eq 0 ]; then
        echo "no heartbeat of this worker has reached Redis yet" >&2
        exit 1
    fi
    age=$(( $(date +%s) - mtime ))
    if [ "$age" -gt "${MORPHD_HEALTH_MAX_AGE_S:-30}" ]; then
        echo "the worker's last heartbeat that reached Redis was ${age} s ago" >&2
        exit 1
    fi
    ;;
esac
exit 0
