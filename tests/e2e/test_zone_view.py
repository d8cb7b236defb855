"""The live zone view in headless Chromium (Debian's `chromium`, DevTools protocol over a pipe):
the 10,000-host example zone renders behind a read token that never appears in a URL or a log,
and a location turns from "never seen" to "leased" to "booted" as a real client takes a lease
through `dhcrelay -a` (busybox udhcpc) and fetches its `booted` marker with curl. Screenshots
are left in the test's folder (ZONE_VIEW_ARTIFACTS=<dir> copies them there).
No time is asserted: waits are bounds; bench/zone_view_bench.py measures the render time.
"""
import json
import os
import shutil
import time

import pytest

from apply_lab import LocalServer, example_zone, write_tokens
from browser import Browser
from dhcp_lab import SERVER, DHCPLab
from netlab import lab, require_tools

STATE_OF = "document.querySelector('#zone i[data-name=\"{name}\"]')?.className"


def keep(path):
    """A screenshot as a test artifact: printed, and copied where ZONE_VIEW_ARTIFACTS says."""
    print(f"screenshot: {path}")
    if os.environ.get("ZONE_VIEW_ARTIFACTS"):
        os.makedirs(os.environ["ZONE_VIEW_ARTIFACTS"], exist_ok=True)
        shutil.copy(path, os.environ["ZONE_VIEW_ARTIFACTS"])


def test_the_10000_host_zone_renders_behind_a_read_token(tmp_path):
    require_tools("chromium")
    tokens_file, tokens = write_tokens(tmp_path)
    zone = example_zone(tmp_path, pods=25, racks=10, units=40)
    server = LocalServer(tmp_path, zone, tokens_file=tokens_file, extra=("--log-level", "debug"))
    try:
        identities = server.api("GET", "/v1/revision")[1]["identities"]
        assert identities > 10_000
        with Browser(tmp_path) as browser:
            browser.open(server.url + "/zone")
            # Without a token the API says 401: the page asks for one.
            browser.wait_until("document.getElementById('login') && !document.getElementById('login').hidden",
                               what="the token form")
            browser.evaluate(f"document.getElementById('token').value = {json.dumps(tokens['audit'])};"
                             "document.getElementById('login').requestSubmit(); true")
            browser.wait_until("document.body.dataset.ready === '1'", timeout=120, what="the zone drawn")
            cells = browser.evaluate("document.querySelectorAll('#zone i').length")
            assert cells == identities
            assert browser.evaluate("document.querySelectorAll('#zone .pod').length") == 25
            assert browser.evaluate("document.querySelectorAll('#zone .rack').length") == 25 * 10
            never = browser.evaluate("document.querySelector('#legend li[data-state=n] b').textContent")
            assert int(never.replace(",", "")) == identities
            assert browser.evaluate(STATE_OF.format(name="ex-p01-r01-u07")) == "s-n"
            # The token stays in the tab's sessionStorage, never in a URL.
            assert browser.evaluate("location.href") == server.url + "/zone"
            assert browser.evaluate("sessionStorage.getItem('zoneboot-read-token')") == tokens["audit"]
            keep(browser.screenshot(tmp_path / "zone-view-10000.png"))
        log = server.log.read_text()
        assert "/v1/zone-view/stream" in log  # requests are logged at debug...
        assert not any(token in log for token in tokens.values())  # ...never a token
    finally:
        server.stop()


@pytest.fixture
def dhcp(tmp_path):
    require_tools("ip", "dhcrelay", "busybox", "curl", "chromium")
    with lab() as the_lab:
        yield DHCPLab(the_lab, tmp_path, ports=3)


def test_a_location_turns_booted_after_a_real_lease_and_booted_marker(dhcp, tmp_path):
    """The page stays open while swp1's machine takes its lease through dhcrelay and
    fetches its `booted` marker: the cell changes by the stream's deltas, without a reload."""
    with Browser(tmp_path, ns=dhcp.srv) as browser:
        # No token file: a loopback client may read (the page runs in the server's namespace).
        browser.open("http://127.0.0.1:9067/zone")
        browser.wait_until("document.body.dataset.ready === '1'", what="the zone drawn")
        names = browser.evaluate("[...document.querySelectorAll('#zone i')].map(i => i.dataset.name)")
        host = "lab-p01-r01-u01"
        assert host in names, names
        assert browser.evaluate(STATE_OF.format(name=host)) == "s-n"
        browser.evaluate("window.loadedOnce = performance.timeOrigin; true")

        client, events = dhcp.udhcpc_running("swp1")
        try:
            bound = events.read_text().split()
            assert bound[0] == "bound" and bound[2] == host, bound
            address = bound[1]
            browser.wait_until(f"{STATE_OF.format(name=host)} === 's-l'", what=f"{host} leased")
            # Its script's last fetch, from its own address through the relay.
            marker = dhcp.lab.run(dhcp.clients["swp1"], "curl", "-sf", f"http://{SERVER}/hosts/{host}/booted")
            assert marker.stdout == "ok\n"
            browser.wait_until(f"{STATE_OF.format(name=host)} === 's-b'", what=f"{host} booted")
            # Its neighbours were never seen; the page was not reloaded.
            assert browser.evaluate(STATE_OF.format(name="lab-p01-r01-u02")) == "s-n"
            assert browser.evaluate("window.loadedOnce === performance.timeOrigin")
            assert browser.evaluate("document.querySelector('#legend li[data-state=b] b').textContent") == "1"

            # The side panel: identity, lease, boot timeline and events.
            browser.evaluate(f"document.querySelector('#zone i[data-name=\"{host}\"]').click(); true")
            browser.wait_until("document.getElementById('host-state')?.textContent === 'booted'", what="the side panel")
            panel = browser.evaluate("document.getElementById('panel').innerText")
            assert address in panel and dhcp.mac(1) in panel and "p01/tor-a/swp1" in panel, panel
            phases = browser.evaluate("[...document.querySelectorAll('#panel li[data-phase]')].map(li => li.dataset.phase)")
            assert phases == ["dhcp_ack", "booted"], phases
            keep(browser.screenshot(tmp_path / "zone-view-booted.png"))
        finally:
            dhcp.lab.stop(client)

    metrics = dhcp.lab.run(dhcp.srv, "curl", "-sf", "http://127.0.0.1:9067/metrics").stdout
    # The ACK → booted phase was measured once (no loader or script was fetched in between).
    assert 'zoneboot_boot_phase_seconds_count{phase="booted"} 1' in metrics, metrics
    assert 'zoneboot_http_sent_bytes_total{outcome="host_files"} 3' in metrics, metrics
