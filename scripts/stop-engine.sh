#!/usr/bin/env bash
# Stop the dockerd that scripts/ensure-engine.sh started: only that pid, never by name.
set -euo pipefail
PIDFILE=${CI_STACK_DOCKERD_PIDFILE:-/var/run/ci-stack-dockerd.pid}
[ -f "$PIDFILE" ] || { echo "stop-engine: no pid file $PIDFILE, nothing started by us"; exit 0; }
pid=$(cat "$PIDFILE")
kill "$pid" 2>/dev/null || true
for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || { echo "stop-engine: stopped dockerd $pid"; exit 0; }; sleep 1; done
echo "stop-engine: dockerd $pid still running after 30 s" >&2; exit 1
