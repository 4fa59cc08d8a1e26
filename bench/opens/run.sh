#!/usr/bin/env bash
# Channel opens (issue 15): short connections (connect, --size bytes echoed, close) from --clients loops at once,
# straight to an echo service and through one tunnel (client end -> middle -> server end -> echo), default TLS and
# --plaintext, interleaved run by run; the rate of each and the ratio tunnel / direct. The load generator and the
# echo service are `lstp loadgen opens` / `lstp loadgen echo` (C#, one process each): Python clients top out near
# 4,000 connections per second here, below what either path takes. Loopback only; medians of --runs runs.
# Usage: bench/opens/run.sh [--runs N] [--seconds S] [--clients N] [--size BYTES] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/../.."
STARTED_AT=$SECONDS ROOT=$PWD
source bench/lib.sh
runs=3 seconds=5 clients=16 size=1024 build=1
while (($#)); do
  case "$1" in
    --runs) runs=$2; shift 2;;
    --seconds) seconds=$2; shift 2;;
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
# A discarded second through each path first: it waits for its tunnel to open (a forward holds connections until
# then) and warms the JIT, so the measured runs see a running tunnel.
for port in "$tls" "$plain"; do "$lstp" loadgen opens --target 127.0.0.1:"$port" --clients "$clients" --seconds 1 >>"$out/warmup.log" 2>&1 || true; done

measure() { # name port: one run, its rate appended to $out/<name>.txt
  local line
  line=$($lstp loadgen opens --target 127.0.0.1:"$2" --clients "$clients" --seconds "$seconds" --size "$size" 2>>"$out/$1.err") || true
  echo "$line" >>"$out/$1.raw"
  awk '{print $4}' <<<"$line" >>"$out/$1.txt"
  sleep 1 # let TIME_WAIT and the tunnel's closing channels settle between runs
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
range() { sort -n | awk 'NR==1{lo=$1} {hi=$1} END {print lo "–" hi}'; }
for r in $(seq "$runs"); do
  measure direct "$echo_port"; measure tls "$tls"; measure plain "$plain"
done
failed=$(cat "$out"/*.raw | awk '{f+=$6} END {print f+0}')
d=$(median <"$out/direct.txt"); t=$(median <"$out/tls.txt"); p=$(median <"$out/plain.txt")
{
  echo "# Channel opens through one tunnel"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; load average at end: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD)"
  echo "- $clients clients at once, each a loop of connect, $size bytes sent and read back, close, for $seconds s (\`lstp loadgen opens\`); the service is \`lstp loadgen echo\`; every path measured in each of $runs runs, interleaved; medians (min–max); $failed connection(s) failed in all"
  echo "- Reproduce: \`bench/opens/run.sh --runs $runs --seconds $seconds --clients $clients --size $size\`; raw numbers in \`$out/\`"
  echo
  echo "| path | connections per second | / direct |"
  echo "|---|---:|---:|"
  echo "| direct (client → echo) | $d ($(range <"$out/direct.txt")) | 1.00× |"
  echo "| through a tunnel, default TLS | $t ($(range <"$out/tls.txt")) | $(python3 -c "print('%.2f' % ($t/$d))")× |"
  echo "| through a tunnel, \`--plaintext\` | $p ($(range <"$out/plain.txt")) | $(python3 -c "print('%.2f' % ($p/$d))")× |"
  echo
  echo "Targets (issue 15): through a tunnel ≥ 0.8× direct and ≥ 10,000 per second. With 2 cores for the clients, the echo"
  echo "service and (through a tunnel) two ends and a middle, every path is CPU-bound: the rate measures CPU per connection."
} | tee bench/opens/RESULTS-opens.md
