#!/usr/bin/env bash
# Installs what is missing (Debian 12), checks the layering, builds everything with warnings as
# errors, runs every test.
# Usage: ./ci/test.sh            (build directory: build/ci)
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/packages.sh
mxl_install_packages

./ci/layering.sh
build=build/ci
cmake -S . -B "$build" -DMXL_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$(nproc)"
ctest --test-dir "$build" --output-on-failure -j 2 --timeout 300
./ci/engine-as-user.sh "$build"
./ci/rxe.sh "$build"
