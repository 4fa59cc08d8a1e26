#!/usr/bin/env python3
"""Writes bench/micro/RESULTS-micro.md from BenchmarkDotNet's GitHub markdown reports (run by bench/micro/run.sh).

Usage: report.py RESULTS_DIR --started UTC --load TEXT --commit REV --elapsed SECONDS
The tables are BenchmarkDotNet's own; the observations are computed from the same rows.
"""
import argparse
import glob
import html
import os
import re
import sys

# Each class, in data-path order: what one operation is, and why it matters.
CLASSES = [
    ("FrameCodecBenchmarks", "Framing",
     "the codec's fixed cost per frame: the 8-byte SERVICE_DATA prefix the uplink writes before every read of up to "
     "64 KiB, the 13-byte SERVICE_DATA_COMPRESSED prefix, and `FrameCodec.TryReadFrame` parsing one whole 64 KiB frame."),
    ("ControlMessageBenchmarks", "Framing",
     "encoding and decoding SERVICE_BEGIN_REQUEST (once per channel: the open rate of bench/opens) and "
     "SERVICE_DATA_PAUSE (each time a slow application's buffer crosses its threshold), and `ReadMessageAsync` taking "
     "PAUSE frames off a stream, as the tunnel's reader takes PAUSE, RESUME and FREE."),
    ("FrameStreamReaderBenchmarks", "Link",
     "the receiving end's read loop, per 64 KiB SERVICE_DATA frame: header, channel id and payload through "
     "`FrameStreamReader` into the channel's array, against one bare 64 KiB copy from the same stream (the baseline)."),
    ("RelayStreamBenchmarks", "Link",
     "an end's link to its middle (`RelayStream`): SERVICE_DATA frames written and coalesced into 256 KiB RELAY "
     "frames (16 frames, then a flush), and 64 KiB reads out of arriving RELAY frames; every byte a tunnel carries "
     "crosses it once each way."),
    ("ReplayCopyBenchmarks", "Resumption",
     "a sending end keeping each 64 KiB it sends for a resume: one copy into the next segment of a 32 MiB ring (a "
     "streaming tunnel's replay window), where no cache holds the line written; the runtime's copy against the "
     "replay's non-temporal one (`ReplayCopy`)."),
    ("TunnelWriterBenchmarks", "Session",
     "handing each 64 KiB SERVICE_DATA frame in a pooled array to the tunnel's one writer (`SendDataAsync`: a credit, "
     "the queue, its loop's wake-up on another thread, the array back to the pool). A send that finds all 16 "
     "credits taken waits, and each such wait allocates about 220 B (SemaphoreSlim's waiter and the async method's "
     "state; measured apart from this run with GC.GetTotalAllocatedBytes): its Allocated column is that times the "
     "share of sends that waited, which is every send once a socket is the bottleneck."),
    ("ChannelFlowControlBenchmarks", "Channels",
     "receive-side flow control (`ChannelFlowControl`), called twice per received frame: `OnReceived` by the tunnel's "
     "reader, `OnDrained` when the application took it; and a slow application's cycle of PAUSE at 1 MiB and RESUME "
     "at 256 KiB, per frame."),
    ("PauseGateBenchmarks", "Channels",
     "send-side flow control (`PauseGate`): the uplink waits on the gate before every frame it sends (open: the hot "
     "path), and a PAUSE then RESUME from the peer closes it and wakes the waiting uplink."),
    ("ChannelCompressorBenchmarks", "Compression",
     "the sending half of a channel's compression deciding per 64 KiB frame, in `auto` (the default) on log text and "
     "on random bytes (TLS, gzip: the first four frames until it gives up, then steady state with its re-probes), and "
     "`on` on random bytes (compressed, found not to shrink, sent raw, compressor restarted, every frame)."),
    ("ChannelDecompressorBenchmarks", "Compression",
     "the receiving half: decompressing each text frame of a channel's compressed stream, as the downlink does "
     "before writing it to the application."),
]


def parse_report(path):
    """The environment block and the table (header, rows as dicts) of one *-report-github.md."""
    text = open(path, encoding="utf-8").read()
    fences = text.split("```")
    environment = fences[1].strip("\n") if len(fences) > 2 else ""
    lines = [line for line in fences[-1].splitlines() if line.startswith("|")]
    # BenchmarkDotNet quotes descriptions that hold spaces ('...', HTML-escaped), and bolds the first row of each
    # parameter value; neither helps a reader here.
    table = [re.sub(r"^\| '(.*?)'( *)\|", r"| \1  \2|", html.unescape(line).replace("**", "")) for line in lines]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    rows = [dict(zip(header, (cell.strip() for cell in row.strip("|").split("|")))) for row in table[2:]]
    return environment, table, rows


def number(cell, unit):
    """12,345.6 ns -> 12345.6; '-' -> 0."""
    cell = cell.replace(",", "").strip()
    if cell in ("-", "", "NA"):
        return 0.0
    match = re.fullmatch(r"([0-9.]+)\s*" + re.escape(unit), cell)
    if not match:
        raise ValueError(f"unexpected cell '{cell}' (wanted {unit})")
    return float(match.group(1))


class Rows:
    def __init__(self):
        self.rows = {}

    def add(self, cls, rows):
        for row in rows:
            key = (cls, row["Method"], row.get("Codec", ""))
            self.rows[key] = row

    def get(self, cls, method, codec=""):
        for (c, m, k), row in self.rows.items():
            if c == cls and m.startswith(method) and k == codec:
                return row
        return None


def ns(row):
    return number(row["Mean"], "ns")


def allocated(row):
    return int(number(row["Allocated"], "B"))


def gib(row):
    return 65536 / ns(row) * 1e9 / (1 << 30)


def mbs(row):
    return 65536 / ns(row) * 1e3


def fmt_ns(value):
    if value >= 10_000:
        return f"{value / 1000:,.0f} µs"
    return f"{value:,.0f} ns" if value >= 100 else f"{value:.1f} ns"


def fmt_bytes(value):
    return "nothing" if value == 0 else f"{value:,} B"


def per_frame(row):
    """Rows that move application data (a GiB/s value) are per frame of the data path; the others are per event."""
    return row.get("GiB/s", "-") not in ("-", "")


def observations(r):
    lines = []
    read = r.get("FrameStreamReaderBenchmarks", "64 KiB SERVICE_DATA")
    copy = r.get("FrameStreamReaderBenchmarks", "Stream.Read")
    if read and copy:
        lines.append(
            f"**Receiving** a 64 KiB SERVICE_DATA frame through `FrameStreamReader` costs {fmt_ns(ns(read))} "
            f"({gib(read):.1f} GiB/s of one core), {ns(read) / ns(copy):.1f}× one bare 64 KiB copy ({fmt_ns(ns(copy))}; "
            f"near 2× means the payload is copied twice, from the stream into the reader's buffer and from there into "
            f"the channel's array).")
    write = r.get("RelayStreamBenchmarks", "WriteAsync")
    relay_read = r.get("RelayStreamBenchmarks", "ReadAsync")
    if write and relay_read:
        lines.append(
            f"**The link** (`RelayStream`): writing SERVICE_DATA into 256 KiB RELAY frames takes {fmt_ns(ns(write))} per "
            f"64 KiB ({gib(write):.1f} GiB/s), reading 64 KiB out of RELAY frames {fmt_ns(ns(relay_read))} ({gib(relay_read):.1f} GiB/s).")
    ordinary = r.get("ReplayCopyBenchmarks", "Span.CopyTo")
    nontemporal = r.get("ReplayCopyBenchmarks", "ReplayCopy.Copy")
    if ordinary and nontemporal:
        lines.append(
            f"**Keeping a frame for a resume**: a 64 KiB copy into a cold 32 MiB ring takes {fmt_ns(ns(ordinary))} the "
            f"ordinary way ({gib(ordinary):.1f} GiB/s) and {fmt_ns(ns(nontemporal))} with the replay's non-temporal "
            f"stores ({gib(nontemporal):.1f} GiB/s, {ns(ordinary) / ns(nontemporal):.1f}× faster).")
    writer = r.get("TunnelWriterBenchmarks", "SendDataAsync")
    flow = r.get("ChannelFlowControlBenchmarks", "OnReceived")
    gate = r.get("PauseGateBenchmarks", "WaitOpenAsync")
    if writer and flow and gate and read:
        share = (ns(writer) + ns(flow) + ns(gate)) / ns(read) * 100
        lines.append(
            f"**Per frame, around the bytes**: the hand-over to the tunnel's writer {fmt_ns(ns(writer))}, flow control "
            f"(`OnReceived` + `OnDrained`) {fmt_ns(ns(flow))}, an open `PauseGate` {fmt_ns(ns(gate))}: together "
            f"{share:.0f} % of what receiving the frame costs.")
    compressor = {}
    for key, method in (("text", "auto, text"), ("first", "auto, random: first"), ("after", "auto, random: after"), ("on", "on, random")):
        compressor[key] = (r.get("ChannelCompressorBenchmarks", method, "Deflate"), r.get("ChannelCompressorBenchmarks", method, "Brotli"))
    de = (r.get("ChannelDecompressorBenchmarks", "decompress", "Deflate"), r.get("ChannelDecompressorBenchmarks", "decompress", "Brotli"))
    if all(all(pair) for pair in compressor.values()):
        both = lambda pair: f"{fmt_ns(ns(pair[0]))} / {fmt_ns(ns(pair[1]))}"
        rate = lambda pair: f"{mbs(pair[0]):,.0f} / {mbs(pair[1]):,.0f} MB/s"
        line = (f"**Compression** per 64 KiB frame (Deflate / Brotli): `auto` on text {both(compressor['text'])} "
                f"({rate(compressor['text'])}); on random bytes {both(compressor['first'])} for each of the four frames "
                f"before it gives up, then {both(compressor['after'])} with its re-probes spread over the frames; `on` "
                f"pays {both(compressor['on'])} on every random frame ({rate(compressor['on'])})")
        if all(de):
            line += f". Decompressing a text frame: {both(de)} ({rate(de)})"
        lines.append(line + ".")
    allocating = [(cls.removesuffix("Benchmarks"), method, codec, allocated(row), per_frame(row))
                  for (cls, method, codec), row in r.rows.items() if allocated(row) > 0]
    name = lambda cls, method, codec: f"{cls} \"{method}\"{f' ({codec})' if codec else ''}"
    frame = [f"{name(c, m, k)} {size:,} B" for c, m, k, size, hot in allocating if hot and size >= 8]
    small = [f"{size} B" for c, m, k, size, hot in allocating if hot and size < 8]
    event = [f"{name(c, m, k)} {size:,} B" for c, m, k, size, hot in allocating if not hot]
    text = "**Allocations per frame of the data path**: " + ("; ".join(frame) if frame else "none of 8 B or more")
    if small:
        text += f" (and {', '.join(small)} where setup is spread over an invocation's frames)"
    lines.append(text + "; every other per-frame row allocates nothing.")
    if event:
        lines.append("**Allocations per event** (a control message, a PAUSE/RESUME round): " + "; ".join(event) + ".")
    return lines


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--started", required=True)
    parser.add_argument("--load", required=True)
    parser.add_argument("--commit", required=True)
    parser.add_argument("--elapsed", required=True)
    args = parser.parse_args()

    reports = {}
    for path in glob.glob(os.path.join(args.results, "*-report-github.md")):
        cls = os.path.basename(path).removesuffix("-report-github.md").rsplit(".", 1)[-1]
        reports[cls] = parse_report(path)
    if not reports:
        sys.exit(f"report.py: no *-report-github.md in {args.results}")

    rows = Rows()
    for cls, (_, _, parsed) in reports.items():
        rows.add(cls, parsed)
    environment = next(iter(reports.values()))[0]
    cpu = next((line for line in environment.splitlines() if "CPU" in line), "")
    runtime = next((line.split(":", 1)[1].strip() for line in environment.splitlines() if line.strip().startswith("short")), "")

    out = []
    out.append("# Micro benchmarks of the data path")
    out.append("")
    out.append(f"Written by `bench/micro/run.sh` on {args.started} ({max(1, round(int(args.elapsed) / 60))} min), at {args.commit}. "
               f"Machine: {cpu.strip()}; {runtime}. **The 2 cores are shared** (another engineer's builds, tests and benchmarks "
               f"ran meanwhile; load average {args.load}), and the job is BenchmarkDotNet's short one "
               f"(1 launch, 3 warm-ups, 3 measured iterations of 250 ms) with the product's runtime settings "
               f"(workstation non-concurrent GC, TieredPGO): read the Error column, and compare rows of one run rather "
               f"than runs.")
    out.append("")
    out.append("Every stream here is in memory and always ready, and the frames stay in the CPU's caches: these are CPU "
               "costs per operation on one core, with no socket, TLS or kernel copy (bench/RESULTS.md measures whole "
               "tunnels). An operation is one 64 KiB frame unless its row says otherwise; GiB/s is 64 KiB of "
               "application data over the mean time per operation. What each class measures (sources in "
               "`bench/micro/<folder>/`, named after the product folder they exercise):")
    out.append("")
    for cls, folder, what in CLASSES:
        if cls in reports:
            out.append(f"- `{folder}/{cls}`: {what}")
    out.append("")
    out.append("## Observations")
    out.append("")
    for line in observations(rows):
        out.append(f"- {line}")
    out.append("")
    out.append("## Results")
    out.append("")
    out.append("```")
    out.append(environment)
    out.append("```")
    ordered = [cls for cls, _, _ in CLASSES if cls in reports] + sorted(c for c in reports if c not in {k for k, _, _ in CLASSES})
    for cls in ordered:
        out.append("")
        out.append(f"### {cls}")
        out.append("")
        out.extend(reports[cls][1])
    print("\n".join(out))


if __name__ == "__main__":
    main()
