"""The admin API under hostile and huge plans (issue 16 item 3): each is refused with its
reason, `/v1/revision` answers throughout, one zone loads at a time (a second plan gets
429 with Retry-After, not a place in a queue), and SIGTERM stops zonebootd while a plan
loads.

Latencies are printed, not asserted (performance is measured in bench/admin_load.py): what
is asserted is that every poll answered. Servers run on 127.0.0.1 with high ports and get
no DHCP; the zones are only planned.
"""
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from admin_load_lab import RevisionPoller, alias_bomb_key, huge_but_valid, past_the_identity_budget, post_plan
from apply_lab import LocalServer, example_zone
from netlab import ZONEBOOTD, wait_for

pytestmark = pytest.mark.skipif(not Path(ZONEBOOTD).exists(), reason="build zonebootd first")


@pytest.fixture
def make_server(tmp_path):
    servers = []

    def make(*extra):
        srv = LocalServer(tmp_path, example_zone(tmp_path, 1, 2, 10), extra=extra)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


def plan_in_background(srv, name, text):
    """Posts the plan from a thread; the answer lands in the returned dict under 'answer'."""
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("answer", post_plan(srv.admin_port, name, text)))
    thread.start()
    return thread, result


def plan_running_zone(srv):
    """The zone the server runs, with its templates, planned again: no changes."""
    files = {rel: (srv.zone.parent / rel).read_text() for rel in ("templates/centos7.ipxe", "templates/centos7-ks.cfg")}
    return post_plan(srv.admin_port, str(srv.zone), srv.zone.read_text(), files=files)


def test_hostile_plans_are_refused_while_the_revision_keeps_answering(make_server):
    """The alias-bomb key, 1,000,001+ identities and a huge valid zone (126,976 hosts, past a
    1 s load budget): each refused with its reason while /v1/revision is polled."""
    srv = make_server("--zone-load-timeout", "1")
    cases = [
        ("bomb.yaml", alias_bomb_key(), "an alias used as a key"),
        ("budget.yaml", past_the_identity_budget(), "take the zone past 1000000 identities"),
        ("huge.yaml", huge_but_valid(), "the zone took longer than 1 s to load"),
    ]
    for name, text, reason in cases:
        with RevisionPoller(srv.admin_port) as poller:
            status, answer, took, _ = post_plan(srv.admin_port, name, text)
            time.sleep(0.05)  # a poll after the answer too
        print(f"{name}: {status} after {took * 1000:.0f} ms; /v1/revision meanwhile: {poller.summary()}")
        assert status == 422, answer
        [diagnostic] = answer["diagnostics"]
        assert reason in diagnostic["message"], diagnostic
        assert poller.latencies and not poller.errors, poller.errors
    assert srv.revision()["id"] == 1
    assert "the zone took longer than 1 s to load" in answer["rendered"]


def test_one_zone_loads_at_a_time_a_second_plan_gets_429(make_server):
    srv = make_server("--zone-load-timeout", "3")
    thread, first = plan_in_background(srv, "huge.yaml", huge_but_valid())
    # The huge zone takes seconds to load before its budget ends it: a plan meanwhile is refused, not queued.
    wait_for(lambda: srv.api("GET", "/v1/revision")[0] == 200 and thread.is_alive(), timeout=5, what="the huge plan")
    time.sleep(0.3)
    status, answer, took, headers = plan_running_zone(srv)
    assert status == 429, answer
    assert headers.get("Retry-After") == "1"
    assert "another zone is being loaded" in answer["error"]
    thread.join(60)
    status, answer, took, _ = first["answer"]
    assert status == 422 and "took longer than 3 s" in answer["diagnostics"][0]["message"]
    print(f"the huge plan was refused after {took:.2f} s")
    # Once its work has ended (it may run on past the answer, in a step the budget cannot
    # look inside, holding its slot), plans are answered again.
    wait_for(lambda: plan_running_zone(srv)[0] != 429, timeout=120, interval=0.5, what="the slot")
    status, answer, _, _ = plan_running_zone(srv)
    assert status == 200 and answer["plan"]["summary"] == {"add": 0, "change": 0, "remove": 0}


def test_sigterm_during_a_long_plan_stops_zonebootd(make_server):
    """Without a load budget the huge plan would run for tens of seconds; SIGTERM cancels it
    and the server stops (before: only SIGKILL did)."""
    srv = make_server("--zone-load-timeout", "0")
    thread, result = plan_in_background(srv, "huge.yaml", huge_but_valid())
    time.sleep(1.0)
    assert thread.is_alive(), result
    signalled = time.monotonic()
    os.killpg(srv.proc.pid, signal.SIGTERM)
    assert srv.proc.wait(timeout=20) == 0
    print(f"stopped {time.monotonic() - signalled:.2f} s after SIGTERM")
    thread.join(20)
    status, answer, _, _ = result["answer"]
    assert status == 503 and answer["error"] == "the server is stopping"
    assert "stopping" in srv.log.read_text()
