#!/usr/bin/env bash
# Remove the test project (containers, network, volumes) and the e2e image; safe to run twice.
. "$(dirname "$0")/common.sh"

compose -p "$TEST_PROJECT" down --volumes --remove-orphans --timeout 5
docker image rm --force "$E2E_IMAGE" >/dev/null 2>&1
