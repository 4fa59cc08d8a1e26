#!/usr/bin/env python3
"""Echo service for the soak: echoes every byte back and half-closes when the client half-closes.

    echo.py PORT        (listens on 127.0.0.1:PORT only)

A connection that breaks (reset) is closed with a reset in turn, so an error on one side is never turned into a
clean EOF by the harness itself.
"""
import asyncio
import socket
import struct
import sys


def rst_close(writer):
    """Closes with RST (SO_LINGER 0) instead of FIN."""
    sock = writer.get_extra_info("socket")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


async def serve(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:  # the client half-closed: everything it sent has been echoed
                writer.write_eof()
                await writer.drain()
                break
            writer.write(data)
            await writer.drain()
        writer.close()
        await writer.wait_closed()
    except (ConnectionError, OSError):
        rst_close(writer)


async def main(port):
    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=512)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
