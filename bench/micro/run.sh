#!/usr/bin/env bash
# Micro benchmarks of the data path's hot code (BenchmarkDotNet, bench/micro): framing, the frame reader, the link's
# RELAY framing, the tunnel's writer, flow control and compression, each per 64 KiB frame, with the time and the
# bytes allocated per operation. One short job (MicroConfig.cs: 1 launch, 3 warm-ups, 3 iterations of 250 ms) keeps
# a run to about 3 minutes on 2 cores. Writes bench/micro/RESULTS-micro.md (observations, then BenchmarkDotNet's
# GitHub tables); BenchmarkDotNet's own files go to bench/micro/BenchmarkDotNet.Artifacts/ (not committed).
# Usage: bench/micro/run.sh [--filter GLOB] [-- BENCHMARKDOTNET_ARGS...]
#   --filter GLOB   which benchmarks, as BenchmarkDotNet's --filter (default '*'; e.g. '*RelayStream*')
#   -- ARGS         passed to BenchmarkDotNet as they are (e.g. -- --list flat)
set -euo pipefail
STARTED_AT=$SECONDS
source "$(dirname "$0")/../lib.sh"
filter='*' extra=()
while (($#)); do
  case "$1" in
    --filter) filter=$2; shift 2;;
    --) shift; extra=("$@"); break;;
    *) help_or_unknown "$1";; # --help reads this script's comment block through $0, so options come before the cd
  esac
done
cd "$(dirname "$0")/../.."

artifacts=bench/micro/BenchmarkDotNet.Artifacts
rm -rf "$artifacts/results"
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load=$(cut -d' ' -f1-3 /proc/loadavg)
commit=$(git rev-parse --short HEAD)
[[ -z $(git status --porcelain -- src) ]] || commit+=" with uncommitted changes in src/"
log "BenchmarkDotNet: --filter '$filter' (load average $load)"
dotnet run -c Release --project bench/micro -- --filter "$filter" --artifacts "$artifacts" "${extra[@]}"
[[ -n $(compgen -G "$artifacts/results/*-report-github.md") ]] || die "no reports in $artifacts/results (see the output above)"
load="$load at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
python3 bench/micro/report.py "$artifacts/results" --started "$started" --load "$load" --commit "$commit" \
  --elapsed $((SECONDS - STARTED_AT)) >bench/micro/RESULTS-micro.md
log "wrote bench/micro/RESULTS-micro.md"
