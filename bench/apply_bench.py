#!/usr/bin/python3
"""Apply benchmark: how soon a change applied to a running zone of 10,000 hosts, then of
100,000 hosts, answers DHCP, and how much memory zonebootd holds with the larger one.

zonebootd serves `zonectl example --pods 25 --racks 10 --units 40` (10,000 hosts, as
many BMCs) in one namespace; a relay probe in another asks for p01/tor-r01/swp7 every
few milliseconds (a fresh MAC each time). The clock starts when `zonectl apply` starts
(it validates the zone, asks the server for the plan, then applies it) and stops at
the first OFFER carrying the new revision's address.

- one host: only swp7's host moves to a free address.      target < 1 s
- full zone: every host moves (and is renamed).            target < 2 s (10,000), < 3 s (100,000)

The 100,000-host zone (`--pods 250 --network 10.0.0.0/8`) is moved so that its first pod
and its services are in 198.18.0.0/15 like the smaller one's: the namespaces hold only
those addresses, and the other pods' 10.x addresses are never configured or sent to.
With it, zonebootd's resident memory is read from /proc: loaded (target < 300 MB), and
its peak across each apply (VmHWM, reset before each; target < 400 MB).
Addresses come from 198.18.0.0/15; every namespace is removed at the end.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
os.environ.setdefault("ZONEBOOTD", str(Path(__file__).resolve().parents[1] / ".build" / "release" / "zonebootd"))
from apply_lab import SERVICES, ZONECTL, ExampleRelayLab, example_zone, move_all_hosts, move_one_host  # noqa: E402
from netlab import lab  # noqa: E402

PROBE = Path(__file__).resolve().parents[1] / "tests" / "e2e" / "relay_probe.py"


def huge_zone(tmp):
    """100,000 hosts from `zonectl example --network 10.0.0.0/8`, its first pod (10.0.0.0/21)
    and its services (10.255.255.0/24) moved into 198.18.0.0/15."""
    out = Path(tmp) / "zone"
    subprocess.run([str(ZONECTL), "example", "--pods", "250", "--racks", "10", "--units", "40", "--zone", "ex",
                    "--network", "10.0.0.0/8", "-o", out], check=True, capture_output=True)
    path = out / "ex.yaml"
    text = path.read_text()
    first, second = text.index("- name: p01\n"), text.index("- name: p02\n")
    pod = re.sub(r"\b10\.0\.([0-7])\.(\d+)", r"198.18.\1.\2", text[first:second])
    text = (text[:first] + pod + text[second:]).replace("10.255.255.", "198.19.255.")
    path.write_text(text)
    return path


def memory_kib(pid, field):
    """VmRSS or VmHWM of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def run(case, edit, runs, make_zone=lambda tmp: example_zone(tmp, 25, 10, 40), memory=None):
    """`memory`: a list that gets zonebootd's RSS once loaded and its peak across each apply (KiB)."""
    results = []
    with lab() as the_lab, tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        zone = make_zone(tmp)
        relay = ExampleRelayLab(the_lab, tmp, zone, extra=("--log-level", "warning"))
        pid = relay.server.pid  # `ip netns exec` runs zonebootd in its own process
        if memory is not None:
            memory.append(("loaded", memory_kib(pid, "VmRSS")))
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
            if memory is not None:
                Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the RSS of now
            started = time.time()
            applied = relay.zonectl("apply", path, "--yes", "-m", f"{case} {i}")
            finished = time.time()
            seen = json.loads(probe.stdout.readline())
            probe.wait(timeout=10)
            if applied.returncode != 0 or "seen" not in seen:
                print(applied.stdout[-2000:], applied.stderr[-2000:], seen)
                raise SystemExit(f"{case}: the apply or the probe failed")
            results.append({"first_answer_s": seen["seen"] - started, "zonectl_s": finished - started})
            if memory is not None:
                memory.append((f"{case} {i}", memory_kib(pid, "VmHWM"), memory_kib(pid, "VmRSS")))
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


def table(runs, cases, make_zone=None, memory=None):
    print(f"  {'change':<12} {'first answer (s)':>30} {'zonectl done (s)':>30} {'target':>8}")
    for case, edit, target in cases:
        results = run(case, edit, runs, **({"make_zone": make_zone} if make_zone else {}), memory=memory)
        firsts = sorted(r["first_answer_s"] for r in results)
        totals = sorted(r["zonectl_s"] for r in results)
        verdict = "ok" if firsts[len(firsts) // 2] < target else "MISSED"
        print(f"  {case:<12} {'median ' + format(firsts[len(firsts) // 2], '.3f') + ' max ' + format(firsts[-1], '.3f'):>30} "
              f"{'median ' + format(totals[len(totals) // 2], '.3f'):>30} {'< ' + str(target):>6} {verdict}")


def main():
    runs = int(os.environ.get("RUNS", "4"))
    print(f"Apply to a running zone of 10,000 hosts (+10,000 BMCs): time from `zonectl apply` start to the first "
          f"DHCP answer of the new revision ({runs} applies each, alternating change and back).")
    print(f"zonebootd: {os.environ['ZONEBOOTD']}\n")
    table(runs, (("one host", one_host, 1.0), ("full zone", full_zone, 2.0)))
    print(f"\nThe same with 100,000 hosts (+100,000 BMCs), and zonebootd's memory.")
    memory = []
    table(runs, (("one host", one_host, 1.0), ("full zone", full_zone, 3.0)), make_zone=huge_zone, memory=memory)
    loaded = max(m[1] for m in memory if m[0] == "loaded")
    peak = max(m[1] for m in memory if m[0] != "loaded")
    print(f"  {'zonebootd RSS, zone loaded':<40} {loaded / 1024:8.1f} MiB  {'< 300 MB':>10} "
          f"{'ok' if loaded * 1024 < 300e6 else 'MISSED'}")
    print(f"  {'zonebootd peak RSS across an apply':<40} {peak / 1024:8.1f} MiB  {'< 400 MB':>10} "
          f"{'ok' if peak * 1024 < 400e6 else 'MISSED'}")
    after = [m[2] for m in memory if m[0] != "loaded"]
    print(f"  {'zonebootd RSS after each apply':<40} " + ", ".join(f"{k / 1024:.0f}" for k in after) + " MiB")


if __name__ == "__main__":
    main()
