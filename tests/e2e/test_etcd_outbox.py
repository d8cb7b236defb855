"""The hook outbox shared through etcd (issue 17): two zonebootd hosts on a 3-member etcd, a
webhook on lease.acked, and 1,200 relayed DORAs (bench/dhcp_load, Option 82) split between
the hosts, so each host writes events and hands them to etcd. While the hooks run, the host
holding claims is killed with SIGKILL four times and restarted. A webhook receiver in the
test records every POST: each event's effect is observed, counted once by its idempotency
key (a redelivery after a kill carries the same key and the same event), none is lost, and
`zonectl events --server` on either host shows the same shared state.

    [etc: 198.18.41.1-3] ── [srv: A 198.18.0.10, B 198.18.0.11, receiver 198.19.32.10] ── [rly: dhcp_load]

Namespaces, etcd's members, the hosts and the receiver are this test's, stopped by PID.
"""
import json
import signal
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import pytest

from dhcp_lab import lab_zone
from etcd_lab import HOSTS, EtcdPairLab
from netlab import ROOT, ZONEBOOTD, lab, wait_for

sys.path.insert(0, str(ROOT / "bench"))
from lean_clients import compiled  # noqa: E402

pytestmark = pytest.mark.skipif(not Path(ZONEBOOTD).exists(), reason="build zonebootd first")

RECEIVER = "198.19.32.10"
GIADDR = "198.18.16.1"
KILLS = 4

ZONE = lab_zone(
    discovery=None, relay_sources=f"[198.18.0.1, {GIADDR}]", roles="hypervisor: { hooks: [cmdb] }",
    more=f"""\
    hooks:
      cmdb: {{ on: [lease.acked], url: "http://{RECEIVER}:8080/zoneboot", timeout: 5s }}
    """)

# Records each POST's idempotency key and body before answering: a host killed while it waits
# has had its effect, and its redelivery must carry the same key. Slow on purpose (0.2 s), so
# that the kills land while hooks are in flight.
RECEIVER_SCRIPT = textwrap.dedent("""\
    import json, sys, threading, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    out, lock = open(sys.argv[1], "a", buffering=1), threading.Lock()
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                out.write(json.dumps({"key": self.headers["Idempotency-Key"], "body": body}) + "\\n")
            time.sleep(0.2)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
        def log_message(self, *args):
            pass
    ThreadingHTTPServer(("%s", 8080), Handler).serve_forever()
    """ % RECEIVER)


@pytest.fixture
def pair(tmp_path):
    with lab() as the_lab:
        pair = EtcdPairLab(the_lab, tmp_path, zone=ZONE, host_args=(
            "--etcd-lease-ttl", "3", "--hook-concurrency", "4", "--hook-backoff-ms", "500",
            "--max-requests-per-mac", "0", "--max-requests-per-circuit", "0"))
        # dhcp_load is the relay from here on (it binds the giaddr's port 67).
        the_lab.stop(pair.relay_proc)
        pair.relay_proc = None
        the_lab.addr(pair.srv, "lo", f"{RECEIVER}/32")
        yield pair


def posts(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def events(pair, name, *flags):
    out = pair.zonectl(name, "events", "--json", "--limit", "10000", *flags)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


def claimers(pair):
    """The hosts holding outbox claims now, most claims first."""
    ids = {(pair.tmp / f"state-{name}" / "etcd-host-id").read_text().strip(): name for name in HOSTS}
    out = pair.etcd.etcdctl("get", "--prefix", "/zoneboot/outbox/claims/", "--print-value-only")
    held = defaultdict(int)
    for line in out.stdout.split():
        if line in ids:
            held[ids[line]] += 1
    return sorted(held, key=held.get, reverse=True)


def test_each_hook_event_is_delivered_once_by_key_while_claiming_hosts_are_killed(pair):
    received = pair.tmp / "received.jsonl"
    (pair.tmp / "receiver.py").write_text(RECEIVER_SCRIPT)
    pair.lab.spawn(pair.srv, "/usr/bin/python3", pair.tmp / "receiver.py", received, log=pair.tmp / "receiver.log")

    # 600 DORAs to each host, every ACK its port's address: each ACK is a lease.acked event.
    load = compiled("dhcp_load")
    for name in HOSTS:
        out = pair.lab.run(pair.relay, load, HOSTS[name], GIADDR, 200, 3, 3, "swp%d", "-", "198.18.16.11", timeout=60)
        result = json.loads(out.stdout)
        assert result["acks"] == 600 and result["wrong"] == 0, result

    kills = 0
    while kills < KILLS:
        holders = wait_for(lambda: claimers(pair), timeout=60, interval=0.05, what="a host to hold claims")
        victim = holders[0]
        pair.lab.stop(pair.hosts.pop(victim), sig=signal.SIGKILL)
        kills += 1
        time.sleep(1)
        pair.start_host(victim)
        time.sleep(1)

    wait_for(lambda: not events(pair, "A", "--undelivered"), timeout=300, interval=1, what="every event delivered")
    shown_a, shown_b = events(pair, "A"), events(pair, "B")
    # Either host shows the zone's shared outbox.
    assert [(e["id"], e["type"], e["state"]) for e in shown_a] == [(e["id"], e["type"], e["state"]) for e in shown_b]
    acked = {e["id"]: e for e in shown_a if e["type"] == "lease.acked"}
    assert len(acked) >= 1200 and all(e["state"] == "delivered" for e in shown_a)
    # Killed hosts had claims: their events were taken over, tried again under the same id.
    assert any(e["attempts"] > 1 for e in acked.values())

    by_key = defaultdict(list)
    for post in posts(received):
        by_key[post["key"]].append(post["body"])
    # Every event's effect observed, none made up, counted once by key.
    assert set(by_key) == {f"zoneboot-event-{id}" for id in acked}
    redelivered = 0
    for key, bodies in by_key.items():
        first = dict(bodies[0], attempt=0)
        assert all(dict(body, attempt=0) == first for body in bodies), key
        assert len({body["attempt"] for body in bodies}) == len(bodies), key
        redelivered += len(bodies) - 1
    # A redelivery is an event a killed host was posting: at most its hook concurrency per kill.
    assert redelivered <= KILLS * 4
