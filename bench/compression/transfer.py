#!/usr/bin/env python3
"""Traffic for bench/compression/run.sh.

  transfer.py sink PORT                      accept connections one at a time; read to EOF, answer "<bytes> <sha256>\n"
  transfer.py send HOST PORT FILE [--hash]   send FILE, half-close, wait for the answer; print "<seconds> <bytes>"
  transfer.py delay LISTEN_HOST LISTEN_PORT TO_HOST TO_PORT MS
                                             TCP relay adding MS milliseconds each way (this kernel has no sch_netem)
"""
import asyncio
import hashlib
import os
import socket
import sys
import time


def sink(port):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(16)
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    while True:
        client, _ = server.accept()
        with client:
            # The first byte says whether to hash ('h') or only count ('c'); it is not counted.
            hashing = client.recv(1) == b"h"
            digest = hashlib.sha256()
            total = 0
            while True:
                n = client.recv_into(buffer)
                if n == 0:
                    break
                total += n
                if hashing:
                    digest.update(view[:n])
            client.sendall(f"{total} {digest.hexdigest() if hashing else '-'}\n".encode())


def send(host, port, path, hashing):
    size = os.path.getsize(path)
    expected = "-"
    if hashing:
        with open(path, "rb") as f:
            expected = hashlib.sha256(f.read()).hexdigest()
    with socket.create_connection((host, port)) as s, open(path, "rb") as f:
        start = time.monotonic()
        s.sendall(b"h" if hashing else b"c")
        s.sendfile(f)
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = s.recv(256)
            if not chunk:
                break
            answer += chunk
        elapsed = time.monotonic() - start
    got, digest = answer.decode().split()
    if int(got) != size or digest != expected:
        sys.exit(f"transfer.py: sent {size} bytes ({expected}), the sink got {got} ({digest})")
    print(f"{elapsed:.3f} {size}")


async def delay(listen_host, listen_port, to_host, to_port, ms):
    lag = ms / 1000

    async def pipe(reader, writer):
        # Each chunk leaves `lag` after it arrived; at most 256 KiB wait here, so TCP backpressure still works.
        queue = asyncio.Queue(maxsize=8)

        async def pump():
            while True:
                data = await reader.read(32 * 1024)
                await queue.put((time.monotonic() + lag, data))
                if not data:
                    return

        async def drain():
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        try:
            await asyncio.gather(pump(), drain())
        except (ConnectionError, OSError):
            writer.close()

    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(to_host, to_port)
        except OSError:
            client_writer.close()
            return
        for w in (client_writer, server_writer):
            w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer), return_exceptions=True)
        client_writer.close()
        server_writer.close()

    server = await asyncio.start_server(handle, listen_host, listen_port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "sink":
        sink(int(sys.argv[2]))
    elif command == "send":
        send(sys.argv[2], int(sys.argv[3]), sys.argv[4], "--hash" in sys.argv)
    elif command == "delay":
        asyncio.run(delay(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), float(sys.argv[6])))
    else:
        sys.exit(__doc__)
