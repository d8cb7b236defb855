"""A zone whose switches are told apart by Option 82 remote-id (zones/ams1.yaml): the
same port name on two switches gives two identities, chosen by the remote-id the relay
sends. The relay is scapy, owning both trusted giaddrs.

    [srv: eth0 198.18.0.10] ── [rly: up0 198.18.0.1, lo 198.18.16.1 + 198.18.17.1]
"""

import pytest

from netlab import ROOT, lab, require_tools, server_and_client, start_zonebootd

EXCHANGE = r'''
import socket, sys, json
from scapy.all import BOOTP, DHCP
server, cases = sys.argv[1], json.loads(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 67))
s.settimeout(3)
def ask(case, kind, extra):
    agent = bytes([1, len(case["circuit"])]) + case["circuit"].encode() + bytes([2, len(case["remote_id"])]) + case["remote_id"].encode()
    p = BOOTP(op=1, chaddr=bytes.fromhex(case["mac"]), giaddr=case["giaddr"], xid=case["xid"], hops=1) / DHCP(
        options=[("message-type", kind)] + extra + [(82, agent), "end"])
    s.sendto(bytes(p), (server, 67))
    while True:
        data = s.recv(4096)
        reply = BOOTP(data)
        if reply.xid == case["xid"]:
            return reply
results = []
for case in cases:
    offer = ask(case, "discover", [])
    opts = dict(o for o in offer[DHCP].options if isinstance(o, tuple))
    ack = ask(case, "request", [("requested_addr", offer.yiaddr), ("server_id", opts["server_id"])])
    aopts = dict(o for o in ack[DHCP].options if isinstance(o, tuple))
    results.append({"offer": offer.yiaddr, "ack": ack.yiaddr, "type": aopts.get("message-type"),
                    "hostname": (aopts.get("hostname") or b"").decode(), "agent": aopts.get("relay_agent_information", b"").hex()})
print(json.dumps(results))
'''


@pytest.fixture
def example_zone(tmp_path):
    require_tools("ip")
    import scapy.all  # noqa: F401  (python3-scapy, installed by make deps)
    with lab() as the_lab:
        srv, rly = server_and_client(the_lab)
        for giaddr in ("198.18.16.1", "198.18.17.1"):
            the_lab.addr(rly, "lo", f"{giaddr}/32")
        the_lab.route(srv, "198.18.16.0/22", "198.18.0.1")
        start_zonebootd(the_lab, srv, ROOT / "zones" / "ams1.yaml", tmp_path / "state", "198.18.0.10",
                        tmp_path / "counters.json", log=tmp_path / "zonebootd.log")
        yield the_lab, rly


def test_remote_id_chooses_the_switch(example_zone, tmp_path):
    import json
    the_lab, rly = example_zone
    cases = [
        # swp7 of the ToR is a hypervisor; swp7 of the LoM switch is that hypervisor's BMC.
        {"circuit": "swp7", "remote_id": "p01-tor-a", "giaddr": "198.18.16.1", "mac": "525400aa0007", "xid": 7},
        {"circuit": "swp7", "remote_id": "p01-lom-1", "giaddr": "198.18.17.1", "mac": "525400bb0007", "xid": 8},
        # The LoM switch's management port on the ToR: the switch's own identity.
        {"circuit": "swp48", "remote_id": "p01-tor-a", "giaddr": "198.18.16.1", "mac": "525400cc0048", "xid": 9},
        # A remote-id the zone does not know, on a port it does not declare: discovery.
        {"circuit": "swp45", "remote_id": "p01-tor-x", "giaddr": "198.18.16.1", "mac": "525400dd0045", "xid": 10},
    ]
    script = tmp_path / "exchange.py"
    script.write_text(EXCHANGE)
    out = the_lab.run(rly, "/usr/bin/python3", script, "198.18.0.10", json.dumps(cases), timeout=60).stdout
    results = json.loads(out.strip().splitlines()[-1])
    assert [(r["ack"], r["hostname"], r["type"]) for r in results] == [
        ("198.18.16.17", "ams1-p01-r01-u07", 5),
        ("198.18.17.17", "ams1-p01-r01-u07-lom", 5),
        ("198.18.18.12", "ams1-p01-lom-1", 5),
        ("198.18.16.200", "", 5),
    ]
    # Option 82 came back exactly as sent.
    assert results[0]["agent"] == (bytes([1, 4]) + b"swp7" + bytes([2, 9]) + b"p01-tor-a").hex()
