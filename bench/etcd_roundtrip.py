"""What one etcd exchange costs through the JSON gateway ZoneBoot uses: a range of the head
key, and a range + transaction (what an apply does), over one kept-alive connection, against
a 3-member etcd in a namespace of its own (198.18.41.0/24, removed afterwards).

    /usr/bin/python3 bench/etcd_roundtrip.py [--rounds N]

Prints p50/p99/max in milliseconds. The client runs in the server namespace, as zonebootd does.
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
# The release build, as every benchmark measures it (ZONEBOOTD overrides).
os.environ.setdefault("ZONEBOOTD", str(Path(__file__).resolve().parents[1] / ".build" / "release" / "zonebootd"))

from etcd_lab import ETCD_NET, PERCENTILES, etcd_beside  # noqa: E402
from netlab import lab  # noqa: E402

CLIENT = r'''
import base64, http.client, json, sys, time
rounds = int(sys.argv[1])
b64 = lambda s: base64.b64encode(s.encode()).decode()
conn = http.client.HTTPConnection("%s1", 2379)
def post(path, body):
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    answer = conn.getresponse()
    data = answer.read()
    assert answer.status == 200, data
    return json.loads(data)
head = b64("/bench/revision/head")
post("/v3/kv/put", {"key": head, "value": b64("0")})
ranges, applies = [], []
for n in range(rounds):
    t0 = time.perf_counter()
    kv = post("/v3/kv/range", {"key": head})["kvs"][0]
    t1 = time.perf_counter()
    txn = post("/v3/kv/txn", {
        "compare": [{"key": head, "target": "MOD", "result": "EQUAL", "mod_revision": kv["mod_revision"]}],
        "success": [{"request_put": {"key": b64("/bench/revision/record/%%010d" %% n), "value": b64("x" * 2048)}},
                    {"request_put": {"key": head, "value": b64(str(n))}}],
        "failure": [{"request_range": {"key": head}}]})
    t2 = time.perf_counter()
    assert txn.get("succeeded"), txn
    ranges.append(t1 - t0)
    applies.append(t2 - t0)
show("range of the head", ranges, "rounds")
show("range + transaction (an apply's exchanges)", applies, "rounds")
''' % ETCD_NET


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, lab() as the_lab:
        srv = the_lab.ns("srv")
        cluster = etcd_beside(the_lab, tmp, srv)
        result = the_lab.run(srv, "/usr/bin/python3", "-c", PERCENTILES + CLIENT, str(min(max(args.rounds, 1), 5000)), timeout=600)
        print(result.stdout, end="")
        cluster.stop()


if __name__ == "__main__":
    main()
