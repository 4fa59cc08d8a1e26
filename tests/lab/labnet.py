#!/usr/bin/env python3
"""Small network tools the lab tests run inside the namespaces (python3 standard library only).

  labnet.py echo-server HOST PORT
      A threaded TCP echo server; prints "listening HOST:PORT" once it accepts connections.
  labnet.py transfer HOST PORT BYTES [--timeout S] [--rate BYTES_PER_S]
      Connects, sends BYTES of random data while reading the echo, and checks that every byte came back in
      order. Prints progress lines "progress SENT RECEIVED" about every 0.5 s and ends with one JSON line:
      {"ok": bool, "sent": n, "received": n, "seconds": s, "error": str|null}. Exit code 0 only when intact.
  labnet.py probe HOST PORT [--timeout S] [--interval S] [--size N] [--once]
      Round trips of N random bytes on fresh connections, forever (or once): one line per attempt,
      "ok EPOCH_SECONDS MILLIS" or "fail EPOCH_SECONDS reason". With --once the exit code says how it went.
  labnet.py connect HOST PORT [--timeout S]
      One TCP connect (no data): prints "connected" (exit 0) or "blocked: reason" (exit 1).
"""
import argparse
import hashlib
import json
import os
import socket
import sys
import threading
import time


def log(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def echo_server(args):
    server = socket.create_server((args.host, args.port), reuse_port=False, backlog=128)
    log(f"listening {args.host}:{args.port}")

    def serve(conn):
        with conn:
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    conn.sendall(data)
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def transfer(args):
    total = args.bytes
    started = time.monotonic()
    state = {"sent": 0, "received": 0, "error": None}
    expected = hashlib.sha256()
    got = hashlib.sha256()
    mismatch_at = [None]
    chunk_size = 64 * 1024
    # The sender keeps what it sent until the reader has compared it, so any corruption is located exactly.
    pending = bytearray()
    lock = threading.Lock()
    done = threading.Event()

    try:
        sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
    except OSError as e:
        log(json.dumps({"ok": False, "sent": 0, "received": 0, "seconds": 0, "error": f"connect: {e}"}))
        return 1
    sock.settimeout(args.timeout)

    def sender():
        try:
            while state["sent"] < total:
                n = min(chunk_size, total - state["sent"])
                data = os.urandom(n)
                with lock:
                    pending.extend(data)
                expected.update(data)
                sock.sendall(data)
                state["sent"] += n
                if args.rate:
                    # Pace to about RATE bytes/s, so a transfer is still running when the test breaks the path.
                    ahead = state["sent"] / args.rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
            sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            state["error"] = state["error"] or f"send: {e}"
            done.set()

    def progress():
        while not done.wait(0.5):
            log(f"progress {state['sent']} {state['received']}")

    sending = threading.Thread(target=sender, daemon=True)
    sending.start()
    threading.Thread(target=progress, daemon=True).start()
    try:
        while state["received"] < total:
            data = sock.recv(65536)
            if not data:
                state["error"] = state["error"] or "the connection was closed before everything came back"
                break
            with lock:
                if bytes(pending[: len(data)]) != data and mismatch_at[0] is None:
                    for i, b in enumerate(data):
                        if pending[i] != b:
                            mismatch_at[0] = state["received"] + i
                            break
                del pending[: len(data)]
            got.update(data)
            state["received"] += len(data)
    except OSError as e:
        state["error"] = state["error"] or f"receive: {e}"
    done.set()
    sending.join(timeout=1)
    sock.close()
    intact = state["received"] == total and mismatch_at[0] is None and got.digest() == expected.digest()
    error = state["error"]
    if mismatch_at[0] is not None:
        error = f"data differs from byte {mismatch_at[0]}"
    log(json.dumps({"ok": intact and error is None, "sent": state["sent"], "received": state["received"],
                    "seconds": round(time.monotonic() - started, 3), "error": error}))
    return 0 if intact and error is None else 1


def probe_once(host, port, timeout, size):
    payload = os.urandom(size)
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(max(0.1, timeout - (time.monotonic() - started)))
        sock.sendall(payload)
        got = bytearray()
        while len(got) < size:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError(f"closed after {len(got)} of {size} bytes")
            got.extend(data)
            if time.monotonic() - started > timeout:
                raise TimeoutError("timed out")
        if bytes(got) != payload:
            raise ValueError("the echo differs from what was sent")
    return (time.monotonic() - started) * 1000


def probe(args):
    while True:
        try:
            millis = probe_once(args.host, args.port, args.timeout, args.size)
            log(f"ok {time.time():.3f} {millis:.0f}")
            if args.once:
                return 0
        except Exception as e:  # noqa: BLE001 - every failure is one line of output
            log(f"fail {time.time():.3f} {type(e).__name__}: {e}")
            if args.once:
                return 1
        time.sleep(args.interval)


def connect(args):
    try:
        with socket.create_connection((args.host, args.port), timeout=args.timeout):
            log("connected")
            return 0
    except OSError as e:
        log(f"blocked: {type(e).__name__}: {e}")
        return 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("echo-server")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p = sub.add_parser("transfer")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("bytes", type=int)
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--rate", type=float, default=0)
    p = sub.add_parser("probe")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--timeout", type=float, default=5)
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--once", action="store_true")
    p = sub.add_parser("connect")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--timeout", type=float, default=3)
    args = parser.parse_args()
    return {"echo-server": echo_server, "transfer": transfer, "probe": probe, "connect": connect}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
