#!/usr/bin/env bash
# LSTP soak: one tunnel for 30 minutes through fault-injecting relays, every byte of its traffic checked.
#
#   bench/soak/run.sh [--quick] [--duration SECONDS] [--no-build]
#
# Topology (all on 127.0.0.1, ports picked free):
#   traffic.py ─► client end --forward ─► relay client-a / client-b ─► middle soak-a / soak-b
#                                                                          ▲
#   echo.py ◄── server end --service echo ◄── relay server-a / server-b ───┘
# Two independent middles (no cluster), each end lists both (through its own relay in front of each) as seeds.
# chaos.py runs the middles and the four relays and injects faults one at a time: latency with jitter, stalls,
# resets (RST), 40 s blackholes, and kill -9 of the middle carrying the tunnel (every 60 s with --quick, every
# 4-5 min otherwise), restarted on the same ports a few seconds later. traffic.py drives short echo channels
# (8 at a time) and 4 long block streams, checking every byte; watch.py polls the client end's /api/end every
# 100 ms and samples RSS and descriptors of every process every 5 s. report.py writes bench/soak/RESULTS.md.
#
# --quick: 3 minutes instead of 30. --duration S: any length. --no-build: no dotnet publish (use LSTP_BIN, else
# out/lstp-soak/lstp as it is). LSTP_BIN=/path/to/lstp (or lstp.dll): use that binary, never build.
# Raw data and logs: bench/soak/out/<stamp>/ (bench/soak/out/latest points at the newest; not committed).
# Every process it starts is stopped on exit (also on Ctrl-C). Linux only (/proc). Needs python3 and, to build,
# dotnet.
set -euo pipefail

if [[ $(uname -s) != Linux ]]; then
  echo "run.sh: Linux only (reads /proc for memory, descriptors and sockets)" >&2
  exit 1
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$ROOT/bench/lib.sh" # usage, log, die, wait_line, free_ports, ...
ORIGINAL_ARGS=("$@")

DURATION=1800
QUICK=0
BUILD=1
while (($#)); do
  case $1 in
    --quick) QUICK=1; DURATION=180 ;;
    --duration) DURATION=${2:?--duration needs seconds}; shift ;;
    --no-build) BUILD=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $DURATION =~ ^[1-9][0-9]*$ ]] && ((DURATION >= 60)) ||
  { echo "run.sh: --duration takes whole seconds, at least 60" >&2; exit 2; }
command -v python3 >/dev/null || { echo "run.sh: python3 is needed" >&2; exit 1; }

# The fault schedule. --quick: a middle killed every 60 s, short gaps, streams of 20-60 s; otherwise every 4-5 min.
WARMUP=20 # no faults in the first 20 s of traffic; the "start" RSS/descriptor figures are taken then
if ((QUICK)); then
  FIRST_KILL=60 KILL_EVERY=60-60 GAP=(3 8) QUIET_END=30 STREAM_LIFE=(20 60) PROGRESS_EVERY=15
else
  FIRST_KILL=240 KILL_EVERY=240-300 GAP=(5 15) QUIET_END=90 STREAM_LIFE=(30 120) PROGRESS_EVERY=60
fi

STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=$HERE/out/$STAMP
LOGS=$OUT/logs
mkdir -p "$LOGS" "$OUT/pids"
WORK=$(mktemp -d /tmp/lstp-soak.XXXXXX)
STARTED_AT=$SECONDS


# ---------------------------------------------------------------------------------------------
# Processes: every background process is recorded in PIDS; the exit trap ends them and anything they started
# (chaos.py's middles) by pid, children first... then removes WORK.
PIDS=()
STOP_SECONDS=10 # stop_pid (bench/lib.sh) gives each 10 s after TERM: chaos.py stops its middles itself (up to 8 s each)
cleanup() {
  local status=$? i f pid
  trap - EXIT INT TERM
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}" "$STOP_SECONDS"; done
  # Backstop: a middle whose chaos.py died is no longer its descendant; its pid file still names it.
  for f in "$OUT"/pids/soak-*; do
    [[ -f $f ]] || continue
    read -r pid _ <"$f"
    if grep -qa -- middle "/proc/$pid/cmdline" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$WORK"
  ((status == 0)) || log "exit $status; logs in $LOGS"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# spawn LABEL ROLE COMMAND...: starts COMMAND in the background, logs to LOGS/LABEL.log, records its pid in
# PID_<label> (- becomes _) and in OUT/pids/LABEL for watch.py (ROLE: lstp or harness).
spawn() {
  local label=$1 role=$2
  shift 2
  "$@" >"$LOGS/$label.log" 2>&1 &
  PIDS+=($!)
  printf -v "PID_${label//-/_}" '%s' $!
  echo "$! 1 $(date +%s.%N) $role" >"$OUT/pids/$label"
}
pid_of() { local var="PID_${1//-/_}"; echo "${!var}"; }

listening() { # PORT: is something listening on 127.0.0.1:PORT? (from /proc: no connection is made)
  python3 -c 'import sys
want = "0100007F:%04X" % int(sys.argv[1])
rows = [l.split() for l in list(open("/proc/net/tcp"))[1:]]
sys.exit(0 if any(r[1] == want and r[3] == "0A" for r in rows) else 1)' "$1"
}
wait_listen() { # PORT WHAT PID
  local port=$1 what=$2 pid=$3 i
  for ((i = 0; i < 300; i++)); do
    listening "$port" && return 0
    kill -0 "$pid" 2>/dev/null || die "$what exited before listening on $port (see $LOGS)"
    sleep 0.1
  done
  die "$what: nothing listens on 127.0.0.1:$port after 30 s"
}


# =============================================================================================
log "output: $OUT ($( ((QUICK)) && echo 'quick: ')${DURATION} s of traffic)"
if [[ -n ${LSTP_BIN:-} ]]; then
  LSTP=$LSTP_BIN
  log "lstp: $LSTP (LSTP_BIN; not built)"
else
  LSTP=$ROOT/out/lstp-soak/lstp
  if ((BUILD)); then
    command -v dotnet >/dev/null || die "dotnet is needed to build (or set LSTP_BIN)"
    publish_lstp "$ROOT/out/lstp-soak" "$LOGS/build.log"
  fi
fi
[[ -f $LSTP ]] || die "$LSTP missing (build it, drop --no-build, or set LSTP_BIN)"
if [[ $LSTP == *.dll ]]; then LSTP_CMD=(dotnet "$LSTP"); else LSTP_CMD=("$LSTP"); fi
"${LSTP_CMD[@]}" middle --help >/dev/null 2>&1 || die "$LSTP does not run ('lstp middle --help' failed)"

read -r P_ECHO P_MA P_MA_ADMIN P_MB P_MB_ADMIN P_RCA P_RCB P_RSA P_RSB P_SRV_ADMIN P_CLI_ADMIN P_FWD < <(free_ports 12)
[[ -n $P_FWD ]] || die "could not find 12 free loopback ports"
head -c 24 /dev/urandom | base64 >"$WORK/secret"
chmod 600 "$WORK/secret"
# The middles keep their default per-source limits: there are only two ends, reconnecting with backoff.
MIDDLE_ARGS=""

# meta.env: what report.py needs to describe the run.
LSTP_DLL=$(dirname "$LSTP")/lstp.dll
{
  echo "stamp=$STAMP"
  echo "command=bench/soak/run.sh${ORIGINAL_ARGS[*]:+ ${ORIGINAL_ARGS[*]}}"
  echo "lstp_bin_env=${LSTP_BIN:-}"
  echo "lstp=$LSTP"
  echo "lstp_dll_sha256=$(sha256sum "$LSTP_DLL" 2>/dev/null | cut -c1-16)"
  echo "lstp_dll_mtime=$(date -u -r "$LSTP_DLL" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null)"
  echo "git_head=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
  echo "git_dirty_files=$(git -C "$ROOT" status --porcelain -- src 2>/dev/null | wc -l)"
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host=$(hostname)"
  echo "kernel=$(uname -sr)"
  echo "cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "cores=$(nproc)"
  echo "mem_mib=$(awk '/^MemTotal/ {print int($2 / 1024)}' /proc/meminfo)"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "dotnet=$(dotnet --version 2>/dev/null || echo '?')"
  echo "python=$(python3 --version 2>&1 | cut -d' ' -f2)"
  echo "duration=$DURATION"
  echo "quick=$QUICK"
  echo "warmup=$WARMUP"
  echo "first_kill=$FIRST_KILL"
  echo "kill_every=$KILL_EVERY"
  echo "gap=${GAP[0]}-${GAP[1]}"
  echo "quiet_end=$QUIET_END"
  echo "stream_life=${STREAM_LIFE[0]}-${STREAM_LIFE[1]}"
  echo "middle_args=$MIDDLE_ARGS"
  echo "ports=echo $P_ECHO, soak-a $P_MA (admin $P_MA_ADMIN), soak-b $P_MB (admin $P_MB_ADMIN), relays client-a $P_RCA client-b $P_RCB server-a $P_RSA server-b $P_RSB, forward $P_FWD"
} >"$OUT/meta.env"

log "echo service on $P_ECHO"
spawn echo harness python3 "$HERE/echo.py" "$P_ECHO"
wait_listen "$P_ECHO" echo.py "$(pid_of echo)"

log "middles soak-a ($P_MA) and soak-b ($P_MB), relays client-a $P_RCA, client-b $P_RCB, server-a $P_RSA, server-b $P_RSB"
spawn chaos harness python3 "$HERE/chaos.py" --out "$OUT" --lstp "$LSTP" --admin-end "127.0.0.1:$P_CLI_ADMIN" \
  --middle "soak-a=$P_MA:$P_MA_ADMIN" --middle "soak-b=$P_MB:$P_MB_ADMIN" --middle-args "$MIDDLE_ARGS" \
  --relay "client-a=$P_RCA:soak-a" --relay "client-b=$P_RCB:soak-b" \
  --relay "server-a=$P_RSA:soak-a" --relay "server-b=$P_RSB:soak-b" \
  --duration "$DURATION" --warmup "$WARMUP" --quiet-end "$QUIET_END" --first-kill "$FIRST_KILL" \
  --kill-every "$KILL_EVERY" --gap-min "${GAP[0]}" --gap-max "${GAP[1]}"
wait_line "$OUT/faults.jsonl" '"kind": "ready"' "$(pid_of chaos)" 60 chaos.py
for port in "$P_RCA" "$P_RCB" "$P_RSA" "$P_RSB"; do wait_listen "$port" "chaos.py relay" "$(pid_of chaos)"; done

log "ends: soak-server (--service echo) and soak-client (--forward $P_FWD=echo), each through its two relays"
spawn server-end lstp "${LSTP_CMD[@]}" end --middle "127.0.0.1:$P_RSA,127.0.0.1:$P_RSB" --secret-file "$WORK/secret" \
  --name soak-server --service "echo=127.0.0.1:$P_ECHO" --admin "127.0.0.1:$P_SRV_ADMIN"
spawn client-end lstp "${LSTP_CMD[@]}" end --middle "127.0.0.1:$P_RCA,127.0.0.1:$P_RCB" --secret-file "$WORK/secret" \
  --name soak-client --forward "$P_FWD=echo" --admin "127.0.0.1:$P_CLI_ADMIN"
wait_line "$LOGS/client-end.log" 'open via' "$(pid_of client-end)" 60 "the client end"
wait_listen "$P_FWD" "the client end's forward" "$(pid_of client-end)"
log "  $(grep -m1 -o 'tunnel to .*' "$LOGS/client-end.log")"

log "watch: /api/end every 100 ms, RSS and descriptors every 5 s"
spawn watch harness python3 "$HERE/watch.py" --out "$OUT" --admin "127.0.0.1:$P_CLI_ADMIN"
log "traffic: 8 short channels at a time, 4 long streams, for $DURATION s; faults from ${WARMUP} s on"
echo "traffic_started=$(date +%s.%N)" >>"$OUT/meta.env"
spawn traffic harness python3 "$HERE/traffic.py" --port "$P_FWD" --out "$OUT" --duration "$DURATION" \
  --stream-life "${STREAM_LIFE[@]}"
kill -USR1 "$(pid_of chaos)" # the fault schedule's clock starts with the traffic

# Progress until the driver is done (it drains its last channels after DURATION; a hung one is given up at 90 s).
next=$((SECONDS + PROGRESS_EVERY))
while kill -0 "$(pid_of traffic)" 2>/dev/null; do
  sleep 1
  for p in server-end client-end; do
    if ! kill -0 "$(pid_of "$p")" 2>/dev/null && [[ ! -e $OUT/$p.died ]]; then
      log "  the $p exited during the soak (see $LOGS/$p.log); it is not restarted"
      date +%s.%N >"$OUT/$p.died"
    fi
  done
  ((SECONDS >= next)) || continue
  next=$((SECONDS + PROGRESS_EVERY))
  phase=$(tail -n 1 "$OUT/phases.jsonl" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["phase"])' 2>/dev/null || echo '?')
  faults=$(grep -cEv '"kind": "(ready|note|schedule-start|restart|[a-z]+-end|faults-over)"' "$OUT/faults.jsonl" || true)
  log "  $(grep '^\[' "$LOGS/traffic.log" | tail -n 1 | sed 's/^\[[^]]*\] //'); tunnel $phase; $faults fault(s) so far"
done
wait "$(pid_of traffic)" || die "traffic.py failed (see $LOGS/traffic.log)"
echo "traffic_ended=$(date +%s.%N)" >>"$OUT/meta.env"
[[ -s $OUT/summary.json ]] || die "traffic.py left no summary.json (see $LOGS/traffic.log)"
log "traffic done: $(grep '^\[' "$LOGS/traffic.log" | tail -n 1 | sed 's/^\[[^]]*\] //')"

sleep 5 # let the last channels close before the final sample
stop_pid "$(pid_of watch)" "$STOP_SECONDS" # its TERM handler takes the final RSS/descriptor sample
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.env"
echo "elapsed_seconds=$((SECONDS - STARTED_AT))" >>"$OUT/meta.env"
for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}" "$STOP_SECONDS"; done
PIDS=()

python3 "$HERE/report.py" "$OUT" "$HERE/RESULTS.md"
gzip -f "$LOGS"/*-end.log # one line per channel: tens of MB in a full run
ln -sfn "$STAMP" "$HERE/out/latest"
log "done in $((SECONDS - STARTED_AT)) s: $HERE/RESULTS.md (raw: $OUT)"
