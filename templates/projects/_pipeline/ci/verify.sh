#!/usr/bin/env bash
# Verify: the tools answer, the Compose files are valid and every script parses.
. "$(dirname "$0")/common.sh"

docker version --format 'docker client {{.Client.Version}}, engine {{.Server.Version}}'
docker compose version
compose config --quiet
for script in ci/*.sh; do
    bash -n "$script"
done
echo "verify: ok (registry ${REGISTRY}, build ${BUILD_NUMBER})"
