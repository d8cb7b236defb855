#!/usr/bin/python3
"""Two zonebootd builds, A and B, through dhcp_bench's dhcp_load ladder in one run, alternating
(A, B, A, B ...), with Kea's ladder once as the reference: whether a change moved DHCP
throughput, on this machine today, not against a number measured on another day.

    python3 bench/dhcp_ab.py BEFORE/zonebootd AFTER/zonebootd [ROUNDS]

Both builds see the same lab (dhcp_bench's namespaces, 198.18.0.0/15, removed at the end), the
same zone and the same offered rates. LADDER, CLIENTS and SECONDS_PER_RUN as for dhcp_bench.
"""
import os
import sys
from pathlib import Path

import dhcp_bench


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    builds = {"A": Path(sys.argv[1]).resolve(), "B": Path(sys.argv[2]).resolve()}
    for name, path in builds.items():
        if not os.access(path, os.X_OK):
            sys.exit(f"{name}: {path} is not an executable zonebootd")
    rounds = int(sys.argv[3]) if len(sys.argv) == 4 else 2
    seconds = int(os.environ.get("SECONDS_PER_RUN", "6"))
    clients = int(os.environ.get("CLIENTS", "3000"))
    rates = [int(r) for r in os.environ.get(
        "LADDER", "4000,8000,12000,16000,20000,24000,28000,32000").split(",")]
    print(f"dhcp_load ladder, {clients} clients, {seconds} s per step; A = {builds['A']}, B = {builds['B']}\n")
    found = {"A": [], "B": []}
    for round_number in range(1, rounds + 1):
        for name, path in builds.items():
            dhcp_bench.ZONEBOOTD = path
            print(f"round {round_number}, build {name}:", flush=True)
            found[name].append(dhcp_bench.ladder("zonebootd", rates, clients, seconds))
    print("reference, Kea (single-threaded, 2.2's default):", flush=True)
    kea = dhcp_bench.ladder("kea", rates, clients, seconds)

    print(f"\n  {'build':<6} {'sustained (<1 % lost), each round':>36} {'peak DORA/s, each round':>30}")
    for name, results in found.items():
        sustained = ", ".join(f"{s or '-'}/s" for s, _ in results)
        peaks = ", ".join(f"{p:.0f}" for _, p in results)
        print(f"  {name:<6} {sustained:>36} {peaks:>30}")
    print(f"  {'kea':<6} {str(kea[0] or '-') + '/s':>36} {kea[1]:>30.0f}")
    best = {name: max(p for _, p in results) for name, results in found.items()}
    print(f"\nbest peak B / A: {best['B'] / best['A']:.2f}x; B / kea: {dhcp_bench.ratio(best['B'], kea[1])}")


if __name__ == "__main__":
    main()
