# Helpers the benchmark scripts share (bench/run.sh, bench/soak/run.sh, bench/cluster/run.sh, bench/resume/run.sh):
# source it after setting STARTED_AT=$SECONDS. spawn and stop_pid keep the caller's array PIDS and write logs to
# the caller's LOGS directory.

# The comment block at the top of the calling script, as its --help.
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

# The last branch of a script's option loop: --help prints the comment block, anything else is an error.
help_or_unknown() { # ARG
  [[ $1 == -h || $1 == --help ]] && { usage; exit 0; }
  echo "${0##*/}: unknown option '$1' (see --help)" >&2
  exit 2
}

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
# PID and every process below it, comma-separated (what perf's -p takes).
tree_pids() { echo "$1" $(descendants "$1") | tr ' ' ,; }

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

# ---------------------------------------------------------------------------------------------
# Processes (bench/run.sh, bench/resume/run.sh): each background process is recorded in PIDS; exit_trap stops them
# all on exit, newest first.

# spawn LABEL COMMAND...: starts COMMAND in the background, logs to LOGS/LABEL.log, records its pid in PID_<label>
# (- and @ in LABEL become _).
spawn() {
  local label=$1
  shift
  "$@" >"$LOGS/$label.log" 2>&1 &
  PIDS+=($!)
  printf -v "PID_${label//[-@]/_}" '%s' $!
}
pid_of() { local var="PID_${1//[-@]/_}"; echo "${!var}"; }

# Ends PID and everything below it: TERM to PID alone (a parent that stops its own children, as bench/soak/chaos.py
# stops its middles, is left to), up to SECONDS (default 5) for it to exit, then KILL to it and to all that was below.
stop_pid() { # PID [SECONDS]
  local pid=$1 seconds=${2:-5} victims i
  victims=$(descendants "$pid")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < seconds * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" $victims 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Stops every process in PIDS, newest first, and empties PIDS.
stop_all() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  PIDS=()
}

# Sets the exit trap (also on Ctrl-C and TERM): stop_all, then the function named HOOK if given (say, to remove what
# the processes ran from), then WORK is removed and, after a failure, the log says where the logs are.
exit_trap() { # [HOOK]
  EXIT_HOOK=${1:-}
  trap on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
on_exit() {
  local status=$?
  trap - EXIT INT TERM
  stop_all
  [[ -z $EXIT_HOOK ]] || "$EXIT_HOOK"
  rm -rf "$WORK"
  ((status == 0)) || log "exit $status; logs in $LOGS"
  exit "$status"
}

# Waits until something listens on 127.0.0.1:PORT (ss: no connection is made, so servers see nothing).
wait_listen() { # PORT WHAT [PID]
  local port=$1 what=$2 pid=${3:-} i
  for ((i = 0; i < 600; i++)); do
    ss -Hltn "sport = :$port" | grep -q . && return 0
    [[ -z $pid ]] || kill -0 "$pid" 2>/dev/null || die "$what exited before listening on $port (see $LOGS)"
    sleep 0.05
  done
  die "$what: nothing listens on 127.0.0.1:$port after 30 s"
}

# ---------------------------------------------------------------------------------------------
# iperf3

# The error of an iperf3 -J result on stdout; fails when the test failed (iperf3 -J may exit 0 then).
iperf_error() { # JSON_FILE
  python3 -c 'import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    print("no JSON result"); sys.exit(1)
e = d.get("error")
print(e or "")
sys.exit(1 if e or "sum_received" not in d.get("end", {}) else 0)' "$1"
}

# Before an iperf3 test: waits (up to 10 s) until the previous test's connections to the iperf3 server on PORT are
# gone (through a relay, the server can still be closing the last test when the client has finished; iperf3 then
# refuses with "the server is busy"). Fails if they are still there.
iperf_server_idle() { # PORT
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -z $(ss -Htn state established "( sport = :$1 )") ]] && return 0
    sleep 0.05
  done
  return 1
}
