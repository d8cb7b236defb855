"""Two zonebootd hosts sharing one zone through a 3-member etcd (issue 17, revisions):
an apply on one host is followed by the other within a second and answers its relayed
DHCP; two applies on one base let one through (409 for the other); with etcd stopped
both hosts keep answering declared ports, changes are refused naming the endpoints, and
everything resumes when etcd returns; a rollback on either host is followed by the other.

Everything runs in namespaces this test makes (198.18.0.0/15), removed afterwards; etcd's
members and zonebootd are stopped by PID.
"""
import json
import signal
import threading
import time
from pathlib import Path

import pytest

from dhcp_lab import ZONE
from etcd_lab import ETCD_NET, EtcdCluster, EtcdPairLab, make_etcd_certificates
from netlab import FIRMWARE, ZONEBOOTD, lab, start_zonebootd, wait_for

pytestmark = pytest.mark.skipif(not Path(ZONEBOOTD).exists(), reason="build zonebootd first")

DNS = "dns: [198.18.0.53]"


def with_dns(dns):
    return ZONE.replace(DNS, f"dns: [{dns}]")


@pytest.fixture
def pair(tmp_path):
    with lab() as the_lab:
        yield EtcdPairLab(the_lab, tmp_path)


def follow(pair, name, revision, timeout=30.0):
    """Waits until host `name` runs `revision`. How fast it follows (1 s, p99 over 100 applies) is
    measured by bench/etcd_follow.py under `make bench`, not asserted here: a loaded CI machine
    must not turn a benchmark target into a flaky test."""
    wait_for(lambda: (pair.revision(name) or 0) >= revision, timeout=timeout, interval=0.02,
             what=f"host {name} to run revision {revision}")


def test_an_apply_on_one_host_is_followed_by_the_other_and_answers_its_dora(pair):
    assert pair.revision("A") == 1 and pair.revision("B") == 1
    assert pair.dhclient("swp1")["dns"] == "198.18.0.53"

    # Five applies on A, each followed by B.
    for n in range(1, 6):
        zone = pair.write_zone(with_dns(f"198.18.0.{60 + n}"), f"next-{n}.yaml")
        applied = pair.zonectl("A", "apply", zone, "--yes", "-m", f"dns {n}")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert f"Applied revision {1 + n}" in applied.stdout
        follow(pair, "B", 1 + n)
    assert "followed from the shared store" in pair.log("B")

    # The relay forwards to B only: B's answer carries A's latest change.
    assert pair.dhclient("swp1")["dns"] == "198.18.0.65"

    # A rollback on B is followed by A, and A then answers with the rolled-back zone.
    rolled = pair.zonectl("B", "rollback", "1", "--yes")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    follow(pair, "A", 7)
    pair.relay_to("A")
    assert pair.dhclient("swp2")["dns"] == "198.18.0.53"

    # History is the zone's, from either host.
    history = json.loads(pair.zonectl("A", "history", "--json").stdout)
    assert [row["id"] for row in history] == list(range(7, 0, -1))
    assert [row["origin"] for row in history][:2] == ["rollback", "apply"] and history[-1]["origin"] == "file"
    assert json.loads(pair.zonectl("B", "history", "--json").stdout) == history

    # SIGHUP on B with an edited zone file: the running revision came from a rollback, so the
    # file is not applied over it (the origin rule holds for a revision another host recorded).
    pair.zone.write_text(with_dns("198.18.0.99"))
    pair.hosts["B"].send_signal(signal.SIGHUP)
    wait_for(lambda: "SIGHUP: " in pair.log("B") and "not applied" in pair.log("B"), what="B's SIGHUP refusal")
    time.sleep(0.5)
    assert pair.revision("A") == 7 and pair.revision("B") == 7


def test_of_two_applies_on_one_base_one_wins_and_the_other_gets_409(pair):
    for round_ in range(3):
        base = pair.revision("A")
        wait_for(lambda: pair.revision("B") == base, what="B to run A's revision")
        plans = {}
        for name in ("A", "B"):
            zone = pair.write_zone(with_dns(f"198.18.1.{round_ * 2 + (name == 'B')}"), f"race-{round_}-{name}.yaml")
            plans[name] = pair.tmp / f"race-{round_}-{name}.plan"
            planned = pair.zonectl(name, "plan", zone, "-o", plans[name])
            assert planned.returncode == 2, planned.stdout + planned.stderr
        results = {}

        def apply(name):
            results[name] = pair.zonectl(name, "apply", "--plan", plans[name], "--yes")

        threads = [threading.Thread(target=apply, args=(name,)) for name in ("A", "B")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        codes = sorted(result.returncode for result in results.values())
        assert codes[0] == 0 and codes[1] != 0, {n: r.stdout + r.stderr for n, r in results.items()}
        loser = next(r for r in results.values() if r.returncode != 0)
        assert "changed since this plan was made" in loser.stdout + loser.stderr, loser.stdout + loser.stderr
        wait_for(lambda: pair.revision("A") == pair.revision("B") == base + 1, what="both hosts on the winner")


def test_one_member_stopped_changes_nothing_and_etcd_stopped_both_hosts_answer_and_all_resumes(pair):
    # The first member (each host's first choice) stops: the other two keep a quorum, requests
    # and the watch move to them without a word in the logs.
    pair.etcd.stop(["m1"])
    wait_for(lambda: pair.etcd.healthy(["m2", "m3"]), timeout=30, interval=0.5, what="m2 and m3 to have a leader")
    zone = pair.write_zone(with_dns("198.18.0.69"), "one-down.yaml")
    applied = pair.zonectl("A", "apply", zone, "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    follow(pair, "B", 2)
    assert "etcd lost" not in pair.log("A") + pair.log("B")

    pair.etcd.stop()
    # Declared ports are a function of the running revision: both hosts answer them.
    assert pair.dhclient("swp1")["ip"] == "198.18.16.11"
    assert pair.dhclient("swp1")["dns"] == "198.18.0.69"
    pair.relay_to("A")
    assert pair.dhclient("swp2")["ip"] == "198.18.16.12"

    zone = pair.write_zone(with_dns("198.18.0.70"), "while-down.yaml")
    refused = pair.zonectl("A", "apply", zone, "--yes", timeout=60)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "etcd is unreachable" in said and "http://198.18.41.1:2379" in said and "nothing was recorded" in said, said
    history = pair.zonectl("B", "history")
    assert history.returncode != 0 and "etcd is unreachable" in history.stdout + history.stderr
    assert pair.revision("A") == 2 and pair.revision("B") == 2

    # Each host says once that etcd is lost, however long it stays away.
    wait_for(lambda: "etcd lost" in pair.log("B"), what="B to log the loss")
    time.sleep(3)
    assert pair.log("A").count("etcd lost") == 1 and pair.log("B").count("etcd lost") == 1

    # B restarted while etcd is down starts from the revision it cached, and answers.
    pair.stop_host("B")
    pair.start_host("B")
    assert "starting with revision 2 cached in" in pair.log("B")
    pair.relay_to("B")
    assert pair.dhclient("swp3")["ip"] == "198.18.16.13"

    pair.etcd.start()
    wait_for(lambda: "etcd back" in pair.log("A"), timeout=10, what="A to log etcd's return")
    applied = pair.zonectl("A", "apply", zone, "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    follow(pair, "B", 3)
    assert pair.dhclient("swp1")["dns"] == "198.18.0.70"
    assert pair.log("A").count("etcd back") == 1


def test_a_watch_left_dead_behind_a_partition_is_found_and_the_host_follows_again(pair):
    # The hosts lose their link to etcd, and etcd restarts meanwhile: their watch connections
    # are dead, and no reset ever reaches them. Reading the head beside the watch finds it.
    pair.lab.run(pair.srv, "ip", "link", "set", "et0", "down")
    pair.etcd.stop()
    pair.etcd.start()
    wait_for(lambda: "etcd lost" in pair.log("B"), timeout=30, what="B to notice the partition")
    pair.lab.run(pair.srv, "ip", "link", "set", "et0", "up")
    pair.lab.wait_up(pair.srv, "et0")
    wait_for(lambda: "etcd back" in pair.log("A") and "etcd back" in pair.log("B"), timeout=20,
             what="both hosts to reach etcd again")
    zone = pair.write_zone(with_dns("198.18.0.71"), "after-partition.yaml")
    applied = pair.zonectl("A", "apply", zone, "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    follow(pair, "B", 2)
    assert pair.log("B").count("etcd lost") == 1 and pair.log("B").count("etcd back") == 1


def test_client_tls_to_etcd_with_a_certificate_and_a_private_key(tmp_path):
    with lab() as the_lab:
        srv, etc = the_lab.ns("srv"), the_lab.ns("etc")
        the_lab.link(srv, "et0", etc, "eth0")
        the_lab.addr(srv, "et0", f"{ETCD_NET}254/24")
        the_lab.addr(etc, "eth0", f"{ETCD_NET}1/24")
        the_lab.wait_up(srv, "et0")
        the_lab.wait_up(etc, "eth0")
        certs = make_etcd_certificates(tmp_path / "certs", [f"{ETCD_NET}1"])
        cluster = EtcdCluster(the_lab, tmp_path, etc, members=1, certs=certs)
        cluster.start()
        zone = tmp_path / "zone.yaml"
        zone.write_text(ZONE)
        common = ["--zone", zone, "--state", tmp_path / "state", "--listen", f"{ETCD_NET}254", "--http-port", "0",
                  "--tftp-port", "0", "--admin-port", "0", "--firmware", FIRMWARE, "--etcd", cluster.endpoints,
                  "--etcd-ca-file", certs / "ca.pem"]
        client = ["--etcd-cert-file", certs / "client.pem", "--etcd-key-file", certs / "client.key"]

        # A key others may read is refused before anything connects, naming the file.
        (certs / "client.key").chmod(0o644)
        refused = the_lab.run(srv, ZONEBOOTD, *common, *client, check=False, timeout=60)
        assert refused.returncode == 1 and f"the etcd key file {certs / 'client.key'}" in refused.stdout + refused.stderr
        (certs / "client.key").chmod(0o600)

        # Without a client certificate etcd refuses the handshake: a first start needs etcd.
        alone = the_lab.run(srv, ZONEBOOTD, *common, check=False, timeout=60)
        said = alone.stdout + alone.stderr
        assert alone.returncode == 1 and "etcd is unreachable (https://198.18.41.1:2379)" in said, said

        # With it the zone file is recorded in etcd as revision 1.
        start_zonebootd(the_lab, srv, zone, tmp_path / "state", f"{ETCD_NET}254", tmp_path / "counters.json",
                        *common[6:], *client, log=tmp_path / "zonebootd.log")
        head = cluster.etcdctl("get", "/zoneboot/revision/head", "--print-value-only")
        assert head.returncode == 0 and json.loads(head.stdout)["id"] == 1, head.stdout + head.stderr
