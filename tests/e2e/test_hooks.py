"""Hooks from the event outbox, with real DHCP clients through a real relay, in namespaces this test makes.

Each hook here is a small executable that records what it got (stdin and ZONEBOOT_* variables) in
runs/<event id>-<attempt>-<pid>.*; the BMC test runs sushy-tools' Redfish responder (sushy-static,
over HTTPS with a certificate made here) at the address the BMC leased.
"""
import json
import os
import signal
import sqlite3
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from dhcp_lab import DHCPLab, lab_zone
from netlab import ROOT, ZONEBOOTD, lab, require_tools, wait_for

ZONECTL = Path(ZONEBOOTD).parent / "zonectl"
SUSHY_STATIC = ROOT / ".venv" / "bin" / "sushy-static"

ZONE = lab_zone(
    defaults="{ lease: 1h, dns: [198.18.0.53], boot-server: 198.18.0.10 }", discovery=None,
    ports=[f"{{ ports: swp{n}, rack: 1, units: {n}, role: {role}, network: servers, address: 198.18.16.1{n} }}"
           for n, role in enumerate(("logged", "failing", "hanging", "slow"), start=1)],
    roles="""\
        logged: { hooks: [log] }
        failing: { hooks: [fail] }
        hanging: { hooks: [hang] }
        slow: { hooks: [slow] }
        """,
    more="""\
    hooks:
      log: { on: [lease.acked], run: hooks/log }
      fail: { on: [lease.acked], run: hooks/fail }
      hang: { on: [lease.acked], run: hooks/hang, timeout: 2s }
      slow: { on: [lease.acked], run: hooks/slow }
      announce: { on: [zone.applied], run: hooks/log }
    """)

# Records one run: its stdin, its ZONEBOOT_* variables, its pid; then does what $1 says.
RECORD = textwrap.dedent("""\
    #!/bin/sh
    set -eu
    runs="$(dirname "$ZONEBOOT_STATE")/runs"; mkdir -p "$runs"
    base="$runs/$ZONEBOOT_EVENT_ID-$ZONEBOOT_ATTEMPT-$$"
    cat > "$base.json"
    env | grep '^ZONEBOOT_' | sort > "$base.env"
    date +%s.%N > "$base.started"
    """)

HOOKS = {
    "log": RECORD,
    "fail": RECORD + "exit 3\n",
    # The sleep is a child: a timeout must kill the whole process group, not just the shell.
    "hang": RECORD + "sleep 600 & echo $! > \"$base.child\"; wait\n",
    "slow": RECORD + "sleep 4\ntouch \"$base.done\"\n",
}

FAST_RETRIES = ("--hook-attempts", "3", "--hook-backoff-ms", "500", "--hook-backoff-cap-ms", "4000")


def write_hooks(tmp, hooks):
    (tmp / "hooks").mkdir(exist_ok=True)
    for name, text in hooks.items():
        path = tmp / "hooks" / name
        path.write_text(text)
        path.chmod(0o755)


class HookLab(DHCPLab):
    def __init__(self, the_lab, tmp, zone, hooks, extra):
        write_hooks(tmp, hooks)
        self.extra = extra
        super().__init__(the_lab, tmp, ports=4, zone=zone)

    def start_server(self):
        from netlab import start_zonebootd
        self.server = start_zonebootd(self.lab, self.srv, self.zone, self.state, "198.18.0.10", self.counters,
                                      "--log-level", "debug", "--http-port", "0", "--tftp-port", "0", *self.extra,
                                      log=self.tmp / f"zonebootd-{time.time_ns()}.log")

    def runs(self, event_id=None):
        """(event id, attempt, stdin JSON, env dict, start time) of every recorded run, in start order."""
        found = []
        for path in sorted((self.tmp / "runs").glob("*.started")) if (self.tmp / "runs").exists() else []:
            base = str(path)[: -len(".started")]
            event, attempt, _ = Path(base).name.split("-")
            if event_id is not None and int(event) != event_id:
                continue
            try:
                payload = json.loads(Path(base + ".json").read_text())
                env = dict(line.split("=", 1) for line in Path(base + ".env").read_text().splitlines())
                started = float(path.read_text())
            except (OSError, ValueError):
                continue
            found.append((int(event), int(attempt), payload, env, started, base))
        return sorted(found, key=lambda run: run[4])

    def event_rows(self):
        db = sqlite3.connect(self.state / "zoneboot.sqlite")
        try:
            return db.execute("SELECT id, type, delivered_at, dead_at, attempts, last_error FROM event ORDER BY id").fetchall()
        finally:
            db.close()

    def event_for(self, name, type_="lease.acked"):
        db = sqlite3.connect(self.state / "zoneboot.sqlite")
        try:
            for (event_id, body) in db.execute("SELECT id, body FROM event WHERE type = ? ORDER BY id", (type_,)):
                if json.loads(body).get("name") == name:
                    return event_id
        finally:
            db.close()
        return None

    def zonectl(self, *args):
        done = subprocess.run([str(ZONECTL), *args, "--state", str(self.state)], capture_output=True, text=True,
                              timeout=30)
        return done


def running(pid):
    """Alive and not a zombie (an orphan is reaped by whatever init this machine has, maybe late)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def hooks(tmp_path):
    require_tools("ip", "dhcrelay", "dhclient")
    with lab() as the_lab:
        yield HookLab(the_lab, tmp_path, ZONE, HOOKS, FAST_RETRIES)


def test_an_executable_hook_gets_the_event_on_stdin_and_in_its_environment(hooks):
    got = hooks.dhclient("swp1")
    assert got["ip"] == "198.18.16.11", got
    event_id = wait_for(lambda: hooks.event_for("lab-p01-r01-u01"), what="the lease.acked event")
    runs = wait_for(lambda: hooks.runs(event_id), what="the hook to run")
    _, attempt, payload, env, _, _ = runs[0]
    assert attempt == 1
    assert payload["id"] == event_id and payload["type"] == "lease.acked" and payload["zone"] == "lab"
    assert payload["name"] == "lab-p01-r01-u01" and payload["address"] == "198.18.16.11"
    assert payload["mac"] == DHCPLab.mac(1) and payload["switch"] == "tor-a" and payload["port"] == "swp1"
    assert payload["details"]["circuit_id"] == "swp1"
    assert env["ZONEBOOT_EVENT"] == "lease.acked" and env["ZONEBOOT_EVENT_ID"] == str(event_id)
    assert env["ZONEBOOT_NAME"] == "lab-p01-r01-u01" and env["ZONEBOOT_ADDRESS"] == "198.18.16.11"
    assert env["ZONEBOOT_MAC"] == DHCPLab.mac(1) and env["ZONEBOOT_ATTEMPT"] == "1"
    wait_for(lambda: any(r[0] == event_id and r[2] is not None for r in hooks.event_rows()), what="delivery")
    listed = json.loads(hooks.zonectl("events", "--json").stdout)
    mine = [e for e in listed if e["id"] == event_id][0]
    assert mine["state"] == "delivered" and mine["attempts"] == 1, mine
    assert len(hooks.runs(event_id)) == 1


def test_zone_applied_reaches_the_hooks_that_subscribe_whatever_their_roles(hooks):
    # The first start records the zone file as revision 1, and announces it.
    runs = wait_for(lambda: [r for r in hooks.runs() if r[2].get("type") == "zone.applied"], what="zone.applied")
    payload, env = runs[0][2], runs[0][3]
    assert payload["details"]["revision"] == "1" and payload["details"]["zone"] == "lab", payload
    assert env["ZONEBOOT_EVENT"] == "zone.applied"
    assert len(runs) == 1  # one hook subscribes; no role lists it


def test_a_failing_hook_backs_off_then_is_a_dead_letter_until_retried(hooks):
    hooks.dhclient("swp2")
    event_id = wait_for(lambda: hooks.event_for("lab-p01-r01-u02"), what="the lease.acked event")
    wait_for(lambda: any(r[0] == event_id and r[3] is not None for r in hooks.event_rows()), timeout=20,
             what="the dead letter")
    runs = hooks.runs(event_id)
    assert [r[1] for r in runs] == [1, 2, 3]
    gaps = [b[4] - a[4] for a, b in zip(runs, runs[1:])]
    # 500 ms, then 1 s: exponential backoff (with the poll interval's slack).
    assert 0.45 <= gaps[0] <= 1.2 and 0.95 <= gaps[1] <= 1.8 and gaps[1] > gaps[0], gaps
    dead = json.loads(hooks.zonectl("events", "--dead", "--json").stdout)
    assert [e["id"] for e in dead] == [event_id], dead
    assert dead[0]["attempts"] == 3 and "fail: exited with status 3" in dead[0]["last_error"], dead
    table = hooks.zonectl("events", "--dead").stdout
    assert str(event_id) in table and "dead" in table and "lab-p01-r01-u02" in table, table
    # The operator fixes the hook and delivers the dead letter again.
    (hooks.tmp / "hooks" / "fail").write_text(RECORD)
    retried = hooks.zonectl("events", "retry", str(event_id))
    assert retried.returncode == 0, retried.stderr
    wait_for(lambda: any(r[0] == event_id and r[2] is not None for r in hooks.event_rows()), what="redelivery")
    assert [r[1] for r in hooks.runs(event_id)] == [1, 2, 3, 1]
    again = hooks.zonectl("events", "retry", str(event_id))
    assert again.returncode == 1 and "not a dead letter" in again.stderr


def test_a_hanging_hook_is_killed_at_its_timeout_and_dhcp_answers_meanwhile(hooks):
    hooks.dhclient("swp3")
    event_id = wait_for(lambda: hooks.event_for("lab-p01-r01-u03"), what="the lease.acked event")
    first = wait_for(lambda: hooks.runs(event_id), what="the hook to start")[0]
    child = wait_for(lambda: Path(first[5] + ".child").exists() and Path(first[5] + ".child").read_text().strip(),
                     what="the hook's child")
    # While it hangs, another client is answered and its own hook runs.
    started = time.time()
    got = hooks.dhclient("swp1")
    answered = time.time() - started
    assert got["ip"] == "198.18.16.11"
    logged = wait_for(lambda: hooks.event_for("lab-p01-r01-u01"), what="swp1's event")
    wait_for(lambda: hooks.runs(logged), what="swp1's hook while swp3's hangs")
    # Killed at 2 s, process group and all; the next try comes after the backoff.
    wait_for(lambda: len(hooks.runs(event_id)) >= 2, timeout=10, what="the second try")
    assert not running(child), "the hanging hook's child outlived its timeout"
    rows = {r[0]: r for r in hooks.event_rows()}
    assert "killed after its timeout of 2s" in (rows[event_id][5] or ""), rows[event_id]
    assert answered < 10, answered


def test_kill_9_during_a_hook_delivers_the_event_again_after_restart(hooks):
    hooks.dhclient("swp4")
    event_id = wait_for(lambda: hooks.event_for("lab-p01-r01-u04"), what="the lease.acked event")
    wait_for(lambda: hooks.runs(event_id), what="the slow hook to start")
    hooks.lab.stop(hooks.server, signal.SIGKILL)
    assert hooks.event_rows()[-1][2] is None, "marked delivered before its hook ended"
    hooks.start_server()
    wait_for(lambda: any(r[0] == event_id and r[2] is not None for r in hooks.event_rows()), timeout=20,
             what="delivery after the restart")
    runs = hooks.runs(event_id)
    assert [r[1] for r in runs] == [1, 2], runs
    assert Path(runs[1][5] + ".done").exists()


# --- BMC registration over Redfish ---------------------------------------------------------------

BMC_ZONE = lab_zone(
    defaults="{ lease: 1h, boot-server: 198.18.0.10 }", discovery=None,
    ports=["{ ports: swp1, rack: 1, units: 1, role: hypervisor, network: servers, address: 198.18.16.11 }",
           "{ ports: swp2, rack: 1, units: 1, role: lom, network: servers, address: 198.18.16.12 }"],
    roles="""\
        hypervisor: {}
        lom: { hooks: [register-bmc] }
        """,
    more="""\
    hooks:
      register-bmc:
        on: [lease.acked]
        builtin: redfish-register
        credentials: secrets/bmc.json
        tls: accept-self-signed
        timeout: 10s
    """)

SYSTEM = {"@odata.id": "/redfish/v1/Systems/1", "Id": "1", "Manufacturer": "HPE", "Model": "ProLiant DL360 Gen10",
          "SerialNumber": "CZJ0420XYZ", "BiosVersion": "U32 v2.76 (02/09/2023)"}
MANAGER = {"@odata.id": "/redfish/v1/Managers/1", "Id": "1", "FirmwareVersion": "iLO 5 v2.78",
           "EthernetInterfaces": {"@odata.id": "/redfish/v1/Managers/1/EthernetInterfaces"}}
NIC = {"@odata.id": "/redfish/v1/Managers/1/EthernetInterfaces/1", "Id": "1", "HostName": "ILOCZJ0420XYZ"}


def redfish_mockup(root):
    """A Redfish tree in the DMTF mockup layout (each resource's index.json), as sushy-static serves it."""
    def put(path, body):
        (root / path).mkdir(parents=True, exist_ok=True)
        (root / path / "index.json").write_text(json.dumps(body))

    def collection(path, members):
        put(path, {"@odata.id": f"/redfish/v1/{path}", "Members": [{"@odata.id": m["@odata.id"]} for m in members],
                   "Members@odata.count": len(members)})

    put("", {"@odata.id": "/redfish/v1/", "RedfishVersion": "1.6.0", "Systems": {"@odata.id": "/redfish/v1/Systems"},
             "Managers": {"@odata.id": "/redfish/v1/Managers"}})
    collection("Systems", [SYSTEM])
    put("Systems/1", SYSTEM)
    collection("Managers", [MANAGER])
    put("Managers/1", MANAGER)
    collection("Managers/1/EthernetInterfaces", [NIC])
    put("Managers/1/EthernetInterfaces/1", NIC)


def bmc_files(tmp_path, mode=0o600):
    """The credentials file (secrets/bmc.json, with `mode`) and the emulators' self-signed certificate."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    credentials = secrets / "bmc.json"
    password = "s3cret-Redfish-pw"
    credentials.write_text(json.dumps({"username": "zoneboot", "password": password}))
    credentials.chmod(mode)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=bmc",
                    "-keyout", tmp_path / "bmc.key", "-out", tmp_path / "bmc.crt"], check=True, capture_output=True,
                   timeout=60)
    return credentials, password


def redfish_emulator(the_lab, namespace, address, mockup, tmp_path):
    """sushy-static serving `mockup` over HTTPS on address:443 in `namespace`; returns its log (requests, headers)."""
    log = tmp_path / f"sushy-static-{address}.log"
    the_lab.spawn(namespace, SUSHY_STATIC, "--interface", address, "--port", "443", "--mockup-files", mockup,
                  "--ssl-certificate", tmp_path / "bmc.crt", "--ssl-key", tmp_path / "bmc.key",
                  log=log, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    return log


def test_a_bmc_is_registered_over_redfish_once_its_service_is_up(tmp_path):
    require_tools("ip", "dhcrelay", "busybox", "openssl")
    if not SUSHY_STATIC.exists():
        pytest.fail("sushy-tools is missing: run `make deps`")
    credentials, password = bmc_files(tmp_path, mode=0o644)
    mockup = tmp_path / "redfish"
    redfish_mockup(mockup)
    with lab() as the_lab:
        bmc = HookLab(the_lab, tmp_path, BMC_ZONE, {},
                      ("--hook-attempts", "40", "--hook-backoff-ms", "300", "--hook-backoff-cap-ms", "1000"))
        # An iLO's vendor class: redfish-register sends credentials only to a recognized BMC.
        got = bmc.udhcpc("swp2", extra=("-V", "CPQRIB3"))
        assert got["ip"] == "198.18.16.12" and got["hostname"] == "lab-p01-r01-u01-lom", got
        event_id = wait_for(lambda: bmc.event_for("lab-p01-r01-u01-lom"), what="the BMC's lease.acked")

        def last_error():
            return {r[0]: r for r in bmc.event_rows()}[event_id][5] or ""

        # A secrets file others may read is refused.
        wait_for(lambda: "mode 644: refused" in last_error(), what="the open credentials to be refused")
        credentials.chmod(0o600)
        # The BMC is still booting: its address is up but nothing answers HTTPS yet.
        port = bmc.clients["swp2"]
        the_lab.addr(port, "eth0", "198.18.16.12/24")
        the_lab.run(port, "ip", "route", "add", "default", "via", "198.18.16.1")
        wait_for(lambda: "Redfish at 198.18.16.12" in last_error(), timeout=15, what="connection refused, retried")
        emulator_log = redfish_emulator(the_lab, port, "198.18.16.12", mockup, tmp_path)
        wait_for(lambda: bmc.event_for("lab-p01-r01-u01-lom", "bmc.discovered"), timeout=30, what="bmc.discovered")
        # The emulator got the hostname, with the credentials from the file.
        log = emulator_log.read_text()
        assert '"PATCH /redfish/v1/Managers/1/EthernetInterfaces/1 HTTP/1.1" 204' in log, log
        assert "Data: b'{\"HostName\":\"lab-p01-r01-u01-lom\"}'" in log, log
        assert "Authorization: Basic em9uZWJvb3Q6czNjcmV0LVJlZGZpc2gtcHc=" in log, log
        recorded = json.loads(bmc.zonectl("bmcs", "--json").stdout)
        assert recorded == [{
            "name": "lab-p01-r01-u01-lom", "address": "198.18.16.12", "mac": DHCPLab.mac(2),
            "hostname": "lab-p01-r01-u01-lom", "manufacturer": "HPE", "model": "ProLiant DL360 Gen10",
            "serial": "CZJ0420XYZ", "bios_version": "U32 v2.76 (02/09/2023)", "bmc_firmware": "iLO 5 v2.78",
            "registered_at": recorded[0]["registered_at"],
            # Pinned by this first registration (tls: accept-self-signed); see test_redfish_trust.py.
            "certificate_sha256": recorded[0]["certificate_sha256"], "own_password": False,
        }], recorded
        assert len(recorded[0]["certificate_sha256"]) == 95, recorded
        assert [r[2] is not None for r in bmc.event_rows() if r[0] == event_id] == [True]
        for path in tmp_path.glob("zonebootd-*.log"):
            assert password not in path.read_text(), f"the password is in {path}"


# --- Webhooks and lease.expired ------------------------------------------------------------------

WEBHOOK_ZONE = lab_zone(
    defaults="{ lease: 3s, boot-server: 198.18.0.10 }", discovery=None,
    ports=["{ ports: swp1-swp4, rack: 1, units: 1-4, role: hypervisor, network: servers, address: 198.18.16.11 }"],
    roles="hypervisor: { hooks: [cmdb] }",
    more="""\
    hooks:
      cmdb: { on: [lease.acked, lease.expired], url: "http://198.18.0.10:8081/zoneboot", timeout: 5s }
    """)

# Records each POST (headers and body) in a file; answers 503 to the first, 204 to the rest.
RECEIVER = textwrap.dedent("""\
    import json, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer
    out = sys.argv[1]
    seen = []
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(1)
            with open(out, "a") as f:
                f.write(json.dumps({"path": self.path, "headers": dict(self.headers), "body": json.loads(body),
                                    "answer": 503 if len(seen) == 1 else 204}) + "\\n")
            self.send_response(503 if len(seen) == 1 else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()
    HTTPServer(("198.18.0.10", 8081), Handler).serve_forever()
    """)


def test_a_webhook_gets_the_event_posted_and_a_lease_expiry_is_an_event(tmp_path):
    require_tools("ip", "dhcrelay", "dhclient")
    with lab() as the_lab:
        hook_lab = HookLab(the_lab, tmp_path, WEBHOOK_ZONE, {}, FAST_RETRIES)
        received = tmp_path / "received.jsonl"
        (tmp_path / "receiver.py").write_text(RECEIVER)
        the_lab.spawn(hook_lab.srv, "/usr/bin/python3", tmp_path / "receiver.py", received, log=tmp_path / "receiver.log")
        got = hook_lab.dhclient("swp1")
        assert got["ip"] == "198.18.16.11" and got["lease"] == "3", got

        def posts():
            return [json.loads(line) for line in received.read_text().splitlines()] if received.exists() else []

        # The first POST is answered 503 and retried; the lease then expires (dhclient was stopped) and that
        # is posted too, once.
        wait_for(lambda: [p["body"]["type"] for p in posts() if p["answer"] == 204] == ["lease.acked", "lease.expired"],
                 timeout=30, what="lease.acked retried and lease.expired posted")
        first, retried, expired = posts()
        assert first["body"]["id"] == retried["body"]["id"] and first["answer"] == 503
        assert (first["body"]["attempt"], retried["body"]["attempt"]) == (1, 2)
        assert retried["path"] == "/zoneboot" and retried["headers"]["Content-Type"] == "application/json"
        assert retried["headers"]["ZoneBoot-Event"] == "lease.acked"
        assert retried["headers"]["ZoneBoot-Event-Id"] == str(retried["body"]["id"])
        assert retried["headers"]["Idempotency-Key"] == f"zoneboot-event-{retried['body']['id']}"
        assert retried["body"]["name"] == "lab-p01-r01-u01" and retried["body"]["mac"] == DHCPLab.mac(1)
        assert expired["body"]["address"] == "198.18.16.11" and expired["body"]["name"] == "lab-p01-r01-u01"
        time.sleep(6)  # a sweep or two later: still reported once
        assert [p["body"]["type"] for p in posts()].count("lease.expired") == 1


def test_a_bmc_that_links_off_its_own_address_gets_no_credentials_sent_there(tmp_path):
    """A device on a lom port answers with a Systems link `@198.18.16.13/...`: followed as written,
    https://198.18.16.12@198.18.16.13/... would carry the shared credentials to 198.18.16.13.
    The hook refuses the link; the other address never sees a request."""
    require_tools("ip", "dhcrelay", "busybox", "openssl")
    if not SUSHY_STATIC.exists():
        pytest.fail("sushy-tools is missing: run `make deps`")
    bmc_files(tmp_path)
    mockup = tmp_path / "redfish"
    redfish_mockup(mockup)
    root = json.loads((mockup / "index.json").read_text())
    root["Systems"] = {"@odata.id": "@198.18.16.13/redfish/v1/Systems"}
    (mockup / "index.json").write_text(json.dumps(root))
    with lab() as the_lab:
        bmc = HookLab(the_lab, tmp_path, BMC_ZONE, {},
                      ("--hook-attempts", "40", "--hook-backoff-ms", "300", "--hook-backoff-cap-ms", "1000"))
        bmc.udhcpc("swp2", extra=("-V", "CPQRIB3"))
        event_id = wait_for(lambda: bmc.event_for("lab-p01-r01-u01-lom"), what="the BMC's lease.acked")
        port = bmc.clients["swp2"]
        the_lab.addr(port, "eth0", "198.18.16.12/24")
        the_lab.addr(port, "eth0", "198.18.16.13/24")
        the_lab.run(port, "ip", "route", "add", "default", "via", "198.18.16.1")
        device_log = redfish_emulator(the_lab, port, "198.18.16.12", mockup, tmp_path)
        elsewhere_log = redfish_emulator(the_lab, port, "198.18.16.13", mockup, tmp_path)

        def last_error():
            return {r[0]: r for r in bmc.event_rows()}[event_id][5] or ""

        wait_for(lambda: "links off the service" in last_error(), timeout=30, what="the link to be refused")
        assert '"GET /redfish/v1/ HTTP/1.1" 200' in device_log.read_text()
        assert "GET" not in elsewhere_log.read_text() and "Authorization" not in elsewhere_log.read_text()
        assert not bmc.event_for("lab-p01-r01-u01-lom", "bmc.discovered")
