#!/usr/bin/env bash
# Test: start the application in a Compose project of its own and let the e2e container play the user.
. "$(dirname "$0")/common.sh"

trap 'ci/cleanup.sh' EXIT
# shellcheck disable=SC2046 # one word per service
compose -p "$TEST_PROJECT" up --detach --wait --no-build $(app_services)
compose -p "$TEST_PROJECT" run --rm --no-deps e2e
echo "test: end-to-end test passed"
