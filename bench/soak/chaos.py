#!/usr/bin/env python3
"""The soak's fault injector: runs the two middles, the four fault-injecting relays in front of them, and the
schedule of faults. Loopback only. The schedule starts on SIGUSR1 (sent when the traffic starts).

    chaos.py --out DIR --lstp BIN --admin-end 127.0.0.1:PORT --duration S --warmup S --kill-every LO-HI
             --middle NAME=LINKPORT:ADMINPORT ... --relay NAME=LISTENPORT:MIDDLE ... [--middle-args 'FLAGS']

Relays: each --relay is one path, e.g. client-a=23001:soak-a (the client end's way to middle soak-a). Each
accepted connection is forwarded to that middle's link port; a fault applies to the whole path: every connection
on it, and (for a blackhole) every connection opened while it lasts.

Faults, one at a time (so an outage of the tunnel can be laid at the door of the fault before it), each after the
client end's tunnel has been open for a few seconds (polled from its /api/end) and a random gap:
  latency    every chunk on the path delayed 1-20 ms (jitter; order kept) for 10-30 s
  stall      no forwarding on the path for 0.5-3 s, then forwarding resumes
  reset      every connection on the path closed with RST (SO_LINGER 0) on both sides
  blackhole  no forwarding in either direction for 40 s, sockets kept open (new connections are accepted but not
             connected on), then at random: resume, or reset everything on the path
  kill       kill -9 of the middle carrying the tunnel (every --kill-every seconds), restarted on the same ports
             2-5 s later
Relay faults target a path that holds a connection; the kinds are drawn from shuffled rounds, so each kind comes up
as often as the others. Everything is logged to DIR/faults.jsonl (epoch seconds); each middle incarnation's pid to
DIR/pids/NAME and its log to DIR/logs/NAME.N.log.
"""
import argparse
import asyncio
import json
import os
import random
import shlex
import signal
import subprocess
import sys
import time
import urllib.request

from sockets import rst_close

RELAY_KINDS = ["latency", "stall", "reset", "blackhole"]
BLACKHOLE_SECONDS = 40


def listening(port):
    """True when something listens on 127.0.0.1:port (read from /proc: connecting would disturb the middle)."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        return any(line.split()[1] == want and line.split()[3] == "0A" for line in list(f)[1:])




class Log:
    def __init__(self, path):
        self.file = open(path, "a", buffering=1)

    def event(self, kind, **fields):
        record = {"t": round(time.time(), 3), "kind": kind, **fields}
        self.file.write(json.dumps(record) + "\n")
        print(f"chaos: {kind} {fields}", file=sys.stderr, flush=True)


class Middle:
    """One lstp middle: started, killed with SIGKILL and started again on the same ports."""

    def __init__(self, name, link_port, admin_port, lstp, extra, out):
        self.name, self.link_port, self.admin_port, self.out = name, link_port, admin_port, out
        self.cmd = lstp + ["middle", "--listen", f"127.0.0.1:{link_port}", "--admin", f"127.0.0.1:{admin_port}",
                           "--name", name] + extra
        self.proc, self.incarnation = None, 0

    def start(self):
        self.incarnation += 1
        log = open(os.path.join(self.out, "logs", f"{self.name}.{self.incarnation}.log"), "w")
        self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        tmp = os.path.join(self.out, "pids", f".{self.name}")
        with open(tmp, "w") as f:  # pid, incarnation, start time; read by watch.py (renamed: never half-written)
            f.write(f"{self.proc.pid} {self.incarnation} {time.time():.3f} lstp\n")
        os.replace(tmp, os.path.join(self.out, "pids", self.name))

    async def wait_listening(self, seconds=60):
        for _ in range(seconds * 10):
            if listening(self.link_port) and listening(self.admin_port):
                return True
            if self.proc.poll() is not None:
                return False
            await asyncio.sleep(0.1)
        return False

    def kill9(self):
        pid = self.proc.pid
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        return pid

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(8)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Path:
    """One relay listener and its connections, with the fault state the pumps consult."""

    def __init__(self, name, listen_port, middle):
        self.name, self.listen_port, self.middle = name, listen_port, middle
        self.pairs = set()
        self.gate = asyncio.Event()  # set: forwarding allowed (cleared by stall and blackhole)
        self.gate.set()
        self.latency_until = 0.0
        self.accepted = 0

    def reset_all(self):
        n = len(self.pairs)
        for pair in list(self.pairs):
            pair.reset()
        return n


class Pair:
    """An accepted connection and its upstream connection to the middle."""

    def __init__(self, path, reader, writer):
        self.path, self.down_r, self.down_w = path, reader, writer
        self.up_r = self.up_w = None
        self.tasks = []
        self.done = False

    def reset(self):
        if self.done:
            return
        self.done = True
        for t in self.tasks:
            t.cancel()
        rst_close(self.down_w)
        rst_close(self.up_w)
        self.path.pairs.discard(self)

    async def run(self):
        path = self.path
        path.pairs.add(self)
        try:
            await path.gate.wait()  # in a blackhole nothing reaches the middle, not even the connection
            if self.done:
                return
            try:
                self.up_r, self.up_w = await asyncio.open_connection("127.0.0.1", path.middle.link_port)
            except OSError:  # the middle is down: refuse the way a dead host's port would, with RST
                self.reset()
                return
            self.tasks = [asyncio.ensure_future(self.pump(self.down_r, self.up_w)),
                          asyncio.ensure_future(self.pump(self.up_r, self.down_w))]
            pending = set(self.tasks)
            while pending:
                finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if self.done:
                    return
                if not all(self.clean(t) for t in finished):
                    self.reset()  # an error on either side becomes RST on both: never a clean EOF
                    return
            # Both directions ended with EOF: a clean close.
            self.done = True
            path.pairs.discard(self)
            for w in (self.down_w, self.up_w):
                w.close()
        except asyncio.CancelledError:
            self.reset()

    @staticmethod
    def clean(task):
        """True when a pump ended with EOF; an unexpected exception (a relay bug) is printed, and counts as an error."""
        if task.cancelled():
            return False
        if task.exception() is not None:
            print(f"chaos: relay pump failed: {task.exception()!r}", file=sys.stderr, flush=True)
            return False
        return task.result() is True

    async def pump(self, reader, writer):
        """Copies one direction; True when it ended with EOF (forwarded as a half-close), False on an error."""
        path = self.path
        try:
            while True:
                data = await reader.read(65536)
                await path.gate.wait()  # stall/blackhole: hold this chunk (and, by backpressure, the rest)
                if self.done:
                    return False
                if time.time() < path.latency_until:
                    await asyncio.sleep(random.uniform(0.001, 0.020))
                if not data:
                    writer.write_eof()
                    return True
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            return False


class Chaos:
    def __init__(self, args):
        self.args = args
        self.out = args.out
        os.makedirs(os.path.join(self.out, "pids"), exist_ok=True)
        os.makedirs(os.path.join(self.out, "logs"), exist_ok=True)
        self.log = Log(os.path.join(self.out, "faults.jsonl"))
        lstp = [args.lstp] if not args.lstp.endswith(".dll") else ["dotnet", args.lstp]
        self.middles = {}
        for spec in args.middle:
            name, ports = spec.split("=")
            link, admin = ports.split(":")
            self.middles[name] = Middle(name, int(link), int(admin), lstp, shlex.split(args.middle_args), self.out)
        self.paths = []
        for spec in args.relay:
            name, rest = spec.split("=")
            port, middle = rest.split(":")
            self.paths.append(Path(name, int(port), self.middles[middle]))
        self.by_port = {p.listen_port: p for p in self.paths}
        self.rng = random.Random(args.seed)
        self.bag = []
        self.stopping = False
        self.servers = []

    def end_state(self):
        """The client end's phase and the path its tunnel uses (its middle field is the relay's address)."""
        try:
            with urllib.request.urlopen(f"http://{self.args.admin_end}/api/end", timeout=2) as r:
                d = json.load(r)
            port = int(str(d.get("middle") or ":0").rsplit(":", 1)[1])
            return d.get("phase"), self.by_port.get(port)
        except Exception:
            return None, None

    async def wait_open(self, settle, limit):
        """Until the tunnel has been open for `settle` seconds (at most `limit` seconds; then go on regardless)."""
        since, deadline = None, time.time() + limit
        while time.time() < deadline and not self.stopping:
            phase, _ = await asyncio.get_running_loop().run_in_executor(None, self.end_state)
            if phase == "open":
                since = since or time.time()
                if time.time() - since >= settle:
                    return True
            else:
                since = None
            await asyncio.sleep(0.25)
        if not self.stopping:
            self.log.event("note", text=f"tunnel not open for {settle} s within {limit} s; next fault anyway")
        return False

    def next_relay_kind(self):
        if not self.bag:
            self.bag = self.args.kinds.split(",")
            self.rng.shuffle(self.bag)
        return self.bag.pop()

    async def relay_fault(self, kind):
        busy = [p for p in self.paths if p.pairs]
        path = self.rng.choice(busy or self.paths)
        n = len(path.pairs)
        if kind == "latency":
            seconds = self.rng.uniform(10, 30)
            self.log.event("latency", path=path.name, conns=n, seconds=round(seconds, 1), ms="1-20")
            path.latency_until = time.time() + seconds
            await self.sleep(seconds)
            path.latency_until = 0
            self.log.event("latency-end", path=path.name)
        elif kind == "stall":
            seconds = self.rng.uniform(0.5, 3)
            self.log.event("stall", path=path.name, conns=n, seconds=round(seconds, 2))
            path.gate.clear()
            await self.sleep(seconds)
            path.gate.set()
            self.log.event("stall-end", path=path.name)
        elif kind == "reset":
            self.log.event("reset", path=path.name, conns=n)
            path.reset_all()
        elif kind == "blackhole":
            self.log.event("blackhole", path=path.name, conns=n, seconds=BLACKHOLE_SECONDS)
            path.gate.clear()
            await self.sleep(BLACKHOLE_SECONDS)
            action = self.rng.choice(["resume", "reset"])
            held = len(path.pairs)
            if action == "reset":
                path.reset_all()
            path.gate.set()
            self.log.event("blackhole-end", path=path.name, action=action, conns=held)

    async def kill_fault(self):
        _, path = await asyncio.get_running_loop().run_in_executor(None, self.end_state)
        middle = path.middle if path else self.rng.choice(list(self.middles.values()))
        self.log.event("kill", middle=middle.name, pid=middle.proc.pid, incarnation=middle.incarnation,
                       tunnel_on=path.name if path else None)
        middle.kill9()
        await self.sleep(self.rng.uniform(2, 5))
        await self.restart(middle)

    async def restart(self, middle):
        for attempt in range(1, 31):  # the port can be briefly unavailable after a kill -9
            middle.start()
            if await middle.wait_listening(30):
                self.log.event("restart", middle=middle.name, pid=middle.proc.pid, incarnation=middle.incarnation,
                               attempt=attempt)
                return
            self.log.event("note", text=f"{middle.name} incarnation {middle.incarnation} did not listen; retrying")
            middle.stop()
            await asyncio.sleep(1)
        self.log.event("note", text=f"{middle.name} could not be restarted")

    async def sleep(self, seconds):
        """Sleeps, cut short when the fault window closes (so no fault outlives it)."""
        end = min(time.time() + seconds, self.stop_faults_at)
        while time.time() < end:
            await asyncio.sleep(min(0.2, end - time.time()))

    async def schedule(self):
        a = self.args
        lo, hi = (float(x) for x in a.kill_every.split("-"))
        await self.go.wait()  # SIGUSR1: the traffic has started; the clock of the schedule starts now
        self.started = time.time()
        self.stop_faults_at = self.started + a.duration - a.quiet_end
        self.log.event("schedule-start", faults_from=round(self.started + a.warmup, 3),
                       faults_until=round(self.stop_faults_at, 3))
        await asyncio.sleep(a.warmup)
        next_kill = self.started + a.first_kill
        while time.time() < self.stop_faults_at:
            await self.wait_open(settle=a.settle, limit=180)
            await self.sleep(self.rng.uniform(a.gap_min, a.gap_max))
            if time.time() >= self.stop_faults_at:
                break
            if time.time() >= next_kill:
                await self.kill_fault()
                next_kill = time.time() + self.rng.uniform(lo, hi)
            else:
                await self.relay_fault(self.next_relay_kind())
        for p in self.paths:  # nothing left held once the window is over
            p.latency_until = 0
            p.gate.set()
        self.log.event("faults-over")

    async def main(self):
        loop = asyncio.get_running_loop()
        self.stop_faults_at = float("inf")
        self.go, stop = asyncio.Event(), asyncio.Event()
        loop.add_signal_handler(signal.SIGUSR1, self.go.set)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        for p in self.paths:  # the relays first: a port taken fails here, before any middle is started
            def accept(r, w, p=p):
                p.accepted += 1
                return Pair(p, r, w).run()
            self.servers.append(await asyncio.start_server(accept, "127.0.0.1", p.listen_port, backlog=128))
        try:  # whatever ends this process, the middles it started end with it
            for m in self.middles.values():
                m.start()
            for m in self.middles.values():
                if not await m.wait_listening():
                    self.log.event("note", text=f"{m.name} did not start (see logs/{m.name}.1.log)")
                    return 1
            self.log.event("ready", middles={m.name: m.proc.pid for m in self.middles.values()},
                           paths={p.name: p.listen_port for p in self.paths})
            task = asyncio.ensure_future(self.schedule())
            task.add_done_callback(self.schedule_ended)
            await stop.wait()
            self.stopping = True
            self.stop_faults_at = 0
            task.cancel()
        finally:
            for m in self.middles.values():
                m.stop()
        self.log.event("stopped", accepted={p.name: p.accepted for p in self.paths})
        return 0

    def schedule_ended(self, task):
        """A bug in the schedule must not pass for a quiet run: it is logged as a note (RESULTS.md lists notes)."""
        if not task.cancelled() and task.exception() is not None:
            self.log.event("note", text=f"the fault schedule failed: {task.exception()!r}; no more faults")


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--lstp", required=True)
    p.add_argument("--admin-end", required=True, help="the client end's admin HOST:PORT")
    p.add_argument("--middle", action="append", required=True)
    p.add_argument("--relay", action="append", required=True)
    p.add_argument("--middle-args", default="", help="more flags for every middle, one string")
    p.add_argument("--duration", type=float, required=True, help="seconds of the run, counted from SIGUSR1")
    p.add_argument("--warmup", type=float, default=20, help="no faults before this")
    p.add_argument("--quiet-end", type=float, default=30, help="no faults in the last S seconds")
    p.add_argument("--first-kill", type=float, default=60)
    p.add_argument("--kill-every", default="240-300", help="LO-HI seconds between middle kills")
    p.add_argument("--gap-min", type=float, default=5)
    p.add_argument("--gap-max", type=float, default=20)
    p.add_argument("--settle", type=float, default=3, help="tunnel open this long before the next fault")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--kinds", default=",".join(RELAY_KINDS),
                   help="relay faults to draw from, comma-separated (e.g. reset alone, to look into one kind)")
    return p.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(Chaos(parse()).main()))
