#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS (default 60),
# starting from the checked-in corpus. New crashes are written to build/fuzz/artifacts/.
# Usage: ./ci/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/packages.sh
mxl_install_packages clang libclang-rt-14-dev

seconds=${1:-60}
build=build/fuzz
CC=clang CXX=clang++ cmake -S . -B "$build" -DMXL_FUZZ=ON -DMXL_BUILD_TOOLS=OFF -DMXL_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzz_flowdefinition fuzz_flowfiles fuzz_fabricmessages fuzz_controlmessages fuzz_connectproof fuzz_commandrequest fuzz_targetinfo fuzz_remoteuri fuzz_commitorder
mkdir -p "$build/artifacts"
for target in flowdefinition:flow_definition:4096 flowfiles:flow_files:20000 fabricmessages:fabric_messages:65536 controlmessages:control_messages:65536 connectproof:connect_proof:256 commandrequest:command_request:512 targetinfo:target_info:8192 remoteuri:remote_uri:1024 commitorder:commit_order:3072; do
    IFS=: read -r name corpus maxlen <<<"$target"
    work="$build/corpus-$corpus"
    mkdir -p "$work"
    cp -n tests/fuzz/corpus/"$corpus"/* "$work"/
    echo "== fuzz_$name for ${seconds}s"
    "$build/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -max_len="$maxlen" -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/" "$work" 2>&1 | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|==.*ERROR|SUMMARY)' || true
done
if ls "$build"/artifacts/* >/dev/null 2>&1; then
    echo "crashes found:" && ls -l "$build"/artifacts/
    exit 1
fi
echo "no crashes"
