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
# Each relay sends from its own giaddr (ams1.yaml lists no relay-sources), as a ToR whose
# relay sources from the gateway address does.
sockets = {}
for giaddr in sorted({case["giaddr"] for case in cases}):
    sockets[giaddr] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sockets[giaddr].bind((giaddr, 67))
    sockets[giaddr].settimeout(3)
def ask(case, kind, extra):
    s = sockets[case["giaddr"]]
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


RELAY_PORT = r'''
import socket, sys, json
from scapy.all import BOOTP, DHCP
server = sys.argv[1]
# RFC 8357: a relay listening on a port other than 67 says so with sub-option 19 and
# gets its replies there. RFC 5107: sub-option 11 puts another address in option 54.
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.16.1", 1067))
s.settimeout(3)
agent = bytes([1, 4]) + b"swp7" + bytes([2, 9]) + b"p01-tor-a" + bytes([19, 0]) + bytes([11, 4, 198, 18, 16, 1])
def ask(kind, extra, ciaddr="0.0.0.0"):
    p = BOOTP(op=1, chaddr=bytes.fromhex("525400ee0007"), giaddr="198.18.16.1", ciaddr=ciaddr, xid=77, hops=1) / DHCP(
        options=[("message-type", kind)] + extra + [(82, agent), "end"])
    s.sendto(bytes(p), (server, 67))
    data, source = s.recvfrom(4096)
    reply = BOOTP(data)
    opts = dict(o for o in reply[DHCP].options if isinstance(o, tuple))
    return {"source_port": source[1], "yiaddr": reply.yiaddr, "type": opts.get("message-type"),
            "server_id": opts.get("server_id"), "lease": opts.get("lease_time"),
            "hostname": (opts.get("hostname") or b"").decode(), "agent": opts.get("relay_agent_information", b"").hex()}
offer = ask("discover", [])
ack = ask("request", [("requested_addr", offer["yiaddr"]), ("server_id", offer["server_id"])])
inform = ask("inform", [], ciaddr=ack["yiaddr"])
print(json.dumps({"offer": offer, "ack": ack, "inform": inform, "sent_agent": agent.hex()}))
'''


def test_relay_port_server_id_override_and_inform_on_the_wire(example_zone, tmp_path):
    import json
    the_lab, rly = example_zone
    script = tmp_path / "relay_port.py"
    script.write_text(RELAY_PORT)
    out = the_lab.run(rly, "/usr/bin/python3", script, "198.18.0.10", timeout=60).stdout
    result = json.loads(out.strip().splitlines()[-1])
    offer, ack, inform = result["offer"], result["ack"], result["inform"]
    # Every reply came from port 67 to the relay's port 1067 (the socket received it there).
    assert [r["source_port"] for r in (offer, ack, inform)] == [67, 67, 67]
    assert (offer["type"], offer["yiaddr"], offer["server_id"]) == (2, "198.18.16.17", "198.18.16.1")
    assert (ack["type"], ack["yiaddr"], ack["hostname"]) == (5, "198.18.16.17", "ams1-p01-r01-u07")
    # INFORM: the client has its address; the ACK carries configuration, no address, no lease time.
    assert (inform["type"], inform["yiaddr"], inform["lease"]) == (5, "0.0.0.0", None)
    assert inform["hostname"] == "ams1-p01-r01-u07"
    assert offer["agent"] == ack["agent"] == inform["agent"] == result["sent_agent"]
