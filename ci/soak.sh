#!/usr/bin/env bash
# Soak: two 1080p60 v210 flows and one stereo 48 kHz audio flow, written on host A and replicated
# to host B through two mxl-fabric-bridges (network namespaces joined by a veth pair, tcp provider),
# for a given time. Every --restart-every seconds one bridge is stopped (SIGTERM) and started again,
# A and B in turn; every --cut-every seconds the link is cut for --cut-for seconds (nftables). On B
# a verifier (mxl-soak-media) checks every grain and sample of the mirrors byte for byte.
#
# Every --sample-every seconds one JSON line per process (bridges, writer, verifier) goes to
# samples.jsonl: resident memory, open descriptors, age; the machine's 1-minute load average to
# load.jsonl; and the verifier's and writer's counters (verifier.jsonl, writer.jsonl).
# At the end: per flow, grains written, verified, corrupt, missed; per process incarnation, RSS and
# descriptors at --warm-up seconds of age against its last sample (the growth a leak would show).
# Not part of ./ci/test.sh: run it by hand, for an hour (docs/reliability.md has the last table).
#
# Usage: sudo ./ci/soak.sh [--duration S] [--restart-every S] [--cut-every S] [--cut-for S]
#                          [--sample-every S] [--warm-up S] [--build DIR] [--out DIR]
# Exit codes: 0 no corrupt grain and no process lost, 1 a corrupt grain, a process that died or a
# set-up failure, 2 bad arguments. Growth in memory or descriptors is reported, not judged.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=3600
restartEvery=600
cutEvery=900
cutFor=3
sampleEvery=10
warmUp=600
build=build/soak
out=

usage() { sed -n '/^# Usage:/,/^# Exit codes/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
        --duration) duration=${2:?}; shift 2 ;;
        --restart-every) restartEvery=${2:?}; shift 2 ;;
        --cut-every) cutEvery=${2:?}; shift 2 ;;
        --cut-for) cutFor=${2:?}; shift 2 ;;
        --sample-every) sampleEvery=${2:?}; shift 2 ;;
        --warm-up) warmUp=${2:?}; shift 2 ;;
        --build) build=${2:?}; shift 2 ;;
        --out) out=${2:?}; shift 2 ;;
        -h|--help) usage ;;
        *) echo "error: unknown argument '$1'" >&2; usage ;;
    esac
done
for pair in "duration:$duration" "restart-every:$restartEvery" "cut-every:$cutEvery" "cut-for:$cutFor" "sample-every:$sampleEvery" "warm-up:$warmUp"; do
    [[ ${pair#*:} =~ ^[1-9][0-9]*$ ]] || { echo "error: --${pair%%:*} must be whole seconds above 0, got '${pair#*:}'" >&2; exit 2; }
done
if [ "$(id -u)" -ne 0 ]; then
    echo "error: the soak makes network namespaces (ip netns) and must run as root" >&2
    exit 1
fi

source ci/packages.sh
source ci/hosts.sh
mxl_install_packages jq

echo "== building the bridge, mxl-info and mxl-soak-media in $build"
mxl_build_tools "$build" ON mxl-fabric-bridge mxl-info mxl-soak-media
bridge=$(realpath "$build/tools/mxl-fabric-bridge/mxl-fabric-bridge")
info=$(realpath "$build/tools/mxl-info/mxl-info")
media=$(realpath "$build/tests/integration/bridge/mxl-soak-media")

nsA=mxlsoak$$a
nsB=mxlsoak$$b
vethA=mxs$$a
vethB=mxs$$b
addressA=10.203.0.1
addressB=10.203.0.2
port=7400
cutTable=mxlsoak_cut_$$
work=${out:-$(mktemp -d /tmp/mxl-soak-XXXXXX)}
mkdir -p "$work"
domainA=$(mktemp -d /dev/shm/mxl-soak-a-XXXXXX)
domainB=$(mktemp -d /dev/shm/mxl-soak-b-XXXXXX)
key=$(mktemp /tmp/mxl-soak-key-XXXXXX)
writer=
verifier=
bridgeA=
bridgeB=
declare -A startedAt
export MXL_LOG_LEVEL=warn

cleanup() {
    local status=$?
    set +e
    ip netns exec "$nsA" nft "delete table inet $cutTable" 2>/dev/null
    mxl_clean_up "$status" "$work" "$nsA" "$nsB" "$verifier" "$bridgeB" "$bridgeA" "$writer"
    rm -rf "$domainA" "$domainB" "$key"
    echo "== samples and logs are in $work"
}
trap cleanup EXIT

monotonic() { awk '{ print $1 }' /proc/uptime; }
now() { monotonic | awk '{ printf "%d", $1 }'; }
(umask 077 && head -c 32 /dev/urandom > "$key")

video1=$(cat /proc/sys/kernel/random/uuid)
video2=$(cat /proc/sys/kernel/random/uuid)
audio=$(cat /proc/sys/kernel/random/uuid)
flows=(--video "$video1" --video "$video2" --audio "$audio")

echo "== two hosts: $nsA ($addressA) and $nsB ($addressB), joined by a veth pair"
mxl_make_two_hosts "$nsA" "$nsB" "$vethA" "$vethB" "$addressA" "$addressB"

startA() {
    ip netns exec "$nsA" "$bridge" --domain "$domainA" --listen "$addressA:$port" --psk-file "$key" --provider tcp 2>> "$work/bridge-a.log" &
    bridgeA=$!
    startedAt[$bridgeA]=$(now)
}
startB() {
    ip netns exec "$nsB" "$bridge" --domain "$domainB" --listen "$addressB:$port" --psk-file "$key" --provider tcp \
        --import "$addressA:$port/$video1" --import "$addressA:$port/$video2" --import "$addressA:$port/$audio" 2>> "$work/bridge-b.log" &
    bridgeB=$!
    startedAt[$bridgeB]=$(now)
}

echo "== writer on A (video $video1, video $video2, audio $audio), bridges, verifier on B"
ip netns exec "$nsA" "$media" write --domain "$domainA" "${flows[@]}" --every "$sampleEvery" > "$work/writer.jsonl" 2> "$work/writer.log" &
writer=$!
startedAt[$writer]=$(now)
startA
startB
ip netns exec "$nsB" "$media" verify --domain "$domainB" "${flows[@]}" --every "$sampleEvery" > "$work/verifier.jsonl" 2> "$work/verifier.log" &
verifier=$!
startedAt[$verifier]=$(now)

activeImports() { "$info" --domain "$domainB" --bridge --json 2>/dev/null | jq '[.bridge.flows[] | select(.role == "import" and .state == "active")] | length'; }
allActive() { [ "$(activeImports)" -ge 3 ]; }
if ! mxl_wait_for 60 allActive; then
    echo "error: B's imports did not all become active within 60 s" >&2
    exit 1
fi

samples=$work/samples.jsonl
events=$work/events.jsonl
: > "$samples"
: > "$events"
sampleProcess() { # NAME PID ELAPSED
    local name=$1 pid=$2 t=$3 rss fds
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo null)
    fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    jq -n -c --arg name "$name" --argjson pid "$pid" --argjson t "$t" --argjson age "$(($(now) - ${startedAt[$pid]}))" \
        --argjson rss "${rss:-null}" --argjson fds "$fds" '{t: $t, process: $name, pid: $pid, age_s: $age, rss_kib: $rss, fds: $fds}' >> "$samples"
}
event() { jq -n -c --argjson t "$1" --arg what "$2" '{t: $t, event: $what}' >> "$events"; echo "   $(date +%T) t=$1 s: $2"; }
alive() { kill -0 "$1" 2>/dev/null; }

echo "== soaking for $duration s: a bridge restarted every $restartEvery s (A, then B, ...), the link cut for $cutFor s every $cutEvery s"
begin=$(now)
nextSample=0
nextRestart=$restartEvery
nextCut=$cutEvery
restarts=0
lost=
while :; do
    t=$(($(now) - begin))
    [ "$t" -lt "$duration" ] || break
    for pair in "writer:$writer" "verifier:$verifier" "bridge-a:$bridgeA" "bridge-b:$bridgeB"; do
        alive "${pair#*:}" || lost="$lost ${pair%%:*}"
    done
    if [ -n "$lost" ]; then
        event "$t" "lost:$lost"
        break
    fi
    if [ "$t" -ge "$nextSample" ]; then
        # The machine's load beside the soak: grains missed while other work ran are told apart.
        jq -n -c --argjson t "$t" --argjson load "$(awk '{ print $1 }' /proc/loadavg)" '{t: $t, process: "machine", load1: $load}' >> "$work/load.jsonl"
        sampleProcess writer "$writer" "$t"
        sampleProcess verifier "$verifier" "$t"
        sampleProcess bridge-a "$bridgeA" "$t"
        sampleProcess bridge-b "$bridgeB" "$t"
        nextSample=$((nextSample + sampleEvery))
    fi
    if [ "$t" -ge "$nextRestart" ]; then
        restarts=$((restarts + 1))
        if [ $((restarts % 2)) -eq 1 ]; then
            mxl_stop_pid "$bridgeA"
            startA
            event "$t" "bridge A restarted (SIGTERM, then a new process)"
        else
            mxl_stop_pid "$bridgeB"
            startB
            event "$t" "bridge B restarted (SIGTERM, then a new process)"
        fi
        nextRestart=$((nextRestart + restartEvery))
    fi
    if [ "$t" -ge "$nextCut" ]; then
        ip netns exec "$nsA" nft "add table inet $cutTable
add chain inet $cutTable input { type filter hook input priority -300; policy accept; }
add chain inet $cutTable output { type filter hook output priority -300; policy accept; }
add rule inet $cutTable input iifname \"$vethA\" drop
add rule inet $cutTable output oifname \"$vethA\" drop"
        event "$t" "link cut for $cutFor s"
        sleep "$cutFor"
        ip netns exec "$nsA" nft "delete table inet $cutTable"
        nextCut=$((nextCut + cutEvery))
    fi
    sleep 1
done
end=$(($(now) - begin))

# The final counters: the writer and verifier print them once more on SIGTERM.
mxl_stop_pid "$verifier"
verifier=
mxl_stop_pid "$writer"
writer=

summary=$(jq -n -c --slurpfile samples "$samples" --slurpfile events "$events" \
    --slurpfile writes <(tail -n 3 "$work/writer.jsonl") --slurpfile checks <(tail -n 3 "$work/verifier.jsonl") \
    --argjson duration "$end" --argjson warmUp "$warmUp" --arg lost "$lost" '
    def growth($a; $b): if $a == null or $b == null or $a == 0 then null else (($b - $a) * 10000 / $a | round) / 100 end;
    {
        duration_s: $duration,
        events: ($events | map(.event)),
        lost: ($lost | ltrimstr(" ")),
        flows: [$checks[] as $c | ([$writes[] | select(.flow == $c.flow)][0]) as $w |
            {flow: $c.flow, media: $c.media, written: $w.written, writer_skipped: $w.skipped, verified: $c.verified, corrupt: $c.corrupt,
             missed: $c.missed, late: $c.late, invalid_flagged: $c.invalid, silenced: $c.silenced, reopened: $c.reopened,
             problem: ([$w.problem, $c.problem] | map(select(. != "")) | join("; "))}],
        processes: [$samples | group_by(.pid)[] | sort_by(.t) as $s |
            ([$s[] | select(.age_s >= $warmUp)][0]) as $warm | $s[-1] as $last |
            {process: $s[0].process, pid: $s[0].pid, from_t: $s[0].t, to_t: $last.t, samples: ($s | length),
             rss_kib_max: ([$s[].rss_kib] | max),
             rss_kib_at_warm_up: $warm.rss_kib, rss_kib_last: $last.rss_kib, rss_growth_percent: growth($warm.rss_kib; $last.rss_kib),
             fds_at_warm_up: $warm.fds, fds_last: $last.fds, fds_max: ([$s[].fds] | max)}]
    }')

echo
echo "== results ($end s)"
jq -r '.flows[] | "   \(.media) \(.flow): written \(.written) (writer skipped \(.writer_skipped)), verified \(.verified), corrupt \(.corrupt), missed \(.missed), late \(.late), flagged invalid \(.invalid_flagged), silenced \(.silenced), mirror reopened \(.reopened)\(if .problem != "" then ", problem: " + .problem else "" end)"' <<< "$summary"
jq -r '.processes[] | "   \(.process) pid \(.pid), t \(.from_t)..\(.to_t) s: RSS \(.rss_kib_at_warm_up // "-") -> \(.rss_kib_last) KiB (growth \(.rss_growth_percent // "-") %, max \(.rss_kib_max)), fds \(.fds_at_warm_up // "-") -> \(.fds_last) (max \(.fds_max))"' <<< "$summary"
echo "$summary" > "$work/summary.json"
echo "$summary"
if [ -n "$lost" ]; then
    echo "error: lost process(es):$lost" >&2
    exit 1
fi
if [ "$(jq '[.flows[].corrupt] | add' <<< "$summary")" -ne 0 ]; then
    echo "error: corrupt grains or samples" >&2
    exit 1
fi
