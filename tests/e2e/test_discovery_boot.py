"""Discovery delivered (issue 21, item 4): a pod's `discovery.profile` is what an unknown
machine boots. Through `dhcrelay -a`, a client on an undeclared port gets a discovery
address with a name, NTP and the profile's boot file or iPXE script, reads its own
rendered script (and nobody else may), and `zonectl leases` shows the port it asked from.

Everything runs in namespaces this test makes (198.18.0.0/15), removed afterwards.
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

from apply_lab import ZONECTL
from dhcp_lab import DHCPLab, LAB_DISCOVERY, SERVER, lab_zone
from netlab import ZONEBOOTD, lab, require_tools

pytestmark = pytest.mark.skipif(not Path(ZONEBOOTD).exists(), reason="build zonebootd first")

PROFILES = """\
    profiles:
      inventory: { ipxe: templates/inventory.ipxe }
    """
INVENTORY_SCRIPT = "#!ipxe\necho inventory of {{name}} ({{mac}}) at {{address}} via {{gateway}}\nchain {{boot_url}}/files/inventory.ipxe\n"
DISCOVERY = LAB_DISCOVERY.replace(" }", ", profile: inventory, hostname: \"discover-{mac}\" }")
IPXE = ("-x", "0x4d:69505845")  # user class "iPXE"
PXE_BIOS = ("-V", "PXEClient:Arch:00000:UNDI:002001")


def zone_text(discovery=DISCOVERY):
    return lab_zone(discovery=discovery, more=PROFILES)


@pytest.fixture
def dhcp(tmp_path):
    require_tools("ip", "dhcrelay", "busybox")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "inventory.ipxe").write_text(INVENTORY_SCRIPT)
    with lab() as the_lab:
        yield DHCPLab(the_lab, tmp_path, ports=4, zone=zone_text())


def udhcpc(dhcp, port, *extra):
    """busybox udhcpc on a port: everything the answer said (boot_file, siaddr, ntpsrv, ...),
    with the address put on its interface so it can fetch over HTTP."""
    out = dhcp.tmp / f"discovery-{port}.env"
    out.unlink(missing_ok=True)
    script = dhcp.tmp / f"discovery-{port}.sh"
    script.write_text(f"""#!/bin/sh
[ "$1" = bound ] || exit 0
env > {out}
ip addr flush dev "$interface"
ip addr add "$ip/24" dev "$interface"
ip route replace default via "$router"
exit 0
""")
    script.chmod(0o755)
    dhcp.lab.run(dhcp.clients[port], "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "5", "-T", "2", "-s", script,
                 *extra, timeout=30)
    return dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)


def test_an_unknown_machine_boots_the_pods_discovery_profile(dhcp):
    got = udhcpc(dhcp, "swp4", *IPXE)
    address, name = got["ip"], "discover-525400000004"
    assert address.startswith("198.18.16.2"), got
    assert got["hostname"] == name and got["domain"] == "lab.example.net", got
    assert got["ntpsrv"] == "198.18.0.123" and got["dns"].strip() == "198.18.0.53", got
    assert got["lease"] == "600", got  # the discovery lease, not defaults.lease
    script_url = f"http://{SERVER}/hosts/{name}/boot.ipxe"
    assert got["boot_file"] == script_url, got

    # The relay's ports all hold 198.18.16.1/24: a switch knows which port leads to the machine.
    dhcp.lab.run(dhcp.relay, "ip", "route", "add", f"{address}/32", "dev", "swp4")
    script = dhcp.lab.run(dhcp.clients["swp4"], "busybox", "wget", "-q", "-O", "-", script_url).stdout
    assert script == (f"#!ipxe\necho inventory of {name} (52:54:00:00:00:04) at {address} via 198.18.16.1\n"
                      f"chain http://{SERVER}/files/inventory.ipxe\n")
    # Only the machine holding that discovery lease reads it; to anyone else the name does not
    # exist (404, not 403: which unknown machines are booting is nobody else's business).
    refused = dhcp.lab.run(dhcp.relay, "busybox", "wget", "-q", "-O", "-", script_url, check=False)
    assert refused.returncode != 0 and "404 Not Found" in refused.stderr, refused

    # The same machine's PXE ROM: the BIOS loader over TFTP from the boot server, same lease.
    pxe = udhcpc(dhcp, "swp4", *PXE_BIOS)
    assert (pxe["ip"], pxe["boot_file"], pxe["siaddr"], pxe["hostname"]) == (address, "undionly.kpxe", SERVER, name), pxe

    # A declared port is answered as before.
    declared = udhcpc(dhcp, "swp1", *IPXE)
    assert declared["hostname"] == "lab-p01-r01-u01" and declared["ip"] == "198.18.16.11", declared

    # Where the discovery lease was asked from: the relay (giaddr) and its circuit-id.
    def zonectl(*args):
        return dhcp.lab.run(dhcp.srv, ZONECTL, *args, "--server", "127.0.0.1:9067", env=dict(os.environ, NO_COLOR="1")).stdout
    leases = {lease["address"]: lease for lease in json.loads(zonectl("leases", "--json"))}
    assert leases[address]["asked_from"] == {"pod": "p01", "switch": "198.18.16.1", "port": "swp4"}
    assert "location" not in leases[address] and "asked_from" not in leases["198.18.16.11"]
    table = zonectl("leases")
    assert "(discovery: relay 198.18.16.1, circuit swp4)" in table and "p01/tor-a/swp1" in table


def test_a_discovery_profile_that_does_not_exist_is_an_error(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "inventory.ipxe").write_text(INVENTORY_SCRIPT)
    zone = tmp_path / "zone.yaml"
    zone.write_text(zone_text(DISCOVERY.replace("profile: inventory", "profile: inventroy")))
    result = subprocess.run([str(ZONECTL), "validate", str(zone)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result
    assert "error: pods[0].discovery.profile: unknown profile 'inventroy'" in result.stderr
    assert "did you mean 'inventory'" in result.stderr

    zone.write_text(zone_text(DISCOVERY.replace('"discover-{mac}"', '"discover-{pod}"')))
    result = subprocess.run([str(ZONECTL), "validate", str(zone)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "the name has no {mac}" in result.stderr, result
