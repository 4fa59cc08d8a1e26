#!/usr/bin/env bash
# LSTP cluster benchmark: pairing rate and the cost of the inter-node hop, on loopback.
#
#   bench/cluster/run.sh [--quick] [--runs N] [--duration S] [--pairs N] [--concurrency N] [--no-build]
#
# Three middles: "solo" (no --cluster: the in-memory registry) and "node-a", "node-b": one Akka.Cluster of
# two nodes, each with its own cluster endpoint (--advertise 127.0.0.1:CPORT), node-a seeding itself and node-b
# joining through node-a, cluster traffic over mutual TLS with a certificate made by `lstp cluster-cert` (as an
# operator runs it). Measuring starts once both nodes' admin endpoints (/api/status) list both nodes up.
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
source "$ROOT/bench/lib.sh" # usage, log, die, wait_line, free_ports, ...
HERE=$ROOT/bench/cluster

RUNS=3
DURATION=10
PAIRS=2000
CONCURRENCY=64
BUILD=1

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

command -v iperf3 >/dev/null || { echo "run.sh: iperf3 missing: run scripts/install-deps.sh" >&2; exit 1; }

STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=$ROOT/bench/out/cluster-$STAMP
mkdir -p "$OUT/raw" "$OUT/logs"
WORK=$(mktemp -d /tmp/lstp-cluster-bench.XXXXXX)
LSTP=$ROOT/out/lstp/lstp
STARTED_AT=$SECONDS


# Every background process is recorded and stopped on exit, by pid.
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { # port what [pid]: a cluster node opens its link listener only once it has joined (up to 60 s)
  local port=$1 what=$2 pid=${3:-} i
  for ((i = 0; i < 900; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null && die "$what exited before it listened on $port"
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

CERT=$WORK/cluster.p12
"$LSTP" cluster-cert "$CERT" >"$OUT/logs/cluster-cert.txt" 2>&1 || die "lstp cluster-cert (see $OUT/logs/cluster-cert.txt)"

# The link listener's address is the middle's link address (no --public); a cluster node also gets its own cluster
# endpoint (--advertise) and an admin endpoint on loopback, to see the membership; the solo middle runs without one.
declare -A LINK ADMIN CPORT
start_middle() { # name [cluster flags...]
  local name=$1 admin=off; shift
  LINK[$name]=$(free_port)
  if (($#)); then ADMIN[$name]=$(free_port); admin=127.0.0.1:${ADMIN[$name]}; fi
  "$LSTP" middle --listen "127.0.0.1:${LINK[$name]}" --name "$name" --admin "$admin" \
    --max-connections-per-second 1000000 --max-waiting-per-source 1000000 --max-links-per-source 1000000 --log-level warning "$@" \
    >"$OUT/logs/middle-$name.txt" 2>&1 &
  PIDS+=($!)
  wait_port "${LINK[$name]}" "middle $name (see $OUT/logs/middle-$name.txt)" "$!"
}
members_up() { # admin-port names...: /api/status lists every one of the names, each with health "up"
  local port=$1; shift
  curl -fsS --max-time 2 "http://127.0.0.1:$port/api/status" 2>/dev/null | python3 -c '
import json, sys
members = {m["name"]: m["health"] for m in json.load(sys.stdin)["cluster"]["members"]}
sys.exit(0 if all(members.get(n) == "up" for n in sys.argv[1:]) else 1)' "$@"
}
log "starting middles solo, node-a, node-b (cluster endpoints, mutual TLS)"
CPORT[node-a]=$(free_port)
CPORT[node-b]=$(free_port)
start_middle solo
start_middle node-a --advertise "127.0.0.1:${CPORT[node-a]}" --cluster "127.0.0.1:${CPORT[node-a]}" --cluster-cert "$CERT"
start_middle node-b --advertise "127.0.0.1:${CPORT[node-b]}" --cluster "127.0.0.1:${CPORT[node-a]}" --cluster-cert "$CERT"
for ((i = 0; i < 300; i++)); do
  members_up "${ADMIN[node-a]}" node-a node-b && members_up "${ADMIN[node-b]}" node-a node-b && break
  sleep 0.1
done
members_up "${ADMIN[node-a]}" node-a node-b && members_up "${ADMIN[node-b]}" node-a node-b || die "node-b did not join node-a's cluster (see $OUT/logs/middle-node-*.txt; curl http://127.0.0.1:${ADMIN[node-a]}/api/status)"
curl -fsS "http://127.0.0.1:${ADMIN[node-a]}/api/status" | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["cluster"]))' >"$OUT/raw/cluster-status.json"
log "cluster up: node-a and node-b list each other"

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
python3 - "$OUT" "$HERE/RESULTS-cluster.md" "$RUNS" "$DURATION" "$PAIRS" "$CONCURRENCY" "$((SECONDS - STARTED_AT))" <<'PY'
import glob, json, os, statistics, subprocess, sys, datetime
out, results, runs, duration, pairs, concurrency, took = sys.argv[1:8]

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
    f"- **Code:** git commit `{git('rev-parse', '--short', 'HEAD')}` plus uncommitted changes; Release build; node-a and node-b form one Akka.Cluster (node-b joins through node-a), cluster traffic over mutual TLS (`lstp cluster-cert`)",
    f"- **Reproduce:** `bench/cluster/run.sh` (runs={runs}, {duration} s per iperf3 test, {pairs} pairs at {concurrency} in flight); raw numbers in `bench/out/{os.path.basename(out)}/`; the run took {took} s",
    "",
    "Everything on loopback: the middles, the ends and the load share the same CPUs. Each cell is the median of the runs (min–max).",
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
    f"`pairings.cs` opens each pair's two links at once (preamble, COMMONUNIQUE_INFO, TOPOLOGY_EXCHANGE, no end-to-end handshake) and times the pair until both links hold the peer's setup; {concurrency} pairs in flight. A pairing in the cluster: each end's node asks the pairing key's sharded entity (Akka.Cluster.Sharding, one entity per key, hosted on either node), which stores the end or claims the waiting peer for it; across nodes the second end's node then dials the first end's node and hands the end on (NODE_CLAIM). With both ends at node-a, the key's entity may still live on node-b (a message round trip over the cluster's TLS connection).",
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
