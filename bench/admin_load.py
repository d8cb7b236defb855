#!/usr/bin/python3
"""Admin API under hostile plans: how long each is refused after, and how long
`GET /v1/revision` takes meanwhile (polled back to back on one connection).

zonebootd (release build by default; ZONEBOOTD=... for another) serves a small example
zone on 127.0.0.1 with --zone-load-timeout 1, and gets, one after another:

- the 436-byte alias-bomb key;                 target: refused within 1 s
- 1,003,520 identities in 25 KB;               target: refused within 1 s
- a valid zone of 126,976 hosts (4 KB);        target: refused within 1 s (the load budget)
- the same valid zone with no load budget: loaded, planned and answered in full (a
  127,000-change plan, ~100 MB of JSON), the worst case for the other requests.

Target for /v1/revision meanwhile: every poll answered, p99 and max < 50 ms.
Nothing here sends DHCP; the zones are only planned. Prints one JSON line per case.
"""
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
os.environ.setdefault("ZONEBOOTD", str(Path(__file__).resolve().parents[1] / ".build" / "release" / "zonebootd"))
from admin_load_lab import RevisionPoller, alias_bomb_key, huge_but_valid, past_the_identity_budget, post_plan  # noqa: E402
from apply_lab import LocalServer, example_zone  # noqa: E402


def measure(srv, name, text):
    with RevisionPoller(srv.admin_port) as poller:
        time.sleep(0.2)
        status, answer, took, _ = post_plan(srv.admin_port, name, text, timeout=600)
        time.sleep(0.2)
    ms = sorted(x * 1000 for x in poller.latencies)
    reason = ""
    if isinstance(answer, dict) and answer.get("diagnostics"):
        reason = answer["diagnostics"][0]["message"][:80]
    return {"case": name, "status": status, "answered_s": round(took, 3), "reason": reason,
            "polls": len(ms), "errors": len(poller.errors),
            "p50_ms": round(ms[len(ms) // 2], 1) if ms else None,
            "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 1) if ms else None,
            "max_ms": round(ms[-1], 1) if ms else None}


def main():
    cases = [("alias-bomb-key", alias_bomb_key()), ("1003520-identities", past_the_identity_budget()),
             ("126976-hosts-valid", huge_but_valid())]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        zone = example_zone(tmp, 1, 2, 10)
        for timeout, chosen in (("1", cases), ("0", cases[2:])):
            srv = LocalServer(tmp, zone, extra=("--zone-load-timeout", timeout, "--log-level", "warning"))
            try:
                idle = measure_idle(srv)
                print(json.dumps({"zone_load_timeout": timeout, "idle": idle}))
                for name, text in chosen:
                    print(json.dumps({"zone_load_timeout": timeout, **measure(srv, name, text)}), flush=True)
            finally:
                srv.stop()


def measure_idle(srv):
    with RevisionPoller(srv.admin_port) as poller:
        time.sleep(1)
    return poller.summary()


if __name__ == "__main__":
    main()
