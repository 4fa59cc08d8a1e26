#!/usr/bin/env python3
"""Turns the raw numbers bench/run.sh wrote into bench/RESULTS.md: usage: report.py OUT_DIR RESULTS_MD."""
import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

OUT = Path(sys.argv[1])
RESULTS = Path(sys.argv[2])
RAW = OUT / "raw"

LABELS = {
    "direct": "direct (client → server)",
    "socat": "socat chain (3 relays)",
    "dotnet": ".NET relay chain (3 relays, async sockets)",
    "dotnet-threads": ".NET relay chain (3 relays, a blocking thread per direction)",
    "lstp-plain": "LSTP `--plaintext` (end → middle → end)",
    "lstp-tls": "LSTP default (TLS 1.3 end to end)",
    "ssh": "OpenSSH `-L` → sshd → `-R` (aes128-gcm)",
}
TESTS = {"iperf1": "iperf3 1 stream", "iperf8": "iperf3 8 streams", "sockperf": "sockperf ping-pong"}


def env(path):
    values = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line:
                key, value = line.split("=", 1)
                values[key] = value
    return values


META = env(OUT / "meta.env")
RSS = env(RAW / "rss.env")
RUNS = int(META.get("runs", "1"))
PATHS = META.get("paths", " ".join(LABELS)).split()
NPROC = int(META.get("nproc", "1"))
HZ = 100
# With run.sh --baseline REV: REV as given, its short hash, and the baseline's memory test (when it ran).
BASE = META.get("baseline")
BASE_SHORT = META.get("baseline_commit", "?")
RSS_BASE = env(RAW / "rss@base.env") if BASE else {}


def label(path):
    if path.endswith("@base"):
        return f"{LABELS.get(path[:-5], path[:-5])}, baseline `{BASE_SHORT}`"
    return LABELS.get(path, path)


def iperf_gbps(path, streams, run):
    f = RAW / f"{path}.iperf{streams}.run{run}.json"
    try:
        data = json.loads(f.read_text())
        return data["end"]["sum_received"]["bits_per_second"] / 1e9
    except Exception:
        return None


def warmup_gbps(path):
    """(first second, last two seconds, whole) in Gbit/s of the path's warm-up iperf3, or None without one."""
    try:
        data = json.loads((RAW / f"{path}.warmup.json").read_text())
        rates = [i["sum"]["bits_per_second"] / 1e9 for i in data["intervals"]]
        return rates[0], statistics.mean(rates[-2:]), data["end"]["sum_received"]["bits_per_second"] / 1e9
    except Exception:
        return None


def sockperf_us(path, run):
    return sockperf_file_us(RAW / f"{path}.sockperf.run{run}.txt")


def sockperf_file_us(f):
    """(p50, p99) in µs from a sockperf ping-pong's output, or (None, None)."""
    if not f.exists():
        return None, None
    text = re.sub(r"\x1b\[[0-9;]*m", "", f.read_text(errors="replace"))
    p = dict(re.findall(r"percentile (\d+\.\d+) =\s+([\d.]+)", text))
    if "50.000" not in p or "99.000" not in p:
        return None, None
    return float(p["50.000"]), float(p["99.000"])


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values):
    values = [v for v in values if v is not None]
    if len(values) < 2:
        return ""
    return f" ({min(values):.3g}–{max(values):.3g})"


# --- measurements ------------------------------------------------------------------------------
m = defaultdict(dict)  # m[path][metric] = list per run
for path in PATHS:
    m[path]["iperf1"] = [iperf_gbps(path, 1, r) for r in range(1, RUNS + 1)]
    m[path]["iperf8"] = [iperf_gbps(path, 8, r) for r in range(1, RUNS + 1)]
    lat = [sockperf_us(path, r) for r in range(1, RUNS + 1)]
    m[path]["p50"] = [a for a, _ in lat]
    m[path]["p99"] = [b for _, b in lat]
med = {p: {k: median(v) for k, v in metrics.items()} for p, metrics in m.items()}


def fmt(value, digits=2):
    return "fail" if value is None else f"{value:.{digits}f}"


def cell(path, metric, digits):
    return fmt(med[path][metric], digits) + (spread(m[path][metric]) if RUNS > 1 else "")


# --- CPU ---------------------------------------------------------------------------------------
def snapshot(f):
    values, machine = {}, None
    for line in f.read_text().splitlines():
        parts = line.split("\t")
        if parts[0] == "machine":
            machine = (int(parts[1]), int(parts[2]))
        else:
            values[parts[0]] = int(parts[1])
    return machine, values


def threads(f):
    values = {}
    if f.exists():
        for line in f.read_text().splitlines():
            component, pid, tid, comm, ticks = line.split("\t")
            values[(component, pid, tid)] = (comm, int(ticks))
    return values


def cpu(path, test, run):
    """CPU % (100 = one core) per component, the machine's busy %, and per-thread % for one test."""
    base = RAW / f"{path}.{test}.run{run}"
    try:
        (busy0, total0), before = snapshot(Path(f"{base}.cpu0"))
        (busy1, total1), after = snapshot(Path(f"{base}.cpu1"))
    except Exception:
        return None
    wall = (total1 - total0) / NPROC  # ticks of one core over the test
    if wall <= 0:
        return None
    comps = {c: 100 * (after[c] - before.get(c, 0)) / wall for c in after}
    t0, t1 = threads(Path(f"{base}.cpu0.threads")), threads(Path(f"{base}.cpu1.threads"))
    per_thread = defaultdict(list)
    for key, (comm, ticks) in t1.items():
        used = ticks - t0.get(key, (comm, 0))[1]
        if used > 0:
            per_thread[key[0]].append((100 * used / wall, comm, key[2]))
    return comps, 100 * (busy1 - busy0) / (total1 - total0), per_thread


def cpu_median(path, test):
    samples = [cpu(path, test, r) for r in range(1, RUNS + 1)]
    samples = [s for s in samples if s]
    if not samples:
        return None
    comps = {c: statistics.median(s[0].get(c, 0) for s in samples) for c in samples[0][0]}
    machine = statistics.median(s[1] for s in samples)
    # threads: from the run whose throughput is the median one (threads are not comparable across runs)
    return comps, machine, samples[len(samples) // 2][2]


# --- ratios and targets ------------------------------------------------------------------------
def ratio(a, b, metric):
    x, y = med.get(a, {}).get(metric), med.get(b, {}).get(metric)
    return None if x is None or y is None or y == 0 else x / y


def verdict(value, target, higher_is_better):
    if value is None:
        return "n/a"
    ok = value >= target if higher_is_better else value <= target
    return "meets" if ok else "**misses**"


rows = [
    # (label, a, b, metric, target, higher_is_better)
    ("1 stream, LSTP plaintext / socat chain", "lstp-plain", "socat", "iperf1", 1.0, True),
    ("8 streams, LSTP plaintext / socat chain", "lstp-plain", "socat", "iperf8", 1.0, True),
    ("p50 latency, LSTP plaintext / socat chain", "lstp-plain", "socat", "p50", 1.0, False),
    ("1 stream, LSTP TLS / OpenSSH", "lstp-tls", "ssh", "iperf1", 1.5, True),
    ("8 streams, LSTP TLS / OpenSSH", "lstp-tls", "ssh", "iperf8", 1.5, True),
    ("p50 latency, LSTP TLS / OpenSSH", "lstp-tls", "ssh", "p50", 0.7, False),
    ("1 stream, LSTP TLS / socat chain", "lstp-tls", "socat", "iperf1", None, True),
    ("8 streams, LSTP TLS / socat chain", "lstp-tls", "socat", "iperf8", None, True),
    ("p50 latency, LSTP TLS / socat chain", "lstp-tls", "socat", "p50", None, False),
    ("p99 latency, LSTP plaintext / socat chain", "lstp-plain", "socat", "p99", None, False),
    ("p99 latency, LSTP TLS / OpenSSH", "lstp-tls", "ssh", "p99", None, False),
]
# What the runtime costs by itself (bench/dotnet-relay): LSTP against relays that only copy, on the same sockets.
runtime_rows = [
    ("1 stream, .NET relay chain (async) / socat chain", "dotnet", "socat", "iperf1"),
    ("8 streams, .NET relay chain (async) / socat chain", "dotnet", "socat", "iperf8"),
    ("p50 latency, .NET relay chain (async) / socat chain", "dotnet", "socat", "p50"),
    ("1 stream, .NET relay chain (threads) / socat chain", "dotnet-threads", "socat", "iperf1"),
    ("p50 latency, .NET relay chain (threads) / socat chain", "dotnet-threads", "socat", "p50"),
    ("1 stream, LSTP plaintext / .NET relay chain (async)", "lstp-plain", "dotnet", "iperf1"),
    ("8 streams, LSTP plaintext / .NET relay chain (async)", "lstp-plain", "dotnet", "iperf8"),
    ("p50 latency, LSTP plaintext / .NET relay chain (async)", "lstp-plain", "dotnet", "p50"),
]

# --- memory ------------------------------------------------------------------------------------
def memory(rss):
    """tunnels, pause, RSS before / at pause / after (KiB), KiB per tunnel, marginal KiB per tunnel, loader RSS."""
    def kib(key):
        value = rss.get(key, "")
        return int(value) if value.isdigit() else None

    tunnels = int(rss.get("tunnels", "0") or 0)
    pause = int(rss.get("pause_at", "0") or 0)
    before, at_pause, after = kib("rss_before_kib"), kib("rss_pause_kib"), kib("rss_after_kib")
    per_tunnel = (after - before) / tunnels if None not in (before, after) and tunnels else None
    marginal = (after - at_pause) / (tunnels - pause) if None not in (after, at_pause) and tunnels > pause else None
    return tunnels, pause, before, at_pause, after, per_tunnel, marginal, kib("loadgen_rss_kib")


tunnels, pause, before, at_pause, after, per_tunnel, marginal, loadgen = memory(RSS)
mb = memory(RSS_BASE) if RSS_BASE else None  # the baseline's, when its memory test ran

# --- write -------------------------------------------------------------------------------------
L = []
w = L.append
quick = META.get("quick") == "1"
dirty = int(META.get("dirty", "0") or 0)
w("# LSTP benchmark results")
w("")
w(f"- **Date:** {META.get('date', '?')}{' — **quick run** (1 run, short tests: indicative only)' if quick else ''}")
w(f"- **Machine:** {META.get('nproc')} CPUs ({META.get('cpu')}), {META.get('memory')}, {META.get('kernel')}; "
  f"shared with other workloads (load average {META.get('loadavg_start')} at start, {META.get('loadavg_end')} at end; "
  f"{META.get('background_busy_pct', '?')}% of all CPUs were busy with other work just before the tests)")
w(f"- **Code:** git commit `{META.get('commit')}`" + (f" plus {dirty} uncommitted change(s) under src/" if dirty else "")
  + f"; .NET SDK {META.get('dotnet')}, Release build "
  + ("made by this run" if META.get("built_now") == "1" else f"of {META.get('binary_built', '?')} (`--no-build`: may not match the tree)"))
if BASE:
    w(f"- **Baseline:** `--baseline {BASE}` = commit `{BASE_SHORT}` ({META.get('baseline_date', '?')}, "
      f"“{META.get('baseline_subject', '?')}”), published by this run from a temporary git worktree; measured as "
      "`lstp-plain@base` and `lstp-tls@base` (its own middle and ends, the same default flags), each next to "
      "its counterpart in every run (after it in odd runs, before it in even ones)")
w(f"- **Tools:** {META.get('iperf3')}; sockperf {META.get('sockperf')}; socat {META.get('socat')}; {META.get('openssh')}")
w(f"- **Reproduce:** `sudo bench/run.sh{(' ' + META['args']) if META.get('args') else ''}` "
  f"(runs={RUNS}, {META.get('duration')} s per test, {tunnels} idle tunnels); raw numbers in `bench/out/{OUT.name}/`; "
  f"run took {META.get('elapsed_seconds', '?')} s")
w("")
w("All traffic is on loopback (127.0.0.1). Each cell is the median of the runs"
  + (" (min–max in brackets)" if RUNS > 1 else "") + "; the paths were measured interleaved, run by run, in reverse order every other run.")
w("")
w("## Throughput and latency")
w("")
w("| path | iperf3 1 stream, Gbit/s | iperf3 8 streams, Gbit/s | round trip p50, µs | round trip p99, µs |")
w("|---|---:|---:|---:|---:|")
for path in PATHS:
    w(f"| {label(path)} | {cell(path, 'iperf1', 2)} | {cell(path, 'iperf8', 2)} | {cell(path, 'p50', 1)} | {cell(path, 'p99', 1)} |")
w("")
w("Latency: `sockperf ping-pong --tcp -m 64 --full-rtt` (64-byte messages, full round trip, after sockperf's own warm-up). "
  "Throughput: `iperf3 -c` (client → server), receiver side.")
w("")
warm = {path: warmup_gbps(path) for path in PATHS}
if any(warm.values()):
    w("### A fresh path: the warm-up")
    w("")
    w(f"Before the runs above every path carried {META.get('warmup_seconds', '?')} s of `iperf3 -P 2`, not in the medians: "
      "a fresh .NET process (LSTP's, the .NET relays) runs its hot path as code compiled for a quick start (ReadyToRun, "
      "for lstp) until the runtime's tiered compiler has recompiled it, optimized for what it sees, which takes seconds "
      "of traffic. The relays written in C (socat, OpenSSH) have nothing to compile.")
    w("")
    w("| path | first second, Gbit/s | last 2 s, Gbit/s | whole warm-up, Gbit/s |")
    w("|---|---:|---:|---:|")
    for path in PATHS:
        first, last, whole = warm[path] or (None, None, None)
        w(f"| {label(path)} | {fmt(first)} | {fmt(last)} | {fmt(whole)} |")
    w("")
w("## Ratios against the targets")
w("")
w("Throughput ratio > 1 means LSTP is faster; latency ratio < 1 means LSTP is quicker.")
w("")
w("| comparison | ratio | target | verdict |")
w("|---|---:|---:|---|")
for comparison, a, b, metric, target, higher in rows:
    r = ratio(a, b, metric)
    tgt = "—" if target is None else (f"≥ {target:.1f}×" if higher else f"≤ {target:.1f}×")
    # A ratio that would print as its target while missing it (1.4996 against 1.5) shows a third decimal.
    shown = fmt(r, 3) if r is not None and target is not None and fmt(r) == f"{target:.2f}" and verdict(r, target, higher) != "meets" else fmt(r)
    w(f"| {comparison} | {shown}× | {tgt} | {'' if target is None else verdict(r, target, higher)} |")
w("")
w("The socat targets are read against LSTP `--plaintext` (neither encrypts); the OpenSSH ones against LSTP's "
  f"default TLS (both encrypt: LSTP with {META.get('lstp_tls_suite') or 'the suite its ends agreed on'}, OpenSSH "
  "with aes128-gcm; OpenSSH decrypts and re-encrypts in sshd, LSTP's middle relays ciphertext). "
  "LSTP TLS vs socat is shown for information.")
w("")
if all(p in PATHS for p in ("dotnet", "dotnet-threads")):
    w("### What the runtime costs by itself")
    w("")
    w("The .NET relay chains are three copies of `bench/dotnet-relay` (receive into a 256 KiB buffer, send it on; "
      "nothing else) with the runtime settings LSTP runs with. `async` awaits `Socket.ReceiveAsync`/`SendAsync`, the "
      "model LSTP's ends and middle are built on (the runtime's epoll thread hands each completion to the thread pool), "
      "so it is about the best a relay built that way does on this machine; `threads` blocks a thread per direction, "
      "as socat blocks in `select`, which no relay carrying thousands of connections can afford.")
    w("")
    w("| comparison | ratio |")
    w("|---|---:|")
    for name, a, b, metric in runtime_rows:
        w(f"| {name} | {fmt(ratio(a, b, metric))}× |")
    w("")
if BASE:
    same = re.fullmatch(r"[0-9a-f]{4,40}", BASE) and (BASE_SHORT.startswith(BASE) or BASE.startswith(BASE_SHORT))
    w(f"## This commit against {BASE_SHORT if same else f'{BASE} ({BASE_SHORT})'}")
    w("")
    w(f"“This” is the work tree the run built (commit `{META.get('commit')}`"
      + (f" plus {dirty} uncommitted change(s) under src/" if dirty else "")
      + f"), “base” the baseline `{BASE_SHORT}`; medians of the same runs as above. "
      "this / base above 1.0× for throughput means this commit is faster; below 1.0× for latency, quicker.")
    w("")
    w("| test | plaintext | plaintext, base | this / base | TLS | TLS, base | this / base |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    for metric, name, digits in (("iperf1", "iperf3 1 stream, Gbit/s", 2), ("iperf8", "iperf3 8 streams, Gbit/s", 2),
                                 ("p50", "round trip p50, µs", 1), ("p99", "round trip p99, µs", 1)):
        cells = []
        for path in ("lstp-plain", "lstp-tls"):
            cells += [fmt(med.get(path, {}).get(metric), digits), fmt(med.get(f"{path}@base", {}).get(metric), digits),
                      f"{fmt(ratio(path, f'{path}@base', metric))}×"]
        w(f"| {name} | {' | '.join(cells)} |")
    w("")
    if mb:
        r = per_tunnel / mb[5] if per_tunnel is not None and mb[5] else None
        w(f"Middle memory per idle paired tunnel: {fmt(per_tunnel, 1)} KiB this, {fmt(mb[5], 1)} KiB base "
          f"(this / base {'n/a' if r is None else f'{r:.2f}×'}; details under the memory section).")
    else:
        w("Middle memory per idle paired tunnel: the baseline's memory test failed (see Observations), so there is no comparison.")
    w("")
w("## Middle memory per idle paired tunnel")
w("")
# With a baseline whose memory test ran, a third column: its middle (mb).
w("| | middle VmRSS |" + (f" baseline `{BASE_SHORT}` |" if mb else ""))
w("|---|---:|" + ("---:|" if mb else ""))
w(f"| fresh middle, no tunnels | {fmt(before and before / 1024, 1)} MiB |" + (f" {fmt(mb[2] and mb[2] / 1024, 1)} MiB |" if mb else ""))
if pause:
    w(f"| {pause} idle paired tunnels | {fmt(at_pause and at_pause / 1024, 1)} MiB |" + (f" {fmt(mb[3] and mb[3] / 1024, 1)} MiB |" if mb else ""))
w(f"| {tunnels} idle paired tunnels | {fmt(after and after / 1024, 1)} MiB |" + (f" {fmt(mb[4] and mb[4] / 1024, 1)} MiB |" if mb else ""))
w(f"| **(after − before) / {tunnels}** | **{fmt(per_tunnel, 1)} KiB per tunnel** (target ≤ 64 KiB: {verdict(per_tunnel, 64, False)}) |"
  + (f" {fmt(mb[5], 1)} KiB per tunnel ({verdict(mb[5], 64, False)}) |" if mb else ""))
if marginal is not None:
    w(f"| marginal, ({tunnels} − {pause}) tunnels | {fmt(marginal, 1)} KiB per tunnel (excludes one-off warm-up such as JIT) |"
      + (f" {fmt(mb[6], 1)} KiB per tunnel |" if mb else ""))
w("")
w(f"`{RSS.get('loadgen_cmd', 'lstp loadgen idle')}` opened the tunnels (both ends of every pair in one process, "
  f"distinct random 32-byte keys, default TLS) in {RSS.get('loadgen_seconds', '?')} s; the middle's admin API "
  f"reported {RSS.get('middle_reports_tunnels', '?')} tunnels. The middle ran with `{RSS.get('middle_flags', '')}`: "
  "the per-source defaults (50 new links/s, 64 waiting ends, 1024 end links) would throttle one loader on one address. "
  "RSS was read 5 s after the last pair opened, without forcing a GC."
  + (f" The loader itself held {fmt(loadgen / 1024, 0)} MiB for {2 * tunnels} ends ({fmt(loadgen / (2 * tunnels), 1)} KiB per end)." if loadgen else ""))
if BASE:
    w("")
    w(f"The baseline `{BASE_SHORT}` ran the same test afterwards, on a fresh middle of its own with its own loader "
      f"(paired in {RSS_BASE.get('loadgen_seconds', '?')} s; its admin API reported {RSS_BASE.get('middle_reports_tunnels', '?')} tunnels)."
      if mb else f"The baseline `{BASE_SHORT}`'s memory test failed (see Observations): its column is left out.")
w("")

# --- CPU while idle ------------------------------------------------------------------------------
def idle_rows():
    """(path, component, ms of CPU per second) while every path is set up and idle (run.sh's test "idle"), relays only."""
    rows = []
    for path in PATHS:
        measured = cpu(path, "idle", 1)
        if measured:
            rows += [(path, component, 10 * pct) for component, pct in measured[0].items() if component != "iperf3-server"]
    return rows


IDLE = idle_rows()
if IDLE or RSS.get("middle_idle_ticks"):
    w("## CPU while idle")
    w("")
if IDLE:
    settle = META.get("idle_settle_seconds")
    w(f"Every path set up and nothing flowing, for {META.get('idle_seconds')} s before the warm-up"
      + (f" (starting {settle} s after the last path was set up)" if settle else "")
      + ": the LSTP ends hold their tunnel (keepalives), ssh its forwarding, the other relays listen. CPU in ms per "
      "second (1,000 is a whole core).")
    w("")
    w("| path | per process, ms of CPU per second |")
    w("|---|---|")
    for path in PATHS:
        cells = [f"{component} {fmt(ms, 1)}" for p, component, ms in IDLE if p == path]
        if cells:
            w(f"| {label(path)} | {', '.join(cells)} |")
    w("")
if RSS.get("middle_idle_ticks"):
    secs = float(RSS.get("idle_seconds", "0") or 0) or 1
    middle_ms = int(RSS["middle_idle_ticks"]) * 1000 / HZ / secs
    loader_ms = int(RSS.get("loadgen_idle_ticks", "0") or 0) * 1000 / HZ / secs
    w(f"The middle of the memory test, holding {tunnels} idle paired tunnels for {RSS.get('idle_seconds')} s after the RSS "
      f"was read: {fmt(middle_ms, 1)} ms of CPU per second; the loader's {2 * tunnels} ends "
      f"{fmt(loader_ms, 1)} ms per second ({fmt(loader_ms * 1000 / (2 * tunnels), 1)} µs per end).")
    w("")

# --- observations (generated from per-process and per-thread CPU during the tests) -------------
w("## Observations")
w("")
w("CPU during the iperf3 tests, in % of one core (the machine has "
  f"{NPROC}; \"machine\" is all CPUs busy, including other workloads on this shared machine and the iperf3 client, "
  "which is not listed). Median over runs.")
w("")
for test in ("iperf1", "iperf8"):
    w(f"**{TESTS[test]}**")
    w("")
    w("| path | Gbit/s | per component, % of a core | machine busy | busiest thread per process, % of a core |")
    w("|---|---:|---|---:|---|")
    for path in PATHS:
        c = cpu_median(path, test)
        if not c:
            w(f"| {path} | {fmt(med[path][test])} | n/a | | |")
            continue
        comps, machine, per_thread = c
        parts = ", ".join(f"{k} {v:.0f}" for k, v in comps.items())
        top = []
        if path.startswith(("lstp", "dotnet")) or path == "ssh":
            for comp in comps:
                if comp == "iperf3-server":
                    continue
                best = sorted(per_thread.get(comp, []), reverse=True)[:1]
                top.extend(f"{comp}: {name} {pct:.0f}" for pct, name, _ in best if pct >= 5)
        w(f"| {path} | {fmt(med[path][test])} | {parts} | {machine:.0f}% | {'; '.join(top)} |")
    w("")

# --- profile (perf stat during a separate 1-stream iperf3) ---------------------------------------
def perf_counts(f):
    counts = {}
    for line in f.read_text(errors="replace").splitlines():
        parts = line.split(",")
        if len(parts) >= 3 and parts[2]:
            try:
                counts[parts[2]] = float(parts[0])
            except ValueError:
                pass
    return counts


def profile_bps(path):
    """Bits per second the path carried during its perf stat profile (a separate 1-stream iperf3), or None."""
    try:
        return json.loads((RAW / f"{path}.profile.json").read_text())["end"]["sum_received"]["bits_per_second"]
    except Exception:
        return None


def cpu_per_gib(bps, counts):
    """CPU ms per GiB moved, from a process's perf stat counts while the path carried bps."""
    return counts.get("task-clock", 0) / (bps / 8 * profile_seconds / 2**30)


def profiles(path, kind):
    """(process, perf counts) for each process of PATH counted during KIND ("profile" or "rtt-profile")."""
    for f in sorted(RAW.glob(f"{path}.{kind}.*.csv")):
        yield f.name[len(f"{path}.{kind}."):-len(".csv")], perf_counts(f)


profile_seconds = float(META.get("profile_seconds", "0") or 0)
if profile_seconds:
    w("**Where the CPU goes**: `perf stat` on each relay process for "
      f"{profile_seconds:g} s of a separate 1-stream iperf3 (not one of the measured runs; counting slows it a little). "
      "Per MiB moved end to end; \"bytes per receive\" is the bytes moved divided by the process's read/recv/recvmsg calls "
      "(a relay that reads in big chunks has a big number).")
    w("")
    w("| path | process | Gbit/s then | CPU ms per GiB | syscalls per MiB | bytes per receive | sched_yield per MiB | futex per MiB | context switches per MiB |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for path in PATHS:
        counted = list(profiles(path, "profile"))
        if not counted:
            continue
        bps = profile_bps(path)
        for comp, c in counted:
            if not bps or "raw_syscalls:sys_enter" not in c:
                w(f"| {path} | {comp} | {fmt(bps and bps / 1e9)} | n/a | | | | | |")
                continue
            mib = bps / 8 * profile_seconds / 2**20
            recvs = sum(c.get(f"syscalls:sys_enter_{k}", 0) for k in ("read", "recvfrom", "recvmsg"))
            w(f"| {path} | {comp} | {bps / 1e9:.2f} | {cpu_per_gib(bps, c):.0f} | "
              f"{c['raw_syscalls:sys_enter'] / mib:.0f} | {mib * 2**20 / recvs if recvs else 0:,.0f} | "
              f"{c.get('syscalls:sys_enter_sched_yield', 0) / mib:.1f} | {c.get('syscalls:sys_enter_futex', 0) / mib:.1f} | "
              f"{c.get('context-switches', 0) / mib:.1f} |")
    w("")

KINDS = ("copies (kernel)", "network stack (kernel)", "switching threads (kernel)", "copies (user space)", "crypto",
         "runtime", "program")


if profile_seconds and any(RAW.glob("*.kinds.*.json")):
    w("**What the CPU is spent on**: `perf record` of each relay process for "
      f"{profile_seconds:g} s of another 1-stream iperf3, its samples sorted by `bench/cpu_kinds.py`, and the shares "
      "applied to the CPU per GiB above (two separate runs, so the split is approximate). Copies: moving payload "
      "between a socket and the process (the kernel's, in recv and send; user space's, memmove and the like). "
      "Network stack: the rest of the kernel (TCP/IP, the syscalls, epoll). Switching threads: context switches, "
      "yields and wake-ups; this machine samples by timer, so the kernel's work with interrupts off is counted mostly "
      "here. Runtime: the .NET runtime and the JIT compiler, and the rest of libc. Program: the process's own code "
      "(LSTP's and the libraries' managed code; socat's or ssh's binary).")
    w("")
    w("| path | process | samples | CPU ms per GiB | " + " | ".join(KINDS) + " |")
    w("|---|---|---:|---:|" + "---:|" * len(KINDS))
    for path in PATHS:
        for f in sorted(RAW.glob(f"{path}.kinds.*.json")):
            comp = f.name[len(f"{path}.kinds."):-len(".json")]
            try:
                data = json.loads(f.read_text())
            except Exception:
                w(f"| {path} | {comp} | n/a | | " + " | " * len(KINDS))
                continue
            stat = RAW / f"{path}.profile.{comp}.csv"
            bps = profile_bps(path)
            total = cpu_per_gib(bps, perf_counts(stat)) if bps and stat.exists() else None
            shares = data.get("kinds", {})
            cells = [f"{shares.get(k, 0) * total / 100:.0f}" if total else f"{shares.get(k, 0):.0f} %" for k in KINDS]
            w(f"| {path} | {comp} | {data.get('samples', 0):,} | {fmt(total, 0)} | " + " | ".join(cells) + " |")
    w("")

if profile_seconds and any(RAW.glob("*.rtt-profile.*.csv")):
    w("**Where a round trip goes**: the same counts for "
      f"{profile_seconds:g} s of a separate sockperf ping-pong (64 B, one message in flight), per round trip. "
      "A relay that sleeps in the kernel between messages, as socat does in `select`, shows about one context "
      "switch per round trip; a thread that spins (`sched_yield`) while it waits for the next message instead "
      "switches at every yield and burns CPU that the other processes on the path could use. Round trips are "
      "counted from sockperf's rate over its whole run, so the figures are approximate.")
    w("")
    w("| path | process | round trips/s then | CPU µs per round trip | syscalls per round trip | sched_yield per round trip | futex per round trip | context switches per round trip |")
    w("|---|---|---:|---:|---:|---:|---:|---:|")
    for path in PATHS:
        counted = list(profiles(path, "rtt-profile"))
        if not counted:
            continue
        rate = None
        try:
            text = (RAW / f"{path}.rtt-profile.txt").read_text(errors="replace")
            observations = int(re.search(r"Total (\d+) observations", text).group(1))
            rate = observations / (profile_seconds + 2)
        except Exception:
            pass
        for comp, c in counted:
            if not rate or "raw_syscalls:sys_enter" not in c:
                w(f"| {path} | {comp} | {fmt(rate)} | n/a | | | | |")
                continue
            trips = rate * profile_seconds
            w(f"| {path} | {comp} | {rate:,.0f} | {c.get('task-clock', 0) * 1000 / trips:.0f} | "
              f"{c['raw_syscalls:sys_enter'] / trips:.1f} | {c.get('syscalls:sys_enter_sched_yield', 0) / trips:.1f} | "
              f"{c.get('syscalls:sys_enter_futex', 0) / trips:.1f} | {c.get('context-switches', 0) / trips:.1f} |")
    w("")

hop_rows = []
for path in PATHS:
    f = RAW / f"{path}.hops.json"
    try:
        hops = json.loads(f.read_text())
    except Exception:
        continue
    chain, waits, inside = hops["order"], hops["waits"], hops["inside"]
    there = [waits.get(f"{a}>{b}", {}).get("p50") for a, b in zip(chain, chain[1:])]
    back = [waits.get(f"{b}>{a}", {}).get("p50") for a, b in zip(chain, chain[1:])][::-1]
    work = [inside.get(r, {}).get("p50") for r in chain]
    if None in there or None in back or None in work:
        continue
    traced = sockperf_file_us(RAW / f"{path}.hops-sockperf.txt")[0]
    hop_rows.append((path, chain, there, back, work, traced))
if hop_rows:
    w("**Where a round trip waits, hop by hop**: `perf record` of every send and receive call of the processes on "
      "the path (the sockperf client and server too) for 1 s of a separate ping-pong (`bench/hops.py`). A hop's wait "
      "runs from a send in one process to the read that takes the message in the next: the kernel's delivery, the "
      "wake-up of whatever waits for it (a thread blocked in a read; or an epoll thread that hands the completion "
      "to a thread-pool worker, which then reads) and the read. \"Inside\" runs from a process's read of a message to "
      "its send of it (a relay's two directions together). Medians in µs, which show where a typical message waits; "
      "they do not add up to a round trip (which hop is slow changes from trip to trip, and a relay that splits a "
      "message into several writes, as ssh does, is seen at its first). Tracing slows every call a little, and a process "
      "that makes more calls more: sockperf's p50 meanwhile is above the untraced one.")
    w("")
    w("| path | processes in turn | waits there, µs | waits back, µs | inside each process, µs | sockperf p50 meanwhile, µs |")
    w("|---|---|---|---|---|---:|")
    for path, chain, there, back, work, traced in hop_rows:
        w(f"| {path} | {' → '.join(chain)} | {' · '.join(f'{v:.0f}' for v in there)} | "
          f"{' · '.join(f'{v:.0f}' for v in back)} | {' · '.join(f'{v:.0f}' for v in work)} | {fmt(traced, 1)} |")
    w("")


def relayed(f):
    """(RELAY bytes relayed, of them spliced) from a middle's /metrics, or None."""
    if not f.exists():
        return None
    total = spliced = 0.0
    for line in f.read_text(errors="replace").splitlines():
        name, _, value = line.rpartition(" ")
        if re.match(r"lstp_relayed_bytes_total(\{|$)", name):
            total += float(value)
        elif re.match(r"lstp_relayed_spliced_bytes_total(\{|$)", name):
            spliced += float(value)
    return (total, spliced) if total else None


notes = []
for middle, what in (("middle", "this build's middle"), ("middle@base", "the baseline's middle")):
    counts = relayed(OUT / f"{middle}-metrics.txt")
    if counts:
        notes.append(f"- {what.capitalize()} relayed {counts[0] / 1e9:.1f} GB over the runs (both pairs); "
                     + (f"{100 * counts[1] / counts[0]:.0f} % of it moved from link to link inside the kernel "
                        "(splice(2): `lstp_relayed_spliced_bytes_total`), never copied through its memory."
                        if counts[1] else "none of it spliced."))
for path in ("lstp-plain", "lstp-plain@base", "lstp-tls", "lstp-tls@base") if BASE else ("lstp-plain", "lstp-tls"):
    c = cpu_median(path, "iperf1")
    if not c:
        continue
    comps, machine, per_thread = c
    lstp = {k: v for k, v in comps.items() if k != "iperf3-server"}
    total = sum(lstp.values())
    busiest = max(lstp, key=lstp.get)
    gbps = med[path]["iperf1"]
    line = (f"- `{path}`, 1 stream: the three LSTP processes used {total:.0f}% of a core in all "
            f"({', '.join(f'{k} {v:.0f}%' for k, v in lstp.items())}); the busiest is the {busiest}")
    if gbps:
        line += f"; that is {total / 100 / (gbps / 8):.2f} core-seconds per GB moved"
    notes.append(line + f"; the machine was {machine:.0f}% busy.")
for path in ("socat", "dotnet", "dotnet-threads", "ssh"):
    if path not in PATHS:
        continue
    c = cpu_median(path, "iperf1")
    if c and med[path]["iperf1"]:
        comps = {k: v for k, v in c[0].items() if k != "iperf3-server"}
        total = sum(comps.values())
        notes.append(f"- `{path}`, 1 stream, for comparison: its relays used {total:.0f}% of a core, "
                     f"{total / 100 / (med[path]['iperf1'] / 8):.2f} core-seconds per GB.")
if any(med[p]["iperf1"] is None or med[p]["iperf8"] is None or med[p]["p50"] is None for p in PATHS):
    notes.append("- Some tests failed (\"fail\" above); see the .json/.txt/.err files in the raw directory and the logs/.")
failures = (OUT / "failures.txt").read_text().splitlines() if (OUT / "failures.txt").exists() else []
if failures:
    notes.append(f"- **{len(failures)} test(s) failed** during this run:")
    notes.extend(f"  - {line}" for line in failures[:12])
for end in sorted((OUT / "logs").glob("lstp-*-*.log")):
    text = end.read_text(errors="replace").splitlines()
    aborted = [l for l in text if "aborted:" in l]
    down = [l for l in text if "tunnel down:" in l and "end proxy is stopping" not in l]  # not our own shutdown
    if aborted or down:
        reasons = sorted({re.sub(r"^.*?aborted: ", "", l) for l in aborted})
        notes.append(f"- `{end.stem}` logged {len(down)} tunnel drop(s) and {len(aborted)} aborted channel(s)"
                     + (f"; channel abort reasons: {'; '.join(f'“{r}”' for r in reasons[:4])}" if reasons else "")
                     + (f"; first drop: “{re.sub(r'^.*?tunnel down: ', '', down[0])}”" if down else "") + ".")
aborts_only = not failures and not any("tunnel drop" in n and not n.split("logged ")[1].startswith("0 ") for n in notes)
if aborts_only and any("aborted channel" in n for n in notes):
    notes.append("- Aborted channels are expected at the end of each test (check the timestamps in logs/): iperf3 and "
                 "sockperf close their connections with a reset when they finish, which LSTP logs as an aborted channel. "
                 "No test failed in this run.")
busy = META.get("background_busy_pct", "")
if busy.isdigit() and int(busy) > 25:
    notes.append(f"- The machine was already {busy}% busy with other work before the tests started (load average "
                 f"{META.get('loadavg_start')}): absolute numbers are lower and noisier than on an idle machine; "
                 "the ratios, measured interleaved under the same load, are the figures to compare.")
notes.append(f"- With {NPROC} cores for the client, the relays and the server together, every relayed path is CPU-bound: "
             "throughput here measures CPU cost per byte more than any network limit.")
L.extend(notes)
w("")
RESULTS.write_text("\n".join(L) + "\n")
print(f"wrote {RESULTS}")
