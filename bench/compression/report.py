#!/usr/bin/env python3
"""Writes RESULTS-compression.md from one run of bench/compression/run.sh: report.py OUT RATE DELAY SIZE LOOP_SIZE."""
import csv
import os
import platform
import statistics
import subprocess
import sys

out, rate, delay, size, loop_size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])


def rows(name):
    with open(os.path.join(out, name)) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def median(values):
    return statistics.median(values) if values else float("nan")


link = rows("link.tsv")
loop = rows("loopback.tsv")
codecs = open(os.path.join(out, "codecs.txt")).read().strip()
corpus = open(os.path.join(out, "corpus.txt")).read().strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
dotnet = subprocess.run(["dotnet", "--version"], capture_output=True, text=True).stdout.strip()
print("# Compression benchmark")
print()
print(f"Written by `bench/compression/run.sh` ({os.path.basename(out)}); raw numbers in `bench/compression/out/{os.path.basename(out)}/`.")
print(f"Machine: {os.cpu_count()} cores ({cpu}), shared with other work while it ran; .NET {dotnet}; Linux {platform.release()}.")
print("Every figure is the median of the runs listed; the ends run the default end-to-end TLS 1.3.")
print()
print("## Slow link: transfer time")
print()
print(f"Client end in one network namespace, middle and server end in another, joined by a veth pair; each side's")
print(f"egress limited to **{rate} Mbit/s** by `tbf`, plus **{delay} ms each way** added by a relay in front of the middle")
print("(`transfer.py delay`: this kernel has no `sch_netem`). The client sends the corpus through a forward to a")
print("sink behind the server end, which answers with the byte count and SHA-256 once it has everything; time is")
print("from the first byte to that answer. Link bytes are what the client's veth sent (TCP/IP headers included).")
print(f"{size} MiB of each corpus; {corpus}.")
print()
print("| corpus | --compress | time (s) | throughput (Mbit/s of data) | link bytes / data bytes | vs off |")
print("|---|---|---|---|---|---|")
for corpus_name in ("text", "random"):
    off = median([float(r["seconds"]) for r in link if r["corpus"] == corpus_name and r["mode"] == "off"])
    for mode in ("off", "on", "auto"):
        mine = [r for r in link if r["corpus"] == corpus_name and r["mode"] == mode]
        seconds = median([float(r["seconds"]) for r in mine])
        data = int(mine[0]["bytes"])
        wire = median([int(r["link_bytes"]) for r in mine])
        runs = ", ".join(f'{float(r["seconds"]):.2f}' for r in mine)
        print(f"| {corpus_name} | {mode} | {seconds:.2f} ({runs}) | {data * 8 / seconds / 1e6:.1f} | {wire / data:.3f} | {off / seconds:.2f}× |")
print()
print("## Loopback: what auto costs on incompressible data")
print()
print(f"Middle, ends and sink on one namespace's loopback, no shaping; {loop_size} MiB of random data per run,")
print("off / auto / on interleaved so that load from other work on the machine falls on all three alike.")
print()
print("| --compress | throughput (MB/s), median | runs (MB/s) | median vs median of off |")
print("|---|---|---|---|")
through = {}
for mode in ("off", "auto", "on"):
    mine = [int(r["bytes"]) / float(r["seconds"]) / 1e6 for r in loop if r["mode"] == mode]
    through[mode] = median(mine)
for mode in ("off", "auto", "on"):
    mine = [int(r["bytes"]) / float(r["seconds"]) / 1e6 for r in loop if r["mode"] == mode]
    print(f"| {mode} | {through[mode]:.0f} | {', '.join(f'{m:.0f}' for m in mine)} | {(through[mode] / through['off'] - 1) * 100:+.1f} % |")
# Runs are interleaved (off, auto, on in each round), so each round's auto/off ratio saw the same background load:
# the median of those paired ratios is steadier than the ratio of the two medians on a shared machine.
def per_round(mode):
    return {r["run"]: int(r["bytes"]) / float(r["seconds"]) for r in loop if r["mode"] == mode}
off_runs, auto_runs = per_round("off"), per_round("auto")
paired = median([auto_runs[k] / off_runs[k] for k in off_runs if k in auto_runs])
cost = (1 - paired) * 100
print()
print(f"Paired by round (each round runs off, auto and on back to back), auto / off has a median of {paired:.3f}.")
print()
if cost > 0:
    print(f"**auto costs {cost:.1f} % on incompressible data** (target: at most 3 %).")
else:
    print(f"**auto costs nothing measurable on incompressible data**: paired by round it was {-cost:.1f} % *faster* than off,")
    print("within the run-to-run spread (target: a cost of at most 3 %).")
print("Before compressing a read of 1 KiB or more it samples the read's bytes (ByteEntropy): random data is judged")
print("poor without being compressed, so after four such reads it gives up having compressed none; then it looks at one")
print("read after 1 MiB, 2 MiB, 4 MiB … up to every 64 MiB.")
print()
print("`on` pays for compressing every read: on random data each read is compressed, found not to shrink, sent")
print("raw, and the compressor restarted. It is for data known to compress; `auto` is the default for this reason.")
print()
print("## Codecs alone")
print()
print("`bench/compression/codecs.cs`: 16 MiB of the text corpus in 64 KiB frames each flushed (a bulk transfer),")
print("the first 2 MiB as 125-byte lines each flushed (interactive traffic), and 16 MiB of random data. Sizes are")
print("compressed / original; speed is CPU time on text; state is the working-set growth per instance of 100")
print("(approximate: pages freed by earlier rows may be reused, which makes later rows read low).")
print()
print(codecs)
