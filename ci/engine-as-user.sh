#!/usr/bin/env bash
# Runs libmxl's tests (unit and integration, engine only) as an ordinary user: root ignores
# permission bits, so tests of unwritable domains and read-only mappings only mean something
# without it. Called by ci/test.sh after ctest; as a non-root user the whole suite already ran
# without root and this says so.
# Usage: ./ci/engine-as-user.sh BUILD_DIR [USER]   (USER: default nobody)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: ci/engine-as-user.sh BUILD_DIR [USER]}
user=${2:-nobody}

if [ "$(id -u)" -ne 0 ]; then
    echo "== engine tests as an ordinary user: the suite above already ran as $(id -un) (not root)"
    exit 0
fi
group=$(id -gn "$user")

# The build tree may sit where $user cannot go (under /root, say): copy the test programs and libmxl
# to a directory of their own that $user can read.
stage=$(mktemp -d /tmp/mxl-engine-as-user-XXXXXX)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
cp -L "$build"/src/libmxl.so* "$stage"/
tests=()
for test in "$build"/tests/unit/engine/engine_*_test "$build"/tests/integration/engine/engine_*_test; do
    [ -x "$test" ] || continue
    cp "$test" "$stage"/
    tests+=("$(basename "$test")")
done
if [ ${#tests[@]} -eq 0 ]; then
    echo "error: no engine test programs in $build" >&2
    exit 1
fi
chmod -R a+rX "$stage"

echo "== engine tests as user $user (root ignores permission bits): ${#tests[@]} programs"
passed=0
failed=0
for test in "${tests[@]}"; do
    log=$stage/$test.log
    if setpriv --reuid="$user" --regid="$group" --clear-groups env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$stage" TMPDIR=/tmp \
        "$stage/$test" --gtest_brief=1 > "$log" 2>&1; then
        status=passed
    else
        status=FAILED
    fi
    count=$(grep -oE '^\[  PASSED  \] [0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
    skipped=$(grep -oE '^\[  SKIPPED \] [0-9]+ test' "$log" | grep -oE '[0-9]+' || echo 0)
    echo "   $test: $status ($count passed, $skipped skipped)"
    if [ "$status" = FAILED ]; then
        failed=$((failed + 1))
        cat "$log"
    else
        passed=$((passed + 1))
    fi
done
if [ "$failed" -ne 0 ]; then
    echo "engine tests as $user: $failed of ${#tests[@]} programs FAILED" >&2
    exit 1
fi
echo "engine tests as $user: all ${#tests[@]} programs green"
