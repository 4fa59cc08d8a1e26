#!/usr/bin/env bash
# Runs the firewall lab tests (tests/Lstp.Lab.Tests): real lstp processes in network namespaces behind
# nftables, tinyproxy and microsocks. Needs root and the Debian packages of scripts/install-deps.sh.
#   tests/lab/run-lab-tests.sh [dotnet test options...]     e.g. --filter FullyQualifiedName~Blackhole
# LSTP_BIN=/path/to/lstp uses a ready binary instead of publishing src/Lstp.Cli.
# Results: tests/lab/out/ (logs per test, repair-times.txt, blackhole-times.txt) and tests/lab/out/TestResults/*.trx.
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LAB_DIR/../.." && pwd)

if [[ $(id -u) -ne 0 ]]; then
  echo "run-lab-tests.sh: run as root (the lab creates network namespaces and nftables rules)" >&2
  exit 1
fi
for tool in ip nft ss tinyproxy microsocks python3 dotnet; do
  command -v "$tool" >/dev/null || { echo "run-lab-tests.sh: $tool is missing: run scripts/install-deps.sh as root" >&2; exit 1; }
done

# Leave no lab behind, whatever happens to the test run.
cleanup() { bash "$LAB_DIR/lab.sh" down >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$LAB_DIR/out"
cd "$ROOT"
status=0
dotnet test tests/Lstp.Lab.Tests \
  --logger "console;verbosity=detailed" \
  --logger "trx;LogFileName=lab-tests.trx" \
  --results-directory "$LAB_DIR/out/TestResults" \
  "$@" || status=$?

if [[ -f $LAB_DIR/out/repair-times.txt ]]; then
  echo "re-pair times (tests/lab/out/repair-times.txt, latest last):"
  tail -n 4 "$LAB_DIR/out/repair-times.txt" | sed 's/^/  /'
fi
exit $status
