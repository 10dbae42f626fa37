#!/usr/bin/env bash
# Push: the build-N tags, then move `latest` to them.
. "$(dirname "$0")/common.sh"

if [ -n "${REGISTRY_USER:-}" ]; then
    # A private client config for this build: the login never lands in the agent's ~/.docker.
    DOCKER_CONFIG="$(mktemp -d)"
    export DOCKER_CONFIG
    trap 'rm -rf "$DOCKER_CONFIG"' EXIT
    printf '%s' "${REGISTRY_PASSWORD:?}" | docker login --username "$REGISTRY_USER" --password-stdin "$REGISTRY"
fi

for image in $(app_images); do
    docker push "$image"
    docker tag "$image" "${image%:*}:latest"
    docker push "${image%:*}:latest"
done
echo "push: $(app_images | tr '\n' ' ')and their latest tags"
