"""What zonebootd says in its log, with real clients through a real relay, in namespaces this test makes.

    [srv: eth0 198.18.0.10] ── [relay: dhcrelay -a, swp1..] ── [cN: dhclient]

One info line per lease granted (message first, then keys), drops logged at a bounded rate
while every one is counted, hook runs, a "ready" line naming every listener and a "stopped"
line with the signal; `--log-format json` writes one JSON object per line.
"""
import json
import re
import signal
import time

import pytest

from dhcp_lab import SERVER, DHCPLab, lab_zone
from netlab import lab, require_tools, server_and_client, start_zonebootd, wait_for
from test_dhcp_bad_input import blast, discover
from test_hooks import write_hooks

MAC1 = "52:54:00:00:00:01"


def server_log(tmp):
    """The text of the lab's one zonebootd log."""
    (path,) = tmp.glob("zonebootd-*.log")
    return path.read_text()


def lines_with(text, message):
    """Text lines whose message (after `<time> <level> <component>: `) starts with `message`."""
    return [line for line in text.splitlines() if re.match(rf"\S+ \w+ [\w.-]+: {re.escape(message)}( |$)", line)]


def keys(line):
    """The key=value pairs of a text line (values as written, quotes removed)."""
    return {k: v.strip('"') for k, v in re.findall(r' ([\w.-]+)=("(?:[^"\\]|\\.)*"|\S+)', line)}


@pytest.fixture
def relay_lab(tmp_path):
    require_tools("dhcrelay", "dhclient")
    with lab() as the_lab:
        yield the_lab


def test_a_relayed_dora_logs_one_lease_granted_line_and_the_server_says_ready_and_stopped(relay_lab, tmp_path):
    dhcp = DHCPLab(relay_lab, tmp_path, ports=1)
    got = dhcp.dhclient("swp1")
    assert got["ip"] == "198.18.16.11"
    wait_for(lambda: lines_with(server_log(tmp_path), "lease granted"), what="the lease granted line")
    dhcp.stop_server(signal.SIGTERM)
    text = server_log(tmp_path)

    (granted,) = lines_with(text, "lease granted")
    assert " info dhcp: lease granted host=" in granted
    said = keys(granted)
    assert said["host"] == "lab-p01-r01-u01"
    assert said["location"] == "p01/tor-a/swp1" and said["rack"] == "1" and said["unit"] == "1"
    assert said["relay"] == "198.18.16.1" and said["circuit"] == "swp1"
    assert said["mac"] == MAC1 and said["address"] == "198.18.16.11"
    assert said["revision"] == "1" and said["lease"] == "3600s" and "kind" in said
    assert "discovery" not in said

    # --log-level debug (the lab's): each message in and out, with its type and xid.
    received = [keys(line) for line in lines_with(text, "received")]
    sent = [keys(line) for line in lines_with(text, "sent")]
    assert {r["type"] for r in received} >= {"discover", "request"} and all(r["xid"].startswith("0x") for r in received)
    assert {s["type"] for s in sent} >= {"offer", "ack"}
    acked = [s for s in sent if s["type"] == "ack"]
    assert acked and acked[0]["address"] == "198.18.16.11" and acked[0]["to"] == "198.18.16.1:67"

    (ready,) = lines_with(text, "ready")
    ready = keys(ready)
    assert ready["revision"] == "1" and ready["dhcp"] == f"{SERVER}:67"
    assert ready["http"] == f"{SERVER}:80" and ready["tftp"] == f"{SERVER}:69" and ready["admin"].startswith("127.0.0.1:")
    # Ready comes once everything listens: after every "listening on" line.
    assert text.index(" ready ") > max(text.index(line) for line in text.splitlines() if " listening on " in line)
    (stopped,) = lines_with(text, "stopped")
    assert keys(stopped)["reason"] == "SIGTERM"
    assert text.rstrip().splitlines()[-1] == stopped


def test_a_discovery_lease_is_marked_a_renewal_and_a_release_logged_as_such(relay_lab, tmp_path):
    dhcp = DHCPLab(relay_lab, tmp_path, ports=4)
    # swp4 is declared nowhere: its machine gets a discovery lease.
    got = dhcp.udhcpc("swp4")
    assert got["ip"] == "198.18.16.200"
    wait_for(lambda: lines_with(server_log(tmp_path), "lease granted"), what="the lease granted line")
    (granted,) = lines_with(server_log(tmp_path), "lease granted")
    said = keys(granted)
    assert said["discovery"] == "true" and said["address"] == "198.18.16.200" and said["circuit"] == "swp4"
    assert said["mac"] == "52:54:00:00:00:04" and said["lease"] == "600s" and "host" not in said

    # busybox udhcpc renews on SIGUSR1 and releases on SIGUSR2 (unicast, past the relay).
    proc, events = dhcp.udhcpc_running("swp1")
    try:
        wait_for(lambda: len(lines_with(server_log(tmp_path), "lease granted")) == 2, what="swp1's lease line")
        proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: lines_with(server_log(tmp_path), "lease renewed"), what="the renewal line")
        proc.send_signal(signal.SIGUSR2)
        wait_for(lambda: lines_with(server_log(tmp_path), "lease released"), what="the release line")
    finally:
        dhcp.lab.stop(proc)
    text = server_log(tmp_path)
    assert len(lines_with(text, "lease granted")) == 2
    # The relay namespace also forwards the client's unicast renewal: the server may see (and
    # ACK) it twice, once relayed; each ACK is a line.
    renewed = lines_with(text, "lease renewed")
    (released,) = lines_with(text, "lease released")
    for line in renewed + [released]:
        said = keys(line)
        assert (said["host"], said["address"], said["mac"]) == ("lab-p01-r01-u01", "198.18.16.11", MAC1)
    assert "lease" not in keys(released)


def test_a_flood_of_malformed_datagrams_is_counted_whole_and_logged_in_a_few_lines(tmp_path):
    require_tools("ip")
    import scapy.all  # noqa: F401  (python3-scapy, installed by make deps)
    with lab() as the_lab:
        srv, atk = server_and_client(the_lab)
        the_lab.addr(atk, "lo", "198.18.16.1/32")
        zone = tmp_path / "zone.yaml"
        zone.write_text(lab_zone())
        counters = tmp_path / "counters.json"
        log = tmp_path / "zonebootd-flood.log"
        start_zonebootd(the_lab, srv, zone, tmp_path / "state", SERVER, counters, log=log)
        truncated = discover()[:100]
        started = time.monotonic()
        blast(the_lab, atk, tmp_path, [truncated] * 1000)
        wait_for(lambda: (json.loads(counters.read_text()).get("malformed") or {}).get("truncated") == 1000,
                 what="1,000 truncated datagrams counted")
        text = log.read_text()
        drops = lines_with(text, "malformed datagram dropped") + lines_with(text, "more dropped")
        assert 1 <= len(drops) < 10, drops
        first = keys(lines_with(text, "malformed datagram dropped")[0])
        assert first["reason"] == "truncated" and first["from"] == "198.18.0.1:67"
        # The rest are summed up once the interval (10 s) since the first line has passed.
        wait_for(lambda: lines_with(log.read_text(), "more dropped"), timeout=max(1, 15 - (time.monotonic() - started)),
                 what="the summary line")
        text = log.read_text()
        (summary,) = lines_with(text, "more dropped")
        said = keys(summary)
        assert said["reason"] == "truncated" and said["count"] == "999"
        assert len(lines_with(text, "malformed datagram dropped") + lines_with(text, "more dropped")) < 10


HOOK_ZONE = lab_zone(
    roles="hypervisor: { hooks: [record, cmdb] }",
    more="""\
    hooks:
      record: { on: [lease.acked], run: hooks/record }
      cmdb: { on: [lease.acked], url: "http://198.18.0.10:9/zoneboot/tok-SECRET-path?token=SECRET-query" }
    """)


def test_json_lines_parse_and_carry_the_keys_hook_runs_included_and_no_secret(relay_lab, tmp_path):
    write_hooks(tmp_path, {"record": "#!/bin/sh\ncat > /dev/null\n"})
    dhcp = DHCPLab(relay_lab, tmp_path, ports=1, zone=HOOK_ZONE,
                   server_args=("--log-format", "json", "--hook-attempts", "1"))
    assert dhcp.dhclient("swp1")["ip"] == "198.18.16.11"

    def objects():
        return [json.loads(line) for line in server_log(tmp_path).splitlines()]

    wait_for(lambda: any(o["message"].endswith("dead letter") or "dead letter" in o["message"] for o in objects()),
             what="the webhook's dead letter")
    dhcp.stop_server(signal.SIGINT)
    text = server_log(tmp_path)
    assert "SECRET" not in text
    logged = [json.loads(line) for line in text.splitlines()]  # every line is one JSON object
    for entry in logged:
        assert {"level", "time", "component", "message"} <= entry.keys(), entry
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"]), entry
    (granted,) = [o for o in logged if o["message"] == "lease granted"]
    assert granted["level"] == "info" and granted["component"] == "dhcp"
    assert (granted["host"], granted["location"], granted["mac"], granted["address"]) == \
        ("lab-p01-r01-u01", "p01/tor-a/swp1", MAC1, "198.18.16.11")
    assert list(granted)[:6] == ["level", "time", "component", "message", "host", "location"]

    (ran,) = [o for o in logged if o["message"] == "hook ran"]
    assert (ran["hook"], ran["event"], ran["outcome"], ran["attempt"], ran["host"]) == \
        ("record", "lease.acked", "ok", "1", "lab-p01-r01-u01")
    assert ran["component"] == "hooks" and ran["duration"].endswith("ms")
    (failed,) = [o for o in logged if o["message"] == "hook failed"]
    assert failed["level"] == "warning" and failed["hook"] == "cmdb" and failed["reason"]
    (dead,) = [o for o in logged if "dead letter" in o["message"]]
    assert dead["level"] == "error" and "cmdb" in dead["reason"]

    (ready,) = [o for o in logged if o["message"] == "ready"]
    assert ready["dhcp"] == [f"{SERVER}:67"] and ready["revision"] == "1"
    assert logged[-1]["message"] == "stopped" and logged[-1]["reason"] == "SIGINT"
