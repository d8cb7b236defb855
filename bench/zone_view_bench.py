#!/usr/bin/python3
"""The zone view of the 10,000-host example zone (20,500 locations) in headless Chromium:
the time from navigation to the first drawing of every rack (`data-ready-ms`, the page's own
performance.now()), against the same browser loading a static page of as many cells (the
peer: nothing but HTML parsing and layout) in the same run. zonebootd (release build unless
ZONEBOOTD says) on CPU 0, Chromium on CPU 1; best of ROUNDS.
"""
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("ZONEBOOTD", str(ROOT / ".build" / "release" / "zonebootd"))
os.environ.setdefault("ZONECTL", str(ROOT / ".build" / "release" / "zonectl"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from apply_lab import LocalServer, example_zone  # noqa: E402
from browser import Browser  # noqa: E402
from netlab import sh  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "3"))


def static_peer(path):
    """Host and BMC cells of 25 pods of 10 racks of 40 units (20,000: the zone's hosts and
    BMCs, its 500 switches aside), as a plain HTML file; returns how many."""
    units = "".join('<div class="u"><i class="s-n"></i><i class="s-n"></i></div>' for _ in range(40))
    racks = "".join(f'<div class="rack">{units}<span>{n}</span></div>' for n in range(1, 11))
    pods = "".join(f'<div class="pod"><h2>p{n:02}</h2><div class="racks">{racks}</div></div>' for n in range(1, 26))
    path.write_text(f"<!doctype html><html><head><style>i{{display:block;width:9px;height:7px;background:#dde1e7}}"
                    f".u,.racks,#zone{{display:flex;gap:1px;flex-wrap:wrap}}.rack{{display:flex;flex-direction:column}}"
                    f"</style></head><body><section id=zone>{pods}</section></body></html>")
    return 25 * 10 * 40 * 2


def main():
    with tempfile.TemporaryDirectory(prefix="zone-view-bench-") as tmp:
        tmp = Path(tmp)
        zone = example_zone(tmp, pods=25, racks=10, units=40)
        server = LocalServer(tmp, zone)
        try:
            sh("taskset", "-a", "-p", "-c", "0", server.proc.pid)
            identities = server.api("GET", "/v1/revision")[1]["identities"]
            peer = tmp / "peer.html"
            peer_cells = static_peer(peer)
            view, plain = [], []
            with Browser(tmp, cpu=1) as browser:
                for _ in range(ROUNDS):
                    browser.open(server.url + "/zone")
                    browser.wait_until("document.body.dataset.ready === '1'", timeout=120)
                    assert browser.evaluate("document.querySelectorAll('#zone i').length") == identities
                    view.append(int(browser.evaluate("document.body.dataset.readyMs")))
                    browser.open(peer.as_uri())
                    browser.wait_until("performance.getEntriesByType('navigation')[0]?.loadEventEnd > 0", timeout=120)
                    plain.append(browser.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
            best, peer_best = min(view), min(plain)
            print(f"zone view, {identities} locations: first drawing {best} ms (best of {ROUNDS}; all {view})")
            print(f"static page of {peer_cells} cells (peer): loaded in {peer_best:.0f} ms "
                  f"(all {[round(p) for p in plain]})")
            print(f"ratio zone view / static page: {best / peer_best:.2f}x  (issue 18's bound: under 2 s)")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
