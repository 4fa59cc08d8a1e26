#!/usr/bin/env python3
"""Steady echo streams through a forward, every byte checked, every pause in the echoes recorded.

    stream.py --port PORT --out DIR [--connections N] [--interval-ms MS]

Opens N connections (default 4) to 127.0.0.1:PORT (an lstp forward to an echo service) and, on each, sends one
1 KiB message every --interval-ms (default 1 ms) on a fixed schedule until SIGTERM or SIGINT. A message is

    seq u64 | sent (ns since the epoch) u64 | connection u32 | 1004 bytes derived from seq and connection

and each echo is checked byte for byte against what was sent, in order. Every pause between two echoes on a
connection longer than 5 ms goes to DIR/gaps.jsonl ({"conn", "start", "end"}, seconds since the epoch, the
clock `date +%s.%N` and bash's EPOCHREALTIME read), so a pause can be matched with a kill logged elsewhere.
DIR/stream-status.json is rewritten every 0.5 s (the last echo of each connection), for the harness to see
when the streams flow again. On SIGTERM the senders stop, the last echoes are awaited (up to 20 s), each
connection is half-closed and must end with the echo service's clean EOF; DIR/stream-summary.json then says,
per connection, what was sent and received, whether anything was corrupt, and any error (a reset, an early
EOF): the point of resumption is that there is none.
"""
import argparse
import asyncio
import json
import os
import signal
import socket
import struct
import time

MESSAGE = 1024
HEADER = struct.Struct(">QQI")
BODY = MESSAGE - HEADER.size
PATTERN = bytes(range(251)) * ((BODY + 2 * 251) // 251 + 1)  # sliced at an offset that depends on seq and conn
GAP_RECORDED = 0.005


def body(seq, conn):
    offset = (seq * 7 + conn * 13) % 251
    return PATTERN[offset:offset + BODY]


class Connection:
    """One echo connection: a sender on a schedule and a reader that checks every echoed byte."""

    def __init__(self, index, interval, gaps):
        self.index = index
        self.interval = interval
        self.gaps = gaps
        self.sent = 0
        self.received = 0
        self.corrupt = None  # the first mismatch, as text
        self.error = None  # a reset, an early EOF: what the application would have seen
        self.clean_eof = False
        self.last_echo = None
        self.longest_gap = 0.0
        self.max_latency = 0.0

    async def run(self, port, stopping):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as e:
            self.error = f"connect: {e!r}"
            return
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        read_task = asyncio.create_task(self.read(reader))
        try:
            await self.send(writer, stopping)
            # Every message out: wait for its echo, then half-close and expect the echo service's EOF.
            deadline = time.monotonic() + 20
            while self.received < self.sent and not read_task.done() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if self.received < self.sent and self.error is None and self.corrupt is None:
                self.error = f"{self.sent - self.received} message(s) never echoed"
            writer.write_eof()
            await asyncio.wait_for(read_task, 20)
        except (OSError, asyncio.TimeoutError) as e:
            self.error = self.error or f"{type(e).__name__}: {e}"
        finally:
            read_task.cancel()
            writer.close()

    async def send(self, writer, stopping):
        due = time.monotonic()
        while not stopping.is_set() and self.error is None and self.corrupt is None:
            now = time.monotonic()
            batch = []
            while due <= now:  # behind schedule (a stall): catch up, so the stream keeps its rate on average
                batch.append(HEADER.pack(self.sent, time.time_ns(), self.index) + body(self.sent, self.index))
                self.sent += 1
                due += self.interval
            if batch:
                writer.write(b"".join(batch))
                await writer.drain()
            await asyncio.sleep(max(0.0, due - time.monotonic()))

    async def read(self, reader):
        pending = b""
        try:
            while True:
                data = await reader.read(65536)
                now = time.time()
                if not data:
                    if self.received < self.sent:
                        self.error = self.error or f"EOF after {self.received} of {self.sent} messages"
                    else:
                        self.clean_eof = True
                    return
                if self.last_echo is not None:
                    gap = now - self.last_echo
                    self.longest_gap = max(self.longest_gap, gap)
                    if gap > GAP_RECORDED:
                        self.gaps.write(json.dumps({"conn": self.index, "start": round(self.last_echo, 6), "end": round(now, 6)}) + "\n")
                self.last_echo = now
                pending += data
                whole = len(pending) - len(pending) % MESSAGE
                for at in range(0, whole, MESSAGE):
                    seq, sent_ns, conn = HEADER.unpack_from(pending, at)
                    if seq != self.received or conn != self.index or pending[at + HEADER.size:at + MESSAGE] != body(seq, conn):
                        self.corrupt = f"message {self.received}: got seq {seq} conn {conn} or a wrong body"
                        self.error = self.error or "corrupt echo"
                        return
                    self.received += 1
                    self.max_latency = max(self.max_latency, now - sent_ns / 1e9)
                pending = pending[whole:]
        except OSError as e:
            self.error = self.error or f"{type(e).__name__}: {e}"

    def summary(self):
        return {
            "conn": self.index, "sent": self.sent, "received": self.received, "corrupt": self.corrupt,
            "error": self.error, "clean_eof": self.clean_eof, "longest_gap": round(self.longest_gap, 6),
            "max_latency": round(self.max_latency, 6),
            "broken": bool(self.error or self.corrupt or not self.clean_eof),
        }


async def status_writer(out, connections, stopping):
    path = os.path.join(out, "stream-status.json")
    while not stopping.is_set():
        with open(path + ".tmp", "w") as f:
            json.dump({"now": time.time(), "last_echo": [c.last_echo for c in connections],
                       "errors": [c.error or c.corrupt for c in connections]}, f)
        os.replace(path + ".tmp", path)
        await asyncio.sleep(0.5)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--interval-ms", type=float, default=1.0)
    args = parser.parse_args()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    started = time.time()
    with open(os.path.join(args.out, "gaps.jsonl"), "w", buffering=1) as gaps:
        connections = [Connection(i, args.interval_ms / 1000, gaps) for i in range(args.connections)]
        status = asyncio.create_task(status_writer(args.out, connections, stopping))
        await asyncio.gather(*(c.run(args.port, stopping) for c in connections))
        stopping.set()
        await status
    with open(os.path.join(args.out, "stream-summary.json"), "w") as f:
        json.dump({"started": started, "ended": time.time(), "message_bytes": MESSAGE,
                   "interval_ms": args.interval_ms, "connections": [c.summary() for c in connections]}, f, indent=1)


if __name__ == "__main__":
    asyncio.run(main())
