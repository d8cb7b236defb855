"""Hostile and huge plans for a running zonebootd's admin API, and a poller that times
`GET /v1/revision` while they load. Used by test_admin_load.py and bench/admin_load.py.

Every zone here is only planned (never applied), against a server on 127.0.0.1 that gets
no DHCP; the addresses in them are still from 198.18.0.0/15.
"""
import http.client
import ipaddress
import json
import threading
import time

HEADER = ("apiVersion: zoneboot/v1\nzone: lab\ndomain: lab.example.net\nroles: { compute: {} }\npods:\n"
          "  - name: p01\n    networks: { servers: { subnet: 198.18.0.0/15 } }\n    switches:\n")
VALID_HEADER = HEADER.replace("pods:\n", 'naming: { host: "{switch}-{port}" }\npods:\n')


def alias_bomb_key():
    """Issue 16's 436 bytes: an alias bomb used as a mapping key (45 s of hashing before)."""
    levels = "abcdefghijklm"
    lines = ["a: &a [lol,lol,lol,lol,lol,lol,lol,lol]"]
    lines += [f"{c}: &{c} [" + ",".join([f"*{p}"] * 8) + "]" for p, c in zip(levels, levels[1:])]
    text = "\n".join(lines + ["? *m", ": boom", ""])
    assert len(text) == 436
    return text


def past_the_identity_budget():
    """245 ranges of 4,096 ports: 1,003,520 identities in 25 KB (the entry crossing
    1,000,000 is the last)."""
    text = HEADER
    for s in range(245):
        text += (f"      - name: s{s}\n        ports:\n"
                 f"          - {{ ports: swp1-swp4096, rack: {s}, role: compute, network: servers, address: 198.18.0.10 }}\n")
    return text


def huge_but_valid(switches=31, ports=4096):
    """A valid zone of switches x ports hosts, each with its own address in 198.18.0.0/15
    (31 x 4,096 = 126,976 hosts, 4 KB): nothing is wrong with it but its size."""
    text = VALID_HEADER
    first = ipaddress.IPv4Address("198.18.0.10")
    for s in range(switches):
        text += (f"      - name: s{s}\n        remote-id: s{s}\n        ports:\n"
                 f"          - {{ ports: swp1-swp{ports}, role: compute, network: servers, "
                 f"address: {first + s * ports} }}\n")
    return text


def post_plan(port, name, text, timeout=120, files=None):
    """POST /v1/plan with a zone text (and its templates: path as written -> text);
    (status, JSON answer, seconds taken, headers)."""
    body = json.dumps({"source": {"zoneFile": name, "text": text, "files": files or {}}}).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.monotonic()
    try:
        connection.request("POST", "/v1/plan", body=body, headers={"Content-Type": "application/json"})
        answer = connection.getresponse()
        data = answer.read()
        took = time.monotonic() - started
        if len(data) > 4 << 20:
            # A whole plan of a huge zone (~100 MB): parsing it here would hold Python's GIL
            # for a second and stall the poller thread, which would then time Python, not zonebootd.
            return answer.status, {"bytes": len(data)}, took, dict(answer.getheaders())
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = data.decode(errors="replace")
        return answer.status, parsed, took, dict(answer.getheaders())
    finally:
        connection.close()


class RevisionPoller:
    """Polls GET /v1/revision back to back on one keep-alive connection from a thread, until
    stopped, and keeps each poll's latency (seconds) or the error it got. Bounded: at most
    `limit` polls."""

    def __init__(self, port, limit=20000, interval=0.005):
        self.port, self.limit, self.interval = port, limit, interval
        self.latencies, self.errors = [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)

    def _run(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self._stop.is_set() and len(self.latencies) + len(self.errors) < self.limit:
            started = time.monotonic()
            try:
                connection.request("GET", "/v1/revision")
                answer = connection.getresponse()
                answer.read()
                if answer.status != 200:
                    self.errors.append(f"status {answer.status}")
                else:
                    self.latencies.append(time.monotonic() - started)
            except (OSError, http.client.HTTPException) as error:
                self.errors.append(repr(error))
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self._stop.wait(self.interval)
        connection.close()

    def summary(self):
        """'n polls, median x ms, p99 y ms, max z ms' (latencies sorted)."""
        ms = sorted(x * 1000 for x in self.latencies)
        if not ms:
            return f"no poll answered ({len(self.errors)} errors)"
        pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
        return (f"{len(ms)} polls, median {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms, max {ms[-1]:.1f} ms"
                + (f", {len(self.errors)} errors" if self.errors else ""))
