#!/usr/bin/env bash
# LSTP cluster benchmark: pairing rate and the cost of the inter-node hop, on loopback.
#
#   bench/cluster/run.sh [--quick] [--runs N] [--duration S] [--pairs N] [--concurrency N] [--no-build]
#
# Three middles: "solo" (no --cluster: the in-memory registry) and "node-a", "node-b" (one cluster on a
# PostgreSQL this script starts in a temporary directory, with the server's default settings).
#   pairings   bench/cluster/pairings.cs opens --pairs pairs of raw end links, --concurrency at a time, and
#              times each pair until both links hold the peer's setup (no end-to-end handshake: only the
#              middles' work): both ends at solo; both at node-a; one at node-a and one at node-b.
#   throughput iperf3 -c through `lstp end --forward` -> middle(s) -> `lstp end --service`, 1 stream:
#              both ends at solo (one middle) vs server end at node-a and client end at node-b (the ends
#              pair through one inter-node hop), each with --plaintext ends and with end-to-end TLS 1.3.
# Median of --runs runs (default 3; --quick: 1 run, 3 s, 500 pairs), interleaved. Raw numbers go to
# bench/out/cluster-<stamp>/, the summary to bench/cluster/RESULTS-cluster.md. Loopback only.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/bench/cluster

RUNS=3
DURATION=10
PAIRS=2000
CONCURRENCY=64
BUILD=1

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }
while (($#)); do
  case $1 in
    --quick) RUNS=1; DURATION=3; PAIRS=500 ;;
    --runs) RUNS=${2:?--runs needs a number}; shift ;;
    --duration) DURATION=${2:?--duration needs seconds}; shift ;;
    --pairs) PAIRS=${2:?--pairs needs a number}; shift ;;
    --concurrency) CONCURRENCY=${2:?--concurrency needs a number}; shift ;;
    --no-build) BUILD=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
for n in "$RUNS" "$DURATION" "$PAIRS" "$CONCURRENCY"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --runs, --duration, --pairs and --concurrency take positive integers" >&2; exit 2; }
done

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x $PG_BIN/initdb ]] || { echo "run.sh: PostgreSQL server binaries missing: run scripts/install-deps.sh" >&2; exit 1; }
command -v iperf3 >/dev/null || { echo "run.sh: iperf3 missing: run scripts/install-deps.sh" >&2; exit 1; }

STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=$ROOT/bench/out/cluster-$STAMP
mkdir -p "$OUT/raw" "$OUT/logs"
WORK=$(mktemp -d /tmp/lstp-cluster-bench.XXXXXX)
LSTP=$ROOT/out/lstp/lstp
STARTED_AT=$SECONDS

log() { printf '[%4ds] %s\n' $((SECONDS - STARTED_AT)) "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# Every background process is recorded and stopped on exit, by pid; PostgreSQL by pg_ctl.
PIDS=()
AS_PG=()
[[ $(id -u) -eq 0 ]] && AS_PG=(runuser -u postgres --)
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [[ -d $WORK/pg/data ]] && (cd /tmp && "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast -w stop >/dev/null 2>&1 || true)
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  local port=$1 what=$2 i
  for ((i = 0; i < 300; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  die "$what did not listen on $port"
}

# ---------------------------------------------------------------------------------------------
if ((BUILD)); then
  log "building lstp (Release) and the pairing loader"
  dotnet publish "$ROOT/src/Lstp.Cli" -c Release -o "$ROOT/out/lstp" -nologo -v quiet >"$OUT/logs/build.txt" 2>&1 || die "build (see $OUT/logs/build.txt)"
fi
dotnet build -c Release "$HERE/pairings.cs" -nologo -v quiet >"$OUT/logs/build-pairings.txt" 2>&1 || die "pairings.cs build (see $OUT/logs/build-pairings.txt)"
[[ -x $LSTP ]] || die "$LSTP missing (run without --no-build)"

log "starting PostgreSQL"
chmod 711 "$WORK" # postgres must reach its directory inside
mkdir -p "$WORK/pg"
[[ ${#AS_PG[@]} -gt 0 ]] && chown postgres:postgres "$WORK/pg"
PG_PORT=$(free_port)
(cd /tmp && "${AS_PG[@]}" "$PG_BIN/initdb" -D "$WORK/pg/data" -A trust -U postgres -E UTF8 --locale=C >"$OUT/logs/initdb.txt" 2>&1) || die "initdb"
(cd /tmp && "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/server.log" -w -t 30 \
  -o "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null) || die "PostgreSQL did not start"
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -q -c "CREATE DATABASE lstp" || die "createdb"
CLUSTER="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=lstp"

declare -A LINK
start_middle() {
  local name=$1; shift
  LINK[$name]=$(free_port)
  "$LSTP" middle --listen "127.0.0.1:${LINK[$name]}" --advertise "127.0.0.1:${LINK[$name]}" --name "$name" --admin off \
    --max-connections-per-second 1000000 --max-waiting-per-source 1000000 --max-links-per-source 1000000 --log-level warning "$@" \
    >"$OUT/logs/middle-$name.txt" 2>&1 &
  PIDS+=($!)
  wait_port "${LINK[$name]}" "middle $name"
}
log "starting middles solo, node-a, node-b"
start_middle solo
start_middle node-a --cluster "$CLUSTER"
start_middle node-b --cluster "$CLUSTER"

# ---------------------------------------------------------------------------------------------
PAIRINGS=(solo:solo:solo node:node-a:node-a across:node-a:node-b)
log "pairings: $PAIRS pairs, $CONCURRENCY in flight, $RUNS run(s) of each"
for ((run = 1; run <= RUNS; run++)); do
  for spec in "${PAIRINGS[@]}"; do
    IFS=: read -r label a b <<<"$spec"
    dotnet run -c Release --no-build "$HERE/pairings.cs" -- --a "127.0.0.1:${LINK[$a]}" --b "127.0.0.1:${LINK[$b]}" \
      --pairs "$PAIRS" --concurrency "$CONCURRENCY" >"$OUT/raw/pairings-$label-$run.json" 2>"$OUT/logs/pairings-$label-$run.txt" ||
      die "pairings $label run $run (see $OUT/logs/pairings-$label-$run.txt)"
    log "  $label run $run: $(cat "$OUT/raw/pairings-$label-$run.json")"
  done
done

# ---------------------------------------------------------------------------------------------
IPERF_PORT=$(free_port)
iperf3 -s -p "$IPERF_PORT" -B 127.0.0.1 >"$OUT/logs/iperf3-server.txt" 2>&1 &
PIDS+=($!)
wait_port "$IPERF_PORT" iperf3

declare -A FORWARD
start_pair() { # label server-middle client-middle [--plaintext]
  local label=$1 server=$2 client=$3; shift 3
  FORWARD[$label]=$(free_port)
  "$LSTP" end --middle "127.0.0.1:${LINK[$server]}" --secret "bench $label $STAMP" --name "$label-server" \
    --service "iperf=127.0.0.1:$IPERF_PORT" "$@" >"$OUT/logs/end-$label-server.txt" 2>&1 &
  PIDS+=($!)
  sleep 0.5 # the server end registers first and waits: the client end's node claims it
  "$LSTP" end --middle "127.0.0.1:${LINK[$client]}" --secret "bench $label $STAMP" --name "$label-client" \
    --forward "127.0.0.1:${FORWARD[$label]}=iperf" "$@" >"$OUT/logs/end-$label-client.txt" 2>&1 &
  PIDS+=($!)
}
THROUGHPUT=(solo-plain:solo:solo:--plaintext hop-plain:node-a:node-b:--plaintext solo-tls:solo:solo: hop-tls:node-a:node-b:)
log "throughput: starting four tunnels"
for spec in "${THROUGHPUT[@]}"; do
  IFS=: read -r label server client flag <<<"$spec"
  start_pair "$label" "$server" "$client" ${flag:+"$flag"}
done
for spec in "${THROUGHPUT[@]}"; do
  label=${spec%%:*}
  for ((i = 0; i < 300; i++)); do grep -q "open via" "$OUT/logs/end-$label-client.txt" 2>/dev/null && break; sleep 0.1; done
  grep -q "open via" "$OUT/logs/end-$label-client.txt" || die "tunnel $label did not open (see $OUT/logs/end-$label-*.txt)"
  grep -o "open via .*" "$OUT/logs/end-$label-client.txt" | head -1 | sed "s/^/$label: /" >>"$OUT/raw/paths.txt"
done
cat "$OUT/raw/paths.txt" >&2
log "throughput: iperf3 1 stream, $DURATION s, $RUNS run(s), paths interleaved"
iperf3 -c 127.0.0.1 -p "${FORWARD[solo-plain]}" -t 2 >/dev/null 2>&1 || true # warm-up
for ((run = 1; run <= RUNS; run++)); do
  for spec in "${THROUGHPUT[@]}"; do
    label=${spec%%:*}
    iperf3 -c 127.0.0.1 -p "${FORWARD[$label]}" -t "$DURATION" -J >"$OUT/raw/iperf-$label-$run.json" 2>"$OUT/logs/iperf-$label-$run.txt" ||
      die "iperf3 through $label (see $OUT/raw/iperf-$label-$run.json)"
    log "  $label run $run: $(python3 -c 'import json,sys; print("%.2f Gbit/s" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' "$OUT/raw/iperf-$label-$run.json")"
  done
done

# ---------------------------------------------------------------------------------------------
python3 - "$OUT" "$HERE/RESULTS-cluster.md" "$RUNS" "$DURATION" "$PAIRS" "$CONCURRENCY" "$((SECONDS - STARTED_AT))" "$("$PG_BIN/postgres" --version)" <<'PY'
import glob, json, os, statistics, subprocess, sys, datetime
out, results, runs, duration, pairs, concurrency, took, pg = sys.argv[1:9]

def median_range(values, fmt):
    if not values: return "n/a"
    m = statistics.median(values)
    return f"{fmt(m)} ({fmt(min(values))}–{fmt(max(values))})" if len(values) > 1 else fmt(m)

def pairing(label):
    rows = [json.load(open(p)) for p in sorted(glob.glob(f"{out}/raw/pairings-{label}-*.json"))]
    return ([r["pairs_per_second"] for r in rows], [r["p50_ms"] for r in rows], [r["p99_ms"] for r in rows])

def gbits(label):
    return [json.load(open(p))["end"]["sum_received"]["bits_per_second"] / 1e9 for p in sorted(glob.glob(f"{out}/raw/iperf-{label}-*.json"))]

def git(*args):
    try: return subprocess.run(["git", *args], capture_output=True, text=True, cwd=os.path.dirname(results)).stdout.strip()
    except OSError: return "?"

cpus = os.cpu_count()
load = open("/proc/loadavg").read().split()[:3]
paths = open(f"{out}/raw/paths.txt").read().strip().splitlines()
lines = [
    "## Cluster of middles (bench/cluster/run.sh)",
    "",
    f"- **Date:** {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; {cpus} CPUs, load average {' '.join(load)} at the end (a shared machine)",
    f"- **Code:** git commit `{git('rev-parse', '--short', 'HEAD')}` plus uncommitted changes; Release build; {pg.strip()} with its default settings (the cluster's `nodes` and `waiting` tables are UNLOGGED: a registration writes no WAL)",
    f"- **Reproduce:** `bench/cluster/run.sh` (runs={runs}, {duration} s per iperf3 test, {pairs} pairs at {concurrency} in flight); raw numbers in `bench/out/{os.path.basename(out)}/`; the run took {took} s",
    "",
    "Everything on loopback: the middles, PostgreSQL, the ends and the load share the same CPUs. Each cell is the median of the runs (min–max).",
    "",
    "### Pairings per second",
    "",
    "| ends register at | pairings/s | time to pair, p50 ms | p99 ms |",
    "|---|---:|---:|---:|",
]
names = {"solo": "one middle, in-memory registry (no cluster)", "node": "one cluster node (both ends at node-a)", "across": "two cluster nodes (one end at node-a, one at node-b)"}
for label in ["solo", "node", "across"]:
    rate, p50, p99 = pairing(label)
    lines.append(f"| {names[label]} | {median_range(rate, lambda v: f'{v:,.0f}')} | {median_range(p50, lambda v: f'{v:.1f}')} | {median_range(p99, lambda v: f'{v:.1f}')} |")
lines += [
    "",
    f"`pairings.cs` opens each pair's two links at once (preamble, COMMONUNIQUE_INFO, TOPOLOGY_EXCHANGE, no end-to-end handshake) and times the pair until both links hold the peer's setup; {concurrency} pairs in flight. A pairing in the cluster is one registration per end, one round trip each (an implicit transaction: advisory lock on the pairing key, then the claim-or-store statement); across nodes the second end's node also dials the first end's node and hands the end on (NODE_CLAIM).",
    "",
    "### Throughput through one inter-node hop",
    "",
    "| path | `--plaintext`, Gbit/s | TLS 1.3 end to end, Gbit/s |",
    "|---|---:|---:|",
]
sp, hp, st, ht = gbits("solo-plain"), gbits("hop-plain"), gbits("solo-tls"), gbits("hop-tls")
g = lambda v: f"{v:.2f}"
lines.append(f"| end → one middle → end | {median_range(sp, g)} | {median_range(st, g)} |")
lines.append(f"| end → node-b → node-a → end (one inter-node hop) | {median_range(hp, g)} | {median_range(ht, g)} |")
if sp and hp and st and ht:
    lines.append(f"| hop / one middle | {statistics.median(hp) / statistics.median(sp):.2f}× | {statistics.median(ht) / statistics.median(st):.2f}× |")
lines += [
    "",
    f"`iperf3 -c` 1 stream, {duration} s, receiver side, through `lstp end --forward` → middle(s) → `lstp end --service`. The hop adds a second relay process (node-b hands the end's RELAY frames to node-a over an LSTP link); on this machine it competes for the same CPUs as the ends, the other middle and iperf3, so the ratio reflects CPU shared on one machine rather than a network hop between machines. Paths as the client ends reported them:",
    "",
    *[f"- `{p}`" for p in paths],
    "",
]
open(results, "w").write("\n".join(lines))
print("\n".join(lines))
PY
log "done: $HERE/RESULTS-cluster.md"
