# Helpers the benchmark scripts share (bench/run.sh, bench/soak/run.sh, bench/cluster/run.sh): source it after
# setting STARTED_AT=$SECONDS.

# The comment block at the top of the calling script, as its --help.
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

log() { printf '[%4ds] %s\n' $((SECONDS - STARTED_AT)) "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# The pids of every process below PID, deepest first.
descendants() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null || true); do
    descendants "$child"
    echo "$child"
  done
}

# Waits until FILE has a line matching PATTERN (grep -E); the process PID must stay alive meanwhile.
wait_line() { # FILE PATTERN PID SECONDS WHAT
  local file=$1 pattern=$2 pid=$3 seconds=$4 what=$5 i
  for ((i = 0; i < seconds * 10; i++)); do
    grep -Eq "$pattern" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || die "$what exited (see $file)"
    sleep 0.1
  done
  die "$what: no '$pattern' in $file after $seconds s"
}

# N free loopback ports, distinct, below the ephemeral range (so no outgoing connection, ours or anyone's,
# takes one between choosing it and listening on it): each is checked by binding it.
free_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
candidates = list(range(20000, low if low > 21000 else 32768))
random.shuffle(candidates)
chosen = []
for port in candidates:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        chosen.append(port)
    except OSError:
        pass
    finally:
        s.close()
    if len(chosen) == int(sys.argv[1]):
        break
print(" ".join(map(str, chosen)))
PY
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# Publishes src/Lstp.Cli into OUTDIR (log in LOGFILE), retrying: others may be editing src/ at the same moment, and a
# file lock or a half-finished edit usually clears within a minute.
publish_lstp() { # OUTDIR LOGFILE
  local out=$1 logfile=$2 attempt
  log "building lstp (dotnet publish src/Lstp.Cli -c Release -o ${out#"$ROOT"/})"
  for attempt in 1 2 3 4; do
    dotnet publish "$ROOT/src/Lstp.Cli" -c Release -o "$out" -nologo >"$logfile" 2>&1 && return 0
    ((attempt < 4)) || break
    log "  build attempt $attempt failed ($(grep -m1 -E 'error' "$logfile" | cut -c1-160)); retrying in 30 s"
    sleep 30
  done
  die "dotnet publish (see $logfile)"
}
