"""Direct mode: zonebootd on the switch itself, ports bridged as on a Linux ToR.

    [sw: br0 198.18.16.1/24 ── swp1..swp4 (bridge ports), zonebootd --direct p01/tor-a]
           │ swpN
    [cN: eth0]

The IP stack sees only br0; zonebootd reads each port's frames with a packet socket, so
the port is the location, and answers through that port to the client's MAC.
"""
import pytest

from dhcp_lab import DHCPLab, ZONE
from netlab import lab, require_tools, start_zonebootd


class DirectLab(DHCPLab):
    def __init__(self, the_lab, tmp, ports=4):  # the topology differs; the files and clients are the same
        self.use_files(the_lab, tmp, ZONE)
        self.srv = the_lab.ns("sw")
        the_lab.run(self.srv, "ip", "link", "add", "br0", "type", "bridge")
        the_lab.run(self.srv, "ip", "link", "set", "br0", "up")
        the_lab.addr(self.srv, "br0", "198.18.16.1/24")
        self.clients = {}
        self.ports = [f"swp{n}" for n in range(1, ports + 1)]
        for n, port in enumerate(self.ports, start=1):
            client = the_lab.ns(f"c{n}")
            the_lab.link(self.srv, port, client, "eth0")
            the_lab.run(self.srv, "ip", "link", "set", port, "master", "br0")
            the_lab.run(client, "ip", "link", "set", "eth0", "address", self.mac(n))
            self.clients[port] = client
        for port in self.ports:
            the_lab.wait_up(self.srv, port)
        self.start_server()

    def start_server(self):
        self.server = start_zonebootd(self.lab, self.srv, self.zone, self.state, "127.0.0.1", self.counters,
                                      "--direct", "p01/tor-a", "--interfaces", "swp1-swp4", "--server-id", "198.18.16.1",
                                      "--log-level", "debug", log=self.tmp / "zonebootd.log")


@pytest.fixture
def switch(tmp_path):
    require_tools("ip", "dhclient", "busybox", "dhcpcd")
    with lab() as the_lab:
        yield DirectLab(the_lab, tmp_path)


def test_each_bridge_port_is_its_own_location(switch):
    from test_dhcp_relayed import expect_identity
    expect_identity(switch.dhclient("swp1"), "198.18.16.11", "lab-p01-r01-u01")
    expect_identity(switch.udhcpc("swp2"), "198.18.16.12", "lab-p01-r01-u02")
    expect_identity(switch.dhcpcd("swp3"), "198.18.16.13", "lab-p01-r01-u03")
    got = switch.udhcpc("swp4")
    assert (got["ip"], got["hostname"]) == ("198.18.16.200", None), got
    # The same machine moved from swp1 to swp2 takes swp2's identity.
    switch.lab.run(switch.clients["swp1"], "ip", "link", "set", "eth0", "down")
    switch.lab.run(switch.clients["swp2"], "ip", "link", "set", "eth0", "address", switch.mac(1))
    expect_identity(switch.udhcpc("swp2"), "198.18.16.12", "lab-p01-r01-u02")
    assert switch.counter("send_failures") == 0
