"""Overload without collapse: a server that fell behind serves the exchanges it can still
complete, sheds (and counts) the work its clients have given up on, and answers a real
client once the overload is over.

A second relay ("gen", pod p02, 440 ports) gets the server behind on purpose: the test
stops zonebootd (SIGSTOP) while 400 DISCOVERs wait in its socket for longer than a client
waits, then sends REQUESTs for offers made before, and continues it. Nothing here is timed
except the wait that makes the backlog stale.

    [c1] ── [rly: dhcrelay -a, swp1] ── [srv: eth0 198.18.0.10, eth1 198.18.1.10] ── [gen: up0 198.18.1.1, lo 198.18.64.1]
"""
import json

import pytest

from dhcp_lab import DHCPLab, lab_zone
from netlab import ROOT, lab, require_tools, wait_for
from relay_ports import FIRST, GIADDR, PER_SWITCH

REQUESTING, BACKLOG = 40, 400
FLOOD_PORTS = 440


def flood_pod():
    """Pod p02 behind the generator's giaddr: port swp<n> is FIRST + n - 1 (relay_ports)."""
    lines = [f"- name: p02\n  relays: [{GIADDR}]\n  networks:\n    flood: {{ subnet: 198.18.64.0/18, gateway: {GIADDR} }}\n"
             "  switches:\n"]
    for s in range(FLOOD_PORTS // PER_SWITCH):
        lo, hi = s * PER_SWITCH + 1, (s + 1) * PER_SWITCH
        lines.append(f"    - name: tor-{s + 1:03d}\n      ports:\n"
                     f"        - {{ ports: swp{lo}-swp{hi}, rack: {s + 1}, units: 1-{PER_SWITCH}, role: hypervisor, "
                     f"network: flood, address: {FIRST + s * PER_SWITCH} }}\n")
    return "".join(lines)


@pytest.fixture
def overload(tmp_path):
    require_tools("ip", "dhcrelay", "dhclient")
    with lab() as the_lab:
        dhcp = DHCPLab(the_lab, tmp_path, ports=1, zone=lab_zone(pods=flood_pod()))
        gen = the_lab.ns("gen")
        the_lab.link(dhcp.srv, "eth1", gen, "up0")
        the_lab.addr(dhcp.srv, "eth1", "198.18.1.10/24")
        the_lab.addr(gen, "up0", "198.18.1.1/24")
        the_lab.addr(gen, "lo", f"{GIADDR}/32")
        the_lab.route(dhcp.srv, "198.18.64.0/18", "198.18.1.1")
        the_lab.route(gen, "198.18.0.0/24", "198.18.1.10")
        the_lab.wait_up(dhcp.srv, "eth1")
        the_lab.wait_up(gen, "up0")
        yield dhcp, gen


def test_a_server_behind_answers_requests_and_sheds_what_clients_gave_up_on(overload):
    dhcp, gen = overload
    out = dhcp.lab.run(gen, "/usr/bin/python3", ROOT / "tests" / "e2e" / "overload_probe.py", "--server", "198.18.0.10",
                       "--giaddr", GIADDR, "--pid", dhcp.server.pid, "--requesting", REQUESTING, "--backlog", BACKLOG,
                       timeout=60)
    result = json.loads(out.stdout)
    # Every offer made before the backlog is completed after it.
    assert result["offers"] == REQUESTING, result
    assert result["acks"] == REQUESTING, result
    # The backlog is shed, unanswered and counted; nothing else is.
    assert result["late"] == 0, result
    assert result["other"] == 0, result
    wait_for(lambda: dhcp.counter("dropped", "stale") == BACKLOG and dhcp.counter("sent", "ack") == REQUESTING,
             what="the counters to show the shed backlog")
    assert dhcp.counter("dropped", "stale") == BACKLOG
    assert dhcp.counter("sent", "offer") == REQUESTING
    # The drop log names the reason once (later ones are summarised).
    logs = "".join(path.read_text() for path in dhcp.tmp.glob("zonebootd-*.log"))
    assert "reason=stale" in logs
    # Once the overload is over, a real client through a real relay is served as always.
    assert dhcp.dhclient("swp1")["ip"] == "198.18.16.11"
