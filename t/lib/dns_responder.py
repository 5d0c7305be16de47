#!/usr/bin/python3
"""A tiny DNS responder for the gateway tests (standard library only).

    dns_responder.py --name backend.wsapi.test [--addr 127.0.0.1]
                     --port-file F [--log F]

Listens on 127.0.0.1, a free UDP port (written to --port-file once bound).
A query of type A for --name (any case) is answered with one A record
(--addr, TTL 1); AAAA for it gets an empty answer (NOERROR); any other name
gets NXDOMAIN.  Every query is logged as "NAME TYPE" to --log.  Exits when
its parent process goes away.
"""

import argparse
import os
import socket
import struct

ap = argparse.ArgumentParser()
ap.add_argument("--name", required=True)
ap.add_argument("--addr", default="127.0.0.1")
ap.add_argument("--port-file", required=True)
ap.add_argument("--log")
a = ap.parse_args()

parent = os.getppid()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(0.5)
tmp = a.port_file + ".tmp"
with open(tmp, "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(tmp, a.port_file)
log = open(a.log, "a", buffering=1) if a.log else None


def qname(msg, off):
    labels = []
    while msg[off]:
        n = msg[off]
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n
    return ".".join(labels), off + 1


while os.getppid() == parent:
    try:
        msg, peer = s.recvfrom(512)
    except socket.timeout:
        continue
    try:
        tid, flags, qd = struct.unpack("!HHH", msg[:6])
        name, end = qname(msg, 12)
        qtype, = struct.unpack("!H", msg[end:end + 2])
    except Exception:
        continue
    question = msg[12:end + 4]
    if log:
        log.write("%s %d\n" % (name, qtype))
    rd = flags & 0x0100
    if name.lower().rstrip(".") != a.name.lower():
        rcode, answers = 3, b""
    elif qtype == 1:
        rcode = 0
        answers = (b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 1, 4)
                   + socket.inet_aton(a.addr))
    else:
        rcode, answers = 0, b""
    head = struct.pack("!HHHHHH", tid, 0x8000 | 0x0400 | rd | 0x0080 | rcode,
                       1, 1 if answers else 0, 0, 0)
    s.sendto(head + question + answers, peer)
