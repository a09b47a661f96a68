#!/usr/bin/env bash
# Benchmark: live flows replicated between two hosts through two mxl-fabric-bridges, with the
# machine's own noise measured in the same run. By default three 1080p60 v210 flows (8 slice batches
# each, written by mxl-gen on A), imported by B over the tcp provider (RMA); then the recovery times
# after a 3 s link cut and after the source bridge is killed and restarted.
#
# Reports, per flow: grains moved per second against the nominal rate, grains skipped by the
# exporting bridge, the importing bridge and the writer, lag and latency (sampled every 0.5 s: p50,
# p99, max); per process: CPU in % of one core; and the noise probe (`mxl-bench noise`: timer
# wake-up lateness and CPU steal) once before any of its processes start and once beside
# the run. The functional tests assert none of these figures: this script measures them.
#
# Usage: sudo ./ci/bench-bridge.sh [--flows N] [--duration S] [--video WxH] [--rate R] [--slices N]
#                                  [--provider P] [--no-recovery] [--build DIR] [--json FILE]
# Prints a human summary, then one JSON object on the last line (also written to --json FILE).
# Exit codes: 0 measured (whatever the figures), 1 the set-up failed, 2 bad arguments.
set -euo pipefail
cd "$(dirname "$0")/.."

flows=3
duration=10
video=1920x1080
rate=60
slices=8
provider=tcp
recovery=true
build=build/bench
jsonOut=

usage() { sed -n '/^# Usage:/,/^# Exit codes/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
        --flows) flows=${2:?}; shift 2 ;;
        --duration) duration=${2:?}; shift 2 ;;
        --video) video=${2:?}; shift 2 ;;
        --rate) rate=${2:?}; shift 2 ;;
        --slices) slices=${2:?}; shift 2 ;;
        --provider) provider=${2:?}; shift 2 ;;
        --no-recovery) recovery=false; shift ;;
        --build) build=${2:?}; shift 2 ;;
        --json) jsonOut=${2:?}; shift 2 ;;
        -h|--help) usage ;;
        *) echo "error: unknown argument '$1'" >&2; usage ;;
    esac
done
[[ $flows =~ ^[1-9][0-9]?$ ]] || { echo "error: --flows must be 1..99, got '$flows'" >&2; exit 2; }
[[ $duration =~ ^[1-9][0-9]*$ ]] || { echo "error: --duration must be whole seconds, got '$duration'" >&2; exit 2; }
[[ $rate =~ ^[1-9][0-9]*(/[1-9][0-9]*)?$ ]] || { echo "error: --rate must be N or N/D, got '$rate'" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ]; then
    echo "error: the benchmark makes network namespaces (ip netns) and must run as root" >&2
    exit 1
fi

source ci/packages.sh
source ci/hosts.sh
mxl_install_packages jq

echo "== building the tools in $build"
mxl_build_tools "$build" OFF mxl-fabric-bridge mxl-gen mxl-info mxl-bench
bridge=$(realpath "$build/tools/mxl-fabric-bridge/mxl-fabric-bridge")
gen=$(realpath "$build/tools/mxl-gen/mxl-gen")
info=$(realpath "$build/tools/mxl-info/mxl-info")
bench=$(realpath "$build/tools/mxl-bench/mxl-bench")

nsA=mxlbench$$a
nsB=mxlbench$$b
vethA=mxb$$a
vethB=mxb$$b
addressA=10.202.0.1
addressB=10.202.0.2
port=7400
cutTable=mxlbench_cut_$$
work=$(mktemp -d /tmp/mxl-bench-bridge-XXXXXX)
domainA=$(mktemp -d /dev/shm/mxl-bench-a-XXXXXX)
domainB=$(mktemp -d /dev/shm/mxl-bench-b-XXXXXX)
key=$work/bridge.key
genPids=()
bridgeA=
bridgeB=
export MXL_LOG_LEVEL=error

cleanup() {
    local status=$?
    set +e
    mxl_clean_up "$status" "$work" "$nsA" "$nsB" "${genPids[@]}" "$bridgeB" "$bridgeA"
    rm -rf "$domainA" "$domainB" "$work"
}
trap cleanup EXIT

monotonic() { awk '{ print $1 }' /proc/uptime; }
# utime + stime of a process, in clock ticks.
cpuTicks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
statusOf() { "$info" --domain "$1" --bridge --json 2>/dev/null | jq -c ".bridge // {flows: []}"; }

echo "== noise before the benchmark starts anything (mxl-bench noise, 3 s)"
beforeNoise=$("$bench" noise --duration 3 --json)
echo "   $beforeNoise"

echo "== two hosts: $nsA ($addressA) and $nsB ($addressB), joined by a veth pair"
mxl_make_two_hosts "$nsA" "$nsB" "$vethA" "$vethB" "$addressA" "$addressB"
(umask 077 && head -c 32 /dev/urandom > "$key")

ids=()
for _ in $(seq "$flows"); do
    ids+=("$(cat /proc/sys/kernel/random/uuid)")
done

startA() {
    ip netns exec "$nsA" "$bridge" --domain "$domainA" --listen "$addressA:$port" --psk-file "$key" --provider "$provider" \
        2>> "$work/bridge-a.log" &
    bridgeA=$!
}
imports=()
for id in "${ids[@]}"; do
    imports+=(--import "$addressA:$port/$id")
done
echo "== $flows flow(s) of $video v210 at $rate ($slices slice batches) written by mxl-gen on A, imported by B over $provider"
for id in "${ids[@]}"; do
    ip netns exec "$nsA" env -u MXL_LOG_LEVEL "$gen" --domain "$domainA" --video "$video" --rate "$rate" --slices "$slices" --audio 0 --flow-id "$id" \
        > "$work/gen-$id.log" 2>&1 &
    genPids+=($!)
done
startA
ip netns exec "$nsB" "$bridge" --domain "$domainB" --listen "$addressB:$port" --psk-file "$key" --provider "$provider" "${imports[@]}" \
    2> "$work/bridge-b.log" &
bridgeB=$!

activeImports() { statusOf "$domainB" | jq '[.flows[] | select(.role == "import" and .state == "active")] | length'; }
allActive() { [ "$(activeImports)" -ge "$flows" ]; }
if ! mxl_wait_for 60 allActive; then
    echo "error: B's imports did not all become active within 60 s" >&2
    statusOf "$domainB" >&2 || true
    exit 1
fi
sleep 2

echo "== measuring for $duration s"
samples=$work/samples.jsonl
noiseFile=$work/noise.json
"$bench" noise --duration "$duration" --json > "$noiseFile" &
noisePid=$!
declare -A ticks0
for pid in "$bridgeA" "$bridgeB" "${genPids[@]}"; do
    ticks0[$pid]=$(cpuTicks "$pid")
done
start=$(monotonic)
statusA0=$(statusOf "$domainA")
statusB0=$(statusOf "$domainB")
end=$(awk -v s="$start" -v d="$duration" 'BEGIN { print s + d }')
while awk -v n="$(monotonic)" -v e="$end" 'BEGIN { exit !(n < e) }'; do
    statusOf "$domainB" | jq -c '{flows: [.flows[] | select(.role == "import") | {flow, lag_grains, latency_ms}]}' >> "$samples" || true
    sleep 0.5
done
statusA1=$(statusOf "$domainA")
statusB1=$(statusOf "$domainB")
elapsed=$(awk -v s="$start" -v n="$(monotonic)" 'BEGIN { print n - s }')
hz=$(getconf CLK_TCK)
cpuOf() { awk -v a="${ticks0[$1]}" -v b="$(cpuTicks "$1")" -v hz="$hz" -v t="$elapsed" 'BEGIN { printf "%.1f", (b - a) * 100 / hz / t }'; }
cpuA=$(cpuOf "$bridgeA")
cpuB=$(cpuOf "$bridgeB")
genCpu=()
for pid in "${genPids[@]}"; do
    genCpu+=("$(cpuOf "$pid")")
done
wait "$noisePid"
loadedNoise=$(cat "$noiseFile")

resumeLink=null
resumeRestart=null
if $recovery; then
    first=${ids[0]}
    importOf() { statusOf "$domainB" | jq -c --arg f "$first" '[.flows[] | select(.flow == $f and .role == "import")][0] // {}'; }
    # Live again: the import moves grains (of a new session, or more than before) and is within 3 grains of the source's clock.
    liveSince() {
        importOf | jq -e --argjson epoch "$1" --argjson grains "$2" \
            '.state == "active" and (.grains // 0) > 0 and (.lag_grains // 99) <= 3 and (.epoch != $epoch or .grains > $grains)' > /dev/null
    }

    echo "== recovery: the link cut for 3 s"
    ip netns exec "$nsA" nft "add table inet $cutTable
add chain inet $cutTable input { type filter hook input priority -300; policy accept; }
add chain inet $cutTable output { type filter hook output priority -300; policy accept; }
add rule inet $cutTable input iifname \"$vethA\" drop
add rule inet $cutTable output oifname \"$vethA\" drop"
    sleep 3
    before=$(importOf)
    ip netns exec "$nsA" nft "delete table inet $cutTable"
    restored=$(monotonic)
    if mxl_wait_for 30 liveSince "$(jq '.epoch // 0' <<< "$before")" "$(jq '.grains // 0' <<< "$before")"; then
        resumeLink=$(awk -v s="$restored" -v n="$(monotonic)" 'BEGIN { printf "%.2f", n - s }')
    fi
    echo "   live again (within 3 grains) $resumeLink s after the link came back"

    echo "== recovery: the source bridge killed (SIGKILL) and restarted 0.5 s later"
    sleep 2
    before=$(importOf)
    kill -KILL "$bridgeA"
    wait "$bridgeA" 2>/dev/null || true
    sleep 0.5
    startA
    restarted=$(monotonic)
    # A new session: a new epoch, whatever the counters say.
    if mxl_wait_for 30 liveSince "$(jq '.epoch // 0' <<< "$before")" 18446744073709551615; then
        resumeRestart=$(awk -v s="$restarted" -v n="$(monotonic)" 'BEGIN { printf "%.2f", n - s }')
    fi
    echo "   live again in a new session $resumeRestart s after the restart"
fi

# The writers' own skips (over the whole run), from mxl-gen's summary at exit.
writerSkipped=()
for i in "${!genPids[@]}"; do
    mxl_stop_pid "${genPids[$i]}"
    writerSkipped+=("$( (grep -oE 'skipped [0-9]+ grains' "$work/gen-${ids[$i]}.log" || true) | awk '{ s += $2 } END { print s + 0 }')")
done
genPids=()

rateValue=$(awk -v r="$rate" 'BEGIN { n = split(r, p, "/"); print (n == 2 ? p[1] / p[2] : p[1]) }')
result=$(jq -n -c \
    --argjson a0 "$statusA0" --argjson a1 "$statusA1" --argjson b0 "$statusB0" --argjson b1 "$statusB1" \
    --slurpfile samples "$samples" \
    --argjson before0 "$beforeNoise" --argjson loaded "$loadedNoise" \
    --argjson ids "$(printf '%s\n' "${ids[@]}" | jq -R . | jq -s .)" \
    --argjson writerSkipped "$(printf '%s\n' "${writerSkipped[@]}" | jq -s .)" \
    --argjson genCpu "$(printf '%s\n' "${genCpu[@]}" | jq -s .)" \
    --argjson elapsed "$elapsed" --argjson rate "$rateValue" \
    --argjson cpuA "$cpuA" --argjson cpuB "$cpuB" \
    --argjson resumeLink "$resumeLink" --argjson resumeRestart "$resumeRestart" \
    --arg video "$video" --arg rateText "$rate" --arg provider "$provider" --argjson slices "$slices" '
    def of($s; $id; $role): [$s.flows[] | select(.flow == $id and .role == $role)][0] // {};
    def pct($xs; $q): ($xs | sort) as $s | if ($s | length) == 0 then null else $s[(($q * (($s | length) - 1)) + 0.5 | floor)] end;
    def summary($xs): {p50: pct($xs; 0.5), p99: pct($xs; 0.99), max: ($xs | max)};
    {
        benchmark: "bridge",
        provider: $provider, video: $video, rate: $rateText, slice_batches: $slices,
        duration_s: $elapsed,
        flows: [range($ids | length) as $i | $ids[$i] as $id |
            ([$samples[].flows[] | select(.flow == $id)]) as $mine |
            {
                flow: $id,
                grains_per_s: (((of($b1; $id; "import").grains // 0) - (of($b0; $id; "import").grains // 0)) / $elapsed),
                nominal_per_s: $rate,
                skipped_export: ((of($a1; $id; "export").skipped_grains // 0) - (of($a0; $id; "export").skipped_grains // 0)),
                skipped_import: ((of($b1; $id; "import").skipped_grains // 0) - (of($b0; $id; "import").skipped_grains // 0)),
                skipped_writer_whole_run: $writerSkipped[$i],
                lag_grains: summary([$mine[].lag_grains | select(. != null)]),
                latency_ms: summary([$mine[].latency_ms | select(. != null)]),
                writer_cpu_percent: $genCpu[$i]
            }],
        cpu_percent: {bridge_a: $cpuA, bridge_b: $cpuB},
        resume_s: {link_cut_3s: $resumeLink, source_bridge_restart: $resumeRestart},
        noise_before: {wake_late_us: $before0.wake_late_us, cpu_busy: $before0.cpu_busy, cpu_steal: $before0.cpu_steal},
        noise_during: {wake_late_us: $loaded.wake_late_us, cpu_busy: $loaded.cpu_busy, cpu_steal: $loaded.cpu_steal},
        noise_ratio_p99: (if ($before0.wake_late_us.p99 // 0) > 0 then $loaded.wake_late_us.p99 / $before0.wake_late_us.p99 else null end)
    }')

echo
echo "== results ($elapsed s)"
jq -r 'def r2: if . == null then null else . * 100 | round / 100 end;
    .flows[] | "   flow \(.flow): \(.grains_per_s | r2) of \(.nominal_per_s) grains/s, skipped export \(.skipped_export) import \(.skipped_import) writer \(.skipped_writer_whole_run), lag p50/max \(.lag_grains.p50)/\(.lag_grains.max), latency p50/p99 \(.latency_ms.p50 | r2)/\(.latency_ms.p99 | r2) ms, writer CPU \(.writer_cpu_percent) %"' <<< "$result"
jq -r 'def r2: if . == null then null else . * 100 | round / 100 end;
    "   CPU: bridge A \(.cpu_percent.bridge_a) %, bridge B \(.cpu_percent.bridge_b) % of one core",
       "   resume after a 3 s link cut: \(.resume_s.link_cut_3s) s; after a source bridge restart: \(.resume_s.source_bridge_restart) s",
       "   noise (timer wake-up lateness p50/p99): before \(.noise_before.wake_late_us.p50 | r2)/\(.noise_before.wake_late_us.p99 | r2) µs, during \(.noise_during.wake_late_us.p50 | r2)/\(.noise_during.wake_late_us.p99 | r2) µs; CPU busy during \(.noise_during.cpu_busy | r2), steal before \(.noise_before.cpu_steal | r2), during \(.noise_during.cpu_steal | r2)"' <<< "$result"
if [ -n "$jsonOut" ]; then
    echo "$result" > "$jsonOut"
fi
echo "$result"
