#!/usr/bin/env python3
"""Samples ends' memory and replay buffers: VmRSS from /proc and /api/end's resumption figures.

    sample.py --end NAME=PID:ADMIN_PORT [--end ...] --seconds S [--every 0.25] --out FILE

Every --every seconds for S seconds, one JSON line per end to FILE (appended): {"t", "end", "rss_kib", "held",
"phase", "resumable", "channels_open"}, where held is resumption.replayBytesHeld (the bytes this end keeps
for a replay because its peer has not acknowledged them yet).
"""
import argparse
import json
import time
import urllib.request


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def end_view(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/end", timeout=2) as r:
        return json.load(r)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--end", action="append", required=True, help="NAME=PID:ADMIN_PORT")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--every", type=float, default=0.25)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    ends = []
    for spec in args.end:
        name, rest = spec.split("=", 1)
        pid, port = rest.split(":")
        ends.append((name, int(pid), int(port)))
    deadline = time.monotonic() + args.seconds
    with open(args.out, "a") as out:
        while time.monotonic() < deadline:
            tick = time.monotonic()
            for name, pid, port in ends:
                row = {"t": round(time.time(), 3), "end": name, "rss_kib": rss_kib(pid)}
                try:
                    view = end_view(port)
                    row.update(held=view["resumption"]["replayBytesHeld"], phase=view["phase"],
                               resumable=view["resumption"]["resumable"],
                               channels_open=view["traffic"]["channelsOpen"])
                except (OSError, ValueError, KeyError) as e:
                    row["error"] = str(e)
                out.write(json.dumps(row) + "\n")
            time.sleep(max(0.0, args.every - (time.monotonic() - tick)))


if __name__ == "__main__":
    main()
