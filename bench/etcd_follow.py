"""How long after an apply on host A host B runs the new revision, over many applies: two
zonebootd hosts on a 3-member etcd (tests/e2e/etcd_lab.py, namespaces on 198.18.0.0/15,
removed afterwards). A client in the server namespace posts each apply to A's admin API,
then polls B's /v1/revision every millisecond until it shows the revision.

    /usr/bin/python3 bench/etcd_follow.py [--applies N]

Prints p50/p99/max of the apply itself (load, plan, etcd transaction, swap) and of B's delay.
"""
import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
# The release build, as every benchmark measures it (ZONEBOOTD overrides).
os.environ.setdefault("ZONEBOOTD", str(Path(__file__).resolve().parents[1] / ".build" / "release" / "zonebootd"))

from dhcp_lab import ZONE  # noqa: E402
from etcd_lab import ADMIN_PORT, HOSTS, PERCENTILES, EtcdPairLab  # noqa: E402
from netlab import lab  # noqa: E402

CLIENT = r'''
import json, sys, time, urllib.request
a, b, token, applies, zone_file = sys.argv[1:6]
text = open(zone_file).read()
def call(url, body=None):
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                     method="POST" if body is not None else "GET")
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())
base = call(a + "/v1/revision")["revision"]["id"]
apply_times, follow_times = [], []
for n in range(int(applies)):
    source = {"zoneFile": zone_file, "text": text.replace("dns: [198.18.0.53]", f"dns: [198.18.{2 + n // 250}.{n % 250 + 1}]"), "files": {}}
    t0 = time.perf_counter()
    applied = call(a + "/v1/apply", {"source": source, "baseRevision": base, "message": f"bench {n}"})["applied"]
    t1 = time.perf_counter()
    base = applied["id"]
    while call(b + "/v1/revision")["revision"]["id"] < base:
        time.sleep(0.001)
    follow_times.append(time.perf_counter() - t1)
    apply_times.append(t1 - t0)
show("apply on A (load, plan, etcd transaction, swap)", apply_times, "applies")
show("B runs it, after A answered", follow_times, "applies")
'''


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--applies", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, lab() as the_lab:
        pair = EtcdPairLab(the_lab, Path(tmp), ports=1)
        token = (Path(tmp) / "token-ops").read_text().strip().split(":", 1)[1]
        result = the_lab.run(pair.srv, "/usr/bin/python3", "-c", PERCENTILES + CLIENT, f"http://{HOSTS['A']}:{ADMIN_PORT}",
                             f"http://{HOSTS['B']}:{ADMIN_PORT}", token, str(min(max(args.applies, 1), 2000)),
                             pair.zone, timeout=1200)
        print(result.stdout, end="")
        pair.etcd.stop()


if __name__ == "__main__":
    main()
