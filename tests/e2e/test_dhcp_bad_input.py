"""Malformed and hostile DHCP traffic, crafted with scapy: every datagram is dropped and
counted by its reason, nothing crashes, and the server keeps answering others.

    [srv: eth0 198.18.0.10] ── [atk: up0 198.18.0.1, lo 198.18.16.1 (a trusted relay's giaddr)]
"""
import struct
import textwrap
import time

import pytest

from dhcp_lab import SERVER, ZONE
from netlab import lab, read_counters, require_tools, server_and_client, start_zonebootd, wait_for

GIADDR = "198.18.16.1"


def discover(mac_last=1, circuit=b"swp1", giaddr=GIADDR, xid=1, op=1, options=None):
    from scapy.all import BOOTP, DHCP
    opts = options if options is not None else [("message-type", "discover"),
                                                 (82, b"\x01" + bytes([len(circuit)]) + circuit), "end"]
    return bytes(BOOTP(op=op, chaddr=bytes.fromhex("52540000aa") + bytes([mac_last]), giaddr=giaddr, xid=xid,
                       hops=1)/DHCP(options=opts))


@pytest.fixture
def attack(tmp_path):
    require_tools("ip")
    import scapy.all  # noqa: F401  (python3-scapy, installed by make deps)
    with lab() as the_lab:
        srv, atk = server_and_client(the_lab)
        the_lab.addr(atk, "lo", f"{GIADDR}/32")
        the_lab.route(srv, "198.18.16.0/22", "198.18.0.1")
        zone = tmp_path / "zone.yaml"
        zone.write_text(ZONE)
        counters = tmp_path / "counters.json"
        server = start_zonebootd(the_lab, srv, zone, tmp_path / "state", SERVER, counters, log=tmp_path / "zonebootd.log")
        yield the_lab, atk, counters, server


def blast(the_lab, atk, tmp_path, datagrams, expect_reply=False):
    """Sends datagrams from the attacker namespace as a relay would (port 67) and reports replies."""
    script = tmp_path / "blast.py"
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"".join(struct.pack("!I", len(d)) + d for d in datagrams))
    script.write_text(textwrap.dedent(f"""
        import socket, struct, sys, time
        data = open({str(payload)!r}, 'rb').read()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('0.0.0.0', 67))
        i = 0
        while i < len(data):
            (n,) = struct.unpack('!I', data[i:i + 4]); i += 4
            s.sendto(data[i:i + n], ({SERVER!r}, 67)); i += n
        s.settimeout({3.0 if expect_reply else 1.5})
        replies = 0
        try:
            while True:
                s.recvfrom(65535); replies += 1
        except socket.timeout:
            pass
        print(replies)
    """))
    result = the_lab.run(atk, "/usr/bin/python3", script, timeout=60)
    return int(result.stdout.strip() or 0)


def test_every_malformed_datagram_is_dropped_and_counted(attack, tmp_path):
    the_lab, atk, counters, server = attack
    valid = discover()
    truncated = valid[:100]
    bad_op = bytes([3]) + valid[1:]
    bad_hlen = valid[:2] + bytes([17]) + valid[3:]
    bad_cookie = valid[:236] + b"\x00\x00\x00\x00" + valid[240:]
    overrun = valid[:240] + bytes([53, 200, 1])
    # Option 52 says "file holds options", and file holds another option 52: a loop.
    loop = bytearray(valid[:240] + bytes([52, 1, 3, 255]))
    loop[108:112] = bytes([52, 1, 3, 255])
    oversized = valid + bytes(5000)
    malformed_82 = discover(options=[("message-type", "discover"), (82, b"\x01\x09swp1"), "end"], mac_last=9)
    untrusted = discover(giaddr="198.18.99.1", mac_last=10)
    unrelayed_82 = discover(giaddr="0.0.0.0", mac_last=11)
    cases = {
        ("malformed", "truncated"): truncated, ("malformed", "bad-op"): bad_op, ("malformed", "bad-hlen"): bad_hlen,
        ("malformed", "bad-cookie"): bad_cookie, ("malformed", "option-overrun"): overrun,
        ("malformed", "overload-loop"): bytes(loop), ("malformed", "oversized"): oversized,
        ("dropped", "malformed-option-82"): malformed_82, ("dropped", "untrusted-relay"): untrusted,
        ("dropped", "unrelayed-option-82"): unrelayed_82,
    }
    copies = 5
    replies = blast(the_lab, atk, tmp_path, [d for d in cases.values() for _ in range(copies)])
    assert replies == 0
    for (kind, reason), _ in cases.items():
        wait_for(lambda: (read_counters(counters) or {}).get(kind, {}).get(reason) == copies,
                 what=f"{copies} x {kind}/{reason}: {read_counters(counters)}")
    assert server.poll() is None, "zonebootd died"
    # The server still answers a good request.
    assert blast(the_lab, atk, tmp_path, [discover(mac_last=2, circuit=b"swp2", xid=77)], expect_reply=True) == 1


def test_repeated_options_are_joined_not_fatal(attack, tmp_path):
    the_lab, atk, counters, server = attack
    # 255 instances of option 60, one byte each: RFC 3396 joins them into one option.
    options = [("message-type", "discover"), (82, b"\x01\x04swp3")] + [(60, b"x")] * 255 + ["end"]
    assert blast(the_lab, atk, tmp_path, [discover(options=options, mac_last=3)], expect_reply=True) == 1
    assert server.poll() is None


def test_floods_from_one_mac_or_one_circuit_are_capped(attack, tmp_path):
    the_lab, atk, counters, server = attack
    flood_mac = [discover(mac_last=4, circuit=b"swp1", xid=i) for i in range(60)]
    flood_circuit = [discover(mac_last=100 + i, circuit=b"swp4", xid=1000 + i) for i in range(80)]
    blast(the_lab, atk, tmp_path, flood_mac + flood_circuit)
    state = wait_for(lambda: (c := read_counters(counters)) and c.get("received", 0) >= 140 and c, what="all received")
    # Sent within one or two seconds: at most two windows' worth of each passes.
    assert state["dropped"].get("rate-limited-mac", 0) >= 60 - 2 * 20
    assert state["dropped"].get("rate-limited-circuit", 0) >= 80 - 2 * 40
    assert server.poll() is None
    time.sleep(1.1)
    assert blast(the_lab, atk, tmp_path, [discover(mac_last=5, circuit=b"swp2", xid=5)], expect_reply=True) == 1
