#!/usr/bin/python3
"""A relay that gets a server behind, then checks what it answers: run inside a namespace
holding --giaddr, with the server's PID (PIDs are not per namespace).

1. DISCOVER from --requesting clients (ports swp1..), and keep each OFFER.
2. SIGSTOP the server, send --backlog DISCOVERs from the next ports, and wait --stale
   seconds: they wait in the server's socket, older than any client waits for.
3. REQUEST each offer, SIGCONT the server, and listen --listen seconds.

Prints one JSON line: ACKs for the requests, and replies (late) to the backlog. Addresses
from 198.18.0.0/15 only; the server is continued whatever happens.
"""
import argparse
import ipaddress
import json
import os
import select
import signal
import socket
import struct
import time

COOKIE = b"\x63\x82\x53\x63"
BACKLOG_XID = 1_000_000


def packet(xid, port, giaddr, kind, requested=None, server_id=None):
    mac = struct.pack("!HI", 0x5256, xid)
    circuit = b"swp%d" % port
    head = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 1, xid, 0, 0, bytes(4), bytes(4), bytes(4),
                       socket.inet_aton(giaddr), mac + bytes(10), b"", b"")
    options = bytes([53, 1, kind])
    if requested:
        options += bytes([50, 4]) + requested
    if server_id:
        options += bytes([54, 4]) + server_id
    options += bytes([82, len(circuit) + 2, 1, len(circuit)]) + circuit + b"\xff"
    return head + COOKIE + options


def replies(sock, seconds):
    """(xid, message type, yiaddr, server id) of each reply within `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if not select.select([sock], [], [], max(0.0, deadline - time.time()))[0]:
            continue
        data = sock.recv(4096)
        if len(data) < 244 or data[236:240] != COOKIE:
            continue
        options, i = {}, 240
        while i + 1 < len(data) and data[i] != 255:
            if data[i] == 0:
                i += 1
                continue
            options[data[i]] = data[i + 2:i + 2 + data[i + 1]]
            i += 2 + data[i + 1]
        yield struct.unpack("!I", data[4:8])[0], options.get(53, b"\0")[0], data[16:20], options.get(54)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True)
    p.add_argument("--giaddr", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--requesting", type=int, default=40)
    p.add_argument("--backlog", type=int, default=400)
    p.add_argument("--stale", type=float, default=5.0)  # past the server's 4 s (AdmissionQueue.Limits)
    p.add_argument("--listen", type=float, default=3.0)
    args = p.parse_args()
    assert all(ipaddress.IPv4Address(a) in ipaddress.IPv4Network("198.18.0.0/15") for a in (args.server, args.giaddr))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((args.giaddr, 67))
    server = (args.server, 67)

    offers = {}
    for xid in range(1, args.requesting + 1):
        sock.sendto(packet(xid, xid, args.giaddr, 1), server)
    for xid, kind, yiaddr, server_id in replies(sock, 10):
        if kind == 2 and 1 <= xid <= args.requesting:
            offers[xid] = (yiaddr, server_id)
        if len(offers) == args.requesting:
            break

    os.kill(args.pid, signal.SIGSTOP)
    try:
        time.sleep(0.1)
        for n in range(args.backlog):
            sock.sendto(packet(BACKLOG_XID + n, args.requesting + 1 + n, args.giaddr, 1), server)
        time.sleep(args.stale)
        for xid, (yiaddr, server_id) in offers.items():
            sock.sendto(packet(xid, xid, args.giaddr, 3, requested=yiaddr, server_id=server_id), server)
    finally:
        os.kill(args.pid, signal.SIGCONT)

    acked, late, other = set(), 0, 0
    for xid, kind, _, _ in replies(sock, args.listen):
        if kind == 5 and xid in offers:
            acked.add(xid)
        elif xid >= BACKLOG_XID:
            late += 1
        else:
            other += 1
    print(json.dumps({"offers": len(offers), "acks": len(acked), "late": late, "other": other}), flush=True)


if __name__ == "__main__":
    main()
