#!/usr/bin/env bash
# LSTP resumption benchmark: what a tunnel that outlives its middle costs, on loopback, default flags (end-to-end
# TLS 1.3, compression auto) unless a row says otherwise.
#
#   bench/resume/run.sh [--quick] [--kills N] [--runs N] [--duration S] [--no-build]
#
# 1. Outage: two middles m1 and m2 (processes), a server end (--service echo, bench/soak/echo.py) and a client
#    end (--forward) that both list them (--middle 127.0.0.1:P1,127.0.0.1:P2), and stream.py keeping 4
#    connections through the forward, each echoing a 1 KiB timestamped message every 1 ms, every byte checked.
#    --kills times (default 20): kill -9 the middle the tunnel is on (the ends' last "open via ... m1" or
#    "resumed via END -> m1 -> END" line), log when both ends say "resumed via", restart the killed middle on its
#    port, wait until every connection echoes again, let it settle (5 s), repeat: the kills alternate between the
#    middles. Per kill: from the kill to the next echo on the slowest connection (p50/p99/max), the longest
#    silence between two echoes, the ends' own "after N ms"; and how many connections broke (must be 0).
# 2. Replay memory: one middle, a pair of ends with resumption (default) and a pair with --resume-grace 0 on
#    both ends, iperf3 through each pair's forward. For each pair: idle, then 1, 16 and 64 streams at full
#    speed, then idle again; each end's VmRSS and /api/end resumption.replayBytesHeld sampled every 0.25 s.
# 3. Throughput: iperf3 -P 1 and -P 8 through the same two pairs, --runs runs (default 3) of --duration s
#    (default 10), interleaved; medians and the ratio resumption on / off (the target: within 5 %).
# --quick: 4 kills, 2 s settle, 4 s memory phases, 1 run of 3 s. --no-build: use out/lstp-resume/lstp as it is.
# Raw data and logs: bench/out/resume-<stamp>/ (not committed); the summary: bench/resume/RESULTS.md.
# Every process it starts is stopped on exit (also on Ctrl-C). Linux only (/proc). Needs python3, curl, ss,
# iperf3 (scripts/install-deps.sh) and, to build, dotnet.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$ROOT/bench/lib.sh" # usage, log, die, wait_line, free_ports, spawn, stop_pid, wait_listen, ...
ORIGINAL_ARGS=("$@")

KILLS=20
SETTLE=5
RUNS=3
DURATION=10
MEM_SECONDS=8
STREAMS_MEM=(1 16 64)
CONNECTIONS=4
QUICK=0
BUILD=1
while (($#)); do
  case $1 in
    --quick) QUICK=1; KILLS=4; SETTLE=2; RUNS=1; DURATION=3; MEM_SECONDS=4 ;;
    --kills) KILLS=${2:?--kills needs a number}; shift ;;
    --runs) RUNS=${2:?--runs needs a number}; shift ;;
    --duration) DURATION=${2:?--duration needs seconds}; shift ;;
    --no-build) BUILD=0 ;;
    *) help_or_unknown "$1" ;;
  esac
  shift
done
for n in "$KILLS" "$RUNS" "$DURATION"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --kills, --runs and --duration take positive integers" >&2; exit 2; }
done
[[ $(uname -s) == Linux ]] || { echo "run.sh: Linux only (reads /proc)" >&2; exit 1; }
for tool in python3 curl ss iperf3; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is needed (scripts/install-deps.sh installs iperf3)" >&2; exit 1; }
done

STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=$ROOT/bench/out/resume-$STAMP
RAW=$OUT/raw
LOGS=$OUT/logs
mkdir -p "$RAW" "$LOGS"
FAILURES=$OUT/failures.txt # what went wrong, one line each (RESULTS.md lists them)
: >"$FAILURES"
WORK=$(mktemp -d /tmp/lstp-resume-bench.XXXXXX)
LSTP=$ROOT/out/lstp-resume/lstp
STARTED_AT=$SECONDS

PIDS=() # every background process (spawn records it); the exit trap stops them by pid, newest first
exit_trap

# A middle killed with -9 is reaped here and its pid dropped from PIDS, so the exit trap can never signal
# whatever process gets that pid next.
kill_now() { # PID
  local pid=$1 keep=() p
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}
end_view() { curl -fsS --max-time 2 "http://127.0.0.1:$1/api/end"; } # ADMIN_PORT

# =============================================================================================
if ((BUILD)); then
  command -v dotnet >/dev/null || die "dotnet is needed to build (or use --no-build)"
  publish_lstp "$ROOT/out/lstp-resume" "$LOGS/build.log"
fi
[[ -x $LSTP ]] || die "$LSTP missing (run without --no-build)"

read -r P_ECHO P_M1 P_M2 P_SRV_ADMIN P_CLI_ADMIN P_FWD \
  P_IPERF P_MB P_ON_SRV_ADMIN P_ON_CLI_ADMIN P_ON_FWD P_OFF_SRV_ADMIN P_OFF_CLI_ADMIN P_OFF_FWD < <(free_ports 14)
[[ -n $P_OFF_FWD ]] || die "could not find 14 free loopback ports"
head -c 24 /dev/urandom | base64 >"$WORK/secret"
chmod 600 "$WORK/secret"

{
  echo "stamp=$STAMP"
  echo "command=bench/resume/run.sh${ORIGINAL_ARGS[*]:+ ${ORIGINAL_ARGS[*]}}"
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "subject=$(git -C "$ROOT" log -1 --format=%s 2>/dev/null)"
  echo "dirty=$(git -C "$ROOT" status --porcelain -- src 2>/dev/null | wc -l)"
  echo "binary_built=$(date -u -r "$ROOT/out/lstp-resume/lstp.dll" '+%Y-%m-%d %H:%M UTC')"
  echo "cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "cores=$(nproc)"
  echo "memory=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel=$(uname -sr)"
  echo "dotnet=$(dotnet --version 2>/dev/null || echo unknown)"
  echo "iperf3=$(iperf3 --version | head -1)"
  echo "python=$(python3 --version 2>&1 | cut -d' ' -f2)"
  echo "quick=$QUICK"
  echo "kills=$KILLS"
  echo "settle=$SETTLE"
  echo "connections=$CONNECTIONS"
  echo "runs=$RUNS"
  echo "duration=$DURATION"
  echo "mem_seconds=$MEM_SECONDS"
  echo "mem_streams=${STREAMS_MEM[*]}"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.env"

# ---------------------------------------------------------------------------------------------
# 1. Outage
log "1. outage: echo on $P_ECHO, middles m1 ($P_M1) and m2 ($P_M2), ends listing both, forward $P_FWD"
spawn echo python3 "$ROOT/bench/soak/echo.py" "$P_ECHO"
wait_listen "$P_ECHO" echo.py "$(pid_of echo)"
declare -A MPORT=([m1]=$P_M1 [m2]=$P_M2) MPID
start_middle() { # NAME INCARNATION
  spawn "$1-$2" "$LSTP" middle --listen "127.0.0.1:${MPORT[$1]}" --admin off --name "$1"
  MPID[$1]=$(pid_of "$1-$2")
  wait_listen "${MPORT[$1]}" "middle $1" "${MPID[$1]}"
}
start_middle m1 0
start_middle m2 0
MIDDLES="127.0.0.1:$P_M1,127.0.0.1:$P_M2"
spawn server-end "$LSTP" end --middle "$MIDDLES" --secret-file "$WORK/secret" --name resume-server \
  --service "echo=127.0.0.1:$P_ECHO" --admin "127.0.0.1:$P_SRV_ADMIN"
spawn client-end "$LSTP" end --middle "$MIDDLES" --secret-file "$WORK/secret" --name resume-client \
  --forward "127.0.0.1:$P_FWD=echo" --admin "127.0.0.1:$P_CLI_ADMIN"
wait_line "$LOGS/server-end.log" 'open via' "$(pid_of server-end)" 60 "the server end"
wait_line "$LOGS/client-end.log" 'open via' "$(pid_of client-end)" 60 "the client end"
wait_listen "$P_FWD" "the client end's forward" "$(pid_of client-end)"
log "  $(grep -m1 -o 'tunnel to .*' "$LOGS/client-end.log")"
grep -q '(TLS 1.3' "$LOGS/client-end.log" || die "the tunnel did not open with TLS 1.3"

# The middle an end's tunnel is on, from its last "open via END -> m1 -> END" or "resumed via END -> m1 -> END" line.
current_middle() { # LOGFILE
  case $(grep -E 'open via|resumed via' "$1" | tail -n 1) in
    *" -> m1 -> "*) echo m1 ;;
    *" -> m2 -> "*) echo m2 ;;
    *) echo "?" ;;
  esac
}
# Waits until every stream connection has echoed within the last half second (stream.py's status file).
wait_flowing() { # SECONDS
  local i
  for ((i = 0; i < $1 * 10; i++)); do
    python3 -c 'import json, sys, time
s = json.load(open(sys.argv[1]))
sys.exit(0 if all(e and time.time() - e < 0.5 for e in s["last_echo"]) else 1)' "$RAW/stream-status.json" 2>/dev/null && return 0
    kill -0 "$(pid_of stream)" 2>/dev/null || die "stream.py exited (see $LOGS/stream.log)"
    sleep 0.1
  done
  return 1
}
resumed_lines() { grep -c 'resumed via' "$1" || true; }

spawn stream python3 "$HERE/stream.py" --port "$P_FWD" --out "$RAW" --connections "$CONNECTIONS"
wait_flowing 30 || die "the echo streams did not start flowing (see $LOGS/stream.log)"
sleep "$SETTLE"
printf 'kill\tmiddle\tkilled_at\tboth_resumed_at\tclient_ms\tserver_ms\tnow_on\n' >"$RAW/kills.tsv"
for ((k = 1; k <= KILLS; k++)); do
  wait_flowing 30 || { log "  the streams are not flowing before kill $k"; echo "kill $k: the streams were not flowing before it" >>"$FAILURES"; }
  m=$(current_middle "$LOGS/client-end.log")
  [[ $m == "$(current_middle "$LOGS/server-end.log")" && $m != "?" ]] ||
    die "the ends disagree on their middle (client $m, server $(current_middle "$LOGS/server-end.log"))"
  before_cli=$(resumed_lines "$LOGS/client-end.log")
  before_srv=$(resumed_lines "$LOGS/server-end.log")
  killed_at=$EPOCHREALTIME
  kill_now "${MPID[$m]}"
  resumed=0
  for ((i = 0; i < 450; i++)); do # the grace (30 s) and some
    if (($(resumed_lines "$LOGS/client-end.log") > before_cli && $(resumed_lines "$LOGS/server-end.log") > before_srv)); then
      resumed=1
      break
    fi
    sleep 0.1
  done
  both_at=$EPOCHREALTIME
  if ((!resumed)); then
    log "  kill $k ($m): the ends did not both resume within 45 s"
    echo "kill $k ($m): not resumed within 45 s; client end: $(grep -E 'broke|resum|down|ended' "$LOGS/client-end.log" | tail -n 3 | tr '\n' ' ')" >>"$FAILURES"
    break
  fi
  ms_cli=$(grep 'resumed via' "$LOGS/client-end.log" | tail -n 1 | sed -E 's/.* after ([0-9]+) ms.*/\1/')
  ms_srv=$(grep 'resumed via' "$LOGS/server-end.log" | tail -n 1 | sed -E 's/.* after ([0-9]+) ms.*/\1/')
  now_on=$(current_middle "$LOGS/client-end.log")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$k" "$m" "$killed_at" "$both_at" "$ms_cli" "$ms_srv" "$now_on" >>"$RAW/kills.tsv"
  log "  kill $k/$KILLS: $m killed; resumed via $now_on (client end $ms_cli ms, server end $ms_srv ms)"
  start_middle "$m" "$k"
  wait_flowing 30 || { log "  the streams did not flow again after kill $k"; echo "kill $k ($m): the streams did not flow again within 30 s" >>"$FAILURES"; }
  sleep "$SETTLE"
done
grep -hE 'NotResumed|answered as a new end|tunnel down|tunnel ended' "$LOGS/client-end.log" "$LOGS/server-end.log" |
  sed 's/^/end log: /' >>"$FAILURES" || true
for side in client:$P_CLI_ADMIN server:$P_SRV_ADMIN; do
  end_view "${side#*:}" >"$RAW/end-${side%%:*}-after-kills.json" 2>/dev/null || echo "the ${side%%:*} end's /api/end did not answer" >>"$FAILURES"
done
log "  stopping the streams (the last echoes, then a half-close each)"
stop_pid "$(pid_of stream)" 60
[[ -s $RAW/stream-summary.json ]] || die "stream.py left no stream-summary.json (see $LOGS/stream.log)"
stop_pid "$(pid_of client-end)" # the ends before the middles, so that their logs end without a broken link
stop_pid "$(pid_of server-end)"
stop_all

# ---------------------------------------------------------------------------------------------
# 2 and 3 share one middle and two pairs of ends: "on" (defaults) and "off" (--resume-grace 0 on both ends).
log "2. replay memory and 3. throughput: middle on $P_MB, iperf3 on $P_IPERF, pairs on (default) and off (--resume-grace 0)"
spawn iperf3-server iperf3 -s -B 127.0.0.1 -p "$P_IPERF"
wait_listen "$P_IPERF" iperf3 "$(pid_of iperf3-server)"
spawn middle "$LSTP" middle --listen "127.0.0.1:$P_MB" --admin off --name mb
wait_listen "$P_MB" "middle mb" "$(pid_of middle)"
declare -A FWD ADMIN_SRV ADMIN_CLI
FWD=([on]=$P_ON_FWD [off]=$P_OFF_FWD)
ADMIN_SRV=([on]=$P_ON_SRV_ADMIN [off]=$P_OFF_SRV_ADMIN)
ADMIN_CLI=([on]=$P_ON_CLI_ADMIN [off]=$P_OFF_CLI_ADMIN)
for pair in on off; do
  flags=()
  [[ $pair == on ]] || flags=(--resume-grace 0)
  head -c 24 /dev/urandom | base64 >"$WORK/secret-$pair"
  chmod 600 "$WORK/secret-$pair"
  spawn "$pair-server" "$LSTP" end --middle "127.0.0.1:$P_MB" --secret-file "$WORK/secret-$pair" --name "$pair-server" \
    --service "iperf=127.0.0.1:$P_IPERF" --admin "127.0.0.1:${ADMIN_SRV[$pair]}" "${flags[@]}"
  spawn "$pair-client" "$LSTP" end --middle "127.0.0.1:$P_MB" --secret-file "$WORK/secret-$pair" --name "$pair-client" \
    --forward "127.0.0.1:${FWD[$pair]}=iperf" --admin "127.0.0.1:${ADMIN_CLI[$pair]}" "${flags[@]}"
done
for pair in on off; do
  wait_line "$LOGS/$pair-server.log" 'open via' "$(pid_of "$pair-server")" 60 "the $pair server end"
  wait_line "$LOGS/$pair-client.log" 'open via' "$(pid_of "$pair-client")" 60 "the $pair client end"
  wait_listen "${FWD[$pair]}" "the $pair client end's forward" "$(pid_of "$pair-client")"
  resumable=$(end_view "${ADMIN_CLI[$pair]}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["resumption"]["resumable"])')
  log "  $pair: $(grep -m1 -o 'tunnel to .*' "$LOGS/$pair-client.log"); resumable: $resumable"
  [[ $resumable == "$([[ $pair == on ]] && echo True || echo False)" ]] || die "the $pair pair's tunnel has resumable=$resumable"
done

# iperf3 PAIR STREAMS SECONDS FILE: one test through the pair's forward (the JSON to FILE; a failure is recorded).
iperf_through() {
  local pair=$1 streams=$2 seconds=$3 file=$4 error
  iperf_server_idle "$P_IPERF" || echo "iperf3 $pair -P $streams: the previous test's connections were still open after 10 s" >>"$FAILURES"
  timeout $((seconds + 30)) iperf3 -c 127.0.0.1 -p "${FWD[$pair]}" -t "$seconds" -P "$streams" -J --connect-timeout 5000 >"$file" 2>&1 || true
  if ! error=$(iperf_error "$file"); then
    log "  iperf3 through $pair, $streams stream(s): failed: ${error:-no result}"
    echo "iperf3 $pair -P $streams ($(basename "$file")): ${error:-no result}" >>"$FAILURES"
  fi
}
# sample PAIR PHASE SECONDS: both ends of the pair, every 0.25 s (sample.py) into RAW/mem.jsonl, tagged.
sample() {
  python3 "$HERE/sample.py" --seconds "$3" --out "$WORK/sample.jsonl" \
    --end "client=$(pid_of "$1-client"):${ADMIN_CLI[$1]}" --end "server=$(pid_of "$1-server"):${ADMIN_SRV[$1]}"
  python3 -c 'import json, sys
for line in open(sys.argv[1]):
    row = json.loads(line); row.update(pair=sys.argv[2], phase=sys.argv[3]); print(json.dumps(row))' \
    "$WORK/sample.jsonl" "$1" "$2" >>"$RAW/mem.jsonl"
  rm -f "$WORK/sample.jsonl"
}

log "  warm-up: 2 s of iperf3 -P 4 through each pair (JIT, buffers); not recorded"
for pair in on off; do iperf_through "$pair" 4 2 "$LOGS/warmup-$pair.json"; done
sleep 3
for pair in on off; do
  log "  memory, $pair: idle, ${STREAMS_MEM[*]} streams at full speed, idle again (${MEM_SECONDS} s each)"
  sample "$pair" idle "$MEM_SECONDS"
  for streams in "${STREAMS_MEM[@]}"; do
    iperf_through "$pair" "$streams" $((MEM_SECONDS + 2)) "$RAW/mem-iperf-$pair-P$streams.json" &
    iperf_job=$!
    sleep 1.5 # past iperf3's connection setup and the first ramp
    sample "$pair" "P$streams" "$MEM_SECONDS"
    wait "$iperf_job"
  done
  sleep 3
  sample "$pair" idle-after "$MEM_SECONDS"
done

log "3. throughput: iperf3 -P 1 and -P 8, $RUNS run(s) of $DURATION s, on and off interleaved"
for ((run = 1; run <= RUNS; run++)); do
  order=(on off)
  ((run % 2)) || order=(off on) # alternate which goes first, so a drift in background load spreads evenly
  for streams in 1 8; do
    for pair in "${order[@]}"; do
      log "  run $run/$RUNS: $pair, $streams stream(s)"
      iperf_through "$pair" "$streams" "$DURATION" "$RAW/iperf-$pair-P$streams-run$run.json"
    done
  done
done
for pair in on off; do
  end_view "${ADMIN_CLI[$pair]}" >"$RAW/end-$pair-client-final.json" 2>/dev/null || true
done

# ---------------------------------------------------------------------------------------------
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.env"
echo "elapsed_seconds=$((SECONDS - STARTED_AT))" >>"$OUT/meta.env"
stop_all
python3 "$HERE/report.py" "$OUT" "$HERE/RESULTS.md"
ln -sfn "resume-$STAMP" "$ROOT/bench/out/resume-latest"
log "done in $((SECONDS - STARTED_AT)) s: $HERE/RESULTS.md (raw: $OUT)"
