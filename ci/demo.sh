#!/usr/bin/env bash
# The demo: installs what is missing (Debian 12), builds, and shows a live 1080p60 flow shared
# between two processes through a tmpfs domain, then measures latency and throughput.
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/packages.sh
mxl_install_packages

build=build/demo
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMXL_BUILD_TESTS=OFF > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" --target writer_reader mxl-bench

domain=$(mktemp -d /dev/shm/mxl-demo-XXXXXX)
trap 'rm -rf "$domain"' EXIT

echo
echo "== A writer and a reader process share a 1080p60 v210 flow in $domain (3 s)"
"$build/examples/writer_reader" "$domain" 3 &
demo=$!
sleep 1
echo "-- the flow's files while the writer runs (MXL 1.x domain format):"
(cd "$domain" && ls -l -- *.mxl-flow *.mxl-flow/grains | head -20)
wait "$demo"
echo
echo "== mxl-bench local: commit-to-readable latency (8 slice batches per frame) and write throughput"
"$build/tools/mxl-bench/mxl-bench" local --duration 3 --json
