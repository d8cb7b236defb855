"""/metrics on the admin listener: Prometheus text that `promtool check metrics` accepts,
with the right counts after real relayed DORAs (`dhcrelay -a`, busybox udhcpc) in
namespaces this test makes and removes, and a read token needed once a token file is used.
"""
import json
import re
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from apply_lab import LocalServer, example_zone, move_one_host, write_tokens
from dhcp_lab import DHCPLab
from netlab import ROOT, lab, require_tools, wait_for

DASHBOARD = ROOT / "packaging" / "grafana" / "zoneboot.json"
# Families that appear with their first sample: by-reason counters and per-origin histograms.
APPEAR_WHEN_COUNTED = {"zoneboot_dhcp4_packets_parse_failed_total", "zoneboot_tftp_transfers_total",
                       "zoneboot_zone_apply_duration_seconds", "zoneboot_http_sent_bytes_total"}

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset of label pairs): value} of every sample."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        samples[(name, frozenset(LABEL.findall(labels or "")))] = float(value)
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0)


def promtool_accepts(text):
    result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def dhcp(tmp_path):
    require_tools("ip", "dhcrelay", "busybox", "curl", "promtool")
    with lab() as the_lab:
        yield DHCPLab(the_lab, tmp_path, ports=5, untrusted=("swp5",))


def scrape(dhcp):
    """/metrics from inside the server's namespace (a loopback client: no token file, reads allowed)."""
    return dhcp.lab.run(dhcp.srv, "curl", "-sf", "http://127.0.0.1:9067/metrics").stdout


def test_metrics_after_relayed_doras_count_what_happened(dhcp):
    promtool_accepts(scrape(dhcp))

    assert dhcp.udhcpc("swp1")["ip"] == "198.18.16.11"
    assert dhcp.udhcpc("swp2")["ip"] == "198.18.16.12"
    # swp4 is in no port entry: a discovery lease from the pod's range.
    assert dhcp.udhcpc("swp4")["ip"].startswith("198.18.16.20")
    # swp5's relay address is not the pod's: dropped, counted by reason.
    with pytest.raises(subprocess.CalledProcessError):
        dhcp.udhcpc("swp5", timeout=30)

    text = scrape(dhcp)
    promtool_accepts(text)
    samples = parse(text)
    # Three DORAs answered; swp5's five discovers dropped (udhcpc -t 5).
    assert value(samples, "zoneboot_dhcp4_packets_received_total", operation="discover") == 3 + 5, text
    assert value(samples, "zoneboot_dhcp4_packets_received_total", operation="request") == 3, text
    assert value(samples, "zoneboot_dhcp4_packets_sent_total", operation="offer") == 3, text
    assert value(samples, "zoneboot_dhcp4_packets_sent_total", operation="ack") == 3, text
    assert value(samples, "zoneboot_dhcp4_packets_dropped_total", reason="untrusted-relay") == 5, text
    assert value(samples, "zoneboot_dhcp4_datagrams_received_total") == 3 * 2 + 5, text
    # Leases: two known hosts and one discovery lease, all bound.
    assert value(samples, "zoneboot_leases", pod="p01", state="bound") == 3, text
    assert value(samples, "zoneboot_discovery_pool_addresses", pod="p01") == 11, text
    assert value(samples, "zoneboot_discovery_pool_in_use", pod="p01") == 1, text
    # Each ACK's lease was committed (a commit may carry several).
    commits = value(samples, "zoneboot_dhcp4_commits_total")
    assert 1 <= commits <= 3, text
    assert value(samples, "zoneboot_dhcp4_commit_duration_seconds_count") == commits, text
    assert value(samples, "zoneboot_dhcp4_commit_duration_seconds_bucket", le="+Inf") == commits, text
    assert value(samples, "zoneboot_dhcp4_commit_failures_total") == 0, text
    assert value(samples, "zoneboot_zone_revision") == 1, text
    assert value(samples, "zoneboot_zone_identities") == 3, text
    # Boot phases: every phase's histogram from the start; these clients fetched nothing after their ACK.
    for phase in ("loader_fetched", "script_fetched", "booted", "handoff"):
        assert ("zoneboot_boot_phase_seconds_count", frozenset({("phase", phase)})) in samples, text
        assert value(samples, "zoneboot_boot_phase_seconds_count", phase=phase) == 0, text
    # Every family the Grafana dashboard queries is one zonebootd serves.
    families = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    queried = {re.sub(r"_(bucket|count|sum)$", "", name)
               for name in re.findall(r"zoneboot_\w+", json.dumps(json.loads(DASHBOARD.read_text())["panels"]))}
    assert queried - families - APPEAR_WHEN_COUNTED == set(), families
    # The counters file says the same (one mechanism, two views).
    wait_for(lambda: dhcp.counter("sent", "ack") == 3, what="the counters file")
    assert dhcp.counter("received_by_type", "discover") == 8


def test_metrics_need_a_read_token_with_a_token_file_and_show_applies(tmp_path):
    require_tools("promtool")
    tokens, secrets = write_tokens(tmp_path)
    zone = example_zone(tmp_path, pods=1, racks=2, units=8)
    server = LocalServer(tmp_path, zone, tokens_file=tokens)
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + "/metrics", timeout=10)
        assert refused.value.code == 401
        text = zone.read_text()
        changed = move_one_host(text)[0]
        assert changed != text
        edited = zone.parent / "next.yaml"
        edited.write_text(changed)
        server.zonectl("apply", edited, "--yes", check=0)
        request = urllib.request.Request(server.url + "/metrics", headers={"Authorization": f"Bearer {secrets['audit']}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = answer.read().decode()
        promtool_accepts(text)
        samples = parse(text)
        assert value(samples, "zoneboot_zone_revision") == 2, text
        assert value(samples, "zoneboot_zone_apply_duration_seconds_count", origin="apply") == 1, text
        assert value(samples, "zoneboot_zone_identities") == server.api("GET", "/v1/revision")[1]["identities"], text
    finally:
        server.stop()


def test_a_scrape_of_the_10000_host_zone(tmp_path):
    """The example zone of 10,000 hosts: promtool accepts the scrape; its time is printed
    (README, Operating it), not asserted."""
    require_tools("promtool")
    zone = example_zone(tmp_path, pods=25, racks=10, units=40)
    server = LocalServer(tmp_path, zone)
    try:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            with urllib.request.urlopen(server.url + "/metrics", timeout=30) as answer:
                text = answer.read().decode()
            times.append(time.perf_counter() - started)
        promtool_accepts(text)
        samples = parse(text)
        # 10,000 hosts, and their BMCs and switches.
        assert value(samples, "zoneboot_zone_identities") == server.api("GET", "/v1/revision")[1]["identities"] > 10_000
        assert sum(1 for name, _ in samples if name == "zoneboot_discovery_pool_addresses") == 25
        print(f"scrape of the 10,000-host zone: {len(text)} bytes, best {min(times) * 1000:.1f} ms, "
              f"worst {max(times) * 1000:.1f} ms")
    finally:
        server.stop()
