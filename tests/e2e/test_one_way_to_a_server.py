"""One way to reach a running server (issue 21, item 5): `zonectl events`, `bmcs` and
`render` through the admin API with --server or $ZONEBOOT_SERVER, the write scope for
retrying a dead letter and forgetting a BMC's pin, and `history`'s ORIGIN column.

The server listens on 127.0.0.1 with high ports and receives no DHCP; the dead letter and
the BMC are written into its database while it is stopped, as the hook runner would.
"""
import ipaddress
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from apply_lab import LocalServer, ZONECTL, example_zone, move_one_host, write_tokens
from netlab import ZONEBOOTD, wait_for

pytestmark = pytest.mark.skipif(not Path(ZONEBOOTD).exists(), reason="build zonebootd first")


@pytest.fixture
def server(tmp_path):
    """A server whose outbox holds one dead letter and one delivered event, with one BMC registered."""
    tokens_file, _ = write_tokens(tmp_path)
    srv = LocalServer(tmp_path, example_zone(tmp_path, 1, 1, 4), tokens_file)
    srv.stop()
    now = int(time.time())
    db = sqlite3.connect(srv.state / "zoneboot.sqlite")
    with db:
        db.execute("INSERT INTO bmc (name, address, mac, hostname, manufacturer, model, serial, bios_version, "
                   "bmc_firmware, registered_at, certificate_sha256) VALUES ('ex-p01-r01-u01-lom', ?, "
                   "'02:aa:bb:cc:dd:02', NULL, 'HPE', 'ProLiant DL360 Gen10', 'CZ1234', 'U32', '2.44', ?, 'ab12')",
                   (int(ipaddress.IPv4Address("198.18.17.11")), now))
        srv.dead = db.execute("INSERT INTO event (type, at, body, attempts, dead_at, last_error) "
                              "VALUES ('lease.acked', ?, '{}', 3, ?, 'hook inventory: HTTP 500')", (now, now)).lastrowid
    db.close()
    srv.start()
    yield srv
    srv.stop()


def zonectl(srv, *args, token="ops", check=None, server=True, cwd=None):
    """zonectl with ZONEBOOT_SERVER set (or not), run from a folder without any state."""
    env = dict(os.environ, NO_COLOR="1")
    env.pop("ZONEBOOT_STATE", None)
    if server:
        env["ZONEBOOT_SERVER"] = srv.url.removeprefix("http://")  # host:port, as operators write it
    if token:
        env["ZONEBOOT_TOKEN_FILE"] = str(srv.tmp / f"token-{token}")
    result = subprocess.run([str(ZONECTL), *map(str, args)], capture_output=True, text=True, env=env, timeout=120,
                            cwd=cwd or srv.tmp)
    if check is not None:
        assert result.returncode == check, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def test_events_are_listed_and_retried_through_the_server(server):
    listed = zonectl(server, "events", "--dead", check=0).stdout
    assert listed.splitlines()[0].split()[:3] == ["ID", "TYPE", "AT"]
    assert [line.split()[:2] for line in listed.splitlines()[1:]] == [[str(server.dead), "lease.acked"]]
    assert "hook inventory: HTTP 500" in listed
    assert "/var/lib/zoneboot" not in listed
    dead = json.loads(zonectl(server, "events", "--dead", "--json", check=0).stdout)
    assert [(e["id"], e["state"], e["attempts"]) for e in dead] == [(server.dead, "dead", 3)]

    # Listing is a read; a retry is a write: a read token is refused.
    refused = zonectl(server, "events", "retry", server.dead, token="audit", check=1)
    assert "HTTP 403" in refused.stderr
    assert zonectl(server, "events", "retry", server.dead, token=None, check=1).stderr.strip().endswith(
        "pass --token-file or set ZONEBOOT_TOKEN_FILE")
    assert "is due again" in zonectl(server, "events", "retry", server.dead, check=0).stdout
    # (The hook runner takes it at once, and finds it dead again: its body is no event.)
    missing = zonectl(server, "events", "retry", 99999, check=1)
    assert "event 99999 is not a dead letter" in missing.stderr and "HTTP 404" in missing.stderr
    assert zonectl(server, "events", "--undelivered", "--limit", "0", check=0).stdout.strip() == \
        f"No undelivered events in {server.url}."

    # The API itself: a read token for the list, a known filter.
    assert server.api("GET", "/v1/events", token=None)[0] == 401
    status, answer = server.api("GET", "/v1/events?filter=bogus")
    assert status == 400 and "not one of all, undelivered, dead" in answer["error"]


def test_bmcs_are_listed_and_forgotten_through_the_server(server):
    table = zonectl(server, "bmcs", check=0).stdout
    assert "ex-p01-r01-u01-lom" in table and "ProLiant DL360 Gen10" in table and "ab12" in table
    bmcs = json.loads(zonectl(server, "bmcs", "--json", token="audit", check=0).stdout)
    assert [(b["name"], b["certificate_sha256"]) for b in bmcs] == [("ex-p01-r01-u01-lom", "ab12")]

    assert "HTTP 403" in zonectl(server, "bmcs", "forget", "ex-p01-r01-u01-lom", token="audit", check=1).stderr
    assert "certificate pin dropped" in zonectl(server, "bmcs", "forget", "ex-p01-r01-u01-lom", check=0).stdout
    assert json.loads(zonectl(server, "bmcs", "--json", check=0).stdout)[0].get("certificate_sha256") is None
    missing = zonectl(server, "bmcs", "forget", "no-such-bmc", check=1)
    assert 'no BMC named "no-such-bmc" is registered' in missing.stderr


def test_without_a_server_or_a_state_directory_reads_fail_and_create_nothing(server, tmp_path):
    nowhere = tmp_path / "no-such-state"
    for command in (("events",), ("bmcs",), ("history",)):
        failed = zonectl(server, *command, "--state", nowhere, check=1)
        assert f"there is no state directory {nowhere}" in failed.stderr, command
        assert not nowhere.exists(), command
    # An explicit --state beats $ZONEBOOT_SERVER; --server beats both.
    local = zonectl(server, "history", "--state", server.state, check=0).stdout
    assert "No revisions" not in local and "zonebootd" in local
    via = json.loads(zonectl(server, "events", "--state", nowhere, "--server", server.url, "--json", check=0).stdout)
    assert server.dead in [e["id"] for e in via]


def test_render_asks_the_running_revision_and_history_says_where_each_came_from(server):
    host = next(h for h in server.api("GET", "/v1/hosts")[1] if h["name"] == "ex-p01-r01-u03")
    pod, switch, port = host["location"].split("/")
    rendered = json.loads(zonectl(server, "render", "--switch", switch, "--port", port, "--json", token="audit",
                                  check=0).stdout)
    assert rendered["identity"]["name"] == "ex-p01-r01-u03" and rendered["identity"]["address"] == host["address"]

    # Move that host through the API: render without a zone file follows the running revision.
    text, old, moved = move_one_host(server.zone.read_text(), unit=3)
    assert old == host["address"]
    changed = server.zone.parent / "moved.yaml"
    changed.write_text(text)
    zonectl(server, "apply", changed, "--yes", "-m", "move u03", check=0)
    after = json.loads(zonectl(server, "render", "--switch", switch, "--port", port, "--json", check=0).stdout)
    assert after["identity"]["address"] == moved
    assert f"{switch}/{port}" in zonectl(server, "render", "--name", "ex-p01-r01-u03", check=0).stdout

    # Neither a zone file nor a server: a usage error naming both ways.
    usage = zonectl(server, "render", "--name", "ex-p01-r01-u03", server=False, check=64)
    assert "name a zone file, or a running zonebootd with --server URL" in usage.stderr

    history = zonectl(server, "history", check=0).stdout.splitlines()
    assert history[0].split()[:5] == ["REV", "APPLIED", "(UTC)", "BY", "ORIGIN"]
    assert [line.split()[3] for line in history[1:]] == ["apply", "file"]
    assert [h["origin"] for h in json.loads(zonectl(server, "history", "--json", check=0).stdout)] == ["apply", "file"]


def test_status_shows_the_server_at_a_glance(server):
    """`zonectl status` (issue 18): the revision and uptime, every listener, what DHCP did with
    what it got, the hook backlog with its dead letter, and the last problem logged."""
    # Two datagrams no client would send: bytes that are no DHCP message, and a relayed
    # DISCOVER from a relay address that no pod lists (both counted drops, not answers).
    discover = bytearray(300)
    discover[0:4] = b"\x01\x01\x06\x01"
    discover[24:28] = bytes([198, 18, 99, 1])  # giaddr: no pod's relay
    discover[236:240] = b"\x63\x82\x53\x63"
    discover[240:] = b"\x35\x01\x01\xff" + bytes(len(discover) - 244)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"not a DHCP message", ("127.0.0.1", server.dhcp_port))
        s.sendto(bytes(discover), ("127.0.0.1", server.dhcp_port))
    wait_for(lambda: json.loads(zonectl(server, "status", "--json", check=0).stdout)["dhcp"]["received"] == 2,
             what="both datagrams counted")
    # A broken zone file and a SIGHUP: rejected, logged as an error, the revision kept.
    server.zone.write_text(server.zone.read_text() + "\n  - not: [valid\n")
    os.kill(server.proc.pid, signal.SIGHUP)
    wait_for(lambda: "rejected" in server.log.read_text(), what="the SIGHUP to be rejected")

    status = json.loads(zonectl(server, "status", "--json", check=0).stdout)
    assert status["running"]["revision"]["id"] == 1 and status["uptime_seconds"] >= 0
    assert {listener["kind"] for listener in status["listeners"]} == {"dhcp", "admin"}
    assert status["dhcp"]["received"] == 2 and status["dhcp"]["answered"] == 0 and status["dhcp"]["dropped"] == 2
    assert len(status["dhcp"]["dropped_by_reason"]) == 2, status["dhcp"]
    assert status["hooks"]["dead_letters"] == 1
    problem = status["recent_problems"][0]
    assert problem["level"] == "error" and "SIGHUP" in problem["line"] and "rejected" in problem["line"]

    text = zonectl(server, "status", check=0).stdout
    assert "Running revision 1 (" in text
    assert f"dhcp 127.0.0.1:{server.dhcp_port}" in text and f"admin 127.0.0.1:{server.admin_port}" in text
    assert "DHCP: 2 received, 0 answered, 2 dropped (" in text
    assert "1 dead letters (zonectl events --dead)" in text
    assert "Recent problems, newest first:" in text and "SIGHUP" in text
    # A read like every other: without a token, 401 where the server has a token file.
    refused = zonectl(server, "status", token=None)
    assert refused.returncode == 1 and "401" in refused.stderr + refused.stdout
