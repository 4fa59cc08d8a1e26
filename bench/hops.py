#!/usr/bin/env python3
"""Where a round trip waits, hop by hop: reads `perf script -F pid,time,event,trace` of syscall tracepoints (bench/run.sh
records them system-wide during a sockperf ping-pong) on stdin and writes JSON to stdout.

usage: hops.py ROLE=PID[,PID...] ...   (the processes of one path in the order a message passes them: the sockperf
client first, the relays, the sockperf server last)

With one 64-byte message in flight, every message passes the chain strictly in turn, so each send is answered by the
next process's read of it. For each pair of processes the time from a send's entry in one to the exit of the read
that takes the message in the next is the hop's wait: the kernel's delivery, the wake-up of whatever waits for it
(a thread in recv, an epoll thread that hands the completion to a pool thread) and the read itself. The time from a
process's read of a message to its send of it is the work inside that process. Reads and writes of 8 bytes or less
(a runtime's wake-up pipe, an eventfd) are left out.
"""
import json
import re
import statistics
import sys

RECEIVES = ("read", "recvfrom", "recvmsg", "readv")
SENDS = ("write", "sendto", "sendmsg", "writev")
SMALL = 8

order = []
role_of = {}
for arg in sys.argv[1:]:
    role, _, pids = arg.partition("=")
    order.append(role)
    for pid in filter(None, pids.split(",")):
        role_of[pid] = role

line_re = re.compile(r"^\s*(\d+)\s+([\d.]+):\s+syscalls:sys_(enter|exit)_(\w+):\s*(.*)$")
size_re = re.compile(r"(?:count|len|vlen): (0x[0-9a-f]+)")
events = []  # (time in us, role, "r" | "s")
for line in sys.stdin:
    m = line_re.match(line)
    if not m or m.group(1) not in role_of:
        continue
    pid, t, kind, call, rest = m.groups()
    if kind == "exit" and call in RECEIVES:
        value = int(rest.strip(), 16)
        if SMALL < value < 1 << 63:  # a negative errno reads as a huge unsigned value
            events.append((float(t) * 1e6, role_of[pid], "r"))
    elif kind == "enter" and call in SENDS:
        size = size_re.search(rest)
        if call in ("sendmsg", "writev") or (size and int(size.group(1), 16) > SMALL):
            events.append((float(t) * 1e6, role_of[pid], "s"))
events.sort()

waits, inside = {}, {}
last_read = {}
for (t0, a, k0), (t1, b, k1) in zip(events, events[1:]):
    if k0 == "s" and k1 == "r" and a != b:
        waits.setdefault(f"{a}>{b}", []).append(t1 - t0)
for t, role, kind in events:
    if kind == "r":
        last_read[role] = t
    elif role in last_read:
        inside.setdefault(role, []).append(t - last_read.pop(role))


def summary(values):
    values.sort()
    return {"n": len(values), "p50": statistics.median(values), "p75": values[3 * len(values) // 4]}


print(json.dumps({
    "order": order,
    "waits": {k: summary(v) for k, v in waits.items() if len(v) >= 50},
    "inside": {k: summary(v) for k, v in inside.items() if len(v) >= 50},
}))
