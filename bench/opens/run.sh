#!/usr/bin/env bash
# Channel opens (issue 15): short connections (connect, --size bytes echoed, close) from --clients loops at once,
# straight to an echo service and through one tunnel (client end -> middle -> server end -> echo), default TLS and
# --plaintext, interleaved run by run; the rate of each and the ratio tunnel / direct. The load generator and the
# echo service are `lstp loadgen opens` / `lstp loadgen echo` (C#, one process each): Python clients top out near
# 4,000 connections per second here, below what either path takes. Loopback only; medians of --runs runs.
# With the rates, the CPU each process spent per connection (the load generator, the echo service, the client end,
# the middle, the server end; summed over the runs, from /proc and the generator's rusage): on a machine where
# every path is CPU-bound this says where a connection's cost goes, and what bounds the ratio.
# A warm-up of --warmup seconds (default 10) through every path first: a fresh .NET process compiles and tiers up its
# code over its first seconds of short connections (the tiered compiler took a fifth of an end's CPU in the first 10 s,
# under 1 % after 25 s), and the measured runs are of running processes.
# Usage: bench/opens/run.sh [--runs N] [--seconds S] [--warmup S] [--clients N] [--size BYTES] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/../.."
STARTED_AT=$SECONDS ROOT=$PWD
source bench/lib.sh
runs=3 seconds=5 warmup=10 clients=16 size=1024 build=1
while (($#)); do
  case "$1" in
    --runs) runs=$2; shift 2;;
    --seconds) seconds=$2; shift 2;;
    --warmup) warmup=$2; shift 2;;
    --clients) clients=$2; shift 2;;
    --size) size=$2; shift 2;;
    --no-build) build=0; shift;;
    *) help_or_unknown "$1";;
  esac
done
out=bench/out/opens-$(date -u +%Y%m%d-%H%M%S); mkdir -p "$out"
LOGS=$out WORK=$(mktemp -d /tmp/lstp-opens.XXXXXX) PIDS=()
exit_trap
if ((build)); then publish_lstp out/lstp-bench "$out/build.log"; fi
lstp=out/lstp-bench/lstp

read -r echo_port mid tls plain < <(free_ports 4)
spawn echo "$lstp" loadgen echo --listen 127.0.0.1:"$echo_port"
spawn middle "$lstp" middle --listen 127.0.0.1:"$mid" --admin off --log-level warning
for mode in tls plain; do
  flag=(); port=$tls
  [[ $mode == plain ]] && flag=(--plaintext) && port=$plain
  spawn "server-$mode" "$lstp" end --middle 127.0.0.1:"$mid" --secret "bench-$mode" --name "srv-$mode" --service echo=127.0.0.1:"$echo_port" "${flag[@]}" --log-level warning
  spawn "client-$mode" "$lstp" end --middle 127.0.0.1:"$mid" --secret "bench-$mode" --name "cli-$mode" --forward "$port=echo" "${flag[@]}" --log-level warning
done
wait_listen "$echo_port" "lstp loadgen echo" "$(pid_of echo)"
wait_listen "$tls" "the TLS client end" "$(pid_of client-tls)"
wait_listen "$plain" "the plaintext client end" "$(pid_of client-plain)"
# Discarded seconds through each path first (the echo service straight, then each tunnel): they wait for the tunnel
# to open (a forward holds connections until then) and warm the JIT, so the measured runs see running processes.
for port in "$echo_port" "$tls" "$plain"; do "$lstp" loadgen opens --target 127.0.0.1:"$port" --clients "$clients" --seconds "$warmup" >>"$out/warmup.log" 2>&1 || true; done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system CPU of PID, in clock ticks
hz=$(getconf CLK_TCK)
# The generator's own CPU: its rusage, printed in seconds on stderr's last line by this wrapper.
generator=(python3 -c 'import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; r = resource.getrusage(resource.RUSAGE_CHILDREN); print(f"cpu {r.ru_utime + r.ru_stime:.3f}", file=sys.stderr); sys.exit(code)')
measure() { # name port [mode]: one run; its rate appended to $out/<name>.txt, its opens and CPU per process to $out/<name>.cpu
  local line before=() after=() pids=("$(pid_of echo)" "$(pid_of middle)") p
  [[ -n ${3:-} ]] && pids+=("$(pid_of "client-$3")" "$(pid_of "server-$3")")
  for p in "${pids[@]}"; do before+=("$(ticks "$p")"); done
  line=$("${generator[@]}" "$lstp" loadgen opens --target 127.0.0.1:"$2" --clients "$clients" --seconds "$seconds" --size "$size" 2>"$out/$1.stderr") || true
  for p in "${pids[@]}"; do after+=("$(ticks "$p")"); done
  cat "$out/$1.stderr" >>"$out/$1.err"
  echo "$line" >>"$out/$1.raw"
  awk '{print $4}' <<<"$line" >>"$out/$1.txt"
  # opens, the generator's CPU seconds, then the CPU ticks of echo, middle[, client end, server end]
  {
    printf '%s %s' "$(awk '{print $2}' <<<"$line")" "$(awk '/^cpu / {print $2}' "$out/$1.stderr")"
    for i in "${!pids[@]}"; do printf ' %s' "$(( after[i] - before[i] ))"; done
    echo
  } >>"$out/$1.cpu"
  sleep 1 # let TIME_WAIT and the tunnel's closing channels settle between runs
}
# CPU µs per connection for path NAME, summed over its runs: "generator echo client middle server total"
per_open() {
  python3 - "$out/$1.cpu" "$hz" <<'PY'
import sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
hz = float(sys.argv[2])
opens = sum(float(r[0]) for r in rows)
generator = sum(float(r[1]) for r in rows)
ticks = [sum(float(r[i]) for r in rows) / hz for i in range(2, len(rows[0]))]
echo, middle = ticks[0], ticks[1]
client, server = (ticks[2], ticks[3]) if len(ticks) > 2 else (0.0, 0.0)
cells = [generator, echo, client, middle, server]
us = [1e6 * c / max(opens, 1) for c in cells]
print(" | ".join(f"{u:.0f}" for u in us) + f" | {sum(us):.0f}")
PY
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
range() { sort -n | awk 'NR==1{lo=$1} {hi=$1} END {print lo "–" hi}'; }
# Every other run in reverse: a path measured right after another does better than measured first (bench/run.sh).
for r in $(seq "$runs"); do
  if ((r % 2)); then
    measure direct "$echo_port"; measure tls "$tls" tls; measure plain "$plain" plain
  else
    measure plain "$plain" plain; measure tls "$tls" tls; measure direct "$echo_port"
  fi
done
failed=$(cat "$out"/*.raw | awk '{f+=$6} END {print f+0}')
d=$(median <"$out/direct.txt"); t=$(median <"$out/tls.txt"); p=$(median <"$out/plain.txt")
{
  echo "# Channel opens through one tunnel"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; load average at end: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD)"
  echo "- $clients clients at once, each a loop of connect, $size bytes sent and read back, close, for $seconds s (\`lstp loadgen opens\`), after $warmup s of the same through each path unmeasured; the service is \`lstp loadgen echo\`; every path measured in each of $runs runs, interleaved, every other run in reverse order; medians (min–max); $failed connection(s) failed in all"
  echo "- Reproduce: \`bench/opens/run.sh --runs $runs --seconds $seconds --warmup $warmup --clients $clients --size $size\`; raw numbers in \`$out/\`"
  echo
  echo "| path | connections per second | / direct |"
  echo "|---|---:|---:|"
  echo "| direct (client → echo) | $d ($(range <"$out/direct.txt")) | 1.00× |"
  echo "| through a tunnel, default TLS | $t ($(range <"$out/tls.txt")) | $(python3 -c "print('%.2f' % ($t/$d))")× |"
  echo "| through a tunnel, \`--plaintext\` | $p ($(range <"$out/plain.txt")) | $(python3 -c "print('%.2f' % ($p/$d))")× |"
  echo
  echo "CPU per connection, µs, by process (summed over the runs; the load generator from its rusage, the others from /proc):"
  echo
  echo "| path | load generator | echo service | client end | middle | server end | all |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  echo "| direct | $(per_open direct) |"
  echo "| default TLS | $(per_open tls) |"
  echo "| \`--plaintext\` | $(per_open plain) |"
  echo
  echo "Targets (issue 15): through a tunnel ≥ 0.8× direct and ≥ 10,000 per second. With $(nproc) cores for the clients, the echo"
  echo "service and (through a tunnel) two ends and a middle, every path is CPU-bound: the rate is the cores' time over the"
  echo "row's sum. Each end does per connection at least what the echo service does (accept or dial, read, write, close),"
  echo "so even ends as cheap as the echo service and a middle that cost nothing would carry at most"
  echo "$(python3 - "$out/direct.cpu" <<'PY'
import os, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
hz = os.sysconf("SC_CLK_TCK")
# CPU seconds of the direct runs: the generator's, the echo service's, and the (idle) middle's
generator = sum(float(r[1]) for r in rows)
echo = sum(float(r[2]) for r in rows) / hz
direct = generator + echo + sum(float(r[3]) for r in rows) / hz
opens = sum(float(r[0]) for r in rows)
cores = os.cpu_count()
print(f"direct / (direct + 2 × echo) = {direct / (direct + 2 * echo):.2f}× of direct here. And 10,000 per second on {cores}"
      f" cores leaves {1e6 * cores / 10000:.0f} µs of CPU per connection for the whole row, of which the load generator and"
      f" the echo service alone took {1e6 * (generator + echo) / opens:.0f} in the direct runs.")
PY
)"
} | tee bench/opens/RESULTS-opens.md
