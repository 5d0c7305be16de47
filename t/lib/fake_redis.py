#!/usr/bin/python3
"""A fake Redis for the ws-api hostile tests (t/43-hostile-redis.t).

Standard library only (run it with /usr/bin/python3).  It stands in front
of a real Redis and relays every command to it, so that the module works
as usual, until the test tells it to answer chosen commands with malformed
replies instead: garbage, a wrong type, a bulk length that lies, an array
where a string is expected, a reply that never ends, silence.

    /usr/bin/python3 t/lib/fake_redis.py --upstream 127.0.0.1:6379 \\
        --port-file /tmp/port --log /tmp/fake.log

Options
    --upstream HOST:PORT  the real Redis
    --host H              listen address (127.0.0.1)
    --port N              listen port; 0 (default) picks a free one
    --port-file F         write the chosen port to F once listening
    --log F               one JSON object per line: connections, commands
                          (name and the first 80 bytes of each argument),
                          rules fired (default: stderr)

Relaying: the commands of a connection (RESP arrays) are parsed, each one
forwarded to its own upstream connection, and the replies relayed in the
order of the commands.  A command a rule matches is NOT forwarded (it has
no effect on the real Redis): the rule's answer is sent in its place.
Once a connection has sent SUBSCRIBE, what the upstream pushes is relayed
as it comes.

Control commands, on any connection (answered +OK, or a bulk string):
    FAKE RULE MATCH ACTION [COUNT]   add a rule; it fires COUNT times (default:
                                     until FAKE CLEAR)
    FAKE CLEAR                       forget every rule
    FAKE INJECT ACTION               send ACTION's bytes now to every
                                     connection that has subscribed
    FAKE DROP                        close every other client connection
    FAKE STATS                       a bulk string of JSON: connections (now
                                     and in all), subscribed, commands (per
                                     name), fired (per rule), endless bytes sent

MATCH: a command name (GET, EVAL, TIME, CLIENT, SUBSCRIBE, PING, AUTH,
SELECT...), or NAME:TEXT (the command's arguments contain TEXT, e.g.
EVAL:SMEMBERS for the script that loads every definition), or * (any).

ACTION (what is sent instead of the reply):
    garbage           bytes that are no RESP at all
    int               :42
    bigint            :99999999999999999999999999
    status            +OK
    error             -ERR fake failure
    nil               $-1
    bulk:TEXT         a bulk string TEXT (\\n \\r \\xNN unescaped)
    arr:A,B,...       an array of bulk strings (an empty item is a nil)
    array             an array of two bulk strings "a" and "b"
    nested            1,000 arrays nested in each other, an integer inside
    negbulk           $-5
    lie-long          a bulk string announcing 100 bytes that sends 5: the
                      reader waits for the rest
    lie-short         a bulk string announcing 2 bytes that sends 6: the
                      rest is read as the next reply
    endless           a bulk string of 10^15 bytes, sent at about 20 MB/s
                      until the client goes away
    endless-array     an array of 10^9 elements, ":1" each, sent the same way
    silence           nothing, ever: this reply and every later one on the
                      connection wait forever (a Redis that hangs)
    close             close the client connection
    delay:MS          the command IS forwarded, and its true reply is sent MS
                      milliseconds after it came (a slow network)
"""

import argparse
import asyncio
import json
import re
import sys
import time

ARGS = None
LOG = None
RULES = []            # {"match", "action", "count", "fired"}
CONNS = set()
STATS = {"connections": 0, "commands": {}, "fired": {}, "endless_bytes": 0}


def log(event, **kw):
    rec = {"event": event, "t": round(time.time(), 6)}
    rec.update(kw)
    LOG.write(json.dumps(rec, separators=(",", ":")) + "\n")
    LOG.flush()


def unescape(s):
    s = s.replace("\\n", "\n").replace("\\r", "\r")
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), s).encode("latin-1")


def bulk(b):
    if b is None:
        return b"$-1\r\n"
    return b"$%d\r\n%s\r\n" % (len(b), b)


def action_bytes(action):
    """The bytes of a finite action, or None for the special ones."""
    if action == "garbage":
        return b"\x00\xff\xfeNOT RESP AT ALL\x01\x02\r\n"
    if action == "int":
        return b":42\r\n"
    if action == "bigint":
        return b":99999999999999999999999999\r\n"
    if action == "status":
        return b"+OK\r\n"
    if action == "error":
        return b"-ERR fake failure\r\n"
    if action == "nil":
        return b"$-1\r\n"
    if action == "negbulk":
        return b"$-5\r\n"
    if action == "array":
        return b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    if action == "nested":
        return b"*1\r\n" * 1000 + b":1\r\n"
    if action == "lie-long":
        return b"$100\r\nshort\r\n"
    if action == "lie-short":
        return b"$2\r\nabcdef\r\n"
    if action.startswith("bulk:"):
        return bulk(unescape(action[5:]))
    if action.startswith("arr:"):
        items = action[4:].split(",")
        return b"*%d\r\n" % len(items) + b"".join(
            bulk(unescape(i) if i != "" else None) for i in items)
    return None


class Incomplete(Exception):
    pass


def parse_resp(buf, pos=0):
    """One RESP value from buf at pos: (value, next pos); Incomplete if it
    is not all there.  Values: bytes, int, None, list, or ("err", bytes)."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete()
    t, line = buf[pos:pos + 1], bytes(buf[pos + 1:end])
    pos = end + 2
    if t == b"+":
        return line, pos
    if t == b"-":
        return ("err", line), pos
    if t == b":":
        return int(line), pos
    if t == b"$":
        n = int(line)
        if n < 0:
            return None, pos
        if len(buf) < pos + n + 2:
            raise Incomplete()
        return bytes(buf[pos:pos + n]), pos + n + 2
    if t == b"*":
        n = int(line)
        if n < 0:
            return None, pos
        out = []
        for _ in range(n):
            v, pos = parse_resp(buf, pos)
            out.append(v)
        return out, pos
    raise ValueError("not RESP: %r" % bytes(buf[pos - len(line) - 3:pos + 20]))


async def resp_values(reader):
    """Every RESP value that arrives on reader, as (value, its bytes), until
    EOF."""
    buf = bytearray()
    while True:
        data = await reader.read(65536)
        if not data:
            return
        buf += data
        while buf:
            try:
                value, pos = parse_resp(buf)
            except Incomplete:
                break
            raw = bytes(buf[:pos])
            del buf[:pos]
            yield value, raw


class Conn:
    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.up_reader = None
        self.up_writer = None
        self.queue = asyncio.Queue()      # ("up", future) | ("delay", (future, secs))
                                          # | ("fake", action) | ("raw", bytes)
        self.pending = []                 # futures of forwarded commands, in order
        self.subscribed = False
        self.closed = False
        self.id = STATS["connections"] + 1

    def log(self, event, **kw):
        log(event, conn=self.id, **kw)

    async def run(self):
        STATS["connections"] += 1
        CONNS.add(self)
        self.log("connect")
        try:
            host, port = ARGS.upstream.rsplit(":", 1)
            self.up_reader, self.up_writer = await asyncio.open_connection(host, int(port))
            tasks = [asyncio.ensure_future(self.from_client()),
                     asyncio.ensure_future(self.from_upstream()),
                     asyncio.ensure_future(self.to_client())]
            done, rest = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in rest:
                t.cancel()
            for t in done:
                if t.exception() and not isinstance(t.exception(), (ConnectionError, asyncio.CancelledError)):
                    self.log("error", message=repr(t.exception()))
        except Exception as e:  # never die
            self.log("error", message=repr(e))
        finally:
            self.close()

    def close(self):
        if self.closed:
            return
        self.closed = True
        CONNS.discard(self)
        for w in (self.writer, self.up_writer):
            if w is not None:
                try:
                    w.close()
                except Exception:
                    pass
        self.log("disconnect")

    async def from_client(self):
        async for cmd, raw in resp_values(self.reader):
            await self.command(cmd, raw)

    async def command(self, cmd, raw):
        if not isinstance(cmd, list) or not cmd or not isinstance(cmd[0], bytes):
            self.log("error", message="not a command")
            return
        name = cmd[0].decode("latin-1").upper()
        args = [a if isinstance(a, bytes) else str(a).encode() for a in cmd[1:]]
        if name == "FAKE":
            self.queue.put_nowait(("raw", self.control(args)))
            return
        STATS["commands"][name] = STATS["commands"].get(name, 0) + 1
        self.log("command", name=name, args=[a[:80].decode("latin-1") for a in args])
        rule = self.match(name, args)
        if rule:
            rule["fired"] += 1
            key = rule["match"] + " " + rule["action"]
            STATS["fired"][key] = STATS["fired"].get(key, 0) + 1
            self.log("fired", name=name, rule=key)
            if rule["action"].startswith("delay:"):
                fut = asyncio.get_running_loop().create_future()
                self.pending.append(fut)
                self.queue.put_nowait(("delay", (fut, int(rule["action"][6:]) / 1000.0)))
                self.up_writer.write(raw)
                return
            self.queue.put_nowait(("fake", rule["action"]))
            return
        if name in ("SUBSCRIBE", "PSUBSCRIBE"):
            self.subscribed = True
        fut = asyncio.get_running_loop().create_future()
        self.pending.append(fut)
        self.queue.put_nowait(("up", fut))
        self.up_writer.write(raw)

    def match(self, name, args):
        for rule in RULES:
            if rule["count"] is not None and rule["fired"] >= rule["count"]:
                continue
            m = rule["match"]
            if m == "*":
                return rule
            cname, _, text = m.partition(":")
            if cname.upper() != name:
                continue
            if text and not any(text.encode() in a for a in args):
                continue
            return rule
        return None

    def control(self, args):
        words = [a.decode("latin-1") for a in args]
        if not words:
            return b"-ERR FAKE what?\r\n"
        op = words[0].upper()
        if op == "RULE" and len(words) >= 3:
            count = int(words[3]) if len(words) > 3 else None
            RULES.append({"match": words[1], "action": words[2], "count": count, "fired": 0})
            log("rule", match=words[1], action=words[2], count=count)
            return b"+OK\r\n"
        if op == "CLEAR":
            RULES.clear()
            log("clear")
            return b"+OK\r\n"
        if op == "INJECT" and len(words) >= 2:
            n = 0
            for c in list(CONNS):
                if c.subscribed and c is not self:
                    c.queue.put_nowait(("fake", words[1]))
                    n += 1
            log("inject", action=words[1], connections=n)
            return b":%d\r\n" % n
        if op == "DROP":
            n = 0
            for c in list(CONNS):
                if c is not self:
                    c.close()
                    n += 1
            log("drop", connections=n)
            return b":%d\r\n" % n
        if op == "STATS":
            st = dict(STATS)
            st["connected"] = len(CONNS) - 1
            st["subscribed"] = sum(1 for c in CONNS if c.subscribed)
            return bulk(json.dumps(st).encode())
        return b"-ERR FAKE unknown\r\n"

    async def from_upstream(self):
        async for _, reply in resp_values(self.up_reader):
            if self.pending:
                self.pending.pop(0).set_result(reply)
            else:
                self.queue.put_nowait(("raw", reply))     # pushed (pub/sub)

    async def to_client(self):
        while True:
            kind, what = await self.queue.get()
            if kind == "up":
                data = await what
            elif kind == "delay":
                data = await what[0]
                await asyncio.sleep(what[1])
            elif kind == "raw":
                data = what
            else:
                data = action_bytes(what)
                if data is None:
                    await self.special(what)
                    continue
            self.writer.write(data)
            await self.writer.drain()

    async def special(self, action):
        if action == "close":
            self.close()
            await asyncio.sleep(3600)
        if action == "silence":
            await asyncio.sleep(10 ** 6)
        if action in ("endless", "endless-array"):
            if action == "endless":
                self.writer.write(b"$1000000000000000\r\n")
                chunk = b"x" * 65536
            else:
                self.writer.write(b"*1000000000\r\n")
                chunk = b":1\r\n" * 16384
            while not self.closed:
                self.writer.write(chunk)
                STATS["endless_bytes"] += len(chunk)
                await self.writer.drain()
                await asyncio.sleep(0.003)
            return
        self.log("error", message="unknown action %r" % action)


async def main():
    server = await asyncio.start_server(lambda r, w: Conn(r, w).run(),
                                        ARGS.host, ARGS.port)
    port = server.sockets[0].getsockname()[1]
    if ARGS.port_file:
        with open(ARGS.port_file + ".tmp", "w") as f:
            f.write(str(port))
        import os
        os.rename(ARGS.port_file + ".tmp", ARGS.port_file)
    log("listening", port=port, upstream=ARGS.upstream)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--log")
    ARGS = p.parse_args()
    LOG = open(ARGS.log, "a") if ARGS.log else sys.stderr
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
