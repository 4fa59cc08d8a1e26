#!/usr/bin/env bash
# LSTP compression benchmark: what --compress off|on|auto does to transfer time on a slow link, and what auto
# costs on incompressible data on a fast one.
#
#   bench/compression/run.sh [--runs N] [--size MiB] [--loop-size MiB] [--rate MBIT] [--delay MS] [--no-build]
#
# 1. Codecs: bench/compression/codecs.cs measures the compressors alone (ratio, CPU speed, state size).
# 2. Slow link: two network namespaces joined by a veth pair, each side's egress limited by tbf to --rate
#    (default 50 Mbit/s). The client end is in one namespace; the middle, the server end and a sink service in
#    the other. This kernel has no sch_netem, so the --delay (default 10 ms each way, 20 ms round trip) is added
#    by a userspace relay (transfer.py delay) in front of the middle. A text corpus (licenses and this
#    repository's sources, repeated) and random data of --size MiB (default 16) cross the tunnel, with both ends
#    --compress off, on and auto; time to the sink's SHA-256 answer, and bytes on the link.
# 3. Loopback: the same three processes on a namespace's loopback, no shaping; --loop-size MiB (default 512) of
#    random data with off and auto (and on), interleaved, to measure auto's cost where compression cannot help.
# Median of --runs runs (default 3; loopback uses 2×runs+1). Raw numbers go to bench/compression/out/<stamp>/,
# the summary to bench/compression/RESULTS-compression.md. Needs root (namespaces, tc). Traffic stays inside
# namespaces this script creates.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RUNS=3
SIZE=16
LOOP_SIZE=512
RATE=50
DELAY=10
BUILD=1
while (($#)); do
  case $1 in
    --runs) RUNS=${2:?}; shift ;;
    --size) SIZE=${2:?}; shift ;;
    --loop-size) LOOP_SIZE=${2:?}; shift ;;
    --rate) RATE=${2:?}; shift ;;
    --delay) DELAY=${2:?}; shift ;;
    --no-build) BUILD=0 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $(id -u) -eq 0 ]] || { echo "run.sh: run as root (network namespaces and tc)" >&2; exit 1; }

LSTP=$ROOT/out/lstp-compress/lstp
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=$HERE/out/$STAMP
mkdir -p "$OUT/logs"
WORK=$(mktemp -d /tmp/lstp-compress.XXXXXX)
CLI=lstpc-cli-$$
SRV=lstpc-srv-$$
LOOP=lstpc-loop-$$
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for ns in "$CLI" "$SRV" "$LOOP"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

if ((BUILD)); then
  echo "== building lstp (Release) into out/lstp-compress"
  dotnet publish "$ROOT/src/Lstp.Cli" -c Release -o "$ROOT/out/lstp-compress" -v quiet -nologo >"$OUT/logs/publish.log"
fi
[[ -x $LSTP ]] || { echo "run.sh: $LSTP is missing (run without --no-build)" >&2; exit 1; }

echo "== codecs"
(cd "$HERE" && dotnet run -c Release codecs.cs -- "$ROOT") | tee "$OUT/codecs.txt"

echo "== corpora: $SIZE MiB of text and of random data, $LOOP_SIZE MiB of random data"
: >"$WORK/seed.txt"
for f in /usr/share/common-licenses/* ; do [[ -f $f ]] && cat "$f" >>"$WORK/seed.txt"; done
find "$ROOT/docs" "$ROOT/src" -type f \( -name '*.md' -o -name '*.cs' \) -not -path '*/obj/*' -print0 | sort -z | xargs -0 cat >>"$WORK/seed.txt"
: >"$WORK/text.bin"
while (($(stat -c %s "$WORK/text.bin") < SIZE * 1048576)); do cat "$WORK/seed.txt" >>"$WORK/text.bin"; done
truncate -s $((SIZE * 1048576)) "$WORK/text.bin"
head -c $((SIZE * 1048576)) /dev/urandom >"$WORK/random.bin"
head -c $((LOOP_SIZE * 1048576)) /dev/urandom >"$WORK/loop.bin"
echo "seed corpus: $(stat -c %s "$WORK/seed.txt") bytes ($(ls /usr/share/common-licenses | wc -l) license texts and the repository's .md and .cs files)" >"$OUT/corpus.txt"

# start NS NAME CMD...: a background process inside a namespace, its output in logs/NAME.log
start() {
  local ns=$1 name=$2
  shift 2
  ip netns exec "$ns" "$@" >>"$OUT/logs/$name.log" 2>&1 &
  PIDS+=($!)
}

stop_all() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}

# wait_open LOG...: until every end's log says its tunnel is open
wait_open() {
  for _ in $(seq 1 300); do
    local all=1
    for log in "$@"; do grep -q "open via" "$log" 2>/dev/null || all=0; done
    ((all)) && return 0
    sleep 0.1
  done
  echo "run.sh: the tunnel did not open; see $OUT/logs" >&2
  return 1
}

# tunnel NS_CLIENT NS_SERVER MIDDLE_DIAL MODE TAG: a server end and a client end with --compress MODE, paired at
# the middle already running in NS_SERVER; the client end's forward to the sink listens on 127.0.0.1:$FORWARD.
FORWARD=9100
tunnel() {
  local ns_client=$1 ns_server=$2 dial=$3 mode=$4 tag=$5
  FORWARD=$((FORWARD + 1)) # a fresh port each time: no waiting on the last run's sockets
  start "$ns_server" "$tag-server" "$LSTP" end --middle 127.0.0.1:7700 --secret "bench-$tag" --name server --service sink=127.0.0.1:9000 --compress "$mode"
  start "$ns_client" "$tag-client" "$LSTP" end --middle "$dial" --secret "bench-$tag" --name client --forward "127.0.0.1:$FORWARD=sink" --compress "$mode"
  wait_open "$OUT/logs/$tag-server.log" "$OUT/logs/$tag-client.log"
}

middle() { start "$1" "middle-$1" "$LSTP" middle --listen 127.0.0.1:7700 --admin off --name bench-middle; sleep 0.5; }

tx_bytes() { ip netns exec "$CLI" cat /sys/class/net/lc0/statistics/tx_bytes; }

echo "== slow link: ${RATE} Mbit/s each way (tbf), ${DELAY} ms each way (relay)"
ip netns add "$CLI"
ip netns add "$SRV"
ip link add lc0 netns "$CLI" type veth peer name ls0 netns "$SRV"
ip -n "$CLI" addr add 10.77.0.1/24 dev lc0
ip -n "$SRV" addr add 10.77.0.2/24 dev ls0
for ns in "$CLI" "$SRV"; do ip -n "$ns" link set lo up; done
ip -n "$CLI" link set lc0 up
ip -n "$SRV" link set ls0 up
ip netns exec "$CLI" tc qdisc add dev lc0 root tbf rate "${RATE}mbit" burst 32kb latency 50ms
ip netns exec "$SRV" tc qdisc add dev ls0 root tbf rate "${RATE}mbit" burst 32kb latency 50ms
start "$SRV" sink python3 "$HERE/transfer.py" sink 9000
start "$SRV" delay python3 "$HERE/transfer.py" delay 10.77.0.2 7701 127.0.0.1 7700 "$DELAY"
middle "$SRV"
SINK_PIDS=("${PIDS[@]}")

LINK=$OUT/link.tsv
printf 'corpus\tmode\trun\tseconds\tbytes\tlink_bytes\n' >"$LINK"
for mode in off on auto; do
  PIDS=()
  tunnel "$CLI" "$SRV" 10.77.0.2:7701 "$mode" "link-$mode"
  for corpus in text random; do
    for run in $(seq 1 "$RUNS"); do
      before=$(tx_bytes)
      result=$(ip netns exec "$CLI" python3 "$HERE/transfer.py" send 127.0.0.1 "$FORWARD" "$WORK/$corpus.bin" --hash)
      after=$(tx_bytes)
      read -r seconds bytes <<<"$result"
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$corpus" "$mode" "$run" "$seconds" "$bytes" $((after - before)) | tee -a "$LINK"
    done
  done
  stop_all
done
PIDS=("${SINK_PIDS[@]}")
stop_all

echo "== loopback: $LOOP_SIZE MiB of random data, off / auto / on, interleaved"
ip netns add "$LOOP"
ip -n "$LOOP" link set lo up
start "$LOOP" loop-sink python3 "$HERE/transfer.py" sink 9000
middle "$LOOP"
SINK_PIDS=("${PIDS[@]}")
LOOPS=$OUT/loopback.tsv
printf 'mode\trun\tseconds\tbytes\n' >"$LOOPS"
for run in $(seq 1 $((2 * RUNS + 1))); do
  for mode in off auto on; do
    PIDS=()
    tunnel "$LOOP" "$LOOP" 127.0.0.1:7700 "$mode" "loop-$mode-$run"
    result=$(ip netns exec "$LOOP" python3 "$HERE/transfer.py" send 127.0.0.1 "$FORWARD" "$WORK/loop.bin")
    read -r seconds bytes <<<"$result"
    printf '%s\t%s\t%s\t%s\n' "$mode" "$run" "$seconds" "$bytes" | tee -a "$LOOPS"
    stop_all
  done
done
PIDS=("${SINK_PIDS[@]}")
stop_all

python3 "$HERE/report.py" "$OUT" "$RATE" "$DELAY" "$SIZE" "$LOOP_SIZE" >"$HERE/RESULTS-compression.md"
echo "== wrote bench/compression/RESULTS-compression.md (raw numbers in $OUT)"
