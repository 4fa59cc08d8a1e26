#!/usr/bin/env bash
# Multiplexed against dedicated tunnel connections (issue 5): iperf3 with 8 parallel streams through one
# forward whose channels share the tunnel connection, and through one whose channels each get a tunnel
# connection of their own (--forward PORT=SERVICE/dedicated). Loopback only; median of --runs runs.
# Usage: bench/dedicated/run.sh [--runs N] [--duration S] [--plaintext]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=3 duration=10 plain=()
while (($#)); do
  case "$1" in
    --runs) runs=$2; shift 2;;
    --duration) duration=$2; shift 2;;
    --plaintext) plain=(--plaintext); shift;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
out=bench/out/dedicated-$(date -u +%Y%m%d-%H%M%S); mkdir -p "$out"
dotnet publish src/Lstp.Cli -c Release -o out/lstp-bench -nologo -v quiet >/dev/null
lstp=out/lstp-bench/lstp
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; return 1; }

ip=$(free_port); mid=$(free_port); mux=$(free_port); ded=$(free_port)
iperf3 -s -p "$ip" >/dev/null 2>&1 & pids+=($!)
$lstp middle --listen 127.0.0.1:"$mid" --admin off --log-level warning >"$out/middle.log" 2>&1 & pids+=($!)
$lstp end --middle 127.0.0.1:"$mid" --secret bench --name srv --service ip=127.0.0.1:"$ip" "${plain[@]}" --log-level warning >"$out/server.log" 2>&1 & pids+=($!)
$lstp end --middle 127.0.0.1:"$mid" --secret bench --name cli --forward "$mux=ip" --forward "$ded=ip/dedicated" "${plain[@]}" --log-level warning >"$out/client.log" 2>&1 & pids+=($!)
wait_port "$ip"; wait_port "$mux"; wait_port "$ded"; sleep 2

measure() { # port -> Gbit/s (receiver)
  iperf3 -c 127.0.0.1 -p "$1" -P 8 -t "$duration" -J | python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >"$out/mux.txt"; : >"$out/ded.txt"
for r in $(seq "$runs"); do
  measure "$mux" >>"$out/mux.txt"; sleep 1
  measure "$ded" >>"$out/ded.txt"; sleep 1
done
m=$(median <"$out/mux.txt"); d=$(median <"$out/ded.txt")
ratio=$(python3 -c "print('%.2f' % ($d/$m))")
mode=$([ ${#plain[@]} -gt 0 ] && echo plaintext || echo "TLS 1.3 end to end")
{
  echo "# Multiplexed vs dedicated tunnel connections"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; load average at end: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD)"
  echo "- iperf3 -P 8 -t $duration through middle + two ends ($mode), median of $runs runs; raw numbers in \`$out/\`"
  echo "- Reproduce: \`bench/dedicated/run.sh --runs $runs --duration $duration ${plain[*]}\`"
  echo
  echo "| forward | 8 streams, Gbit/s |"
  echo "|---|---:|"
  echo "| multiplexed (\`--forward PORT=ip\`) | $m |"
  echo "| dedicated (\`--forward PORT=ip/dedicated\`) | $d |"
  echo "| **dedicated / multiplexed** | **${ratio}×** |"
} | tee bench/dedicated/RESULTS-dedicated.md
