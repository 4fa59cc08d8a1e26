#!/usr/bin/env bash
# LSTP benchmark: throughput, latency, and idle tunnels' memory and CPU, side by side on loopback.
#
#   bench/run.sh [--quick] [--runs N] [--duration S] [--warmup S] [--tunnels N] [--no-build] [--no-install] [--baseline REV]
#
# Paths measured, each carrying the same iperf3 / sockperf traffic:
#   direct      client -> server
#   socat       client -> 3 chained socat relays -> server
#   dotnet      client -> 3 chained .NET relays (bench/dotnet-relay, async sockets) -> server: the runtime's own cost
#   dotnet-threads  the same relays with a blocking thread per direction, as socat blocks
#   lstp-plain  client -> client end -> middle -> server end -> server   (both ends --plaintext)
#   lstp-tls    the same with the default end-to-end TLS 1.3
#   ssh         client -> ssh -L -> sshd (the "middle") -> ssh -R -> server  (aes128-gcm, no compression)
# Tests: iperf3 1 stream and 8 streams (Gbit/s), sockperf TCP ping-pong 64 B (round trip p50/p99, us),
# the CPU each relay process takes while every path is set up and idle, the RSS a middle gains per idle paired tunnel
# (lstp loadgen idle) and the CPU that middle then takes; then, with perf, syscalls and
# context switches per relay process (a separate short iperf3, after the measured runs), what each spends its CPU
# on (perf record, bench/cpu_kinds.py), the same counts per round trip, and where a round trip waits hop by hop
# (perf record of every send and receive on the path, bench/hops.py).
# Median of --runs runs (default 3; --quick: 1 run of 3 s). Before them every path carries --warmup seconds of
# iperf3 (default 10; --quick: 3), not in the medians but reported: a fresh LSTP process runs its hot path as
# precompiled code until the runtime's tiered compiler has recompiled it, which took 5-20 s of traffic here (a fresh
# TLS tunnel carried about 3.4 Gbit/s in its first 4 s, 5.3 once warm). Raw numbers go to bench/out/<stamp>/,
# the summary to bench/RESULTS.md. Needs root (installs packages, runs sshd). Loopback only.
# --baseline REV (any git revision: HEAD~1, a hash, a tag) also measures an earlier commit in the same run:
# REV is checked out in a temporary git worktree, its lstp published there (always, even with --no-build;
# nothing under out/ is touched) and its middle and ends run as two more paths, lstp-plain@base and
# lstp-tls@base (same default flags), interleaved with the others; the idle-tunnel memory test runs on a
# baseline middle too. RESULTS.md then adds a table of this work tree against REV.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$ROOT/bench/lib.sh" # usage, log, die, wait_line, free_ports, ...
BENCH=$ROOT/bench
ORIGINAL_ARGS=("$@")

RUNS=3
DURATION=10
WARMUP=10
TUNNELS=1000
PAUSE_AT=100
QUICK=0
BUILD=1
INSTALL=1
BASELINE="" # --baseline REV, as given; BASE_COMMIT / BASE_SHORT: the commit it names

while (($#)); do
  case $1 in
    --quick) QUICK=1; RUNS=1; DURATION=3; WARMUP=3 ;;
    --runs) RUNS=${2:?--runs needs a number}; shift ;;
    --duration) DURATION=${2:?--duration needs seconds}; shift ;;
    --warmup) WARMUP=${2:?--warmup needs seconds}; shift ;;
    --tunnels) TUNNELS=${2:?--tunnels needs a number}; shift ;;
    --no-build) BUILD=0 ;;
    --no-install) INSTALL=0 ;;
    --baseline) BASELINE=${2:?--baseline needs a git revision}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $RUNS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ && $WARMUP =~ ^[1-9][0-9]*$ && $TUNNELS =~ ^[1-9][0-9]*$ ]] ||
  { echo "run.sh: --runs, --duration, --warmup and --tunnels take positive integers" >&2; exit 2; }
((PAUSE_AT < TUNNELS)) || PAUSE_AT=0
if [[ -n $BASELINE ]]; then
  BASE_COMMIT=$(git -C "$ROOT" rev-parse --verify "$BASELINE^{commit}") ||
    { echo "run.sh: --baseline '$BASELINE' is not a commit of $ROOT" >&2; exit 2; }
  BASE_SHORT=$(git -C "$ROOT" rev-parse --short "$BASE_COMMIT")
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "run.sh: run as root (it installs packages with scripts/install-deps.sh and runs its own sshd)" >&2
  exit 1
fi

STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=$BENCH/out/$STAMP
RAW=$OUT/raw
LOGS=$OUT/logs
mkdir -p "$RAW" "$LOGS"
FAILURES=$OUT/failures.txt # tests that failed, one line each (RESULTS.md lists them)
: >"$FAILURES"
WORK=$(mktemp -d /tmp/lstp-bench.XXXXXX)
LSTP=$ROOT/out/lstp/lstp
BASE_TREE=""                     # with --baseline: the worktree of REV (set once created; the exit trap removes it)
BASE_LSTP=$WORK/baseline-out/lstp # with --baseline: REV's lstp, published from BASE_TREE
DOTNET_RELAY=$WORK/dotnet-relay/dotnet-relay # bench/dotnet-relay, published by every run
HZ=$(getconf CLK_TCK)
STARTED_AT=$SECONDS


# ---------------------------------------------------------------------------------------------
# Processes: every background process is recorded here (spawn, in bench/lib.sh); the exit trap ends them (and
# anything they forked, e.g. socat's per-connection children and sshd's sessions) by pid, then removes WORK.
PIDS=()
# After the processes are stopped: the loadgen's stdin (fd 9) and the --baseline worktree.
remove_baseline_tree() {
  exec 9>&- 2>/dev/null || true
  if [[ -n $BASE_TREE ]] && ! git -C "$ROOT" worktree remove --force "$BASE_TREE" >/dev/null 2>&1; then
    log "could not remove the baseline worktree $BASE_TREE ('git worktree prune' forgets it once it is gone)"
  fi
}
exit_trap remove_baseline_tree

# ---------------------------------------------------------------------------------------------
# CPU accounting: ticks of a process tree (utime+stime+cutime+cstime of the root and every live
# descendant: reaped children land in their parent's c-fields, so nothing is counted twice).
tree_ticks() {
  local total=0 p s
  local -a f
  for p in "$1" $(descendants "$1"); do
    { read -r s <"/proc/$p/stat"; } 2>/dev/null || continue
    s=${s##*) }
    read -ra f <<<"$s"
    total=$((total + f[11] + f[12] + f[13] + f[14]))
  done
  echo "$total"
}
# Per-thread ticks of a tree, "component pid tid comm ticks" lines (like top -H, summed over the test).
thread_ticks() {
  local component=$1 p t s comm
  local -a f
  for p in "$2" $(descendants "$2"); do
    for t in /proc/"$p"/task/*; do
      { read -r s <"$t/stat"; } 2>/dev/null || continue
      comm=${s#*(}
      comm=${comm%)*}
      s=${s##*) }
      read -ra f <<<"$s"
      printf '%s\t%s\t%s\t%s\t%s\n' "$component" "$p" "${t##*/}" "${comm// /_}" $((f[11] + f[12]))
    done
  done
}
machine_ticks() { awk '/^cpu / {busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6}' /proc/stat; }

# COMPONENTS_<path>: "name=pid ..." of the long-running processes on that path (the iperf3 server too).
declare -A COMPONENTS
# RTT_COMPONENTS_<path>: the same for the processes that carry the sockperf traffic, where they are others.
declare -A RTT_COMPONENTS
cpu_snapshot() { # PATH FILE
  local c
  {
    read -r busy total < <(machine_ticks)
    printf 'machine\t%s\t%s\n' "$busy" "$total"
    for c in ${COMPONENTS[$1]}; do printf '%s\t%s\n' "${c%%=*}" "$(tree_ticks "${c#*=}")"; done
  } >"$2"
  for c in ${COMPONENTS[$1]}; do thread_ticks "${c%%=*}" "${c#*=}"; done >"$2.threads"
}

# ---------------------------------------------------------------------------------------------
# The tests. Each writes its raw output to RAW/<path>.<test>.run<N>.* and CPU snapshots beside it.
# Before each iperf3 test: wait until the previous test's connections to the iperf3 server are gone
# (iperf_server_idle, bench/lib.sh). A close that takes more than 10 s is recorded as a failure.
iperf_idle() { # WHAT
  iperf_server_idle "$P_IPERF" && return 0
  log "  $1: connections to the iperf3 server still open 10 s after the previous test"
  echo "$1: connections of the previous test to the iperf3 server were still open after 10 s" >>"$FAILURES"
}
run_iperf() { # PATH PORT STREAMS RUN
  local path=$1 port=$2 streams=$3 run=$4 name base t0 error
  name=iperf$streams
  base=$RAW/$path.$name.run$run
  iperf_idle "$path $name run $run"
  cpu_snapshot "$path" "$base.cpu0"
  t0=$(date +%s.%N)
  # iperf3 -J may exit 0 after a failed test: its JSON's "error" is what tells.
  timeout $((DURATION + 30)) iperf3 -c 127.0.0.1 -p "$port" -t "$DURATION" -P "$streams" -J --connect-timeout 5000 >"$base.json" 2>"$base.err" || true
  if ! error=$(iperf_error "$base.json"); then
    log "  $path $name run $run: iperf3 failed: ${error:-no result} (see $base.json)"
    echo "$path $name run $run: iperf3: ${error:-no result}" >>"$FAILURES"
  fi
  sleep 0.3 # let relays reap their per-connection children
  cpu_snapshot "$path" "$base.cpu1"
  echo "$t0 $(date +%s.%N)" >"$base.wall"
}
run_sockperf() { # PATH PORT RUN
  local path=$1 port=$2 run=$3 base
  base=$RAW/$path.sockperf.run$run
  cpu_snapshot "$path" "$base.cpu0"
  timeout $((DURATION + 30)) sockperf ping-pong --tcp -i 127.0.0.1 -p "$port" -m 64 -t "$DURATION" --full-rtt >"$base.txt" 2>&1 || true
  if ! grep -q 'percentile 50.000' "$base.txt"; then
    log "  $path sockperf run $run: no result (see $base.txt)"
    echo "$path sockperf run $run: $(grep -a -m1 -i 'error' "$base.txt" || echo 'no result')" >>"$FAILURES"
  fi
  sleep 0.3
  cpu_snapshot "$path" "$base.cpu1"
}

# Where the CPU goes: perf stat counts syscalls and context switches of each relay process during a
# separate 1-stream iperf3 (after the measured runs, so counting cannot disturb them). Skipped without perf.
PROFILE_SECONDS=2
PERF_EVENTS=raw_syscalls:sys_enter,syscalls:sys_enter_read,syscalls:sys_enter_recvfrom,syscalls:sys_enter_recvmsg,syscalls:sys_enter_sched_yield,syscalls:sys_enter_futex,context-switches,task-clock
# on_relays PREFIX TRAFFIC_PID TOOL COMPONENT...: one second into the traffic, `TOOL PREFIX.<component> PIDS` for each
# relay process (the iperf3 server left out), with PIDS the process and what it forked, all at once; waits for them
# and for the traffic generator TRAFFIC_PID.
on_relays() {
  local prefix=$1 traffic=$2 tool=$3 c
  local -a waits=()
  shift 3
  sleep 1
  for c in "$@"; do
    [[ ${c%%=*} != iperf3-server ]] || continue
    "$tool" "$prefix.${c%%=*}" "$(tree_pids "${c#*=}")" &
    waits+=($!)
  done
  wait "${waits[@]}" "$traffic" || true
}
# count_one OUT PIDS: perf stat on PIDS for PROFILE_SECONDS, into OUT.csv.
count_one() { perf stat -x, -e "$PERF_EVENTS" -p "$2" -- sleep "$PROFILE_SECONDS" 2>"$1.csv"; }
profile_path() { # PATH PORT
  local path=$1 port=$2
  iperf_idle "$path profile"
  timeout 60 iperf3 -c 127.0.0.1 -p "$port" -t $((PROFILE_SECONDS + 2)) -J >"$RAW/$path.profile.json" 2>&1 &
  on_relays "$RAW/$path.profile" $! count_one ${COMPONENTS[$path]}
}

# What each relay process spends its CPU on (copies, the network stack, switching threads, crypto, the runtime, its
# own code): perf record of each during PROFILE_SECONDS of another 1-stream iperf3, sorted by bench/cpu_kinds.py into
# RAW/<path>.kinds.<component>.json.
# kinds_one OUT PIDS: perf record of PIDS for PROFILE_SECONDS, sorted into OUT.json.
kinds_one() {
  perf record -q -F 999 -p "$2" -o "$1.data" -- sleep "$PROFILE_SECONDS" >/dev/null 2>&1 || true
  perf report -i "$1.data" --no-children --sort dso,sym --stdio -g none -t '|' -n --percent-limit 0 2>/dev/null |
    python3 "$BENCH/cpu_kinds.py" >"$1.json" || true
  rm -f "$1.data"
}
kinds_path() { # PATH PORT
  local path=$1 port=$2
  iperf_idle "$path kinds"
  timeout 60 iperf3 -c 127.0.0.1 -p "$port" -t $((PROFILE_SECONDS + 2)) >/dev/null 2>&1 &
  on_relays "$RAW/$path.kinds" $! kinds_one ${COMPONENTS[$path]}
}

# The same counts per round trip: a separate sockperf ping-pong (64 B) with perf stat on each relay process.
profile_rtt_path() { # PATH PORT
  local path=$1 port=$2
  timeout 60 sockperf ping-pong --tcp -i 127.0.0.1 -p "$port" -m 64 -t $((PROFILE_SECONDS + 2)) >"$RAW/$path.rtt-profile.txt" 2>&1 &
  on_relays "$RAW/$path.rtt-profile" $! count_one ${RTT_COMPONENTS[$path]:-${COMPONENTS[$path]}}
}

# Where a round trip waits, hop by hop: the data-carrying syscalls of every process on the path (the sockperf client and
# server too) recorded system-wide for 1 s of a separate ping-pong; bench/hops.py pairs each send with the read that
# takes the message in the next process (RAW/<path>.hops.json).
HOP_EVENTS=syscalls:sys_exit_read,syscalls:sys_exit_readv,syscalls:sys_exit_recvfrom,syscalls:sys_exit_recvmsg,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg
hops_path() { # PATH PORT
  local path=$1 port=$2 c sp roles
  timeout 60 sockperf ping-pong --tcp -i 127.0.0.1 -p "$port" -m 64 -t 4 --full-rtt >"$RAW/$path.hops-sockperf.txt" 2>&1 &
  sp=$!
  sleep 1.5
  roles="client=$(tree_pids "$sp")"
  for c in ${RTT_COMPONENTS[$path]:-${COMPONENTS[$path]}}; do
    [[ ${c%%=*} != iperf3-server ]] || continue
    roles+=" ${c%%=*}=$(tree_pids "${c#*=}")"
  done
  roles+=" server=$PID_sockperf_server"
  perf record -q -a -e "$HOP_EVENTS" -o "$WORK/hops.data" -- sleep 1 >/dev/null 2>&1 || true
  wait "$sp" || true
  # shellcheck disable=SC2086 # one ROLE=PIDS argument per process
  perf script -i "$WORK/hops.data" -F pid,time,event,trace 2>/dev/null | python3 "$BENCH/hops.py" $roles >"$RAW/$path.hops.json" || true
  rm -f "$WORK/hops.data"
}

# =============================================================================================
log "output: $OUT"
if ((INSTALL)); then
  log "installing tools (scripts/install-deps.sh)"
  "$ROOT/scripts/install-deps.sh" >"$LOGS/install-deps.log" 2>&1 || die "scripts/install-deps.sh (see $LOGS/install-deps.log)"
fi
for tool in iperf3 socat sockperf sshd ssh ssh-keygen python3 ss; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done

# What is built, read as the build starts: an edit made while the run goes on is not what it measures.
BUILT_COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILT_DIRTY=$(git -C "$ROOT" status --porcelain -- src 2>/dev/null | wc -l)
if ((BUILD)); then
  publish_lstp "$ROOT/out/lstp" "$LOGS/build.log"
fi
[[ -x $LSTP ]] || die "$LSTP missing (build it or drop --no-build)"
# The reference relay is small and always built, into the temporary directory.
log "building the .NET reference relay (dotnet publish bench/dotnet-relay)"
dotnet publish "$BENCH/dotnet-relay" -c Release -o "$WORK/dotnet-relay" -nologo >"$LOGS/build-dotnet-relay.log" 2>&1 ||
  die "dotnet publish bench/dotnet-relay (see $LOGS/build-dotnet-relay.log)"
if [[ -n $BASELINE ]]; then
  # The same publish, from a worktree of REV (a fixed commit: nobody edits it, so one attempt).
  log "baseline: $BASELINE = $BASE_SHORT, worktree $WORK/baseline, dotnet publish into $WORK/baseline-out"
  git -C "$ROOT" worktree add --detach "$WORK/baseline" "$BASE_COMMIT" >"$LOGS/build-baseline.log" 2>&1 ||
    die "git worktree add $BASELINE (see $LOGS/build-baseline.log)"
  BASE_TREE=$WORK/baseline
  dotnet publish "$BASE_TREE/src/Lstp.Cli" -c Release -o "$WORK/baseline-out" -nologo >>"$LOGS/build-baseline.log" 2>&1 ||
    die "dotnet publish of the baseline $BASELINE (see $LOGS/build-baseline.log)"
  [[ -x $BASE_LSTP ]] || die "$BASE_LSTP missing after the baseline's dotnet publish"
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# Everything about this run, for the report header.
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "nproc=$(nproc)"
  echo "cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "kernel=$(uname -sr)"
  echo "memory=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "commit=$BUILT_COMMIT"
  echo "dirty=$BUILT_DIRTY"
  echo "dotnet=$(dotnet --version 2>/dev/null || echo unknown)"
  echo "binary_built=$(date -u -r "$ROOT/out/lstp/lstp.dll" '+%Y-%m-%d %H:%M UTC')"
  echo "built_now=$BUILD"
  echo "iperf3=$(iperf3 --version | head -1)"
  echo "sockperf=$(sockperf --version 2>&1 | awk '/version/ {print $NF; exit}')"
  echo "socat=$(socat -V 2>/dev/null | awk '/socat version/ {print $3; exit}')"
  echo "openssh=$(ssh -V 2>&1)"
  echo "runs=$RUNS"
  echo "duration=$DURATION"
  echo "warmup_seconds=$WARMUP"
  echo "tunnels=$TUNNELS"
  echo "pause_at=$PAUSE_AT"
  echo "quick=$QUICK"
  echo "args=${ORIGINAL_ARGS[*]:-}"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  if [[ -n $BASELINE ]]; then
    echo "baseline=$BASELINE"
    echo "baseline_commit=$BASE_SHORT"
    echo "baseline_subject=$(git -C "$ROOT" log -1 --format=%s "$BASE_COMMIT")"
    echo "baseline_date=$(git -C "$ROOT" log -1 --format=%cs "$BASE_COMMIT")"
  fi
} >"$OUT/meta.env"

# ---------------------------------------------------------------------------------------------
# Set up every path once; the runs then interleave the paths so background load spreads evenly.
NPORTS=33
[[ -z $BASELINE ]] || NPORTS=41 # the baseline's middle, its two pairs' forwards and its memory-test middle
read -r P_IPERF P_SOCK \
  P_SOCAT_I1 P_SOCAT_I2 P_SOCAT_I3 P_SOCAT_S1 P_SOCAT_S2 P_SOCAT_S3 \
  P_MIDDLE P_ADMIN P_PLAIN_I P_PLAIN_S P_TLS_I P_TLS_S \
  P_SSHD P_SSH_RI P_SSH_RS P_SSH_LI P_SSH_LS \
  P_RSS_MIDDLE P_RSS_ADMIN \
  P_DOTNET_I1 P_DOTNET_I2 P_DOTNET_I3 P_DOTNET_S1 P_DOTNET_S2 P_DOTNET_S3 \
  P_THREADS_I1 P_THREADS_I2 P_THREADS_I3 P_THREADS_S1 P_THREADS_S2 P_THREADS_S3 \
  P_BASE_MIDDLE P_BASE_ADMIN P_BASE_PLAIN_I P_BASE_PLAIN_S P_BASE_TLS_I P_BASE_TLS_S \
  P_BASE_RSS_MIDDLE P_BASE_RSS_ADMIN < <(free_ports "$NPORTS")
[[ -n $P_THREADS_S3 && ( -z $BASELINE || -n $P_BASE_RSS_ADMIN ) ]] || die "could not find $NPORTS free loopback ports"

log "servers: iperf3 on $P_IPERF, sockperf on $P_SOCK"
spawn iperf3-server iperf3 -s -B 127.0.0.1 -p "$P_IPERF"
spawn sockperf-server sockperf server --tcp -i 127.0.0.1 -p "$P_SOCK"
wait_listen "$P_IPERF" iperf3 "$PID_iperf3_server"
wait_listen "$P_SOCK" sockperf "$PID_sockperf_server"
declare -A IPERF_PORT SOCK_PORT
IPERF_PORT[direct]=$P_IPERF
SOCK_PORT[direct]=$P_SOCK
COMPONENTS[direct]="iperf3-server=$PID_iperf3_server"

log "socat chain: 3 relays per service"
socat_relay() { # LABEL LISTEN TO
  spawn "$1" socat -b 262144 "TCP-LISTEN:$2,bind=127.0.0.1,reuseaddr,fork" "TCP:127.0.0.1:$3"
  wait_listen "$2" "$1" "$(pid_of "$1")"
}
socat_relay socat-i3 "$P_SOCAT_I3" "$P_IPERF"
socat_relay socat-i2 "$P_SOCAT_I2" "$P_SOCAT_I3"
socat_relay socat-i1 "$P_SOCAT_I1" "$P_SOCAT_I2"
socat_relay socat-s3 "$P_SOCAT_S3" "$P_SOCK"
socat_relay socat-s2 "$P_SOCAT_S2" "$P_SOCAT_S3"
socat_relay socat-s1 "$P_SOCAT_S1" "$P_SOCAT_S2"
IPERF_PORT[socat]=$P_SOCAT_I1
SOCK_PORT[socat]=$P_SOCAT_S1
COMPONENTS[socat]="relay1=$PID_socat_i1 relay2=$PID_socat_i2 relay3=$PID_socat_i3 iperf3-server=$PID_iperf3_server" # the iperf chain
RTT_COMPONENTS[socat]="relay1=$PID_socat_s1 relay2=$PID_socat_s2 relay3=$PID_socat_s3" # the sockperf chain

# The same chain of three relays in .NET (bench/dotnet-relay): with the runtime's async sockets, on which LSTP's ends and
# middle are built, and with a blocking thread per direction. They do nothing but copy, so they show what the runtime's
# socket model costs by itself, next to socat's chain and LSTP's.
log ".NET relay chains: 3 relays per service, async sockets and a thread per direction"
dotnet_chain() { # PATH MODE I1 I2 I3 S1 S2 S3
  local path=$1 mode=$2 i
  local -a ports=("${@:3}")
  for i in 2 1 0; do # the iperf chain, the last relay first
    spawn "$path-i$((i + 1))" "$DOTNET_RELAY" "${ports[i]}" "$([[ $i == 2 ]] && echo "$P_IPERF" || echo "${ports[i + 1]}")" "$mode"
    wait_listen "${ports[i]}" "$path relay" "$(pid_of "$path-i$((i + 1))")"
    spawn "$path-s$((i + 1))" "$DOTNET_RELAY" "${ports[i + 3]}" "$([[ $i == 2 ]] && echo "$P_SOCK" || echo "${ports[i + 4]}")" "$mode"
    wait_listen "${ports[i + 3]}" "$path relay" "$(pid_of "$path-s$((i + 1))")"
  done
  IPERF_PORT[$path]=${ports[0]}
  SOCK_PORT[$path]=${ports[3]}
  COMPONENTS[$path]="relay1=$(pid_of "$path-i1") relay2=$(pid_of "$path-i2") relay3=$(pid_of "$path-i3") iperf3-server=$PID_iperf3_server"
  RTT_COMPONENTS[$path]="relay1=$(pid_of "$path-s1") relay2=$(pid_of "$path-s2") relay3=$(pid_of "$path-s3")"
}
dotnet_chain dotnet async "$P_DOTNET_I1" "$P_DOTNET_I2" "$P_DOTNET_I3" "$P_DOTNET_S1" "$P_DOTNET_S2" "$P_DOTNET_S3"
dotnet_chain dotnet-threads threads "$P_THREADS_I1" "$P_THREADS_I2" "$P_THREADS_I3" "$P_THREADS_S1" "$P_THREADS_S2" "$P_THREADS_S3"

log "LSTP: one middle, a plaintext pair and a TLS pair of ends"
spawn lstp-middle "$LSTP" middle --listen "127.0.0.1:$P_MIDDLE" --admin "127.0.0.1:$P_ADMIN" --name bench-middle
wait_listen "$P_MIDDLE" "lstp middle" "$PID_lstp_middle"
# lstp_pair SUFFIX BINARY MIDDLE_PORT MODE IPERF_FWD SOCK_FWD [--plaintext]: path lstp-MODE<SUFFIX>, a pair of ends of
# BINARY through the middle lstp-middle<SUFFIX> on MIDDLE_PORT (SUFFIX: empty, or @base for the baseline's).
lstp_pair() {
  local suffix=$1 bin=$2 mport=$3 mode=$4 fi=$5 fs=$6 flag=${7:-}
  local path=lstp-$mode$suffix tag=${suffix//@/-}
  head -c 24 /dev/urandom | base64 >"$WORK/secret-$mode$suffix"
  chmod 600 "$WORK/secret-$mode$suffix"
  spawn "$path-server" "$bin" end --middle "127.0.0.1:$mport" --secret-file "$WORK/secret-$mode$suffix" --name "srv-$mode$tag" \
    --service "iperf=127.0.0.1:$P_IPERF" --service "sockperf=127.0.0.1:$P_SOCK" $flag
  spawn "$path-client" "$bin" end --middle "127.0.0.1:$mport" --secret-file "$WORK/secret-$mode$suffix" --name "cli-$mode$tag" \
    --forward "127.0.0.1:$fi=iperf" --forward "127.0.0.1:$fs=sockperf" $flag
  wait_line "$LOGS/$path-server.log" 'open via' "$(pid_of "$path-server")" 60 "lstp $mode$suffix server end"
  wait_line "$LOGS/$path-client.log" 'open via' "$(pid_of "$path-client")" 60 "lstp $mode$suffix client end"
  wait_listen "$fi" "lstp $mode$suffix client end" "$(pid_of "$path-client")"
  wait_listen "$fs" "lstp $mode$suffix client end" "$(pid_of "$path-client")"
  log "  $mode$suffix: $(grep -m1 -o 'tunnel to .*' "$LOGS/$path-client.log")"
  IPERF_PORT[$path]=$fi
  SOCK_PORT[$path]=$fs
  COMPONENTS[$path]="client-end=$(pid_of "$path-client") middle=$(pid_of "lstp-middle$suffix") server-end=$(pid_of "$path-server") iperf3-server=$PID_iperf3_server"
}
lstp_pair "" "$LSTP" "$P_MIDDLE" plain "$P_PLAIN_I" "$P_PLAIN_S" --plaintext
lstp_pair "" "$LSTP" "$P_MIDDLE" tls "$P_TLS_I" "$P_TLS_S"
grep -q '(plaintext)' "$LOGS/lstp-plain-client.log" || die "the plaintext pair did not open in plaintext"
grep -q '(TLS 1.3' "$LOGS/lstp-tls-client.log" || die "the TLS pair did not open with TLS 1.3"
# The cipher suite the ends agreed on, as the client end logs it (builds before 2026-12-07 did not log it).
echo "lstp_tls_suite=$(grep -m1 -o 'TLS 1\.3, [A-Z0-9_]*' "$LOGS/lstp-tls-client.log" | cut -d' ' -f3)" >>"$OUT/meta.env"
if [[ -n $BASELINE ]]; then
  log "LSTP baseline $BASE_SHORT: its own middle and the same two pairs, all of its binary"
  spawn lstp-middle@base "$BASE_LSTP" middle --listen "127.0.0.1:$P_BASE_MIDDLE" --admin "127.0.0.1:$P_BASE_ADMIN" --name bench-middle-base
  wait_listen "$P_BASE_MIDDLE" "lstp middle (baseline)" "$(pid_of lstp-middle@base)"
  lstp_pair @base "$BASE_LSTP" "$P_BASE_MIDDLE" plain "$P_BASE_PLAIN_I" "$P_BASE_PLAIN_S" --plaintext
  lstp_pair @base "$BASE_LSTP" "$P_BASE_MIDDLE" tls "$P_BASE_TLS_I" "$P_BASE_TLS_S"
  grep -q '(plaintext)' "$LOGS/lstp-plain@base-client.log" || die "the baseline's plaintext pair did not open in plaintext"
  grep -q '(TLS 1.3' "$LOGS/lstp-tls@base-client.log" || die "the baseline's TLS pair did not open with TLS 1.3"
fi

log "OpenSSH: sshd on $P_SSHD as the middle, ssh -R (server side) and ssh -L (client side)"
SSHDIR=$WORK/ssh
mkdir -p "$SSHDIR" /run/sshd
chmod 700 "$SSHDIR"
ssh-keygen -q -t ed25519 -N '' -C bench-host -f "$SSHDIR/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -C bench-user -f "$SSHDIR/user_ed25519"
cp "$SSHDIR/user_ed25519.pub" "$SSHDIR/authorized_keys"
echo "[127.0.0.1]:$P_SSHD $(cut -d' ' -f1,2 "$SSHDIR/host_ed25519.pub")" >"$SSHDIR/known_hosts"
cat >"$SSHDIR/sshd_config" <<EOF
Port $P_SSHD
ListenAddress 127.0.0.1
HostKey $SSHDIR/host_ed25519
PidFile $SSHDIR/sshd.pid
AuthorizedKeysFile $SSHDIR/authorized_keys
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
UseDNS no
Ciphers aes128-gcm@openssh.com
Compression no
AllowTcpForwarding yes
GatewayPorts no
X11Forwarding no
PermitTTY no
LogLevel INFO
EOF
SSH_OPTS=(-F /dev/null -i "$SSHDIR/user_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes
  -o UserKnownHostsFile="$SSHDIR/known_hosts" -o StrictHostKeyChecking=yes
  -o Ciphers=aes128-gcm@openssh.com -o Compression=no -o ExitOnForwardFailure=yes
  -o ServerAliveInterval=0 -N -v -p "$P_SSHD" -l root)
spawn sshd "$(command -v sshd)" -D -e -f "$SSHDIR/sshd_config"
wait_listen "$P_SSHD" sshd "$PID_sshd"
spawn ssh-server-side ssh "${SSH_OPTS[@]}" -R "127.0.0.1:$P_SSH_RI:127.0.0.1:$P_IPERF" -R "127.0.0.1:$P_SSH_RS:127.0.0.1:$P_SOCK" 127.0.0.1
wait_listen "$P_SSH_RI" "ssh -R" "$PID_ssh_server_side"
wait_listen "$P_SSH_RS" "ssh -R" "$PID_ssh_server_side"
spawn ssh-client-side ssh "${SSH_OPTS[@]}" -L "127.0.0.1:$P_SSH_LI:127.0.0.1:$P_SSH_RI" -L "127.0.0.1:$P_SSH_LS:127.0.0.1:$P_SSH_RS" 127.0.0.1
wait_listen "$P_SSH_LI" "ssh -L" "$PID_ssh_client_side"
wait_listen "$P_SSH_LS" "ssh -L" "$PID_ssh_client_side"
grep -q 'cipher: aes128-gcm@openssh.com' "$LOGS/ssh-client-side.log" || die "ssh did not negotiate aes128-gcm (see $LOGS/ssh-client-side.log)"
grep -q 'compression: none' "$LOGS/ssh-client-side.log" || die "ssh negotiated compression (see $LOGS/ssh-client-side.log)"
IPERF_PORT[ssh]=$P_SSH_LI
SOCK_PORT[ssh]=$P_SSH_LS
COMPONENTS[ssh]="ssh-L=$PID_ssh_client_side sshd=$PID_sshd ssh-R=$PID_ssh_server_side iperf3-server=$PID_iperf3_server"

PATHS=(direct socat dotnet dotnet-threads lstp-plain lstp-tls ssh)
# Each baseline path next to its counterpart: the pair sees the same background load.
[[ -z $BASELINE ]] || PATHS=(direct socat dotnet dotnet-threads lstp-plain lstp-plain@base lstp-tls lstp-tls@base ssh)
echo "paths=${PATHS[*]}" >>"$OUT/meta.env"
# How busy the (shared) machine is without us: everything is set up and idle now. Meanwhile, what each relay process
# costs while it holds its tunnel or listens and nothing flows (timers, keepalives), as test "idle" of run 1.
IDLE_SECONDS=10
# Settled first: the pool threads a process started while setting up retire after 20 s without work, and until then
# they spin between wake-ups (an LSTP end measured 12-16 ms/s 2 s after the setup, 7-8 once settled).
IDLE_SETTLE=25
sleep "$IDLE_SETTLE"
read -r busy0 total0 < <(machine_ticks)
for path in "${PATHS[@]}"; do cpu_snapshot "$path" "$RAW/$path.idle.run1.cpu0"; done
sleep "$IDLE_SECONDS"
for path in "${PATHS[@]}"; do cpu_snapshot "$path" "$RAW/$path.idle.run1.cpu1"; done
read -r busy1 total1 < <(machine_ticks)
echo "background_busy_pct=$((100 * (busy1 - busy0) / (total1 - total0)))" >>"$OUT/meta.env"
echo "idle_seconds=$IDLE_SECONDS" >>"$OUT/meta.env"
echo "idle_settle_seconds=$IDLE_SETTLE" >>"$OUT/meta.env"

# ---------------------------------------------------------------------------------------------
log "warm-up: ${WARMUP} s of iperf3 and 1 s of sockperf through every path (JIT, TCP buffers); reported, not in the medians"
# A failure is recorded (FAILURES, shown in RESULTS.md) but does not stop the benchmark: the other
# paths are still worth measuring, and LSTP ends reconnect by themselves.
for path in "${PATHS[@]}"; do
  iperf_idle "$path warm-up"
  timeout $((WARMUP + 30)) iperf3 -c 127.0.0.1 -p "${IPERF_PORT[$path]}" -t "$WARMUP" -P 2 -J >"$RAW/$path.warmup.json" 2>&1 || true
  if ! error=$(iperf_error "$RAW/$path.warmup.json"); then
    log "  warm-up iperf3 through $path failed: $error"
    echo "$path warm-up iperf3 -P 2: $error" >>"$FAILURES"
  fi
  if ! timeout 60 sockperf ping-pong --tcp -i 127.0.0.1 -p "${SOCK_PORT[$path]}" -m 64 -t 1 >"$LOGS/warmup-$path-sockperf.log" 2>&1; then
    log "  warm-up sockperf through $path failed"
    echo "$path warm-up sockperf: failed (see logs/warmup-$path-sockperf.log)" >>"$FAILURES"
  fi
done

# Every other run goes through the paths in reverse: a path measured right after another did better than the
# same path measured first (5-19 % more throughput in 3 of 4 rounds of one build against itself), so a fixed order
# would favour whichever path comes second, a baseline right after its counterpart included.
for ((run = 1; run <= RUNS; run++)); do
  order=("${PATHS[@]}")
  if ((run % 2 == 0)); then
    order=()
    for ((i = ${#PATHS[@]} - 1; i >= 0; i--)); do order+=("${PATHS[i]}"); done
  fi
  for path in "${order[@]}"; do
    log "run $run/$RUNS: $path (iperf3 -P 1, iperf3 -P 8, sockperf; ${DURATION}s each)"
    run_iperf "$path" "${IPERF_PORT[$path]}" 1 "$run"
    run_iperf "$path" "${IPERF_PORT[$path]}" 8 "$run"
    run_sockperf "$path" "${SOCK_PORT[$path]}" "$run"
  done
done

# The middles' own counts of what they relayed over the runs, and of it what went through the kernel (splice).
curl -fsS "http://127.0.0.1:$P_ADMIN/metrics" >"$OUT/middle-metrics.txt" 2>/dev/null || true
[[ -z $BASELINE ]] || curl -fsS "http://127.0.0.1:$P_BASE_ADMIN/metrics" >"$OUT/middle@base-metrics.txt" 2>/dev/null || true

if perf stat -x, -e "$PERF_EVENTS" -- true >/dev/null 2>&1; then
  log "profile: syscalls and context switches per relay process (perf stat, ${PROFILE_SECONDS} s of iperf3 1 stream per path)"
  echo "profile_seconds=$PROFILE_SECONDS" >>"$OUT/meta.env"
  for path in "${PATHS[@]}"; do
    [[ $path == direct ]] || profile_path "$path" "${IPERF_PORT[$path]}"
  done
  log "profile: what each relay process spends its CPU on (perf record, ${PROFILE_SECONDS} s of iperf3 1 stream per path)"
  for path in "${PATHS[@]}"; do
    [[ $path == direct ]] || kinds_path "$path" "${IPERF_PORT[$path]}"
  done
  log "profile: the same per round trip (perf stat, ${PROFILE_SECONDS} s of sockperf ping-pong per path)"
  for path in "${PATHS[@]}"; do
    [[ $path == direct ]] || profile_rtt_path "$path" "${SOCK_PORT[$path]}"
  done
  log "profile: where a round trip waits, hop by hop (perf record of send and receive calls, 1 s of sockperf per path)"
  for path in "${PATHS[@]}"; do
    hops_path "$path" "${SOCK_PORT[$path]}"
  done
else
  log "profile: skipped (perf stat with syscall tracepoints is not available)"
fi

# The throughput setup stays idle from here; stop it so the memory test has the machine.
stop_all

# ---------------------------------------------------------------------------------------------
# memory_test SUFFIX BINARY MIDDLE_PORT ADMIN_PORT: a fresh middle of BINARY, then TUNNELS idle paired tunnels from
# BINARY's loadgen; writes RAW/rss<SUFFIX>.env (SUFFIX: empty, or @base for the baseline), then stops both.
memory_test() {
  local suffix=$1 bin=$2 mport=$3 aport=$4 mpid lpid t_loadgen rss_before rss_pause="" rss_after loadgen_rss seen i
  local -a loadgen_args limits
  # One loader on one address: lift the per-source limits. --max-links-per-source exists only in builds that have it
  # (a --baseline may be older).
  limits=(--max-connections-per-second 100000 --max-waiting-per-source 100000)
  if "$bin" middle --help 2>/dev/null | grep -q -- --max-links-per-source; then limits+=(--max-links-per-source 100000); fi
  spawn "rss-middle$suffix" "$bin" middle --listen "127.0.0.1:$mport" --admin "127.0.0.1:$aport" --name "rss-middle${suffix//@/-}" \
    "${limits[@]}" --log-level warning
  mpid=$(pid_of "rss-middle$suffix")
  wait_listen "$mport" "lstp middle" "$mpid"
  wait_listen "$aport" "lstp middle admin" "$mpid"
  sleep 2
  rss_before=$(rss_kib "$mpid")
  mkfifo "$WORK/loadgen$suffix.in"
  loadgen_args=(loadgen idle --middle "127.0.0.1:$mport" --tunnels "$TUNNELS" --batch 50 --pause-at "$PAUSE_AT")
  "$bin" "${loadgen_args[@]}" <"$WORK/loadgen$suffix.in" >"$LOGS/loadgen$suffix.out" 2>"$LOGS/loadgen$suffix.err" &
  PIDS+=($!)
  lpid=$!
  exec 9<>"$WORK/loadgen$suffix.in" # (read-write: never blocks) keeps the loadgen's stdin open; a line on it resumes it after --pause-at
  t_loadgen=$SECONDS
  if ((PAUSE_AT > 0)); then
    wait_line "$LOGS/loadgen$suffix.out" "^ready $PAUSE_AT\$" "$lpid" 300 "lstp loadgen"
    sleep 3
    rss_pause=$(rss_kib "$mpid")
    echo go >&9
  fi
  wait_line "$LOGS/loadgen$suffix.out" "^ready $TUNNELS\$" "$lpid" 600 "lstp loadgen"
  t_loadgen=$((SECONDS - t_loadgen))
  sleep 5
  rss_after=$(rss_kib "$mpid")
  loadgen_rss=$(rss_kib "$lpid")
  # What holding them costs while nothing flows but keepalives.
  local idle_secs=10 middle_ticks loader_ticks
  middle_ticks=$(tree_ticks "$mpid")
  loader_ticks=$(tree_ticks "$lpid")
  sleep "$idle_secs"
  middle_ticks=$(($(tree_ticks "$mpid") - middle_ticks))
  loader_ticks=$(($(tree_ticks "$lpid") - loader_ticks))
  seen=$(curl -fsS "http://127.0.0.1:$aport/api/status" 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d.get("tunnels", [])))' 2>/dev/null || echo "?")
  cat >"$RAW/rss$suffix.env" <<EOF
tunnels=$TUNNELS
pause_at=$PAUSE_AT
rss_before_kib=$rss_before
rss_pause_kib=$rss_pause
rss_after_kib=$rss_after
loadgen_rss_kib=$loadgen_rss
loadgen_seconds=$t_loadgen
idle_seconds=$idle_secs
middle_idle_ticks=$middle_ticks
loadgen_idle_ticks=$loader_ticks
middle_reports_tunnels=$seen
middle_flags=${limits[*]} --log-level warning
loadgen_cmd=lstp ${loadgen_args[*]}
EOF
  log "  middle RSS: before ${rss_before} KiB, at $PAUSE_AT ${rss_pause:-n/a} KiB, at $TUNNELS ${rss_after} KiB (middle sees $seen tunnels)"
  exec 9>&-
  stop_all
}
log "memory: a fresh middle, then $TUNNELS idle paired tunnels from lstp loadgen idle"
memory_test "" "$LSTP" "$P_RSS_MIDDLE" "$P_RSS_ADMIN"
if [[ -n $BASELINE ]]; then
  # The same on a middle of the baseline. In a subshell of its own (with its own traps), so that a failure here
  # (say, an older loadgen without --pause-at) is recorded instead of losing the measurements above.
  log "memory (baseline $BASE_SHORT): a fresh middle of the baseline, then $TUNNELS idle paired tunnels from its loadgen"
  (
    trap stop_all EXIT
    trap 'exit 143' TERM
    memory_test @base "$BASE_LSTP" "$P_BASE_RSS_MIDDLE" "$P_BASE_RSS_ADMIN"
  ) &
  PIDS+=($!)
  status=0
  wait $! || status=$?
  PIDS=()
  if ((status)); then
    log "  the baseline's memory test failed (exit $status); RESULTS.md leaves its numbers out"
    echo "baseline memory test: failed (see logs/rss-middle@base.log, logs/loadgen@base.err)" >>"$FAILURES"
  fi
fi

# ---------------------------------------------------------------------------------------------
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.env"
echo "elapsed_seconds=$((SECONDS - STARTED_AT))" >>"$OUT/meta.env"
python3 "$BENCH/report.py" "$OUT" "$BENCH/RESULTS.md"
ln -sfn "$STAMP" "$BENCH/out/latest"
log "done in $((SECONDS - STARTED_AT)) s: $BENCH/RESULTS.md (raw: $OUT)"
