#!/usr/bin/python3
"""A one-port relay that asks until the answer changes: sends relayed DISCOVERs (giaddr,
Option 82 circuit-id and remote-id) for one location, each from a fresh MAC, and prints
the wall-clock time of the first OFFER whose yiaddr is --want. Run inside a namespace
that holds --giaddr; bounded by --timeout.
"""
import argparse
import ipaddress
import json
import os
import socket
import struct
import sys
import time


def discover(xid, mac, giaddr, circuit, remote_id):
    header = struct.pack("!BBBBIHHIIII16s64s128s", 1, 1, 6, 1, xid, 0, 0, 0, 0, 0,
                         int(ipaddress.IPv4Address(giaddr)), mac.ljust(16, b"\0"), b"", b"")
    agent = bytes([1, len(circuit)]) + circuit + bytes([2, len(remote_id)]) + remote_id
    options = b"\x63\x82\x53\x63" + bytes([53, 1, 1]) + bytes([82, len(agent)]) + agent + b"\xff"
    return header + options


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True)
    p.add_argument("--giaddr", required=True)
    p.add_argument("--circuit", required=True)
    p.add_argument("--remote-id", required=True)
    p.add_argument("--want", required=True)
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--interval", type=float, default=0.005, help="seconds between questions (and the answer timeout)")
    args = p.parse_args()
    assert args.server.startswith(("198.18.", "198.19.")) and args.giaddr.startswith(("198.18.", "198.19."))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.giaddr, 67))
    sock.settimeout(args.interval)
    want = int(ipaddress.IPv4Address(args.want))
    deadline = time.time() + args.timeout
    sent = answered = 0
    print(json.dumps({"ready": time.time()}), flush=True)
    while time.time() < deadline:
        # One question per interval, answered or not: a steady probe, not a flood.
        next_send = time.time() + args.interval
        xid = int.from_bytes(os.urandom(4), "big")
        mac = b"\x52\x54" + os.urandom(4)
        sock.sendto(discover(xid, mac, args.giaddr, args.circuit.encode(), args.remote_id.encode()), (args.server, 67))
        sent += 1
        try:
            while True:
                data = sock.recv(2048)
                if len(data) >= 240 and struct.unpack("!I", data[4:8])[0] == xid:
                    answered += 1
                    if struct.unpack("!I", data[16:20])[0] == want:
                        print(json.dumps({"seen": time.time(), "sent": sent, "answered": answered}), flush=True)
                        return 0
                    break
        except socket.timeout:
            pass
        time.sleep(max(0.0, next_send - time.time()))
    print(json.dumps({"timeout": True, "sent": sent, "answered": answered}), flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
