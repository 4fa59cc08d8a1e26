#!/usr/bin/env python3
"""Writes the soak's RESULTS.md from one run's raw directory.

    report.py OUT_DIR RESULTS.md

Reads meta.env, summary.json and channels.tsv (traffic.py), faults.jsonl (chaos.py), phases.jsonl and samples.tsv
(watch.py), mismatches.log, and the logs. Outages: intervals in which the client end's /api/end phase was not
"open" (polled every 100 ms), plus "blips": a reconnect counted between two polls that both saw it open. Each
outage is laid at the door of the most recent fault that started before it (none if that was over 120 s before);
the re-pair time of a fault is the end of its first outage minus the fault's start.
"""
import collections
import csv
import glob
import gzip
import json
import math
import os
import re
import sys

ATTRIBUTION_WINDOW = 120
FAULT_KINDS = ["latency", "stall", "reset", "blackhole", "kill"]


def pct(values, q):
    """Nearest-rank percentile (with few values, p99 is the maximum)."""
    if not values:
        return None
    v = sorted(values)
    return v[max(0, math.ceil(q * len(v)) - 1)]


def fmt_s(x):
    return "–" if x is None else (f"{x:.2f} s" if x < 10 else f"{x:.1f} s")


def mib(n):
    return f"{n / 1048576:,.1f} MiB"


def load(out):
    meta = dict(line.rstrip("\n").split("=", 1) for line in open(os.path.join(out, "meta.env")) if "=" in line)
    summary = json.load(open(os.path.join(out, "summary.json")))
    faults = [json.loads(l) for l in open(os.path.join(out, "faults.jsonl"))]
    phases = [json.loads(l) for l in open(os.path.join(out, "phases.jsonl"))]
    samples = list(csv.DictReader(open(os.path.join(out, "samples.tsv")), delimiter="\t"))
    channels = list(csv.DictReader(open(os.path.join(out, "channels.tsv")), delimiter="\t"))
    path = os.path.join(out, "mismatches.log")
    mismatches = [json.loads(l) for l in open(path)] if os.path.exists(path) else []
    return meta, summary, faults, phases, samples, channels, mismatches


def outages(phases, t0):
    """[(start, end or None, blip, first_phase, lastError)] after the tunnel first opened at or after t0."""
    result, down, opened, prev = [], None, False, None
    for p in phases:
        if p["phase"] == "watch-stopped":
            break
        is_open = p["phase"] == "open"
        if not opened:
            opened = is_open
            prev = p
            continue
        if is_open and down:
            result.append((down["t"], p["t"], False, down["phase"], down.get("lastError")))
            down = None
        elif not is_open and not down:
            down = p
        elif is_open and prev and prev["phase"] == "open" and (p.get("reconnects") or 0) > (prev.get("reconnects") or 0):
            result.append((p["t"], p["t"], True, "open", p.get("lastError")))  # down and up again between two polls
        prev = p
    if down:
        result.append((down["t"], None, False, down["phase"], down.get("lastError")))
    return [o for o in result if o[0] >= t0]


def attribute(t, fault_starts):
    """The most recent fault started at or before t (within the window), or None."""
    best = None
    for f in fault_starts:
        if f["t"] <= t:
            best = f
        else:
            break
    return best if best and t - best["t"] <= ATTRIBUTION_WINDOW else None


def process_table(samples, meta):
    """Per process: its last incarnation's start sample (first >= 20 s after it and the traffic started), its last
    sample under load (before the traffic ended) and its final sample (after the traffic drained)."""
    t0, t_end = float(meta["traffic_started"]), float(meta.get("traffic_ended", "inf"))
    warmup = float(meta.get("warmup", 20))
    by_name = collections.defaultdict(list)
    for s in samples:
        by_name[s["name"]].append(s)
    rows = []
    order = ["client-end", "server-end", "soak-a", "soak-b", "chaos", "echo", "traffic", "watch"]
    for name in sorted(by_name, key=lambda n: (order.index(n) if n in order else 99, n)):
        ss = by_name[name]
        last_inc = max(int(s["incarnation"]) for s in ss)
        mine = [s for s in ss if int(s["incarnation"]) == last_inc and s["rss_kib"]]
        if not mine:
            rows.append({"name": name, "role": ss[0]["role"], "missing": True, "incarnations": last_inc})
            continue
        begin = max(t0, float(mine[0]["started"])) + warmup
        start = next((s for s in mine if float(s["t"]) >= begin), mine[0])
        loaded = [s for s in mine if float(s["t"]) <= t_end]
        final = next((s for s in reversed(mine) if s["tag"] == "final"), None)
        gone_at_end = any(s["tag"] == "final" and not s["rss_kib"] for s in ss if int(s["incarnation"]) == last_inc)
        # RSS a quarter, half and three quarters into the traffic (the first sample of this incarnation after it).
        quarters = []
        for q in (0.25, 0.5, 0.75):
            at = t0 + q * (min(t_end, float(mine[-1]["t"])) - t0)
            quarters.append(next((s for s in mine if float(s["t"]) >= max(at, float(start["t"]))), None))
        # Warm: a quarter into this process's own life under traffic (a middle restarted late warms up late too).
        life_start = max(t0, float(mine[0]["started"]))
        warm_at = life_start + 0.25 * (min(t_end, float(mine[-1]["t"])) - life_start)
        warm = next((s for s in mine if float(s["t"]) >= max(warm_at, float(start["t"]))), None)
        rows.append({"name": name, "role": ss[0]["role"], "incarnations": last_inc, "start": start,
                     "quarters": quarters, "warm": warm,
                     "loaded": loaded[-1] if loaded else None, "final": final, "gone": gone_at_end,
                     "max_rss": max(int(s["rss_kib"]) for s in mine), "max_fds": max(int(s["fds"]) for s in mine),
                     "min_fds": min(int(s["fds"]) for s in mine),
                     "started": float(mine[0]["started"]), "early_start": float(start["t"]) < begin})
    return rows


def warmed(p):
    """RSS a quarter into the process's life under traffic (after warm-up), or at its start when there is no such sample."""
    return int((p.get("warm") or p["start"])["rss_kib"])


def fd_diff(out, name, incarnation):
    """Descriptors an lstp process held at the end and not at the start, and the reverse, from watch.py's lists:
    {target: +n or -n}, sockets and pipes counted together, or None without both lists."""
    def load(when):
        path = os.path.join(out, "fds", f"{name}.{incarnation}.{when}.txt")
        if not os.path.exists(path):
            return None
        targets = (line.split(" ", 1)[1] for line in open(path) if " " in line)
        return collections.Counter(re.sub(r"^(socket|pipe):\[\d+\]$", r"\1", t.strip()) for t in targets)
    start, final = load("start"), load("final")
    if start is None or final is None:
        return None
    return {t: final[t] - start[t] for t in set(start) | set(final) if final[t] != start[t]}


def tunnel_middle(phases, paths, t):
    """The middle the tunnel was on at time t (the client end's last polled middle is a relay's address)."""
    by_port = {str(port): name.split("-")[1] for name, port in paths.items()}
    where = None
    for p in phases:
        if p["t"] > t:
            break
        if p.get("middle"):
            where = "soak-" + by_port.get(p["middle"].rsplit(":", 1)[1], "?")
    return where


def open_log(path):
    """A log, or its .gz once run.sh has compressed it."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        return gzip.open(path + ".gz", "rt", errors="replace")
    return open(path, errors="replace")


def grep_count(pattern, files):
    rx, n = re.compile(pattern), 0
    for f in files:
        with open_log(f) as fh:
            n += sum(1 for line in fh if rx.search(line))
    return n


def log_warnings(files):
    """Warning-and-above lines of the lstp logs: their count, and the distinct messages (numbers as N) by count."""
    rx = re.compile(r"^\S+ (warn|fail|crit): (.*)")
    total, kinds = 0, collections.Counter()
    for f in files:
        with open_log(f) as fh:
            for line in fh:
                m = rx.match(line)
                if m:
                    total += 1
                    text = re.sub(r"\d+", "N", m.group(2))
                    text = re.sub(r"\[ERROR\]\[[^]]*\]\[Thread N\]|\(akka://[^)]*\)", "", text)
                    kinds[f"{m.group(1)}: {text[:300]}"] += 1
    return total, kinds


def main(out, results):
    meta, summary, faults, phases, samples, channels, mismatches = load(out)
    t0 = float(meta["traffic_started"])
    c = collections.Counter(summary["counts"])
    errors = collections.Counter(summary["errors"])
    logs = os.path.join(out, "logs")
    middle_logs = sorted(glob.glob(os.path.join(logs, "soak-*.log")))
    client_log = os.path.join(logs, "client-end.log")

    starts = sorted((f for f in faults if f["kind"] in FAULT_KINDS), key=lambda f: f["t"])
    restarts = [f for f in faults if f["kind"] == "restart"]
    bh_ends = collections.Counter(f["action"] for f in faults if f["kind"] == "blackhole-end")
    notes = [f["text"] for f in faults if f["kind"] == "note"]

    # Outages and re-pair times.
    outs = outages(phases, t0)
    per_fault = collections.defaultdict(list)
    unattributed = []
    for o in outs:
        f = attribute(o[0], starts)
        (per_fault[id(f)] if f else unattributed).append(o)
    by_kind = {k: {"n": 0, "hit": 0, "repair": [], "down": [], "extra": 0, "blips": 0, "open_end": 0}
               for k in FAULT_KINDS}
    for f in starts:
        k = by_kind[f["kind"]]
        k["n"] += 1
        mine = per_fault.get(id(f), [])
        if mine:
            k["hit"] += 1
            first = mine[0]
            if first[1] is None:
                k["open_end"] += 1
            else:
                k["repair"].append(first[1] - f["t"])
            k["extra"] += len(mine) - 1
            for o in mine:
                if o[2]:
                    k["blips"] += 1
                elif o[1] is not None:
                    k["down"].append(o[1] - o[0])
    still_down = [o for o in outs if o[1] is None]
    # Blackholes: re-pair by how the blackhole ended (forwarding resumed, or everything on the path reset).
    bh_repair = collections.defaultdict(list)
    for f in starts:
        end = next((e for e in faults if e["kind"] == "blackhole-end" and e["t"] > f["t"]), None)
        mine = per_fault.get(id(f), [])
        if f["kind"] == "blackhole" and end and mine and mine[0][1] is not None:
            bh_repair[end["action"]].append(mine[0][1] - f["t"])

    # Channels that did not end ok, by the fault before them.
    err_by_fault = collections.Counter()
    for ch in channels:
        if ch["outcome"] in ("error", "hung"):
            f = attribute(float(ch["t_end"]), starts)
            err_by_fault[f["kind"] if f else "no fault in the 120 s before"] += 1

    procs = process_table(samples, meta)
    paths = next((f["paths"] for f in faults if f["kind"] == "ready"), {})
    limit_hits = grep_count(r"too many new connections|already holds|already has .* waiting", middle_logs)
    no_tunnel = grep_count(r"no tunnel open within", [client_log])
    died = [os.path.basename(p)[:-5] for p in glob.glob(os.path.join(out, "*.died"))]

    lo, hi = meta["kill_every"].split("-")
    kill_every = lo if lo == hi else f"{lo}–{hi}"
    L = []
    w = L.append
    minutes = float(meta["duration"]) / 60
    w(f"# LSTP soak: {minutes:g} minutes of echo traffic through one tunnel under injected faults\n")
    command = (f"LSTP_BIN={meta['lstp_bin_env']} " if meta.get("lstp_bin_env") else "") + meta["command"]
    w(f"Run {meta['stamp']} ({meta['date']}), `{command}`, on {meta['host']}: {meta['cpu']}, "
      f"{meta['cores']} cores, {int(meta['mem_mib']) / 1024:.0f} GiB, {meta['kernel']}; load average "
      f"{meta['loadavg_start']} at the start, {meta.get('loadavg_end', '?')} at the end (the machine is shared). "
      + (f"lstp: `{meta['lstp']}`, given by LSTP_BIN (not built by this run: lstp.dll SHA-256 "
         f"{meta['lstp_dll_sha256']}…, written {meta['lstp_dll_mtime']}); the repository was at commit "
         f"{meta['git_head']} when the run started, which need not be the state the binary was built from"
         if meta.get("lstp_bin_env") else
         f"lstp: published by this run into `{meta['lstp']}` (lstp.dll SHA-256 {meta['lstp_dll_sha256']}…) "
         f"from the work tree at commit {meta['git_head']}"
         + (f" with {meta['git_dirty_files']} changed or new file(s) under src/ not committed (others work in this "
            f"tree)" if meta.get("git_dirty_files", "0") != "0" else ""))
      + f". .NET {meta['dotnet']}, Python {meta['python']}.\n")
    w(f"Reproduce: `{command}` (or `bench/soak/run.sh" + (" --quick" if meta["quick"] == "1" else "")
      + "` to publish the work tree's lstp first). Raw data: "
      f"`bench/soak/out/{meta['stamp']}/` (not committed).\n")

    w("## Verdict\n")
    corrupted, lost = c["corrupted"], c["lost-without-error"]
    w(f"- **corrupted: {corrupted}** — {'PASS' if corrupted == 0 else 'FAIL'} (must be 0)")
    w(f"- **lost without an error: {lost}** — {'PASS' if lost == 0 else 'FAIL'} (must be 0)")
    # Descriptors: growth from start to end beyond what is explained by assemblies and symbol files loaded once
    # (the first exception stack trace loads a few) and, for a middle, the tunnel's two links having moved onto it.
    fd_parts, fd_flag = [], False
    for p in procs:
        if p["role"] != "lstp" or p.get("missing") or not p["final"] or not p["final"]["fds"]:
            fd_flag = fd_flag or p["role"] == "lstp"
            continue
        a, b = int(p["start"]["fds"]), int(p["final"]["fds"])
        diff = fd_diff(out, p["name"], p["incarnations"]) or {}
        lazy = sum(n for t, n in diff.items() if n > 0 and t.endswith((".dll", ".pdb", ".so")))
        links = 0
        if p["name"].startswith("soak-"):
            on = [tunnel_middle(phases, paths, float(x["t"])) == p["name"] for x in (p["start"], p["final"])]
            links = 2 if on[1] and not on[0] else 0
        why = [f"+{lazy} .dll/.pdb loaded once"] if lazy and b > a else []
        why += ["+2: the tunnel's links moved onto it"] if links and b > a else []
        fd_flag = fd_flag or b - a - lazy - links > 0
        fd_parts.append(f"{p['name']} {a}→{b}" + (f" ({'; '.join(why)})" if why else ""))
    w(f"- descriptors of the lstp processes, start → end: {', '.join(fd_parts)} — "
      + ("FLAG: growth beyond assemblies loaded once and the tunnel's links" if fd_flag else
         "no growth beyond assemblies loaded once and the tunnel's links — PASS"))
    # Growth is judged from a quarter into each process's life under traffic: a process warms up first (JIT, thread
    # pool, the GC's budget, malloc arenas), which raised RSS 30-40 % in the first half minute of runs without any leak.
    rss_parts, rss_grew = [], False
    for p in procs:
        if p["role"] == "lstp" and not p.get("missing") and p["final"] and p["final"]["rss_kib"]:
            s0, q1 = int(p["start"]["rss_kib"]), warmed(p)
            b = int(p["final"]["rss_kib"])
            rss_grew = rss_grew or b > 1.2 * q1
            rss_parts.append(f"{p['name']} {s0 / 1024:.0f}→{q1 / 1024:.0f}→{b / 1024:.0f} MiB ({100 * (b / q1 - 1):+.0f} % after warm-up)")
    w(f"- RSS of the lstp processes, start → warm (¼ into its life) → end: {', '.join(rss_parts)} — "
      + ("FLAG: over +20 % from warm to the end in at least one (see the trend in the process table)" if rss_grew else
         "within +20 % from warm to the end: flat after warm-up"))
    w(f"- channels that hung (no progress for {summary['hang_seconds']:.0f} s; aborted by the driver): {c['hung']}")
    w(f"- tunnel open when the traffic stopped: {'no — FLAG' if still_down else 'yes'}"
      + (f"; end processes that exited during the run: {', '.join(died)} — FLAG" if died else ""))
    w("")

    w("## Traffic\n")
    w("| | |\n|---|---:|")
    w(f"| channels opened (connected to the forward) | {c['channels_opened']:,} |")
    w(f"| — short channels (1 B–256 KiB echo, {summary['concurrency']} at a time) | "
      f"{c['channels_opened'] - c['streams_opened']:,} (of {c['short_attempted']:,} attempted) |")
    w(f"| — long streams ({summary['streams']} at a time, ≤ {summary['stream_rate_mib']:g} MiB/s each) | {c['streams_opened']:,} |")
    w(f"| ended ok (every byte back, then a clean EOF) | {c['ok']:,} |")
    w(f"| ended with an error to the application | {c['error']:,} |")
    w(f"| hung (aborted by the driver) | {c['hung']:,} |")
    w(f"| **corrupted** | **{corrupted}** |")
    w(f"| **lost without an error** (clean EOF before every byte came back) | **{lost}** |")
    w(f"| bytes sent into the tunnel | {mib(c['bytes_sent'])} |")
    w(f"| bytes echoed back and verified | {mib(c['bytes_received'])} |")
    w(f"| stream blocks verified (SHA-256 per block, and byte for byte) | {c['blocks_verified']:,} |")
    w("")
    if errors:
        w("Errors to the application, by kind (stage: error; `recv: reset` is the RST LSTP sends when a channel breaks):\n")
        w("| kind | channels |\n|---|---:|")
        for k, v in errors.most_common():
            w(f"| {k} | {v:,} |")
        w("")
        w("Channels that ended with an error or hung, by the most recent fault before they ended:\n")
        w("| fault | channels |\n|---|---:|")
        for k, v in err_by_fault.most_common():
            w(f"| {k} | {v:,} |")
        w("")
    if mismatches:
        w(f"Evidence for every corrupted or lost channel is in `mismatches.log` ({len(mismatches)} entries); the first:\n")
        for m in mismatches[:10]:
            f = attribute(m["t"], starts)
            w(f"- `{json.dumps(m)}`" + (f" — most recent fault: {f['kind']} at {f['t'] - t0:.1f} s" if f else ""))
        w("")
    if no_tunnel:
        w(f"The client end logged \"no tunnel open within 15 s; closing the local connection\" {no_tunnel} time(s).\n")

    w("## Faults and re-pair times\n")
    w(f"Faults one at a time, each after the tunnel had been open for 3 s and a gap of {meta['gap'].replace('-', '–')} s; first "
      f"{meta['warmup']} s and last {meta['quiet_end']} s without faults. Re-pair: from the fault's start to the client "
      f"end's /api/end saying `open` again (polled every 100 ms), for the first outage after the fault. Down: how "
      f"long the phase was not `open`.\n")
    w("| fault | injected | followed by an outage | re-pair p50 | re-pair p99 | re-pair max | down p50 | down p99 | more outages before the next fault |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    all_repair = []
    for kind in FAULT_KINDS:
        k = by_kind[kind]
        all_repair += k["repair"]
        extra = f"{k['extra']}" + (f" ({k['blips']} blip(s) < 0.1 s)" if k["blips"] else "")
        w(f"| {kind} | {k['n']} | {k['hit']} | {fmt_s(pct(k['repair'], .5))} | {fmt_s(pct(k['repair'], .99))} | "
          f"{fmt_s(max(k['repair']) if k['repair'] else None)} | {fmt_s(pct(k['down'], .5))} | "
          f"{fmt_s(pct(k['down'], .99))} | {extra} |")
    w(f"| **all** | {len(starts)} | {sum(k['hit'] for k in by_kind.values())} | {fmt_s(pct(all_repair, .5))} | "
      f"{fmt_s(pct(all_repair, .99))} | {fmt_s(max(all_repair) if all_repair else None)} | | | |")
    w("")
    for action, values in sorted(bh_repair.items()):
        w(f"- blackholes that ended with {action}: re-pair p50 {fmt_s(pct(values, .5))}, max {fmt_s(max(values))} "
          f"({len(values)}).")
    if bh_repair:
        w("")
    w(f"Outages in all: {len(outs)} ({sum(1 for o in outs if o[2])} blip(s) seen only as a reconnect between two polls); "
      f"with no fault in the 120 s before: {len(unattributed)}. "
      f"Middle kills: {by_kind['kill']['n']}, restarts: {len(restarts)}. Blackholes ended with "
      f"{bh_ends['resume']} resume(s) and {bh_ends['reset']} reset(s). Latency: 1–20 ms per chunk for 10–30 s; stall: "
      f"0.5–3 s; blackhole: 40 s. With few faults of a kind, p99 is its maximum.\n")
    for o in unattributed:
        w(f"- unattributed outage at {o[0] - t0:.1f} s for {fmt_s((o[1] or o[0]) - o[0])} (phase {o[3]}, {o[4]})")
    for n in notes:
        w(f"- chaos.py: {n}")
    if unattributed or notes:
        w("")

    w("## Processes: RSS and open descriptors\n")
    w("Start: the first sample 20 s after the traffic (or the process's last incarnation) started, under load. "
      "¼, ½, ¾: a quarter, half, three quarters into the traffic. Under load: the last sample before the traffic "
      "stopped. End: 5 s after the last channel closed. Harness processes are the test's own.\n")
    w("| process | role | RSS MiB: start → ¼ → ½ → ¾ → end (max) | fds: start → under load → end (min–max) | "
      "fds by kind, start → end | flag |")
    w("|---|---|---|---|---|---|")
    for p in procs:
        if p.get("missing"):
            w(f"| {p['name']} | {p['role']} | no sample | | | gone |")
            continue
        s, l, f = p["start"], p["loaded"], p["final"]
        exited = p["gone"] and p["name"] == "traffic"  # the driver exits when done: its end is its last sample
        if exited:
            f = l
        rss = lambda x: f"{int(x['rss_kib']) / 1024:.1f}" if x and x["rss_kib"] else "–"
        fds = lambda x: x["fds"] if x and x["fds"] else "–"
        name = p["name"]
        if p["incarnations"] > 1:
            name += f" (last of {p['incarnations']} incarnations, started at {p['started'] - t0:+.0f} s)"
        flags, kinds = [], ""
        if f and f["fds"]:
            if s.get("fd_kinds") and f.get("fd_kinds"):
                k0, k1 = (dict(kv.split("=") for kv in x["fd_kinds"].split()) for x in (s, f))
                kinds = ", ".join(f"{k} {k0[k]}→{k1[k]}" for k in k0 if k0[k] != k1[k]) or "same"
            if int(f["fds"]) > int(s["fds"]):
                flags.append(f"fds +{int(f['fds']) - int(s['fds'])}")
            if int(f["rss_kib"]) > 1.2 * warmed(p):
                flags.append(f"RSS +{100 * (int(f['rss_kib']) / warmed(p) - 1):.0f} % after warm-up")
        if p["gone"] and not exited:
            flags.append("gone at the end")
        if exited:
            flags.append("exits when done: end = its last sample")
        if p["early_start"]:
            flags.append("lived < 20 s: start is its first sample")
        role = "lstp" if p["role"] == "lstp" else "test harness"
        trend = " → ".join(rss(x) for x in [s] + p["quarters"] + [f])
        w(f"| {name} | {role} | {trend} ({p['max_rss'] / 1024:.1f}) | "
          f"{fds(s)} → {fds(l)} → {fds(f)} ({p['min_fds']}–{p['max_fds']}) | {kinds} | {', '.join(flags) or 'ok'} |")
    w("")
    w("Descriptors follow the load at the moment of the sample (each open channel holds a socket in each end; a "
      "middle holds the links of the tunnel only while the tunnel is on it); the samples, every 5 s with the client "
      "end's open channels, are in `samples.tsv`.\n")

    details = []
    for p in procs:
        if p["role"] != "lstp" or p.get("missing") or not p["final"]:
            continue
        diff = fd_diff(out, p["name"], p["incarnations"])
        text = "no lists" if diff is None else ", ".join(
            f"{n:+d} {t}" for t, n in sorted(diff.items(), key=lambda kv: -abs(kv[1]))) or "the same"
        if p["name"].startswith("soak-"):
            on = ["on" if tunnel_middle(phases, paths, float(x["t"])) == p["name"] else "not on"
                  for x in (p["start"], p["final"])]
            text += f" (the tunnel, two links, was {on[0]} it at the start sample and {on[1]} it at the end)"
        details.append(f"- {p['name']}: {text}")
    if details:
        w("Descriptors an lstp process held at the end and not at the start (+) or the reverse (−), from the lists "
          "in `fds/`:\n")
        L.extend(details)
        w("")

    w("## Log lines at warning and above (lstp processes)\n")
    for label, files in (("client end", [client_log]), ("server end", [os.path.join(logs, "server-end.log")]),
                         ("middles (all incarnations)", middle_logs)):
        files = [f for f in files if os.path.exists(f) or os.path.exists(f + ".gz")]
        total, kinds = log_warnings(files)
        w(f"- {label}: {total} line(s)" + (":" if kinds else ""))
        for text, n in kinds.most_common(6):
            w(f"  - {n} × `{text.replace('`', chr(39))}`")
    w("")

    w("## Setup\n")
    w(f"All on 127.0.0.1 ({meta['ports']}). Two independent middles `lstp middle --listen 127.0.0.1:PORT --admin "
      f"127.0.0.1:PORT --name soak-a|soak-b` (no cluster){' ' + meta['middle_args'] if meta['middle_args'] else ''}; "
      f"their per-source limits were left at the defaults (two ends only): {limit_hits} refusal(s) for a per-source "
      f"limit in their logs. Server end: `lstp end --middle RELAY_SA,RELAY_SB --secret-file F --name soak-server "
      f"--service echo=127.0.0.1:ECHO --admin 127.0.0.1:PORT`; client end: `lstp end --middle RELAY_CA,RELAY_CB "
      f"--secret-file F --name soak-client --forward PORT=echo --admin 127.0.0.1:PORT` (default TLS 1.3 and "
      f"compression). A Python relay (chaos.py) sits between each end and each middle (4 paths: client-a, client-b, "
      f"server-a, server-b) and injects the faults; it also kills -9 the middle the tunnel is on every "
      f"{kill_every} s (first at {meta['first_kill']} s) and restarts it on the same ports "
      f"2–5 s later. Traffic (traffic.py): short echo channels, {summary['concurrency']} at a time, of 1 B–256 KiB "
      f"(log-uniform; half random, half compressible text), and {summary['streams']} long streams of checksummed "
      f"blocks living {meta['stream_life'].replace('-', '–')} s each. Driver seed {summary['seed']}.\n")
    with open(results, "w") as f:
        f.write("\n".join(L))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
