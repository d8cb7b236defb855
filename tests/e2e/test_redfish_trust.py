"""Who gets the BMC credentials: redfish-register against sushy-tools' Redfish responder (sushy-static,
HTTPS with certificates made here) at the address a BMC leased through a real relay, in namespaces
this test makes.

- only a machine that said it is a BMC (an iLO's vendor class) on a lom port gets a request;
- the BMC's certificate is pinned by its first registration; a swapped certificate is refused in the
  handshake (the responder logs no request, so no credentials), `bmc.certificate-changed` is written,
  and `zonectl bmcs forget` re-trusts;
- `password: rotate` gives the BMC a password of its own (0600 in the state directory), used from then on;
- a webhook may not accept self-signed certificates (a positioned validation error).
"""
import base64
import json
import os
import stat
import subprocess
import textwrap

import pytest

from dhcp_lab import lab_zone
from netlab import lab, require_tools, wait_for
from test_hooks import BMC_ZONE, SUSHY_STATIC, ZONECTL, HookLab, bmc_files, redfish_mockup

BMC = "lab-p01-r01-u01-lom"
ADDRESS = "198.18.16.12"
RETRIES = ("--hook-attempts", "40", "--hook-backoff-ms", "300", "--hook-backoff-cap-ms", "1000")
# HPE iLO's DHCP vendor class: what makes the machine on the lom port a recognized BMC.
AS_ILO = ("-V", "CPQRIB3")


def certificate(tmp_path, name):
    """Another self-signed certificate and key, as a re-keyed (or impostor) BMC would present."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}",
                    "-keyout", tmp_path / f"{name}.key", "-out", tmp_path / f"{name}.crt"], check=True,
                   capture_output=True, timeout=60)
    return tmp_path / f"{name}.crt", tmp_path / f"{name}.key"


def fingerprint(crt):
    """`AB:CD:...`, SHA-256 of the certificate's DER, as openssl prints it."""
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", crt], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    return out.strip().split("=", 1)[1]


def emulator(the_lab, namespace, mockup, crt, key, log):
    """sushy-static serving `mockup` over HTTPS on ADDRESS:443 with `crt`; its log has every request and its headers."""
    return the_lab.spawn(namespace, SUSHY_STATIC, "--interface", ADDRESS, "--port", "443", "--mockup-files", mockup,
                         "--ssl-certificate", crt, "--ssl-key", key, log=log, env=dict(os.environ, PYTHONUNBUFFERED="1"))


def bmc_port_up(the_lab, bmc):
    port = bmc.clients["swp2"]
    the_lab.addr(port, "eth0", f"{ADDRESS}/24")
    the_lab.run(port, "ip", "route", "add", "default", "via", "198.18.16.1")
    return port


def wait_listening(the_lab, port, log):
    """Until the responder accepts TCP on ADDRESS:443 (its log says nothing before the first request)."""
    def listening():
        probe = the_lab.run(port, "python3", "-c", f"import socket; socket.create_connection(('{ADDRESS}', 443), 1)",
                            check=False, timeout=10)
        return probe.returncode == 0
    wait_for(listening, timeout=20, what=f"sushy-static listening ({log})")


def event_rows(bmc, type_):
    """(id, body, delivered_at, last_error) of the events of this type, oldest first."""
    import sqlite3
    db = sqlite3.connect(bmc.state / "zoneboot.sqlite")
    try:
        return [(i, json.loads(b), d, e) for (i, b, d, e) in db.execute(
            "SELECT id, body, delivered_at, last_error FROM event WHERE type = ? ORDER BY id", (type_,))]
    finally:
        db.close()


def requests_in(log):
    return [line for line in log.read_text().splitlines() if '"GET ' in line or '"PATCH ' in line]


@pytest.fixture
def redfish(tmp_path):
    require_tools("ip", "dhcrelay", "busybox", "openssl")
    if not SUSHY_STATIC.exists():
        pytest.fail("sushy-tools is missing: run `make deps`")
    bmc_files(tmp_path)
    redfish_mockup(tmp_path / "redfish")
    with lab() as the_lab:
        yield the_lab, HookLab(the_lab, tmp_path, BMC_ZONE, {}, RETRIES)


def test_the_first_registration_pins_the_certificate_and_a_swapped_one_gets_no_credentials(redfish, tmp_path):
    the_lab, bmc = redfish
    port = bmc_port_up(the_lab, bmc)
    first_log = tmp_path / "sushy-first.log"
    first = emulator(the_lab, port, tmp_path / "redfish", tmp_path / "bmc.crt", tmp_path / "bmc.key", first_log)
    wait_listening(the_lab, port, first_log)
    got = bmc.udhcpc("swp2", extra=AS_ILO)
    assert got["ip"] == ADDRESS and got["hostname"] == BMC, got
    wait_for(lambda: event_rows(bmc, "bmc.discovered"), timeout=30, what="bmc.discovered")
    pinned = fingerprint(tmp_path / "bmc.crt")
    [record] = json.loads(bmc.zonectl("bmcs", "--json").stdout)
    assert (record["name"], record["certificate_sha256"], record.get("refused_sha256")) == (BMC, pinned, None), record
    assert pinned in bmc.zonectl("bmcs").stdout
    assert any("Authorization: Basic" in line for line in first_log.read_text().splitlines())

    # The BMC's certificate changes (another machine at its address, or a re-keyed BMC); its next lease
    # (a renewal) asks for a registration again.
    the_lab.stop(first)
    swapped_crt, swapped_key = certificate(tmp_path, "swapped")
    swapped_log = tmp_path / "sushy-swapped.log"
    emulator(the_lab, port, tmp_path / "redfish", swapped_crt, swapped_key, swapped_log)
    wait_listening(the_lab, port, swapped_log)
    acked_before = len(event_rows(bmc, "lease.acked"))
    bmc.udhcpc("swp2", extra=AS_ILO)
    wait_for(lambda: len(event_rows(bmc, "lease.acked")) > acked_before, what="the renewal's lease.acked")
    renewal = event_rows(bmc, "lease.acked")[-1][0]
    changed = wait_for(lambda: event_rows(bmc, "bmc.certificate-changed"), timeout=30, what="bmc.certificate-changed")
    presented = fingerprint(swapped_crt)
    assert changed[0][1]["name"] == BMC and changed[0][1]["address"] == ADDRESS
    assert changed[0][1]["details"] == {"pinned_sha256": pinned, "presented_sha256": presented,
                                        "device_kind": "hpe-ilo"}, changed
    # Refused in the handshake: the responder never saw a request, so never the credentials.
    wait_for(lambda: "certificate changed" in (dict((r[0], r[3]) for r in event_rows(bmc, "lease.acked"))[renewal] or ""),
             what="the renewal's registration to fail on the certificate")
    assert requests_in(swapped_log) == [], swapped_log.read_text()
    assert "Authorization" not in swapped_log.read_text()
    # Tried again with backoff, the same certificate raises no second event.
    wait_for(lambda: [r for r in bmc.event_rows() if r[0] == renewal][0][4] >= 3, what="two more tries")
    assert len(event_rows(bmc, "bmc.certificate-changed")) == 1
    events = json.loads(bmc.zonectl("events", "--json").stdout)
    assert "bmc.certificate-changed" in [e["type"] for e in events]
    listing = bmc.zonectl("bmcs").stdout
    assert f"presented another certificate (SHA-256 {presented})" in listing, listing
    assert requests_in(swapped_log) == []

    # The operator knows the change is legitimate: forgetting the pin lets the retry pin the new one.
    done = bmc.zonectl("bmcs", "forget", BMC)
    assert done.returncode == 0, done.stderr
    wait_for(lambda: len(event_rows(bmc, "bmc.discovered")) == 2, timeout=30, what="the registration after forget")
    [record] = json.loads(bmc.zonectl("bmcs", "--json").stdout)
    assert (record["certificate_sha256"], record.get("refused_sha256")) == (presented, None), record
    assert "Authorization: Basic" in swapped_log.read_text()
    assert bmc.zonectl("bmcs", "forget", "no-such-bmc").returncode == 1


def test_a_machine_on_a_lom_port_that_is_no_recognized_bmc_gets_no_request(redfish, tmp_path):
    """busybox udhcpc names itself `udhcp <version>` (device kind unknown), then a PXE ROM (miscabled):
    a Redfish service answers at the address, but neither lease is a reason to send it the credentials."""
    the_lab, bmc = redfish
    port = bmc_port_up(the_lab, bmc)
    log = tmp_path / "sushy.log"
    emulator(the_lab, port, tmp_path / "redfish", tmp_path / "bmc.crt", tmp_path / "bmc.key", log)
    wait_listening(the_lab, port, log)
    for extra, reason in [((), "did not say it is a BMC"),
                          (("-V", "PXEClient:Arch:00000:UNDI:002001"), "is a pxe, not a BMC (miscabled)")]:
        before = len(event_rows(bmc, "lease.acked"))
        bmc.udhcpc("swp2", extra=extra)
        wait_for(lambda: len(event_rows(bmc, "lease.acked")) > before, what="lease.acked")
        event_id = event_rows(bmc, "lease.acked")[-1][0]

        def row():
            return [r for r in event_rows(bmc, "lease.acked") if r[0] == event_id][0]

        # Taken at once without a request, not retried, with the reason kept.
        wait_for(lambda: row()[2] is not None, timeout=15, what="the event to be taken")
        assert f"register-bmc skipped: the machine at {BMC}" in row()[3] and reason in row()[3], row()
        assert [r[4] for r in bmc.event_rows() if r[0] == event_id] == [1]
        listing = bmc.zonectl("events").stdout
        assert "register-bmc skipped" in listing, listing
    assert requests_in(log) == [], log.read_text()
    assert event_rows(bmc, "bmc.discovered") == []
    assert json.loads(bmc.zonectl("bmcs", "--json").stdout) == []


def test_a_webhook_that_accepts_self_signed_certificates_fails_validation(tmp_path):
    zone = lab_zone(
        ports=["{ ports: swp1, rack: 1, units: 1, role: hypervisor, network: servers, address: 198.18.16.11 }"],
        roles="hypervisor: { hooks: [cmdb] }",
        more=textwrap.dedent("""\
            hooks:
              cmdb:
                on: [lease.acked]
                url: https://198.18.0.20/zoneboot
                tls: accept-self-signed
            """))
    path = tmp_path / "lab.yaml"
    path.write_text(zone)
    done = subprocess.run([str(ZONECTL), "validate", str(path)], capture_output=True, text=True, timeout=30)
    line = next(n for n, text in enumerate(zone.splitlines(), start=1) if "tls: accept-self-signed" in text)
    column = zone.splitlines()[line - 1].index("accept-self-signed") + 1
    assert done.returncode != 0
    assert f"lab.yaml:{line}:{column}: error: hooks.cmdb.tls: accept-self-signed is for redfish-register" \
        in done.stdout + done.stderr, done.stdout + done.stderr


ROTATING_ZONE = BMC_ZONE.replace("    tls: accept-self-signed\n", "    tls: accept-self-signed\n    password: rotate\n")


def with_accounts(mockup):
    """The mockup with an AccountService whose second account is the one the credentials file names."""
    def put(path, body):
        (mockup / path).mkdir(parents=True, exist_ok=True)
        (mockup / path / "index.json").write_text(json.dumps(body))
    root = json.loads((mockup / "index.json").read_text())
    root["AccountService"] = {"@odata.id": "/redfish/v1/AccountService"}
    put("", root)
    put("AccountService", {"@odata.id": "/redfish/v1/AccountService",
                           "Accounts": {"@odata.id": "/redfish/v1/AccountService/Accounts"}})
    accounts = [{"@odata.id": f"/redfish/v1/AccountService/Accounts/{n}", "Id": str(n), "UserName": user}
                for n, user in ((1, "Administrator"), (2, "zoneboot"))]
    put("AccountService/Accounts", {"@odata.id": "/redfish/v1/AccountService/Accounts",
                                    "Members": [{"@odata.id": a["@odata.id"]} for a in accounts]})
    for account in accounts:
        put(f"AccountService/Accounts/{account['Id']}", account)


def test_password_rotate_gives_the_bmc_a_password_of_its_own(tmp_path):
    require_tools("ip", "dhcrelay", "busybox", "openssl")
    if not SUSHY_STATIC.exists():
        pytest.fail("sushy-tools is missing: run `make deps`")
    _, shared = bmc_files(tmp_path)
    redfish_mockup(tmp_path / "redfish")
    with_accounts(tmp_path / "redfish")
    with lab() as the_lab:
        bmc = HookLab(the_lab, tmp_path, ROTATING_ZONE, {}, RETRIES)
        port = bmc_port_up(the_lab, bmc)
        log = tmp_path / "sushy.log"
        emulator(the_lab, port, tmp_path / "redfish", tmp_path / "bmc.crt", tmp_path / "bmc.key", log)
        wait_listening(the_lab, port, log)
        bmc.udhcpc("swp2", extra=AS_ILO)
        wait_for(lambda: event_rows(bmc, "bmc.discovered"), timeout=30, what="bmc.discovered")
        # Kept before the BMC was asked to take it, readable by its owner only.
        kept = bmc.state / "bmc-passwords" / f"{BMC}.json"
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
        entry = json.loads(kept.read_text())
        own = entry["password"]
        assert (entry["username"], entry["state"], len(own)) == ("zoneboot", "current", 20) and own != shared, entry
        text = log.read_text()
        assert '"PATCH /redfish/v1/AccountService/Accounts/2 HTTP/1.1" 204' in text, text
        assert "Data: b'{\"Password\":\"%s\"}'" % own in text, text
        [record] = json.loads(bmc.zonectl("bmcs", "--json").stdout)
        assert record["own_password"] is True, record
        assert "own" in bmc.zonectl("bmcs").stdout.splitlines()[1].split()

        # The next registration logs in with the BMC's own password, and sets nothing.
        before = len(text)
        bmc.udhcpc("swp2", extra=AS_ILO)
        wait_for(lambda: len(event_rows(bmc, "bmc.discovered")) == 2, timeout=30, what="the second registration")
        later = log.read_text()[before:]
        authorizations = {line.split(": ", 1)[1] for line in later.splitlines() if line.startswith("Authorization: ")}
        assert authorizations == {"Basic " + base64.b64encode(f"zoneboot:{own}".encode()).decode()}, authorizations
        assert "AccountService" not in later
        for path in tmp_path.glob("zonebootd-*.log"):
            assert own not in path.read_text() and shared not in path.read_text(), f"a password is in {path}"
