"""Relayed DHCP with real relays and clients, in namespaces this test makes and removes."""
import pytest

from dhcp_lab import DHCPLab
from netlab import lab, require_tools, wait_for


@pytest.fixture
def dhcp(tmp_path):
    require_tools("ip", "dhcrelay", "dhclient", "busybox", "dhcpcd")
    with lab() as the_lab:
        yield DHCPLab(the_lab, tmp_path, ports=5, untrusted=("swp5",))


def expect_identity(got, ip, name):
    assert got["ip"] == ip, got
    assert got["hostname"] == name, got
    assert got["router"] == "198.18.16.1", got
    assert got["dns"] == "198.18.0.53", got
    assert got["lease"] == "3600", got
    assert got["mask"] == "255.255.255.0", got
    assert got["domain"] == "lab.example.net", got


def test_each_client_gets_exactly_its_ports_identity(dhcp):
    expect_identity(dhcp.dhclient("swp1"), "198.18.16.11", "lab-p01-r01-u01")
    expect_identity(dhcp.udhcpc("swp2"), "198.18.16.12", "lab-p01-r01-u02")
    expect_identity(dhcp.dhcpcd("swp3"), "198.18.16.13", "lab-p01-r01-u03")
    # Each client again on another port: the port decides, not the client.
    expect_identity(dhcp.udhcpc("swp1"), "198.18.16.11", "lab-p01-r01-u01")
    expect_identity(dhcp.dhcpcd("swp2"), "198.18.16.12", "lab-p01-r01-u02")
    expect_identity(dhcp.dhclient("swp3"), "198.18.16.13", "lab-p01-r01-u03")
    # dhcpcd -T stops at the offer; the other four runs complete DORA. Counters are written once a second.
    wait_for(lambda: dhcp.counter("sent", "offer") >= 6 and dhcp.counter("sent", "ack") >= 4, what="the counters")
    assert dhcp.counter("commit_failures") == 0


def test_moving_a_machine_changes_its_identity(dhcp):
    expect_identity(dhcp.udhcpc("swp1"), "198.18.16.11", "lab-p01-r01-u01")
    # The same machine (same MAC) plugged into swp2.
    dhcp.lab.run(dhcp.clients["swp1"], "ip", "link", "set", "eth0", "down")
    dhcp.lab.run(dhcp.clients["swp2"], "ip", "link", "set", "eth0", "address", dhcp.mac(1))
    expect_identity(dhcp.udhcpc("swp2"), "198.18.16.12", "lab-p01-r01-u02")


def test_a_replaced_machine_gets_the_same_identity(dhcp):
    expect_identity(dhcp.dhclient("swp1"), "198.18.16.11", "lab-p01-r01-u01")
    # The old machine is pulled without releasing; a new one (new MAC) goes into swp1.
    dhcp.lab.run(dhcp.clients["swp1"], "ip", "link", "set", "eth0", "address", dhcp.mac(1, generation=9))
    expect_identity(dhcp.udhcpc("swp1"), "198.18.16.11", "lab-p01-r01-u01")
    mac, state, name = dhcp.lease("198.18.16.11")
    assert (mac, state, name) == ("525400090001", "bound", "lab-p01-r01-u01")
    assert "host.replaced" in dhcp.events()


def test_an_unlisted_port_gets_a_discovery_lease(dhcp):
    got = dhcp.udhcpc("swp4")
    assert got["ip"] == "198.18.16.200", got
    assert got["hostname"] is None, got
    assert got["domain"] == "lab.example.net", got
    assert got["lease"] == "600", got
    assert "host.discovered" in dhcp.events()


def test_an_untrusted_relay_gets_nothing(dhcp):
    with pytest.raises(Exception):
        dhcp.udhcpc("swp5", timeout=20)
    assert wait_for(lambda: dhcp.counter("dropped", "untrusted-relay") >= 1, what="the drop to be counted")
    assert dhcp.counter("sent", "offer") == 0


def test_a_restart_loses_no_lease(dhcp):
    expect_identity(dhcp.dhclient("swp1"), "198.18.16.11", "lab-p01-r01-u01")
    got = dhcp.udhcpc("swp4")
    assert got["ip"] == "198.18.16.200"
    dhcp.stop_server()
    dhcp.start_server()
    # The discovery lease survived: the same machine gets the same address back, a new one the next.
    assert dhcp.udhcpc("swp4")["ip"] == "198.18.16.200"
    dhcp.lab.run(dhcp.clients["swp4"], "ip", "link", "set", "eth0", "address", dhcp.mac(4, generation=7))
    assert dhcp.udhcpc("swp4")["ip"] == "198.18.16.201"
    assert dhcp.lease("198.18.16.11")[1] == "bound"


def test_a_released_lease_is_recorded_as_released(dhcp):
    """busybox udhcpc releases on SIGUSR2: a unicast RELEASE from the client's address,
    past the relay. The durable lease is marked released; the server answers nothing."""
    import signal
    proc, events = dhcp.udhcpc_running("swp1")
    try:
        assert events.read_text().split() == ["bound", "198.18.16.11", "lab-p01-r01-u01", "3600"]
        assert dhcp.lease("198.18.16.11")[1] == "bound"
        proc.send_signal(signal.SIGUSR2)
        log = dhcp.tmp / "udhcpc-swp1-running.log"
        wait_for(lambda: "unicasting a release of 198.18.16.11 to 198.18.0.10" in log.read_text(), what="udhcpc to release")
        assert wait_for(lambda: dhcp.lease("198.18.16.11")[1] == "released", what="the RELEASE to be written")
        assert wait_for(lambda: dhcp.counter("silent") == 1, what="the RELEASE to be counted as answered by silence")
    finally:
        dhcp.lab.stop(proc)


def test_a_declined_address_stays_quarantined_across_a_restart(dhcp):
    """udhcpc -a checks the ACKed address with an ARP probe. Another machine already
    holds the first discovery address (the relay answers ARP for it), so udhcpc DECLINEs
    it and starts over: it must get the next address, and the declined one must stay out
    of the pool after a restart, after the other machine is gone."""
    dhcp.lab.addr(dhcp.relay, "lo", "198.18.16.200/32")
    got = dhcp.udhcpc("swp4", timeout=90, extra=("-a",))
    assert got["ip"] == "198.18.16.201"
    assert dhcp.lease("198.18.16.200")[1] == "declined"
    dhcp.lab.run(dhcp.relay, "ip", "addr", "del", "198.18.16.200/32", "dev", "lo")
    dhcp.stop_server()
    dhcp.start_server()
    dhcp.lab.run(dhcp.clients["swp4"], "ip", "link", "set", "eth0", "address", dhcp.mac(4, generation=9))
    assert dhcp.udhcpc("swp4")["ip"] == "198.18.16.202"
    assert dhcp.lease("198.18.16.200")[1] == "declined"


def test_a_renewal_after_a_restart_is_answered_from_the_durable_lease(dhcp):
    """DORA, then zonebootd restarts, then the client renews by unicast from its own
    address, past the relay (no giaddr, no Option 82): the lease on disk places it."""
    import signal
    proc, events = dhcp.udhcpc_running("swp2")
    try:
        assert events.read_text().split() == ["bound", "198.18.16.12", "lab-p01-r01-u02", "3600"]
        dhcp.stop_server()
        dhcp.start_server()
        proc.send_signal(signal.SIGUSR1)  # busybox udhcpc: renew now
        wait_for(lambda: "renew" in events.read_text(), what="the renewal")
        assert events.read_text().splitlines()[-1].split() == ["renew", "198.18.16.12", "lab-p01-r01-u02", "3600"]
        # The restarted server answered the unicast renewal itself, placing it by its lease: the
        # client never had to fall back to broadcasting (which the relay would have carried).
        log = (dhcp.tmp / "udhcpc-swp2-running.log").read_text()
        assert "sending renew to server 198.18.0.10" in log
        assert "broadcasting renew" not in log, log
        wait_for(lambda: dhcp.counter("sent", "ack") >= 1, what="the ACK to be counted")
        assert dhcp.counter("dropped", "unrelayed-not-direct") == 0
    finally:
        dhcp.lab.stop(proc)
