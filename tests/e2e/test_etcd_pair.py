"""A ToR pair on etcd (issue 17, discovery and lease records): `dhcrelay -a` forwards every
switch port to two zonebootd hosts sharing a 3-member etcd.

- Declared ports: dhclient, udhcpc and dhcpcd get their identities through the pair.
- Discovery: simulated clients (tests/e2e/pair_clients.py, a relay forwarding each DISCOVER
  and REQUEST to both hosts) get no address twice while the hosts are SIGKILLed and restarted;
  each host allocates only inside the blocks it claimed in etcd, and withdraws its offer when
  the client selects the other host.
- A host killed: its clients' rebinding REQUESTs are answered by the survivor with the same
  address (the lease records in etcd), and new DORAs by the survivor; every lease shows on
  both hosts (`zonectl leases`).
- A host restarted: it takes back the blocks its killed run held, under its new etcd lease,
  before the old one runs out (nothing stranded until the TTL), and no address is given twice.
- etcd stopped: declared ports still answered by both hosts; discovery dropped (counted,
  logged once) until etcd returns.

Everything in namespaces this test makes (198.18.0.0/15; the simulated clients' pod in
198.19.16.0/20), removed afterwards; processes stopped by PID. No timed assertion.
"""
import base64
import json
import signal
import sys
import time
from pathlib import Path

import pytest

from dhcp_lab import lab_zone
from etcd_lab import HOSTS, EtcdPairLab
from netlab import ZONEBOOTD, lab, read_counters, wait_for

pytestmark = pytest.mark.skipif(not Path(ZONEBOOTD).exists(), reason="build zonebootd first")

GIADDR = "198.19.16.1"
# The simulated clients' pod: its own relay (the generator), a discovery range of 3,835 addresses.
P02 = """\
- name: p02
  relays: [198.19.16.1]
  relay-sources: [198.19.16.1]
  networks:
    wide: { subnet: 198.19.16.0/20, gateway: 198.19.16.1 }
  switches:
    - name: tor-b
      ports:
        - { ports: swp1, rack: 9, units: 1, role: hypervisor, network: wide, address: 198.19.16.11 }
  discovery: { network: wide, range: 198.19.17.0-198.19.31.250, lease: 1h }
"""
CLIENTS = Path(__file__).with_name("pair_clients.py")
# A short etcd lease: a killed host's blocks return within seconds.
TTL = "3"


def pair_lab(the_lab, tmp_path, ttl=TTL):
    pair = EtcdPairLab(the_lab, tmp_path, zone=lab_zone(pods=P02), host_args=("--etcd-lease-ttl", ttl))
    # The generator's namespace: the p02 relay's address, linked to the hosts'.
    pair.gen = the_lab.ns("gen")
    the_lab.link(pair.srv, "gn0", pair.gen, "eth0")
    the_lab.addr(pair.srv, "gn0", "198.19.16.254/24")
    the_lab.addr(pair.gen, "eth0", f"{GIADDR}/24")
    the_lab.wait_up(pair.gen, "eth0")
    the_lab.route(pair.gen, "198.18.0.0/24", "198.19.16.254")
    the_lab.wait_up(pair.srv, "gn0")
    pair.relay_to("A", "B")
    return pair


@pytest.fixture
def pair(tmp_path):
    with lab() as the_lab:
        yield pair_lab(the_lab, tmp_path)


def clients_args(pair, output, *args):
    return [sys.executable, CLIENTS, "--giaddr", GIADDR, "--server", HOSTS["A"], "--server", HOSTS["B"], *args]


def run_clients(pair, name, *args, timeout=300):
    """pair_clients.py in the generator's namespace; its JSON, also kept as <name>.json."""
    result = pair.lab.run(pair.gen, *clients_args(pair, name, *args), timeout=timeout)
    (pair.tmp / f"{name}.json").write_text(result.stdout)
    return json.loads(result.stdout)


def kill(pair, name):
    pair.lab.stop(pair.hosts.pop(name), sig=signal.SIGKILL)


def leases(pair, name):
    """Host `name`'s durable leases (`zonectl leases --json`): address → MAC, bound discovery ones of p02."""
    out = pair.zonectl(name, "leases", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    return {row["address"]: row["mac"] for row in json.loads(out.stdout) if row["pod"] == "p02" and row["state"] == "bound"}


def knows(shown, expected):
    """Every address of `expected` (address → MAC) is shown bound to its MAC."""
    return all(shown.get(address) == mac for address, mac in expected.items())


def assert_unique(acked):
    addresses = list(acked.values())
    duplicates = {a for a in addresses if addresses.count(a) > 1}
    assert not duplicates, f"addresses given twice: {sorted(duplicates)[:10]}"


def etcd_leases(pair):
    out = pair.etcd.etcdctl("lease", "list", "-w", "json", names=["m1"])
    assert out.returncode == 0, out.stderr
    return {lease["id"] for lease in json.loads(out.stdout).get("leases") or []}


def test_declared_ports_get_their_identities_through_the_pair(pair):
    assert pair.dhclient("swp1")["ip"] == "198.18.16.11"
    assert pair.udhcpc("swp2")["ip"] == "198.18.16.12"
    answer = pair.dhcpcd("swp3")
    assert answer["ip"] == "198.18.16.13" and answer["hostname"]
    # One etcd lease per host: its discovery blocks and its outbox claims hang on the same one.
    assert run_clients(pair, "some", "--count", "20")["failed"] == []
    wait_for(lambda: blocks_of(pair, "A") and blocks_of(pair, "B"), timeout=30, what="both hosts to claim blocks")
    assert len(etcd_leases(pair)) == 2, etcd_leases(pair)
    assert {*blocks_of(pair, "A").values(), *blocks_of(pair, "B").values()} == etcd_leases(pair)


def test_discovery_addresses_stay_unique_while_hosts_are_killed_and_restarted(pair):
    count = 2000
    # Paced to last about 20 s: the kills below fall while the clients keep coming.
    proc = pair.lab.spawn(pair.gen, *clients_args(pair, "storm", "--count", str(count), "--rate", "100", "--timeout", "400"),
                          log=pair.tmp / "storm.json")
    # SIGKILL a host, restart it, and again, while the clients keep coming.
    kills = 0
    for victim in ["A", "B", "A", "B"]:
        if proc.poll() is not None:
            break
        time.sleep(2)
        kill(pair, victim)
        kills += 1
        time.sleep(1)
        pair.start_host(victim)
    assert proc.wait(timeout=420) == 0
    result = json.loads((pair.tmp / "storm.json").read_text())
    assert kills >= 2, "the clients finished before two kills: raise the count"
    assert result["failed"] == [] and len(result["acked"]) == count
    assert_unique(result["acked"])
    # Both hosts answered, and every lease shows on both (the records in etcd).
    assert set(result["by"].values()) == set(HOSTS.values())
    expected = {address: mac for mac, address in result["acked"].items()}
    for name in HOSTS:
        wait_for(lambda: knows(leases(pair, name), expected), timeout=30, what=f"host {name} to show every lease")
    # Each client REQUESTed one host's offer through both relays: the other host withdrew its own.
    withdrawn = sum(((read_counters(pair.tmp / f"counters-{name}.json") or {}).get("dropped", {})).get("other-server-selected", 0)
                    for name in HOSTS)
    assert withdrawn > 0


def test_a_killed_hosts_clients_are_renewed_by_the_survivor_with_the_same_address(pair):
    before = run_clients(pair, "first", "--count", "200")
    assert before["failed"] == [] and len(before["acked"]) == 200
    assert_unique(before["acked"])
    on_a = {mac: address for mac, address in before["acked"].items() if before["by"][mac] == HOSTS["A"]}
    assert on_a, "host A answered none of the clients"
    identity = pair.dhclient("swp1")
    assert identity["ip"] == "198.18.16.11"
    # A's leases reached B (its lease records in etcd) before A dies.
    wait_for(lambda: knows(leases(pair, "B"), {address: mac for mac, address in on_a.items()}), timeout=30,
             what="host B to know host A's leases")

    kill(pair, "A")
    # A's clients rebind (ciaddr, no server-id, through both relays): B answers with their address.
    (pair.tmp / "on-a.json").write_text(json.dumps({"acked": on_a}))
    rebound = run_clients(pair, "rebound", "--rebind", pair.tmp / "on-a.json", "--tries", "10")
    assert rebound["failed"] == [] and rebound["naks"] == 0
    assert rebound["acked"] == on_a
    assert set(rebound["by"].values()) == {HOSTS["B"]}
    # New machines are answered by B, never with an address the first ones hold.
    after = run_clients(pair, "after", "--count", "100", "--first", "100000")
    assert after["failed"] == [] and set(after["by"].values()) == {HOSTS["B"]}
    assert_unique({**before["acked"], **after["acked"]})
    # A declared port keeps its identity through the survivor.
    assert pair.dhclient("swp1") == identity


def blocks_of(pair, name):
    """Host `name`'s discovery blocks in p02 as etcd holds them: first address → etcd lease."""
    out = pair.etcd.etcdctl("get", "--prefix", "/zoneboot/discovery/blocks/p02/", "-w", "json", names=["m1"])
    assert out.returncode == 0, out.stderr
    return {base64.b64decode(kv["key"]).decode().rsplit("/", 1)[1]: kv["lease"]
            for kv in json.loads(out.stdout).get("kvs", []) if base64.b64decode(kv["value"]).decode() == HOSTS[name]}


def lease_alive(pair, lease):
    out = pair.etcd.etcdctl("lease", "timetolive", format(lease, "x"), "-w", "json", names=["m1"])
    return out.returncode == 0 and json.loads(out.stdout).get("ttl", -1) > 0


def test_a_restarted_host_takes_back_its_blocks_before_its_old_lease_runs_out(tmp_path):
    # A long etcd lease: the old one is still running when the host is back.
    with lab() as the_lab:
        pair = pair_lab(the_lab, tmp_path, ttl="60")
        before = run_clients(pair, "before", "--count", "100")
        assert before["failed"] == []
        on_a = {mac: address for mac, address in before["acked"].items() if before["by"][mac] == HOSTS["A"]}
        held = blocks_of(pair, "A")
        assert on_a and held and len(set(held.values())) == 1, held
        old = next(iter(held.values()))

        kill(pair, "A")
        pair.start_host("A")
        wait_for(lambda: "took back" in pair.log("A"), timeout=60, what="host A to take back its blocks")
        retaken = blocks_of(pair, "A")
        # Every block it held is its own again, under its new etcd lease, while the old one still runs.
        assert set(held) <= set(retaken), (held, retaken)
        assert old not in retaken.values() and len(set(retaken.values())) == 1
        assert lease_alive(pair, old)
        # Its clients rebind through both relays: both hosts answer them with their own address.
        (pair.tmp / "on-a.json").write_text(json.dumps({"acked": on_a}))
        rebound = run_clients(pair, "rebound", "--rebind", pair.tmp / "on-a.json", "--tries", "10")
        assert rebound["failed"] == [] and rebound["naks"] == 0 and rebound["acked"] == on_a
        # New machines: no address given twice, A's taken-back blocks included.
        after = run_clients(pair, "after", "--count", "200", "--first", "100000")
        assert after["failed"] == []
        assert HOSTS["A"] in after["by"].values()
        assert_unique({**before["acked"], **after["acked"]})


def test_with_etcd_stopped_declared_ports_are_answered_and_discovery_waits_for_etcd(pair):
    first = run_clients(pair, "first", "--count", "20")
    assert first["failed"] == []
    pair.etcd.stop()
    for name in HOSTS:
        wait_for(lambda: "discovery stopped: etcd is out of reach" in pair.log(name), timeout=30,
                 what=f"host {name} to see etcd gone")
    # Declared ports: answered by each host alone.
    for name in HOSTS:
        pair.relay_to(name)
        assert pair.dhclient("swp1")["ip"] == "198.18.16.11"
    pair.relay_to("A", "B")
    # Discovery: no answer, each drop counted.
    waiting = run_clients(pair, "waiting", "--count", "5", "--first", "200000", "--tries", "3")
    assert len(waiting["failed"]) == 5 and waiting["acked"] == {}
    for name in HOSTS:
        dropped = (read_counters(pair.tmp / f"counters-{name}.json") or {}).get("dropped", {})
        assert dropped.get("discovery-store-unreachable", 0) > 0, dropped
    # etcd returns: discovery is answered again, with no address given twice.
    pair.etcd.start()
    for name in HOSTS:
        wait_for(lambda: "discovery resumed: etcd answers again" in pair.log(name), timeout=60,
                 what=f"host {name} to see etcd back")
    again = run_clients(pair, "again", "--count", "20", "--first", "300000")
    assert again["failed"] == []
    assert_unique({**first["acked"], **again["acked"]})
