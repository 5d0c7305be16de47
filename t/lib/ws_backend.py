#!/usr/bin/python3
"""WebSocket test backend for the ws-api test suite.

Standard library only (run it with /usr/bin/python3).  The HTTP handshake and
the frame codec are written by hand, on purpose: the backend must be able to
send ANY bytes (invalid frames included) and must log exactly what it got,
so that tests can see what the gateway let through.

Started by WsApi::Test::start_backend(); usable by hand:

    /usr/bin/python3 t/lib/ws_backend.py --port 9001 --log /tmp/b.log

Options
    --host H             listen address (127.0.0.1)
    --port N             listen port; 0 (default) picks a free one
    --port-file F        write the chosen port to F once listening
    --log F              JSON-lines log (default: stderr)
    --log-max N          log at most N payload bytes per frame or message
                         (hex and text); len and sha1 always cover it all
    --deflate            accept permessage-deflate (RFC 7692)
    --handshake-extra X  hex bytes written right after the 101, in the
                         same write (bytes pipelined behind the handshake)
    --no-echo            do not echo data messages

Handshake
    * Upgrade: websocket -> 101 with a correct Sec-WebSocket-Accept; the first
      Sec-WebSocket-Protocol value offered is echoed; permessage-deflate is
      accepted when --deflate is on and the client offers it.
    * a path containing /status/NNN -> that status, a small JSON body, close.
    * a path containing /delay/MS   -> the answer is delayed by MS ms.
    * a path containing /silent     -> data messages are not echoed.
    * no Upgrade: websocket         -> 200 with a JSON echo of the request
      (its body, read by Content-Length, is reported as body_len, body_sha1);
      with /bytes/N in the path: 200 with N bytes of "abc...z" instead.

After the handshake
    * every data message is echoed as ONE unmasked frame with the same opcode
      (re-compressed, RSV1 set, if it came compressed);
    * ping -> pong with the same payload;
    * close -> close echoing the client's payload (code and reason), then the
      TCP connection is closed;
    * text messages that start with "!" are commands, logged but not echoed:
        !send HEX             write these raw bytes (spaces allowed)
        !text N               a text message of N bytes ("abc...z" repeated)
        !binary N             a binary message of N bytes (0x00..0xff repeated)
        !frag N COUNT [binary] an N-byte text (or binary) message in COUNT
                              fragments
        !close [CODE [REASON]] a close frame (no payload without CODE); the
                              TCP connection is closed when the client answers
                              (or after 10 s)
        !burst COUNT SIZE     COUNT text messages of SIZE bytes, each starting
                              with its 8-digit sequence number (00000000...)
        !ping [TEXT]          a ping frame
        !drop                 abort the TCP connection (no close frame)
        !sleep MS             stop reading from the client for MS ms

Log (one JSON object per line, every line has "event", "conn", "t")
    connect     peer
    handshake   method, target, path, query (null without "?"), version,
                headers (lower-case name -> value, repeats joined by ", "),
                raw_headers ([name, value] in order), status (answered)
    frame       path, opcode, fin, rsv (0..7), masked, len, sha1, hex, text,
                truncated (every frame received, control frames included)
    message     path, opcode, len, frames, compressed, command, sha1, hex,
                text, truncated (every complete data message received;
                payload decompressed when it came compressed)
    sent        path, what, opcode, len (what the backend sent on its own)
    error       path, message
    disconnect  path, reason
"""

import argparse
import asyncio
import base64
import hashlib
import itertools
import json
import os
import re
import signal
import sys
import time
import zlib

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEADER = 64 * 1024
MAX_MESSAGE = 256 * 1024 * 1024

ARGS = None
LOG = None
CONN_IDS = itertools.count(1)


class Log:
    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8") if path else sys.stderr

    def write(self, event, **kw):
        rec = {"event": event, "t": round(time.time(), 6)}
        rec.update(kw)
        self.f.write(json.dumps(rec, separators=(",", ":")) + "\n")
        self.f.flush()


def payload_fields(data):
    """hex / text / len / sha1 of a payload, truncated to --log-max."""
    limit = ARGS.log_max
    cut = data[:limit]
    out = {
        "len": len(data),
        "sha1": hashlib.sha1(data).hexdigest(),
        "hex": cut.hex(),
        "truncated": len(data) > limit,
    }
    try:
        out["text"] = bytes(cut).decode("utf-8")
    except UnicodeDecodeError:
        out["text"] = None
    return out


def unmask(data, key):
    n = len(data)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def build_frame(opcode, payload, fin=True, rsv=0):
    """An unmasked (server) frame."""
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    n = len(payload)
    if n < 126:
        head = bytes([b0, n])
    elif n < 65536:
        head = bytes([b0, 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, 127]) + n.to_bytes(8, "big")
    return head + payload


def text_pattern(n):
    return (b"abcdefghijklmnopqrstuvwxyz" * (n // 26 + 1))[:n]


def binary_pattern(n):
    return (bytes(range(256)) * (n // 256 + 1))[:n]


def parse_extensions(value):
    """'a; x=1, b' -> [('a', {'x': '1'}), ('b', {})]"""
    out = []
    for ext in value.split(","):
        parts = [p.strip() for p in ext.split(";")]
        if not parts[0]:
            continue
        params = {}
        for p in parts[1:]:
            if not p:
                continue
            k, _, v = p.partition("=")
            params[k.strip().lower()] = v.strip().strip('"') if v else None
        out.append((parts[0].lower(), params))
    return out


class Conn(asyncio.Protocol):
    def __init__(self):
        self.id = next(CONN_IDS)
        self.buf = bytearray()
        self.state = "http"          # http (-> body) -> ws (-> closing); "done" after
        self.req = None
        self.need = 0
        self.path = None
        self.echo = not ARGS.no_echo
        self.frag_opcode = None      # opcode of the message being reassembled
        self.frag_parts = []
        self.frag_rsv1 = False
        self.frag_count = 0
        self.deflate = None          # negotiated params or None
        self.inflater = None
        self.deflater = None
        self.close_sent = False
        self.close_timer = None
        self.transport = None
        self.reason = None

    # -- plumbing ---------------------------------------------------------

    def log(self, event, **kw):
        rec = {"conn": self.id, "path": self.path}
        rec.update(kw)
        LOG.write(event, **rec)

    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername")
        LOG.write("connect", conn=self.id, peer="%s:%s" % peer[:2] if peer else None)

    def connection_lost(self, exc):
        if self.close_timer:
            self.close_timer.cancel()
        reason = self.reason or ("error: %s" % exc if exc else "eof")
        self.log("disconnect", reason=reason)

    def eof_received(self):
        self.reason = self.reason or "eof"
        return False  # close the transport

    def write(self, data):
        if not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data):
        self.buf += data
        try:
            if self.state == "http":
                self.parse_request()
            elif self.state == "body":
                self.read_body()
            if self.state in ("ws", "closing"):
                self.parse_frames()
        except Exception as e:  # never die: log and drop the connection
            self.log("error", message="internal: %r" % (e,))
            self.reason = "internal error"
            self.transport.abort()

    # -- handshake --------------------------------------------------------

    def parse_request(self):
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > MAX_HEADER:
                self.respond_plain(431, {"error": "header too large"})
            return
        head = bytes(self.buf[:end]).decode("latin-1")
        del self.buf[: end + 4]
        lines = head.split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            self.state = "done"
            self.respond_plain(400, {"error": "bad request line"})
            return
        raw_headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                continue
            raw_headers.append([name.strip(), value.strip()])
        headers = {}
        for name, value in raw_headers:
            k = name.lower()
            headers[k] = headers[k] + ", " + value if k in headers else value
        path, qmark, query = target.partition("?")
        self.path = path
        self.state = "done"
        req = {
            "method": method, "target": target, "path": path,
            "query": query if qmark else None, "version": version,
            "headers": headers, "raw_headers": raw_headers,
        }
        if "/silent" in path:
            self.echo = False
        self.req = req
        self.need = 0
        if "websocket" not in headers.get("upgrade", "").lower():
            try:
                self.need = int(headers.get("content-length", "0"))
            except ValueError:
                self.need = 0
            self.state = "body"
        self.read_body()

    def read_body(self):
        """Wait for a plain request's body (Content-Length), then answer."""
        req = self.req
        if self.need:
            if len(self.buf) < self.need:
                return
            body = bytes(self.buf[: self.need])
            del self.buf[: self.need]
            req["body_len"] = len(body)
            req["body_sha1"] = hashlib.sha1(body).hexdigest()
        self.state = "done"
        m = re.search(r"/delay/(\d+)", req["path"])
        if m:
            asyncio.get_running_loop().call_later(
                int(m.group(1)) / 1000.0, self.answer, req)
        else:
            self.answer(req)

    def answer(self, req):
        if self.transport.is_closing():
            return
        headers = req["headers"]
        m = re.search(r"/status/(\d{3})(?:/|$)", req["path"])
        if m:
            status = int(m.group(1))
            self.log("handshake", status=status, **req)
            self.respond_plain(status, {"backend": "status", "status": status})
            return
        if "websocket" not in headers.get("upgrade", "").lower():
            self.log("handshake", status=200, **req)
            m = re.search(r"/bytes/(\d+)", req["path"])
            if m:
                self.respond_plain(200, text_pattern(int(m.group(1))), "text/plain")
            else:
                self.respond_plain(200, {"backend": "echo", "request": req})
            return

        key = headers.get("sec-websocket-key", "")
        accept = base64.b64encode(hashlib.sha1(key.encode("latin-1") + GUID).digest())
        out = [
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Accept: " + accept.decode(),
        ]
        proto = headers.get("sec-websocket-protocol")
        if proto:
            out.append("Sec-WebSocket-Protocol: " + proto.split(",")[0].strip())
        ext = headers.get("sec-websocket-extensions")
        if ARGS.deflate and ext:
            resp = self.negotiate_deflate(ext)
            if resp:
                out.append("Sec-WebSocket-Extensions: " + resp)
        self.log("handshake", status=101, deflate=self.deflate is not None, **req)
        data = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")
        if ARGS.handshake_extra:
            data += bytes.fromhex(ARGS.handshake_extra)
        self.write(data)
        self.state = "ws"
        if self.buf:  # frames pipelined behind the request
            self.parse_frames()

    def negotiate_deflate(self, value):
        for name, params in parse_extensions(value):
            if name != "permessage-deflate":
                continue
            resp = ["permessage-deflate"]
            wbits = 15
            if "server_no_context_takeover" in params:
                resp.append("server_no_context_takeover")
            if "client_no_context_takeover" in params:
                resp.append("client_no_context_takeover")
            sbits = params.get("server_max_window_bits")
            if sbits is not None:
                try:
                    wbits = int(sbits)
                except ValueError:
                    continue
                if not 9 <= wbits <= 15:
                    continue
                resp.append("server_max_window_bits=%d" % wbits)
            self.deflate = {
                "server_no_context_takeover": "server_no_context_takeover" in params,
                "wbits": wbits,
            }
            self.inflater = zlib.decompressobj(-15)
            return "; ".join(resp)
        return None

    def respond_plain(self, status, obj, ctype="application/json"):
        body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        head = ("HTTP/1.1 %d Backend\r\nContent-Type: %s\r\n"
                "Content-Length: %d\r\nConnection: close\r\n\r\n"
                % (status, ctype, len(body)))
        self.state = "done"
        self.write(head.encode() + body)
        self.reason = "answered %d" % status
        self.transport.close()

    # -- frames -----------------------------------------------------------

    def parse_frames(self):
        while True:
            buf = self.buf
            if len(buf) < 2:
                return
            b0, b1 = buf[0], buf[1]
            fin = bool(b0 & 0x80)
            rsv = (b0 >> 4) & 7
            opcode = b0 & 0x0F
            masked = bool(b1 & 0x80)
            n = b1 & 0x7F
            off = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n = int.from_bytes(buf[2:4], "big")
                off = 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n = int.from_bytes(buf[2:10], "big")
                off = 10
                if n > MAX_MESSAGE:
                    self.log("error", message="frame of %d bytes: giving up" % n)
                    self.reason = "frame too large"
                    self.transport.abort()
                    return
            key = None
            if masked:
                if len(buf) < off + 4:
                    return
                key = bytes(buf[off:off + 4])
                off += 4
            if len(buf) < off + n:
                return
            payload = bytes(buf[off:off + n])
            del buf[: off + n]
            if masked:
                payload = unmask(payload, key)
            self.on_frame(opcode, fin, rsv, masked, payload)
            if self.transport.is_closing() and self.state == "done":
                return

    def on_frame(self, opcode, fin, rsv, masked, payload):
        self.log("frame", opcode=opcode, fin=fin, rsv=rsv, masked=masked,
                 **payload_fields(payload))
        if opcode == 0x8:
            self.on_close(payload)
        elif opcode == 0x9:
            self.write(build_frame(0xA, payload))
        elif opcode == 0xA:
            pass
        elif opcode in (0x1, 0x2):
            if self.frag_opcode is not None:
                self.log("error", message="data frame inside a fragmented message")
            self.frag_opcode = opcode
            self.frag_parts = [payload]
            self.frag_rsv1 = bool(rsv & 4)
            self.frag_count = 1
            if fin:
                self.finish_message()
        elif opcode == 0x0:
            if self.frag_opcode is None:
                self.log("error", message="continuation frame outside a message")
                return
            self.frag_parts.append(payload)
            self.frag_count += 1
            if fin:
                self.finish_message()
        else:
            self.log("error", message="unknown opcode %d" % opcode)

    def finish_message(self):
        opcode, parts = self.frag_opcode, self.frag_parts
        compressed, frames = self.frag_rsv1, self.frag_count
        self.frag_opcode, self.frag_parts = None, []
        data = b"".join(parts)
        if compressed:
            if self.inflater is None:
                self.log("error", message="RSV1 message without permessage-deflate")
            else:
                try:
                    data = self.inflater.decompress(data + b"\x00\x00\xff\xff")
                except zlib.error as e:
                    self.log("error", message="inflate: %s" % e)
                    return
        command = opcode == 0x1 and data.startswith(b"!")
        self.log("message", opcode=opcode, frames=frames, compressed=compressed,
                 command=command, **payload_fields(data))
        if self.state != "ws":
            return
        if command:
            try:
                self.run_command(data.decode("utf-8", "replace"))
            except (ValueError, IndexError) as e:
                self.log("error", message="bad command %r: %s" % (data[:80], e))
            return
        if not self.echo:
            return
        if compressed and self.deflate is not None:
            self.write(build_frame(opcode, self.compress(data), rsv=4))
        else:
            self.write(build_frame(opcode, data))

    def compress(self, data):
        if self.deflater is None or self.deflate["server_no_context_takeover"]:
            self.deflater = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED,
                                             -self.deflate["wbits"])
        out = self.deflater.compress(data) + self.deflater.flush(zlib.Z_SYNC_FLUSH)
        if out.endswith(b"\x00\x00\xff\xff"):
            out = out[:-4]
        return out

    def on_close(self, payload):
        if self.close_sent:
            self.reason = "close handshake (backend initiated)"
        else:
            self.write(build_frame(0x8, payload))
            self.close_sent = True
            self.reason = "close handshake (client initiated)"
        self.state = "done"
        self.transport.close()

    def sent(self, what, frame_opcode, n):
        self.log("sent", what=what, opcode=frame_opcode, len=n)

    def run_command(self, cmd):
        argv = cmd[1:].split(" ")
        name, args = argv[0], argv[1:]
        if name == "send":
            raw = bytes.fromhex("".join(args))
            self.write(raw)
            self.sent("raw", None, len(raw))
        elif name in ("text", "binary"):
            n = int(args[0])
            op = 0x1 if name == "text" else 0x2
            data = text_pattern(n) if op == 0x1 else binary_pattern(n)
            self.write(build_frame(op, data))
            self.sent(name, op, n)
        elif name == "frag":
            n, count = int(args[0]), max(1, int(args[1]))
            op = 0x2 if len(args) > 2 and args[2] == "binary" else 0x1
            data = text_pattern(n) if op == 0x1 else binary_pattern(n)
            out = bytearray()
            for i in range(count):
                part = data[n * i // count: n * (i + 1) // count]
                out += build_frame(op if i == 0 else 0x0, part, fin=(i == count - 1))
            self.write(bytes(out))
            self.sent("frag", op, n)
        elif name == "close":
            payload = b""
            if args and args[0] != "":
                payload = int(args[0]).to_bytes(2, "big") + " ".join(args[1:]).encode()
            self.write(build_frame(0x8, payload))
            self.close_sent = True
            self.state = "closing"
            self.sent("close", 0x8, len(payload))
            self.close_timer = asyncio.get_running_loop().call_later(
                10, self.transport.close)
        elif name == "burst":
            count, size = int(args[0]), int(args[1])
            pat = text_pattern(size)
            out = bytearray()
            for i in range(count):
                msg = (b"%08d" % i + pat)[:size] if size >= 8 else pat
                out += build_frame(0x1, msg)
                if len(out) > 1 << 20:
                    self.write(bytes(out))
                    out = bytearray()
            self.write(bytes(out))
            self.sent("burst", 0x1, count * size)
        elif name == "ping":
            data = " ".join(args).encode()
            self.write(build_frame(0x9, data))
            self.sent("ping", 0x9, len(data))
        elif name == "drop":
            self.reason = "dropped by command"
            self.state = "done"
            self.transport.abort()
        elif name == "sleep":
            self.transport.pause_reading()
            asyncio.get_running_loop().call_later(
                int(args[0]) / 1000.0, self.resume)
        else:
            self.log("error", message="unknown command %r" % name)

    def resume(self):
        if not self.transport.is_closing():
            self.transport.resume_reading()


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Conn, ARGS.host, ARGS.port, backlog=1024,
                                      reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    if ARGS.port_file:
        tmp = ARGS.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, ARGS.port_file)
    LOG.write("listen", conn=None, port=port, pid=os.getpid())
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="WebSocket test backend")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--log")
    p.add_argument("--log-max", type=int, default=4096)
    p.add_argument("--deflate", action="store_true")
    p.add_argument("--handshake-extra", default="")
    p.add_argument("--no-echo", action="store_true")
    ARGS = p.parse_args()
    LOG = Log(ARGS.log)
    asyncio.run(main())
