#!/usr/bin/python3
"""Apply benchmark: how soon a change applied to a running 10,000-host zone answers DHCP.

zonebootd serves `zonectl example --pods 25 --racks 10 --units 40` (10,000 hosts, as
many BMCs) in one namespace; a relay probe in another asks for p01/tor-r01/swp7 every
few milliseconds (a fresh MAC each time). The clock starts when `zonectl apply` starts
(it validates the zone, asks the server for the plan, then applies it) and stops at
the first OFFER carrying the new revision's address.

- one host: only swp7's host moves to a free address.      target < 1 s
- full zone: every host moves (and is renamed).            target < 2 s
Addresses come from 198.18.0.0/15; every namespace is removed at the end.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
os.environ.setdefault("ZONEBOOTD", str(Path(__file__).resolve().parents[1] / ".build" / "release" / "zonebootd"))
from apply_lab import SERVICES, ExampleRelayLab, example_zone, move_all_hosts, move_one_host  # noqa: E402
from netlab import lab  # noqa: E402

PROBE = Path(__file__).resolve().parents[1] / "tests" / "e2e" / "relay_probe.py"


def run(case, edit, runs):
    results = []
    with lab() as the_lab, tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        zone = example_zone(tmp, 25, 10, 40)
        relay = ExampleRelayLab(the_lab, tmp, zone, extra=("--log-level", "warning"))
        texts = [zone.read_text()]
        for i in range(runs):
            # Alternate: the change, then back, each a real apply of its own.
            current = texts[-1]
            target, want = edit(current, texts[0])
            path = zone.parent / f"step{i}.yaml"  # beside the zone: its templates resolve the same way
            path.write_text(target)
            probe = subprocess.Popen(["ip", "netns", "exec", relay.relay, "/usr/bin/python3", str(PROBE),
                                      "--server", SERVICES, "--giaddr", relay.giaddr, "--circuit", "swp7",
                                      "--remote-id", "p01-tor-r01", "--want", want, "--timeout", "60"],
                                     stdout=subprocess.PIPE, text=True, start_new_session=True)
            json.loads(probe.stdout.readline())  # ready
            time.sleep(0.3)
            started = time.time()
            applied = relay.zonectl("apply", path, "--yes", "-m", f"{case} {i}")
            finished = time.time()
            seen = json.loads(probe.stdout.readline())
            probe.wait(timeout=10)
            if applied.returncode != 0 or "seen" not in seen:
                print(applied.stdout[-2000:], applied.stderr[-2000:], seen)
                raise SystemExit(f"{case}: the apply or the probe failed")
            results.append({"first_answer_s": seen["seen"] - started, "zonectl_s": finished - started})
            texts.append(target)
    return results


def one_host(current, original):
    if current == original:
        text, _, moved = move_one_host(original, unit=7, offset=-2)
        return text, moved
    return original, ExampleRelayLab.address_of(original, 1, 7)


def full_zone(current, original):
    if current == original:
        text = move_all_hosts(original)
        return text, ExampleRelayLab.address_of(text, 1, 7)
    return original, ExampleRelayLab.address_of(original, 1, 7)


def main():
    runs = int(os.environ.get("RUNS", "4"))
    print(f"Apply to a running zone of 10,000 hosts (+10,000 BMCs): time from `zonectl apply` start to the first "
          f"DHCP answer of the new revision ({runs} applies each, alternating change and back).")
    print(f"zonebootd: {os.environ['ZONEBOOTD']}\n")
    print(f"  {'change':<12} {'first answer (s)':>30} {'zonectl done (s)':>30} {'target':>8}")
    for case, edit, target in (("one host", one_host, 1.0), ("full zone", full_zone, 2.0)):
        results = run(case, edit, runs)
        firsts = sorted(r["first_answer_s"] for r in results)
        totals = sorted(r["zonectl_s"] for r in results)
        verdict = "ok" if firsts[len(firsts) // 2] < target else "MISSED"
        print(f"  {case:<12} {'median ' + format(firsts[len(firsts) // 2], '.3f') + ' max ' + format(firsts[-1], '.3f'):>30} "
              f"{'median ' + format(totals[len(totals) // 2], '.3f'):>30} {'< ' + str(target):>6} {verdict}")


if __name__ == "__main__":
    main()
