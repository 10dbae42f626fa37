#!/usr/bin/env bash
# Build: every image, with the unit tests run inside the image builds (a failing test fails here).
. "$(dirname "$0")/common.sh"

compose build
echo "build: built $(app_images | tr '\n' ' ')and ${E2E_IMAGE}"
