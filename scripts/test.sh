#!/usr/bin/env bash
# Runs every test LSTP has, from a clean clone: installs what the tests need (as root), builds once,
# runs each test project, and ends with one summary line "N passed, N failed".
# Usage: scripts/test.sh [--no-install] [extra dotnet test args]
set -euo pipefail
cd "$(dirname "$0")/.."

install=1
if [[ "${1:-}" == "--no-install" ]]; then install=0; shift; fi
if ((install)); then bash scripts/install-deps.sh; fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

dotnet build LstpActors.sln -c Release -nologo -v quiet -clp:ErrorsOnly

status=0
for project in tests/*/*.csproj; do
  name=$(basename "$project" .csproj)
  grep -q '<IsTestProject>true</IsTestProject>' "$project" || continue
  echo "=== $name"
  if ! dotnet test "$project" -c Release --no-build --nologo \
      --logger "trx;LogFileName=$results/$name.trx" --logger "console;verbosity=minimal" "$@"; then
    status=1
  fi
done

# Sum the TRX counters of every project into the one closing line CI reads.
python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for path in glob.glob(sys.argv[1] + "/*.trx"):
    counters = ET.parse(path).getroot().find(".//{*}Counters")
    if counters is None:
        continue
    passed += int(counters.get("passed", 0))
    failed += int(counters.get("failed", 0)) + int(counters.get("error", 0)) + int(counters.get("timeout", 0)) + int(counters.get("aborted", 0))
    skipped += int(counters.get("notExecuted", 0))
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
exit $status
