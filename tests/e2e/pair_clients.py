#!/usr/bin/python3
"""Simulated discovery clients behind a ToR pair: acts as both switches' relays at once,
forwarding each client's DISCOVER and REQUEST to every server named (as `dhcrelay` to two
servers does), so each client may get two OFFERs and REQUESTs the first (its server-id).

Each client (a fresh MAC, its own circuit-id: one undeclared port each) goes DISCOVER →
OFFER → REQUEST → ACK, retried after --wait without an answer, at most --tries times. With
--rebind FILE (the JSON a previous run printed), each client of that file instead sends a
REBINDING REQUEST (ciaddr, no server-id) and must be answered with its own address.

Prints one JSON line: {"acked": {mac: address}, "by": {mac: server}, "naks": n, "failed": [macs]}.
Bounded: --count clients, --window in flight (--rate: started per second at most), --timeout
seconds in all. Run inside a
namespace that holds --giaddr (198.18.0.0/15 only).
"""
import argparse
import ipaddress
import json
import os
import select
import socket
import struct
import sys
import time

MAGIC = b"\x63\x82\x53\x63"


def message(op_type, xid, mac, giaddr, circuit, ciaddr=0, requested=None, server_id=None):
    header = struct.pack("!BBBBIHHIIII16s64s128s", 1, 1, 6, 1, xid, 0, 0, ciaddr, 0, 0,
                         int(ipaddress.IPv4Address(giaddr)), mac.ljust(16, b"\0"), b"", b"")
    options = MAGIC + bytes([53, 1, op_type])
    if requested is not None:
        options += bytes([50, 4]) + struct.pack("!I", requested)
    if server_id is not None:
        options += bytes([54, 4]) + struct.pack("!I", server_id)
    options += bytes([82, 2 + len(circuit), 1, len(circuit)]) + circuit + b"\xff"
    return header + options


def parse(data):
    """(xid, yiaddr, message type, server-id) of a server's answer, or None."""
    if len(data) < 244 or data[236:240] != MAGIC:
        return None
    xid, yiaddr = struct.unpack("!I", data[4:8])[0], struct.unpack("!I", data[16:20])[0]
    kind, server, i = None, None, 240
    while i + 1 < len(data) and data[i] != 255:
        if data[i] == 0:
            i += 1
            continue
        code, length = data[i], data[i + 1]
        value = data[i + 2:i + 2 + length]
        if code == 53 and length == 1:
            kind = value[0]
        elif code == 54 and length == 4:
            server = struct.unpack("!I", value)[0]
        i += 2 + length
    return xid, yiaddr, kind, server


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", action="append", required=True, help="a server to forward to (give it once per host)")
    p.add_argument("--giaddr", required=True)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--first", type=int, default=0, help="the first client's number (its MAC and circuit)")
    p.add_argument("--window", type=int, default=32)
    p.add_argument("--rate", type=float, default=0, help="new clients started per second at most (0: as the window allows)")
    p.add_argument("--wait", type=float, default=1.0)
    p.add_argument("--tries", type=int, default=20)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--rebind", help="a previous run's JSON: rebind those clients instead")
    args = p.parse_args()
    for address in [*args.server, args.giaddr]:
        assert ipaddress.IPv4Address(address) in ipaddress.IPv4Network("198.18.0.0/15"), address
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((args.giaddr, 67))
    sock.setblocking(False)

    if args.rebind:
        previous = json.loads(open(args.rebind).read())["acked"]
        clients = [(bytes.fromhex(mac.replace(":", "")), int(ipaddress.IPv4Address(ip))) for mac, ip in previous.items()]
    else:
        clients = [(b"\x52\x55" + struct.pack("!I", args.first + n), None) for n in range(args.count)]
    # xid → client state: mac, circuit, phase (discover/request), tries, sent at, offered address/server.
    pending, waiting = {}, list(reversed(clients))
    acked, by, naks, failed = {}, {}, 0, []
    deadline = time.time() + args.timeout

    def circuit_of(mac):
        return f"gen{struct.unpack('!I', mac[2:6])[0]}".encode()

    def send(state):
        mac, circuit = state["mac"], circuit_of(state["mac"])
        if state["phase"] == "discover":
            datagram = message(1, state["xid"], mac, args.giaddr, circuit)
        elif state["phase"] == "rebind":
            datagram = message(3, state["xid"], mac, args.giaddr, circuit, ciaddr=state["address"])
        else:
            datagram = message(3, state["xid"], mac, args.giaddr, circuit, requested=state["address"], server_id=state["server"])
        for server in args.server:
            sock.sendto(datagram, (server, 67))
        state["sent"] = time.time()
        state["tries"] += 1

    def start(mac, address):
        state = {"mac": mac, "xid": int.from_bytes(os.urandom(4), "big"), "tries": 0,
                 "phase": "rebind" if address is not None else "discover", "address": address, "server": None}
        pending[state["xid"]] = state
        send(state)

    def text(mac):
        return ":".join(f"{b:02x}" for b in mac)

    began, started = time.time(), 0
    while (waiting or pending) and time.time() < deadline:
        while waiting and len(pending) < args.window and (not args.rate or started < (time.time() - began) * args.rate):
            start(*waiting.pop())
            started += 1
        ready, _, _ = select.select([sock], [], [], 0.05)
        while ready:
            try:
                data, (source, _) = sock.recvfrom(4096)
            except BlockingIOError:
                break
            answer = parse(data)
            if not answer or answer[0] not in pending:
                continue
            xid, yiaddr, kind, server = answer
            state = pending[xid]
            if kind == 2 and state["phase"] == "discover":
                # The first OFFER is taken; the other host's is withdrawn when it sees this REQUEST.
                state.update(phase="request", address=yiaddr, server=server, tries=0)
                send(state)
            elif kind == 5 and state["phase"] in ("request", "rebind") and yiaddr == state["address"]:
                del pending[xid]
                acked[text(state["mac"])] = str(ipaddress.IPv4Address(yiaddr))
                by[text(state["mac"])] = source
            elif kind == 6:
                naks += 1
                del pending[xid]
                if state["phase"] == "rebind":
                    failed.append(text(state["mac"]))
                else:
                    start(state["mac"], None)
        now = time.time()
        for xid, state in list(pending.items()):
            if now - state["sent"] < args.wait:
                continue
            if state["tries"] >= args.tries:
                del pending[xid]
                failed.append(text(state["mac"]))
            elif state["phase"] == "request":
                # No ACK (the selected host died): start over.
                state.update(phase="discover", address=None, server=None)
                send(state)
            else:
                send(state)
    failed += [text(state["mac"]) for state in pending.values()] + [text(mac) for mac, _ in waiting]
    print(json.dumps({"acked": acked, "by": by, "naks": naks, "failed": failed}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
