#!/usr/bin/env python3
"""Writes bench/resume/RESULTS.md from one run of bench/resume/run.sh.

    report.py OUT_DIR RESULTS_MD

OUT_DIR holds meta.env, failures.txt and raw/: kills.tsv (one line per kill), gaps.jsonl and stream-summary.json
(stream.py), mem.jsonl (sample.py, tagged with pair and phase), the iperf3 JSON of each test, and the ends'
/api/end after the kills.
"""
import json
import math
import os
import re
import statistics
import sys

GAP_WINDOW = 2.0  # a kill's outage is the longest pause that starts within 2 s of it (the ends see an RST at once)
STRAY_MIN = 0.1  # a pause of 100 ms or more that no kill explains is reported as a stall of the machine


def read_env(path):
    env = {}
    for line in open(path):
        if "=" in line:
            key, value = line.rstrip("\n").split("=", 1)
            env[key] = value
    return env


def percentile(values, q):
    """Nearest rank: with 20 values p99 is the largest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def mib(n):
    return n / 1048576


def fmt(x, digits=0):
    return "–" if x is None else f"{x:,.{digits}f}"


def gbits(path):
    try:
        d = json.load(open(path))
        return d["end"]["sum_received"]["bits_per_second"] / 1e9
    except (OSError, ValueError, KeyError):
        return None


# ---------------------------------------------------------------------------------------------
def outage(raw):
    kills = []
    lines = open(os.path.join(raw, "kills.tsv")).read().splitlines()[1:]
    for line in lines:
        k, middle, killed, both, ms_cli, ms_srv, now_on = line.split("\t")
        kills.append({"kill": int(k), "middle": middle, "at": float(killed), "both_resumed": float(both),
                      "client_ms": float(ms_cli) if ms_cli else None,
                      "server_ms": float(ms_srv) if ms_srv else None, "now_on": now_on})
    gaps = [json.loads(line) for line in open(os.path.join(raw, "gaps.jsonl")) if line.strip()]
    summary = json.load(open(os.path.join(raw, "stream-summary.json")))
    conns = [c["conn"] for c in summary["connections"]]
    for i, kill in enumerate(kills):
        until = kills[i + 1]["at"] if i + 1 < len(kills) else math.inf
        recoveries, silences = [], []
        for conn in conns:
            mine = [g for g in gaps if g["conn"] == conn and g["end"] > kill["at"]
                    and g["start"] < kill["at"] + GAP_WINDOW and g["end"] < until]
            if not mine:
                continue  # no pause over 5 ms on this connection
            longest = max(mine, key=lambda g: g["end"] - g["start"])
            recoveries.append(longest["end"] - kill["at"])
            silences.append(longest["end"] - longest["start"])
        kill["recovery_ms"] = 1000 * max(recoveries) if recoveries else None
        kill["silence_ms"] = 1000 * max(silences) if silences else None
    # Pauses that no kill explains (none starts within GAP_WINDOW after one): the machine's own stalls, the floor
    # under the figures above. Pauses of all connections at once count once.
    stray = sorted((g for g in gaps if g["end"] - g["start"] >= STRAY_MIN
                    and not any(0 <= g["start"] - k["at"] + 0.05 < GAP_WINDOW for k in kills)), key=lambda g: g["start"])
    stalls = []
    for g in stray:
        if stalls and g["start"] < stalls[-1]["end"]:
            stalls[-1]["end"] = max(stalls[-1]["end"], g["end"])
        else:
            stalls.append(dict(g))
    return kills, summary, stalls


def memory(raw):
    """{(pair, phase, end): {"rss": [...], "held": [...]}}"""
    table = {}
    path = os.path.join(raw, "mem.jsonl")
    if not os.path.exists(path):
        return table
    for line in open(path):
        row = json.loads(line)
        cell = table.setdefault((row["pair"], row["phase"], row["end"]), {"rss": [], "held": []})
        if row.get("rss_kib") is not None:
            cell["rss"].append(row["rss_kib"] * 1024)
        if row.get("held") is not None:
            cell["held"].append(row["held"])
    return table


# ---------------------------------------------------------------------------------------------
def main(out, results):
    meta = read_env(os.path.join(out, "meta.env"))
    raw = os.path.join(out, "raw")
    failures = [l for l in open(os.path.join(out, "failures.txt")).read().splitlines() if l.strip()]
    quick = meta.get("quick") == "1"
    md = []
    w = md.append

    w("# Resumption: outage, replay memory, throughput")
    w("")
    if quick:
        w("> **Quick run** (`--quick`: few kills, short phases, 1 throughput run): a smoke test of the numbers, "
          "not the figures to quote.")
        w("")
    subject = meta["subject"] if len(meta["subject"]) <= 80 else meta["subject"][:80].rsplit(" ", 1)[0] + " …"
    w(f"- Date: {meta['date']}; commit `{meta['commit']}` ({subject})"
      + (f"; {meta['dirty']} uncommitted file(s) under src/" if meta.get("dirty", "0") != "0" else ""))
    w(f"- Machine: {meta['cpu']}, {meta['cores']} cores, {meta['memory']}, {meta['kernel']}; .NET {meta['dotnet']}; "
      f"shared with other work: load average {meta['loadavg_start']} at the start, {meta.get('loadavg_end', '?')} at the end")
    w(f"- Command: `{meta['command']}` ({max(1, round(int(meta.get('elapsed_seconds', 0)) / 60))} min); raw data in "
      f"`bench/out/resume-{meta['stamp']}/`")
    w("- Default flags (end-to-end TLS 1.3, compression auto, `--resume-grace 30`) unless a row says otherwise; "
      "everything on 127.0.0.1")
    w("")

    # 1 -------------------------------------------------------------------------------------
    kills, summary, stalls = outage(raw)
    conns = summary["connections"]
    broken = [c for c in conns if c["broken"]]
    echoed = sum(c["received"] for c in conns)
    w("## 1. From a middle's death to bytes flowing again")
    w("")
    w(f"Two middles, a server end and a client end listing both (`--middle 127.0.0.1:P1,127.0.0.1:P2`), and "
      f"{len(conns)} connections through the forward to an echo service, each sending a 1 KiB timestamped "
      f"message every {summary['interval_ms']:g} ms and checking every echoed byte. {len(kills)} times: `kill -9` "
      f"of the middle the tunnel is on, then that middle restarted on its port and {meta['settle']} s of steady "
      "echoes before the next kill (so the kills alternate between the middles).")
    w("")
    rec = [k["recovery_ms"] for k in kills if k["recovery_ms"] is not None]
    sil = [k["silence_ms"] for k in kills if k["silence_ms"] is not None]
    cli = [k["client_ms"] for k in kills if k["client_ms"] is not None]
    srv = [k["server_ms"] for k in kills if k["server_ms"] is not None]
    w(f"Over the {len(kills)} kills (percentiles by nearest rank: with 20 kills p99 is the largest):")
    w("")
    w("| | p50 | p99 | max |")
    w("|---|---:|---:|---:|")
    for label, values in (("kill → next echo on the slowest connection, ms", rec),
                          ("longest silence between two echoes, ms", sil),
                          ("client end's own \"resumed … after N ms\"", cli),
                          ("server end's own \"resumed … after N ms\"", srv)):
        if values:
            w(f"| {label} | {percentile(values, 50):,.0f} | {percentile(values, 99):,.0f} | {max(values):,.0f} |")
        else:
            w(f"| {label} | – | – | – |")
    w("")
    w(f"**Connections broken: {len(broken)} of {len(conns)}** (an error, a reset, a corrupt or missing echo, or no "
      f"clean EOF at the end); {echoed:,} messages ({mib(echoed * summary['message_bytes']):,.0f} MiB) echoed and "
      f"checked; the largest echo latency of any message {max(c['max_latency'] for c in conns) * 1000:,.0f} ms.")
    for c in broken:
        w(f"- connection {c['conn']}: {c['error'] or c['corrupt'] or 'no clean EOF'} "
          f"({c['received']:,} of {c['sent']:,} echoed)")
    w("")
    longest = max(c["longest_gap"] for c in conns)
    if stalls:
        lengths = sorted(1000 * (g["end"] - g["start"]) for g in stalls)
        w(f"Pauses no kill explains (≥ {STRAY_MIN * 1000:.0f} ms, none starting within {GAP_WINDOW:g} s of a kill): "
          f"{len(stalls)} in {(summary['ended'] - summary['started']) / 60:.1f} min of streaming, median "
          f"{statistics.median(lengths):,.0f} ms, longest {lengths[-1]:,.0f} ms: the floor the figures above stand on, "
          f"since on this shared machine the echoes pause like this without any kill. The longest pause of any "
          f"connection overall: {longest * 1000:,.0f} ms.")
    else:
        w(f"No pause of {STRAY_MIN * 1000:.0f} ms or more away from the kills; the longest pause of any connection "
          f"overall: {longest * 1000:,.0f} ms.")
    waits = []
    for side in ("client", "server"):
        try:
            log = open(os.path.join(out, "logs", f"{side}-end.log")).read()
        except OSError:
            continue
        waits += [float(x) * 1000 for x in re.findall(r"resuming the tunnel: .*; next middle in ([0-9.]+) s", log)]
    if waits:
        w("")
        w(f"Each end first dials the middle it was on again (the same one first, §6.7): refused, since it was "
          f"killed; the next middle is tried after a jittered delay, {len(waits)} such waits over both ends, median "
          f"{statistics.median(waits):,.0f} ms ({min(waits):,.0f}–{max(waits):,.0f}): "
          + ("most" if rec and statistics.median(waits) > statistics.median(rec) / 2 else "part")
          + " of each outage above.")
    after = {}
    for side in ("client", "server"):
        try:
            after[side] = json.load(open(os.path.join(raw, f"end-{side}-after-kills.json")))["resumption"]
        except (OSError, ValueError, KeyError):
            pass
    if after:
        w("")
        w("`/api/end` after the kills: " + "; ".join(
            f"{side} end {r['resumptions']} resumptions, the last {fmt(r['lastResumeMilliseconds'])} ms"
            for side, r in after.items()) + f" ({len(kills)} kills).")
    w("")
    w("<details><summary>Each kill</summary>")
    w("")
    w("| kill | middle killed | resumed via | kill → next echo, ms | longest silence, ms | client end, ms | server end, ms |")
    w("|---:|---|---|---:|---:|---:|---:|")
    for k in kills:
        w(f"| {k['kill']} | {k['middle']} | {k['now_on']} | {fmt(k['recovery_ms'])} | {fmt(k['silence_ms'])} | "
          f"{fmt(k['client_ms'])} | {fmt(k['server_ms'])} |")
    w("")
    w("</details>")
    w("")

    # 2 -------------------------------------------------------------------------------------
    mem = memory(raw)
    streams = meta["mem_streams"].split()
    phases = ["idle"] + [f"P{n}" for n in streams] + ["idle-after"]
    w("## 2. What the replay buffer costs in memory")
    w("")
    w(f"One middle and two pairs of ends: **on** (defaults) and **off** (`--resume-grace 0` on both ends). iperf3 "
      f"through each pair's forward (client end → server end) with 1, {', '.join(streams[1:])} streams at full "
      f"speed, {meta['mem_seconds']} s each, between two idle phases; each end's VmRSS and `/api/end` "
      "`resumption.replayBytesHeld` sampled every 0.25 s. Medians of the samples (max in brackets); Δ is "
      "against the same end's first idle phase (the tunnel's cost of streaming), \"per further channel\" is "
      "(RSS with N streams − RSS with 1) / (N − 1). Gbit/s is what iperf3 reached meanwhile, for context only: the "
      "on and off phases run one after the other, not interleaved, so a change in background load shows there "
      "(section 3 compares throughput).")
    w("")
    w("| pair | phase | client end RSS, MiB | Δ, MiB | per further channel, KiB | client end holds, MiB | "
      "server end RSS, MiB | server end holds, MiB | Gbit/s |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|")

    def med(pair, phase, end, what):
        v = mem.get((pair, phase, end), {}).get(what)
        return (statistics.median(v), max(v)) if v else (None, None)

    for pair in ("on", "off"):
        base_cli = med(pair, "idle", "client", "rss")[0]
        for phase in phases:
            rss_cli, _ = med(pair, phase, "client", "rss")
            rss_srv, _ = med(pair, phase, "server", "rss")
            held_cli, held_cli_max = med(pair, phase, "client", "held")
            held_srv, held_srv_max = med(pair, phase, "server", "held")
            delta = rss_cli - base_cli if rss_cli is not None and base_cli is not None else None
            n = int(phase[1:]) if phase.startswith("P") else None
            one = med(pair, "P1", "client", "rss")[0]
            per_channel = (rss_cli - one) / (n - 1) if n and n > 1 and rss_cli is not None and one is not None else None
            rate = gbits(os.path.join(raw, f"mem-iperf-{pair}-{phase}.json")) if n else None
            w(f"| {pair} | {phase.replace('P', '', 1) + ' stream(s)' if n else phase} | "
              f"{fmt(rss_cli and mib(rss_cli), 1)} | {fmt(delta and mib(delta), 1) if n or phase == 'idle-after' else ''} | "
              f"{fmt(per_channel and per_channel / 1024) if per_channel is not None else ''} | "
              f"{fmt(held_cli and mib(held_cli), 2)} ({fmt(held_cli_max and mib(held_cli_max), 2)}) | "
              f"{fmt(rss_srv and mib(rss_srv), 1)} | "
              f"{fmt(held_srv and mib(held_srv), 2)} ({fmt(held_srv_max and mib(held_srv_max), 2)}) | "
              f"{fmt(rate, 2) if n else ''} |")
    w("")
    rows = []
    for phase in phases:
        on, off = med("on", phase, "client", "rss")[0], med("off", phase, "client", "rss")[0]
        if on is not None and off is not None:
            rows.append(f"{phase}: {mib(on - off):+.1f} MiB")
    if rows:
        held = [v for (pair, phase, end), cell in mem.items() if pair == "on" for v in cell["held"]]
        w("Client end RSS, on − off: " + "; ".join(rows) + f". The most any end held: {mib(max(held or [0])):.2f} MiB "
          "(the window is 32 MiB per tunnel per direction, whatever the number of channels; the receiving server "
          "end holds next to nothing, since iperf3 sends one way). Where RSS on − off is larger than the bytes "
          "held, the rest is memory the process keeps after the replay's allocations (every byte sent is copied "
          "into the replay buffer's segments), not data held for a replay: it stays once the end is idle again and "
          "holds nothing. Both pairs had the same warm-up before their first idle phase.")
        w("")

    # 3 -------------------------------------------------------------------------------------
    runs = int(meta["runs"])
    w("## 3. Throughput with resumption on and off")
    w("")
    w(f"iperf3 through the same two pairs, {runs} run(s) of {meta['duration']} s per cell, on and off "
      "interleaved (which goes first alternates by run); Gbit/s at the receiver, median (min–max).")
    w("")
    w("| iperf3 | on (default) | off (`--resume-grace 0`) | on / off |")
    w("|---|---:|---:|---:|")
    for streams_n in (1, 8):
        cells = {}
        for pair in ("on", "off"):
            values = [v for v in (gbits(os.path.join(raw, f"iperf-{pair}-P{streams_n}-run{r}.json"))
                                  for r in range(1, runs + 1)) if v is not None]
            cells[pair] = values
        text = []
        for pair in ("on", "off"):
            v = cells[pair]
            text.append(f"{statistics.median(v):.2f} ({min(v):.2f}–{max(v):.2f})" if v else "fail")
        ratio = (statistics.median(cells["on"]) / statistics.median(cells["off"])
                 if cells["on"] and cells["off"] else None)
        w(f"| {streams_n} stream{'s' if streams_n > 1 else ''} | {text[0]} | {text[1]} | "
          f"{'**%.2f×**' % ratio if ratio else '–'} |")
    w("")
    w("The target: on / off within 5 % (0.95× or more). The machine is shared and every relayed path is "
      "CPU-bound on its 2 cores: one cell can move by up to 25 % between runs an hour apart (bench/README.md), so "
      "the ratio of medians from one interleaved run is the figure to read, and a 1-run ratio is only a hint.")
    w("")

    # ---------------------------------------------------------------------------------------
    w("## Observations")
    w("")
    if failures:
        for f in failures:
            w(f"- {f}")
    else:
        w("- Nothing failed: every kill was followed by both ends' \"resumed via\" line, every iperf3 test gave a result.")
    w("")
    w("Reproduce: `bench/resume/run.sh` (about 8 minutes; `--quick` about 2). Its `--help` says what each part does.")
    open(results, "w").write("\n".join(md) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
