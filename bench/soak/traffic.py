#!/usr/bin/env python3
"""The soak's traffic driver: echo traffic through the client end's forward port, every byte checked.

    traffic.py --port PORT --out DIR --duration S [--concurrency 8] [--streams 4] [--stream-rate MIB/S] [--seed N]

Short channels (--concurrency at a time): connect, send a payload of 1 B-256 KiB (log-uniform size; half random
bytes, half compressible text), half-close, read the echo to EOF while sending, compare every byte as it arrives
and the SHA-256 at the end.
Long streams (--streams of them): send checksummed blocks (header: magic, stream, seq, length; 1 B-64 KiB payload;
SHA-256 trailer), verify each echoed block against the one sent and its own checksum; after a random lifetime
(or an error) the stream half-closes, drains, and a new one starts.

Each channel ends as exactly one of:
  ok                  every byte came back, then a clean EOF
  corrupted           a byte differs from what was sent (or more came back than was sent)
  lost-without-error  a clean EOF before all bytes came back, and no error on either direction: silent truncation
  error               the application saw an error (connect, send or receive): counted by kind
  hung                no progress for --hang seconds: the driver aborts it (RST)
Raw data in DIR: channels.tsv (one line per channel), mismatches.log (JSON per corrupted or lost channel, with the
first differing offset; the bytes sent and received in mismatch-ID.sent/.got), summary.json at the end. A progress
line goes to stdout every 10 s.
"""
import argparse
import asyncio
import collections
import errno
import hashlib
import json
import math
import os
import random
import struct
import sys
import time

from sockets import rst_close

HOST = "127.0.0.1"
MAGIC = 0x534F414B  # "SOAK"
HEADER = struct.Struct(">IIII")  # magic, stream number, block seq, payload length
TRAILER = 32  # SHA-256 of header + payload


def error_kind(exc):
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, BrokenPipeError):
        return "broken-pipe"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionAbortedError):
        return "aborted"
    if isinstance(exc, OSError) and exc.errno:
        return errno.errorcode.get(exc.errno, str(exc.errno)).lower()
    return type(exc).__name__




async def read(reader, ch):
    """reader.read(), except that an error arriving after the peer's FIN still reads as the FIN: a blocking recv()
    returns the data, then 0 (EOF), even when a RST came after the FIN (Linux keeps the end of stream ahead of the
    error), whereas asyncio raises at once. Without this, a silent truncation followed by a RST (the driver's next
    write hitting the closed socket) would pass for an error."""
    try:
        return await reader.read(65536)
    except (ConnectionError, OSError) as e:
        if not reader._eof:  # no FIN before the error: the application sees the error
            raise
        ch.error_after_eof = error_kind(e)
        data = bytes(reader._buffer)
        reader._buffer.clear()
        return data


def first_difference(expected, got):
    n = min(len(expected), len(got))
    for i in range(n):
        if expected[i] != got[i]:
            return i
    return n


class Mismatch(Exception):
    """The echo differs from what was sent: `offset` is the first differing byte in the channel's stream."""

    def __init__(self, offset, detail, got=None):
        super().__init__(detail)
        self.offset, self.detail, self.got = offset, detail, got


class Channel:
    """Progress of one channel, shared by its sending and receiving halves."""

    def __init__(self, cid, kind):
        self.cid, self.kind = cid, kind
        self.t0 = time.time()
        self.last = self.t0
        self.sent = self.received = 0
        self.half_closed = False
        self.send_error = self.recv_error = None
        self.error_after_eof = None  # an error that came after a clean EOF (see read())

    def touch(self):
        self.last = time.time()


class Driver:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.started = time.time()
        self.deadline = self.started + a.duration
        self.counts = collections.Counter()
        self.errors = collections.Counter()
        self.tsv = open(os.path.join(a.out, "channels.tsv"), "w", buffering=1)
        self.tsv.write("t_start\tt_end\tid\tkind\tpayload\tsent\treceived\toutcome\tdetail\n")
        self.mismatch_log = open(os.path.join(a.out, "mismatches.log"), "a", buffering=1)
        words = [bytes(self.rng.choices(b"abcdefghijklmnopqrstuvwxyz", k=self.rng.randint(2, 9))) for _ in range(400)]
        text = b" ".join(self.rng.choice(words) for _ in range(200000))  # ~1.2 MiB of compressible text
        self.text = text

    # ---- payloads ----------------------------------------------------------------------------------------
    def payload(self, size):
        if self.rng.random() < 0.5:
            return self.rng.randbytes(size)
        start = self.rng.randrange(0, len(self.text) - size)
        return self.text[start:start + size]

    def block(self, stream, seq):
        size = int(math.exp(self.rng.uniform(0, math.log(65536))))
        head = HEADER.pack(MAGIC, stream, seq, size)
        body = head + self.payload(size)
        return body + hashlib.sha256(body).digest()

    # ---- bookkeeping -------------------------------------------------------------------------------------
    def finish(self, ch, outcome, detail="", payload_len=0):
        self.counts[outcome] += 1
        self.counts[f"{ch.kind}:{outcome}"] += 1
        self.counts["bytes_sent"] += ch.sent
        self.counts["bytes_received"] += ch.received
        if outcome == "error":
            self.errors[detail] += 1
        self.tsv.write(f"{ch.t0:.3f}\t{time.time():.3f}\t{ch.cid}\t{ch.kind}\t{payload_len}\t{ch.sent}\t{ch.received}"
                       f"\t{outcome}\t{detail}\n")

    def record_mismatch(self, ch, outcome, detail, expected=None, got=None):
        """Evidence for a corrupted or silently truncated channel (the driver's own bugs show up here too)."""
        entry = {"t": round(time.time(), 3), "id": ch.cid, "kind": ch.kind, "outcome": outcome,
                 "t_start": round(ch.t0, 3), "sent": ch.sent, "received": ch.received,
                 "half_closed": ch.half_closed, **detail}
        if expected is not None:
            base = os.path.join(self.a.out, f"mismatch-{ch.cid}")
            with open(base + ".sent", "wb") as f:
                f.write(expected)
            with open(base + ".got", "wb") as f:
                f.write(got)
            entry["files"] = [base + ".sent", base + ".got"]
        self.mismatch_log.write(json.dumps(entry) + "\n")

    @staticmethod
    def verdict(ch, send_task, recv_task, owed):
        """(outcome, detail) of a channel whose receive side ended without a mismatch. `owed`: bytes the echo still
        owed when it ended. A clean EOF with bytes owed is silent truncation even if a send fails afterwards (an
        application that was only reading would never know); the send error is noted in the detail."""
        exc = recv_task.exception()
        if exc is not None:
            return "error", f"recv: {error_kind(exc)}"
        send_exc = send_task.exception() if send_task.done() and not send_task.cancelled() else None
        if owed or not ch.half_closed:
            detail = f"clean EOF with {owed} bytes owed"
            if not ch.half_closed:
                detail += ", before the driver had sent everything"
            if ch.error_after_eof:
                detail += f"; then {ch.error_after_eof}"
            if send_exc is not None:
                detail += f"; then send: {error_kind(send_exc)}"
            return "lost-without-error", detail
        if send_exc is not None:
            return "error", f"send: {error_kind(send_exc)}"
        return "ok", ""

    async def supervise(self, ch, writer, send_task, recv_task):
        """Waits for the receive side (it ends at EOF, on an error or a mismatch); aborts a channel that hangs.
        Returns 'hung' or None."""
        while not recv_task.done():
            await asyncio.wait({recv_task}, timeout=1)
            if not recv_task.done() and time.time() - ch.last > self.a.hang:
                rst_close(writer)
                recv_task.cancel()
                send_task.cancel()
                await asyncio.gather(recv_task, send_task, return_exceptions=True)
                return "hung"
        if not send_task.done():  # the receive side is over: the sender gets a moment to fail or finish
            await asyncio.wait({send_task}, timeout=5)
            if not send_task.done():
                send_task.cancel()
        await asyncio.gather(send_task, return_exceptions=True)
        return None

    # ---- short channels ----------------------------------------------------------------------------------
    async def short_worker(self, worker):
        n = 0
        while time.time() < self.deadline:
            n += 1
            await self.short_channel(f"S{worker}.{n}")

    async def short_channel(self, cid):
        size = int(math.exp(self.rng.uniform(0, math.log(256 * 1024))))
        payload = self.payload(size)
        ch = Channel(cid, "short")
        self.counts["short_attempted"] += 1
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, self.a.port), 20)
        except (OSError, asyncio.TimeoutError) as e:
            self.finish(ch, "error", f"connect: {error_kind(e)}", size)
            return
        self.counts["channels_opened"] += 1

        async def send():
            view = memoryview(payload)
            for i in range(0, size, 65536):
                writer.write(view[i:i + 65536])
                await writer.drain()
                ch.sent += len(view[i:i + 65536])
                ch.touch()
            writer.write_eof()
            ch.half_closed = True

        async def receive():
            digest, echo = hashlib.sha256(), bytearray()
            while True:
                data = await read(reader, ch)
                if not data:
                    return digest.hexdigest()
                ch.touch()
                end = ch.received + len(data)
                if end > size or data != payload[ch.received:end]:
                    offset = ch.received + first_difference(payload[ch.received:end], data)
                    raise Mismatch(offset, {"first_diff": offset, "chunk_at": ch.received, "chunk_len": len(data)},
                                   got=bytes(echo) + data)
                digest.update(data)
                echo += data
                ch.received = end

        send_task, recv_task = asyncio.ensure_future(send()), asyncio.ensure_future(receive())
        hung = await self.supervise(ch, writer, send_task, recv_task)
        if not writer.is_closing():
            writer.close()
        if hung:
            self.finish(ch, "hung", f"no progress for {self.a.hang:.0f} s", size)
            return
        exc = recv_task.exception() if not recv_task.cancelled() else None
        if isinstance(exc, Mismatch):
            self.record_mismatch(ch, "corrupted", {"payload": size, **exc.detail,
                                                   "expected_hex": payload[exc.offset:exc.offset + 16].hex(),
                                                   "got_hex": exc.got[exc.offset:exc.offset + 16].hex()},
                                 payload, exc.got)
            self.finish(ch, "corrupted", f"first differing byte at {exc.offset}", size)
            return
        outcome, detail = self.verdict(ch, send_task, recv_task, size - ch.received)
        if outcome == "lost-without-error":
            self.record_mismatch(ch, outcome, {"payload": size, "first_missing": ch.received, "detail": detail})
        elif outcome == "ok" and recv_task.result() != hashlib.sha256(payload).hexdigest():
            outcome, detail = "corrupted", "SHA-256 differs"  # cannot happen after the byte compare: a driver bug
            self.record_mismatch(ch, outcome, {"payload": size, "note": detail})
        self.finish(ch, outcome, detail, size)

    # ---- long streams ------------------------------------------------------------------------------------
    async def stream_worker(self, number):
        n = 0
        while time.time() < self.deadline:
            n += 1
            outcome = await self.stream(number, n)
            if outcome != "ok":
                await asyncio.sleep(0.5)  # an error: do not spin while the tunnel is down

    async def stream(self, number, n):
        ch = Channel(f"L{number}.{n}", "stream")
        self.counts["stream_attempted"] += 1
        stream_id = number * 100000 + n
        lifetime = self.rng.uniform(*self.a.stream_life)
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, self.a.port), 20)
        except (OSError, asyncio.TimeoutError) as e:
            self.finish(ch, "error", f"connect: {error_kind(e)}")
            return "error"
        self.counts["channels_opened"] += 1
        self.counts["streams_opened"] += 1
        inflight = collections.deque()  # blocks sent whose echo has not come back yet
        window = asyncio.Event()  # set when fewer than --window bytes are in flight
        window.set()
        rate = self.a.stream_rate * 1048576

        async def send():
            seq, started = 0, time.time()
            while time.time() < min(self.deadline, ch.t0 + lifetime):
                await window.wait()
                block = self.block(stream_id, seq)
                seq += 1
                inflight.append(block)
                writer.write(block)
                await writer.drain()
                ch.sent += len(block)
                ch.touch()
                if ch.sent - ch.received > self.a.window:
                    window.clear()
                ahead = ch.sent / rate - (time.time() - started)  # pacing: at most --stream-rate
                if ahead > 0:
                    await asyncio.sleep(ahead)
            writer.write_eof()
            ch.half_closed = True

        async def receive():
            buf = bytearray()
            while True:
                data = await read(reader, ch)
                if not data:
                    if buf and not inflight[0].startswith(bytes(buf)):
                        off = first_difference(inflight[0], buf)
                        raise Mismatch(ch.received + off, {"first_diff": ch.received + off, "partial_block": True})
                    return
                ch.touch()
                buf += data
                while inflight and len(buf) >= len(inflight[0]):
                    expected = inflight[0]
                    got = bytes(buf[:len(expected)])
                    if got != expected:
                        off = first_difference(expected, got)
                        body, trailer = got[:-TRAILER], got[-TRAILER:]
                        head = HEADER.unpack(got[:HEADER.size])
                        raise Mismatch(ch.received + off, {
                            "first_diff": ch.received + off, "block_at": ch.received, "block_len": len(expected),
                            "expected_header": list(HEADER.unpack(expected[:HEADER.size])), "got_header": list(head),
                            "got_block_checksum_ok": hashlib.sha256(body).digest() == trailer,
                            "expected_hex": expected[off:off + 16].hex(), "got_hex": got[off:off + 16].hex()})
                    if hashlib.sha256(got[:-TRAILER]).digest() != got[-TRAILER:]:  # a driver bug if it ever fires
                        raise Mismatch(ch.received, {"first_diff": ch.received, "note": "block checksum"})
                    del buf[:len(expected)]
                    inflight.popleft()
                    ch.received += len(expected)
                    self.counts["blocks_verified"] += 1
                    if ch.sent - ch.received <= self.a.window:
                        window.set()
                if buf and not inflight:
                    raise Mismatch(ch.received, {"first_diff": ch.received, "note": "more came back than was sent"})

        send_task, recv_task = asyncio.ensure_future(send()), asyncio.ensure_future(receive())
        hung = await self.supervise(ch, writer, send_task, recv_task)
        if not writer.is_closing():
            writer.close()
        if hung:
            self.finish(ch, "hung", f"no progress for {self.a.hang:.0f} s")
            return "hung"
        exc = recv_task.exception() if not recv_task.cancelled() else None
        if isinstance(exc, Mismatch):
            self.record_mismatch(ch, "corrupted", exc.detail)
            self.finish(ch, "corrupted", f"first differing byte at {exc.offset}")
            return "corrupted"
        # Owed: the blocks written and not echoed (a stream's length is open until it half-closes: see verdict()).
        outcome, detail = self.verdict(ch, send_task, recv_task, sum(map(len, inflight)))
        if outcome == "lost-without-error":
            self.record_mismatch(ch, outcome, {"first_missing": ch.received, "detail": detail})
        self.finish(ch, outcome, detail)
        return outcome

    # ---- main --------------------------------------------------------------------------------------------
    def summary(self):
        return {"counts": dict(self.counts), "errors": dict(self.errors), "duration": self.a.duration,
                "concurrency": self.a.concurrency, "streams": self.a.streams, "stream_rate_mib": self.a.stream_rate,
                "hang_seconds": self.a.hang, "seed": self.a.seed}

    def progress_line(self):
        c = self.counts
        print(f"[{time.time() - self.started:5.0f}s] channels {c['channels_opened']} ok {c['ok']} "
              f"errors {c['error']} hung {c['hung']} corrupted {c['corrupted']} lost {c['lost-without-error']} "
              f"MiB sent {c['bytes_sent'] / 1048576:.0f}", flush=True)

    async def progress(self):
        while True:
            await asyncio.sleep(10)
            self.progress_line()

    async def main(self):
        ticker = asyncio.ensure_future(self.progress())
        workers = [self.short_worker(i) for i in range(self.a.concurrency)]
        workers += [self.stream_worker(i) for i in range(1, self.a.streams + 1)]
        await asyncio.gather(*workers)
        ticker.cancel()
        self.progress_line()
        with open(os.path.join(self.a.out, "summary.json"), "w") as f:
            json.dump(self.summary(), f, indent=1)
        print("done " + json.dumps(self.summary()), flush=True)


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True, help="the client end's forward port on 127.0.0.1")
    p.add_argument("--out", required=True)
    p.add_argument("--duration", type=float, required=True, help="seconds; then no new channel starts")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--streams", type=int, default=4)
    p.add_argument("--stream-rate", type=float, default=2, help="MiB/s at most per long stream")
    p.add_argument("--stream-life", type=float, nargs=2, default=[30, 120], metavar=("MIN", "MAX"))
    p.add_argument("--window", type=int, default=4 << 20, help="bytes a stream may have in flight")
    p.add_argument("--hang", type=float, default=90, help="seconds without progress before a channel counts as hung")
    p.add_argument("--seed", type=int, default=None)
    a = p.parse_args()
    if a.seed is None:
        a.seed = random.randrange(1 << 31)
    return a


if __name__ == "__main__":
    asyncio.run(Driver(parse()).main())
