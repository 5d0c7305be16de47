#!/usr/bin/python3
"""Many WebSocket connections relaying self-checking messages (t/44-soak.t).

Standard library only (run it with /usr/bin/python3).  It opens N
connections to an echoing backend through the gateway, keeps each one
sending messages for the whole run and checks every echo, then closes
each connection with a close handshake and writes its figures as JSON.

    /usr/bin/python3 t/lib/soak_client.py --port 8080 --path /gateway/soak/1.0 \\
        --connections 1000 --duration 60 --out result.json --status status.json

Every message is "SOAK <conn> <seq> <sha1 of data> <data>": text or binary
(alternately), 16 bytes to 16 kB of data, one in a hundred 64 kB sent in 4
fragments.  A connection keeps at most --window messages in flight and
waits about --interval seconds (randomised) between messages.  An echo is
checked three ways: it must be the oldest message in flight (order), equal
to it byte for byte, and its data must match its own sha1 (corruption).

--status is rewritten about every second: {"t", "established", "open",
"sent", "received", "lost", "errors"}, and a per-second count of echoes
received ("per_second") is in the final figures, so that a stall shows.

With --going-away (t/45-soak-going-away.t), a close frame 1001 "server
going away" from the gateway is what an exiting worker sends: the client
answers it with its own close frame, waits for the end of the stream, drops
the messages it still had in flight (counted) and reconnects after a random
delay of up to --reconnect-delay seconds, as the README tells a client to,
unless the file --final-file exists, in which case the connection ends
there.  The time each 1001 arrived is kept ("away_times", seconds since the
epoch), so that the test can compare it with its signal.  A connection that
ends without a close frame (1006) is "lost", as always.

Exit status 0 when the run completed (whatever the figures say).
"""

import argparse
import asyncio
import base64
import collections
import hashlib
import json
import os
import random
import struct
import sys
import time

ARGS = None
T0 = None
STATS = {
    "connections": 0, "established": 0, "refused": [], "open": 0,
    "sent": 0, "received": 0, "bytes_sent": 0, "bytes_received": 0,
    "corrupt": 0, "out_of_order": 0, "mismatch": 0, "lost": [],
    "closed_ok": 0, "close_problems": [], "errors": [], "max_latency_ms": 0.0,
    "pings": 0, "pongs": 0,
    "going_away": 0, "away_times": [], "away_problems": [], "away_dropped": 0,
    "away_partial": 0, "reconnected": 0,
}
PER_SECOND = collections.Counter()
_R = random.Random(42)
TEXT_POOL = "".join(_R.choice("abcdefghijklmnopqrstuvwxyz0123456789 \u00e9\u20ac")
                    for _ in range(300000)).encode()
STOP = None          # asyncio.Event: time to close


def mask(data, key):
    n = len(data)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def frame(opcode, payload, fin=True):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = bytes([b0, 0x80 | n])
    elif n < 65536:
        head = bytes([b0, 0x80 | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, 0x80 | 127]) + struct.pack(">Q", n)
    key = os.urandom(4)
    return head + key + mask(payload, key)


class Conn:
    def __init__(self, i):
        self.i = i
        self.seq = 0
        self.inflight = collections.deque()     # (opcode, payload, sent at)
        self.reader = None
        self.writer = None
        self.closing = False
        self.done = False
        self.went_away = False
        self.rng = random.Random(i * 7919 + 1)

    def fail(self, why):
        if not self.done:
            self.done = True
            STATS["lost"].append({"conn": self.i, "why": why, "t": round(time.time() - T0, 3),
                                  "inflight": len(self.inflight)})

    async def connect(self, again=False):
        key = base64.b64encode(os.urandom(16)).decode()
        for attempt in range(3):
            try:
                self.reader, self.writer = await asyncio.open_connection(ARGS.host, ARGS.port)
                break
            except OSError as e:
                if attempt == 2:
                    STATS["refused"].append("%d: connect: %s" % (self.i, e))
                    return False
                await asyncio.sleep(0.2)
        path = "%s/c%d%s" % (ARGS.path, self.i, ARGS.query)
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % (path, ARGS.host, ARGS.port, key))
        self.writer.write(req.encode())
        try:
            head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 20)
        except Exception as e:
            STATS["refused"].append("%d: handshake: %r" % (self.i, e))
            return False
        status = head.split(b" ", 2)[1]
        if status != b"101":
            STATS["refused"].append("%d: status %s" % (self.i, status.decode()))
            return False
        if again:
            STATS["reconnected"] += 1
        else:
            STATS["established"] += 1
            STATS["open"] += 1
        return True

    async def read_frame(self):
        h = await self.reader.readexactly(2)
        b0, b1 = h[0], h[1]
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", await self.reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", await self.reader.readexactly(8))[0]
        if b1 & 0x80:
            raise ValueError("masked frame from the server")
        payload = await self.reader.readexactly(n) if n else b""
        return b0 & 0x80, b0 & 0x0F, payload

    def make(self):
        self.seq += 1
        r = self.rng.random()
        if r < 0.01:
            size = 65536
        elif r < 0.10:
            size = self.rng.randint(4096, 16384)
        else:
            size = self.rng.randint(16, 1024)
        opcode = 1 if self.seq % 2 else 2
        if opcode == 1:
            off = self.rng.randint(0, len(TEXT_POOL) - size - 1)
            data = TEXT_POOL[off:off + size].decode("utf-8", "ignore").encode()
        else:
            data = self.rng.randbytes(size)
        head = b"SOAK %d %d %s " % (self.i, self.seq, hashlib.sha1(data).hexdigest().encode())
        return opcode, head + data

    async def sender(self):
        while not STOP.is_set() and not self.done and not self.went_away:
            if len(self.inflight) >= ARGS.window:
                await asyncio.sleep(0.05)
                continue
            opcode, payload = self.make()
            self.inflight.append((opcode, payload, time.time()))
            if len(payload) >= 65536:
                q = len(payload) // 4
                parts = [payload[:q], payload[q:2 * q], payload[2 * q:3 * q], payload[3 * q:]]
                out = b"".join(frame(opcode if k == 0 else 0, p, fin=(k == 3))
                               for k, p in enumerate(parts))
            else:
                out = frame(opcode, payload)
            if self.rng.random() < 0.02:
                out += frame(9, b"ping %d" % self.seq)
                STATS["pings"] += 1
            try:
                self.writer.write(out)
                STATS["sent"] += 1
                STATS["bytes_sent"] += len(payload)
                await self.writer.drain()
            except Exception as e:
                if not self.went_away:
                    self.fail("write: %r" % (e,))
                return
            await asyncio.sleep(ARGS.interval * (0.5 + self.rng.random()))

    def check(self, opcode, payload):
        if not self.inflight:
            STATS["mismatch"] += 1
            STATS["errors"].append("%d: an echo with nothing in flight" % self.i)
            return
        want_op, want, sent_at = self.inflight.popleft()
        parts = payload.split(b" ", 4)
        ok_format = len(parts) == 5 and parts[0] == b"SOAK"
        if ok_format and hashlib.sha1(parts[4]).hexdigest().encode() != parts[3]:
            STATS["corrupt"] += 1
            STATS["errors"].append("%d: corrupt echo of seq %s" % (self.i, parts[2]))
        elif not ok_format:
            STATS["corrupt"] += 1
            STATS["errors"].append("%d: not a soak message: %r" % (self.i, payload[:60]))
        elif payload != want or opcode != want_op:
            if ok_format and parts[1] == str(self.i).encode() and int(parts[2]) != int(want.split(b" ")[2]):
                STATS["out_of_order"] += 1
                STATS["errors"].append("%d: seq %s while %s was expected"
                                       % (self.i, parts[2], want.split(b" ")[2]))
            else:
                STATS["mismatch"] += 1
                STATS["errors"].append("%d: echo differs from seq %s" % (self.i, want.split(b" ")[2]))
        STATS["received"] += 1
        STATS["bytes_received"] += len(payload)
        PER_SECOND[int(time.time() - T0)] += 1
        lat = (time.time() - sent_at) * 1000
        if lat > STATS["max_latency_ms"]:
            STATS["max_latency_ms"] = round(lat, 1)

    async def receiver(self):
        msg_op, parts, fin_seen = None, [], True
        while True:
            try:
                fin, op, payload = await self.read_frame()
            except Exception as e:
                if not self.closing:
                    self.fail("read: %r" % (e,))
                return
            if op == 8:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
                if ARGS.going_away and code == 1001 and not self.closing:
                    await self.going_away(payload, msg_op is not None and not fin_seen)
                    return
                if self.closing:
                    if code == 1000:
                        STATS["closed_ok"] += 1
                    else:
                        STATS["close_problems"].append("%d: close %d" % (self.i, code))
                    self.done = True
                else:
                    self.fail("close frame %d %r" % (code, payload[2:60]))
                return
            if op == 10:
                STATS["pongs"] += 1
                continue
            if op == 9:
                continue
            if op in (1, 2):
                msg_op, parts = op, [payload]
            elif op == 0:
                parts.append(payload)
            fin_seen = bool(fin)
            if fin:
                self.check(msg_op, b"".join(parts))

    async def going_away(self, payload, partial):
        """1001 from the gateway: the close handshake, then the stream's end."""
        STATS["going_away"] += 1
        STATS["away_times"].append(round(time.time(), 4))
        if payload[2:] != b"server going away":
            STATS["away_problems"].append("%d: reason %r" % (self.i, payload[2:60]))
        if partial:
            STATS["away_partial"] += 1
        self.went_away = True
        STATS["away_dropped"] += len(self.inflight)
        self.inflight.clear()
        try:
            self.writer.write(frame(8, payload[:2]))
            await self.writer.drain()
            rest = await asyncio.wait_for(self.reader.read(), 15)
            if rest:
                STATS["away_problems"].append("%d: %d bytes after the close frame"
                                              % (self.i, len(rest)))
        except Exception as e:
            STATS["away_problems"].append("%d: close handshake: %r" % (self.i, e))
        try:
            self.writer.close()
        except Exception:
            pass

    async def run(self):
        while True:
            recv = asyncio.ensure_future(self.receiver())
            send = asyncio.ensure_future(self.sender())
            stop = asyncio.ensure_future(STOP.wait())
            await asyncio.wait([recv, stop], return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not self.went_away:
                break
            send.cancel()
            await asyncio.gather(recv, send, return_exceptions=True)
            if ARGS.final_file and os.path.exists(ARGS.final_file) or STOP.is_set():
                self.done = True
                STATS["open"] -= 1
                return
            await asyncio.sleep(self.rng.random() * ARGS.reconnect_delay)
            self.went_away = False
            if not await self.connect(again=True):
                self.fail("reconnection refused")
                STATS["open"] -= 1
                return
        await send
        if self.done:
            recv.cancel()
            STATS["open"] -= 1
            return
        # let what is in flight come back, then close
        deadline = time.time() + 15
        while self.inflight and time.time() < deadline and not self.done:
            await asyncio.sleep(0.05)
        if self.inflight and not self.done:
            self.fail("%d echoes never came back" % len(self.inflight))
        self.closing = True
        try:
            self.writer.write(frame(8, struct.pack(">H", 1000) + b"soak over"))
            await self.writer.drain()
            await asyncio.wait_for(recv, 15)
        except Exception as e:
            STATS["close_problems"].append("%d: %r" % (self.i, e))
        STATS["open"] -= 1
        try:
            self.writer.close()
        except Exception:
            pass


async def status_writer():
    while True:
        st = {k: (len(v) if isinstance(v, list) else v) for k, v in STATS.items()}
        st["t"] = round(time.time() - T0, 3)
        st["phase"] = "closing" if STOP.is_set() else "running"
        tmp = ARGS.status + ".tmp"
        with open(tmp, "w") as f:
            json.dump(st, f)
        os.rename(tmp, ARGS.status)
        await asyncio.sleep(0.5)


async def main():
    global STOP, T0
    STOP = asyncio.Event()
    T0 = time.time()
    if ARGS.status:
        asyncio.ensure_future(status_writer())
    conns = [Conn(i) for i in range(ARGS.connections)]
    STATS["connections"] = len(conns)
    ok = []
    for k in range(0, len(conns), 100):
        batch = conns[k:k + 100]
        res = await asyncio.gather(*(c.connect() for c in batch))
        ok += [c for c, r in zip(batch, res) if r]
    STATS["connect_secs"] = round(time.time() - T0, 3)
    runs = [asyncio.ensure_future(c.run()) for c in ok]
    start = time.time()
    # the run lasts --duration seconds, or until the file --stop-file exists
    while time.time() - start < ARGS.duration:
        if ARGS.stop_file and os.path.exists(ARGS.stop_file):
            break
        await asyncio.sleep(0.2)
    STATS["run_secs"] = round(time.time() - start, 3)
    STOP.set()
    await asyncio.gather(*runs)
    STATS["total_secs"] = round(time.time() - T0, 3)
    STATS["per_second"] = [PER_SECOND.get(s, 0) for s in range(int(time.time() - T0) + 1)]
    STATS["errors"] = STATS["errors"][:50]
    with open(ARGS.out, "w") as f:
        json.dump(STATS, f)
    if ARGS.status:
        st = {k: (len(v) if isinstance(v, list) else v) for k, v in STATS.items()}
        st["phase"] = "done"
        with open(ARGS.status, "w") as f:
            json.dump(st, f)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--query", default="")
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--duration", type=float, default=60)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--window", type=int, default=2)
    p.add_argument("--out", required=True)
    p.add_argument("--status")
    p.add_argument("--stop-file")
    p.add_argument("--going-away", action="store_true")
    p.add_argument("--final-file")
    p.add_argument("--reconnect-delay", type=float, default=1.0)
    ARGS = p.parse_args()
    asyncio.run(main())
