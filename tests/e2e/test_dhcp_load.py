"""The benchmark's load generator (bench/dhcp_load.c) against the real server: the
relay_ports zone with 200 ports (five ToRs of 40), each machine asking through its own
circuit-id, several DORAs each. Every ACK must carry its port's address and the Option
82 that was sent, so the generator's counts are proof of identity under load. The same
run told the wrong first address must count every ACK as wrong: the checks the
benchmark relies on can fail.

    [srv: eth0 198.18.0.10, zonebootd] ── [rly: up0 198.18.0.1, lo 198.18.64.1, dhcp_load]
"""
import json
import sys

import pytest

from netlab import ROOT, lab, require_tools, server_and_client, start_zonebootd
from relay_ports import FIRST, GIADDR, SERVER, relay_ports_zone

sys.path.insert(0, str(ROOT / "bench"))
from lean_clients import compiled  # noqa: E402

PORTS = 200


@pytest.fixture
def storm_lab(tmp_path):
    require_tools("ip")
    with lab() as the_lab:
        srv, rly = server_and_client(the_lab, SERVER, "198.18.0.1")
        the_lab.addr(rly, "lo", f"{GIADDR}/32")
        the_lab.route(srv, "198.18.64.0/18", "198.18.0.1")
        zone = tmp_path / "load.yaml"
        zone.write_text(relay_ports_zone(PORTS))
        start_zonebootd(the_lab, srv, zone, tmp_path / "state", SERVER, tmp_path / "counters.json",
                        log=tmp_path / "zonebootd.log")
        yield the_lab, rly


def dhcp_load(the_lab, rly, first, rate=400, seconds=2):
    out = the_lab.run(rly, compiled("dhcp_load"), SERVER, GIADDR, rate, seconds, PORTS, "swp%d", "-", first,
                      timeout=60)
    return json.loads(out.stdout)


def test_every_port_gets_its_own_address_under_load(storm_lab):
    the_lab, rly = storm_lab
    result = dhcp_load(the_lab, rly, FIRST)
    # 800 DORAs: each of the 200 ports four times, every ACK its own port's address.
    assert result["discovers"] == 800
    assert (result["acks"], result["wrong"], result["naks"], result["drops"], result["unknown"]) == (800, 0, 0, 0, 0)

    told_wrong = dhcp_load(the_lab, rly, FIRST + 1, rate=200, seconds=1)
    assert told_wrong["discovers"] == 200
    assert (told_wrong["acks"], told_wrong["wrong"]) == (0, 200)
