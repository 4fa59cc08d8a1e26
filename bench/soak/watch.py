#!/usr/bin/env python3
"""The soak's observer: the client end's tunnel state, and the memory and descriptors of every process.

    watch.py --out DIR --admin HOST:PORT [--interval 0.1] [--sample-every 5]

- Polls GET http://ADMIN/api/end every --interval seconds; DIR/phases.jsonl gets a line (epoch seconds) whenever the
  phase, the middle, the peer or the reconnect count changes, and when the admin API does not answer.
- Every --sample-every seconds reads VmRSS and the number of open descriptors (/proc/PID/fd) of every process listed
  in DIR/pids/ (one file per process: "PID INCARNATION STARTED ROLE", written by run.sh and chaos.py) into
  DIR/samples.tsv. On SIGTERM it takes a last sample, tagged "final", and exits.
"""
import argparse
import json
import os
import signal
import time
import urllib.request

stopping = False


def on_term(*_):
    global stopping
    stopping = True


def fd_kinds(pid):
    """Open descriptors by kind: sockets, pipes, anon inodes (epoll, eventfd, timerfd...), files."""
    kinds = {"sock": 0, "pipe": 0, "anon": 0, "file": 0}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        kind = "sock" if target.startswith("socket:") else "pipe" if target.startswith("pipe:") else \
            "anon" if target.startswith("anon_inode:") else "file"
        kinds[kind] += 1
    return kinds


def proc_sample(pid):
    """(rss_kib, fds, threads, fd kinds) of a live process, or None when it is gone."""
    try:
        status = open(f"/proc/{pid}/status").read().splitlines()
        fields = dict(line.split(":", 1) for line in status if ":" in line)
        rss = int(fields["VmRSS"].split()[0])
        threads = int(fields["Threads"])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        kinds = " ".join(f"{k}={v}" for k, v in fd_kinds(pid).items())
        return rss, fds, threads, kinds
    except (OSError, KeyError, ValueError):
        return None


def dump_fds(out, name, incarnation, pid, when):
    """What an lstp process holds open (fds/NAME.INCARNATION.WHEN.txt): to tell a leak from a lazily opened file."""
    lines = []
    for fd in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        try:
            lines.append(f"{fd} {os.readlink(f'/proc/{pid}/fd/{fd}')}")
        except OSError:
            pass
    os.makedirs(os.path.join(out, "fds"), exist_ok=True)
    with open(os.path.join(out, "fds", f"{name}.{incarnation}.{when}.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


dumped = set()


def sample(out, tsv, tag, channels_open, warmup_from):
    now = time.time()
    piddir = os.path.join(out, "pids")
    for name in sorted(os.listdir(piddir)):
        if name.startswith("."):
            continue
        try:
            pid, incarnation, started, role = open(os.path.join(piddir, name)).read().split()
        except (OSError, ValueError):
            continue
        s = proc_sample(pid)
        rss, fds, threads, kinds = s if s else ("", "", "", "")
        try:  # the descriptor list once warmed up (20 s after the process and this watch started), and at the end
            if s and role == "lstp" and tag == "final":
                dump_fds(out, name, incarnation, pid, "final")
            elif s and role == "lstp" and (name, incarnation) not in dumped and \
                    now >= max(float(started), warmup_from) + 20:
                dump_fds(out, name, incarnation, pid, "start")
                dumped.add((name, incarnation))
        except OSError:
            pass
        tsv.write(f"{now:.3f}\t{tag}\t{name}\t{role}\t{pid}\t{incarnation}\t{started}\t{rss}\t{fds}\t{threads}"
                  f"\t{kinds}\t{channels_open}\n")
    tsv.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--admin", required=True)
    p.add_argument("--interval", type=float, default=0.1)
    p.add_argument("--sample-every", type=float, default=5)
    a = p.parse_args()
    watch_started = time.time()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    with open(os.path.join(a.out, "pids", ".watch"), "w") as f:
        f.write(f"{os.getpid()} 1 {time.time():.3f} harness\n")
    os.replace(os.path.join(a.out, "pids", ".watch"), os.path.join(a.out, "pids", "watch"))

    phases = open(os.path.join(a.out, "phases.jsonl"), "a", buffering=1)
    tsv = open(os.path.join(a.out, "samples.tsv"), "w")
    # channels_open: the client end's open channels at the last poll (descriptors follow it).
    tsv.write("t\ttag\tname\trole\tpid\tincarnation\tstarted\trss_kib\tfds\tthreads\tfd_kinds\tchannels_open\n")
    url = f"http://{a.admin}/api/end"
    last, polls, failures, next_sample, channels_open = None, 0, 0, 0.0, ""
    while not stopping:
        t0 = time.time()
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                d = json.load(r)
            state = (d.get("phase"), d.get("middle"), d.get("peer"), d.get("reconnects"))
            channels_open = (d.get("traffic") or {}).get("channelsOpen", "")
        except Exception as e:  # the client end not answering is itself worth a line
            failures += 1
            d, state = {"error": type(e).__name__}, ("unreachable", None, None, None)
        polls += 1
        now = time.time()
        if state != last:
            phases.write(json.dumps({"t": round(now, 3), "phase": state[0], "middle": state[1], "peer": state[2],
                                     "reconnects": state[3], "lastError": d.get("lastError"),
                                     "error": d.get("error")}) + "\n")
            last = state
        if now >= next_sample:
            sample(a.out, tsv, "periodic", channels_open, watch_started)
            next_sample = now + a.sample_every
        time.sleep(max(0.0, a.interval - (time.time() - t0)))
    sample(a.out, tsv, "final", channels_open, watch_started)
    phases.write(json.dumps({"t": round(time.time(), 3), "phase": "watch-stopped", "polls": polls,
                             "failures": failures}) + "\n")


if __name__ == "__main__":
    main()
