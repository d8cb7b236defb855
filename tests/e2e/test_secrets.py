"""Per-host bootstrap secrets (issue 16), with real clients in namespaces: machines take
leases through `dhcrelay -a` (busybox udhcpc), then fetch with curl from the address they
were given, as an installer's %post does.

    [srv: eth0 198.18.0.10] ── [rly: up0 198.18.0.1 | swp1..swp4 198.18.16.1, dhcrelay -a] ── [cN: eth0]

swp1..swp3 are hypervisors u01..u03; swp4 is no declared port, so its machine is discovered.
The host's own key is served once (410 after), to its own address only (403 for another
host and for the discovered machine); one not fetched within its ttl is 410; the hook gets
the public key (it matches the private key the host got) or the token's SHA-256;
`zonectl secrets` lists issued, used and expired; no secret reaches the log or the database.
"""
import hashlib
import json
import subprocess
import textwrap
import time

import pytest

from apply_lab import ZONECTL, write_tokens
from dhcp_lab import SERVER, DHCPLab, lab_zone
from netlab import lab, require_tools, wait_for

HOST = {"swp1": ("lab-p01-r01-u01", "198.18.16.11"), "swp2": ("lab-p01-r01-u02", "198.18.16.12")}
ADMIN = "127.0.0.1:9180"

ZONE = lab_zone(roles="hypervisor: { boot: lab, hooks: [record] }", more="""\
    profiles:
      lab:
        ipxe: boot.ipxe
        files:
          ks.cfg: ks.cfg
        bootstrap-secrets:
          chef-client-key: { kind: rsa-key, ttl: 2h }
          pull-token: { kind: token }
          quick: { kind: token, ttl: 2s }
    hooks:
      record: { on: [bootstrap.issued], run: hooks/record }
    """)

TEMPLATES = {
    "boot.ipxe": "#!ipxe\nchain {{boot_url}}/hosts/{{name}}/ks.cfg\n",
    "ks.cfg": textwrap.dedent("""\
        # {{name}}
        key={{bootstrap.chef-client-key.url}}
        token={{bootstrap.pull-token.url}}
        quick={{bootstrap.quick.url}}
        """),
}
# Keeps each run's stdin (the event JSON) as runs/<event id>.json.
RECORD_HOOK = textwrap.dedent("""\
    #!/bin/sh
    runs="$(dirname "$ZONEBOOT_STATE")/runs"; mkdir -p "$runs"
    cat > "$runs/$ZONEBOOT_EVENT_ID.partial" && mv "$runs/$ZONEBOOT_EVENT_ID.partial" "$runs/$ZONEBOOT_EVENT_ID.json"
    """)


# The same hosts with a secret value (`secret-file`) in their Ansible vars and Chef attributes.
PASSWORD, NEW_PASSWORD = "db-Pa55-f1rst-0f-tw0", "db-Pa55-s3c0nd-0f-tw0"
VALUES_ZONE = lab_zone(roles="""\
    hypervisor:
      boot: lab
      ansible: { groups: [hv], vars: { site: lab, db_password: { secret-file: secrets/db-password } } }
      chef: { run-list: ["role[hv]"], attributes: { db: { user: app, password: { secret-file: secrets/db-password } } } }
    """, more="""\
    profiles:
      lab:
        ipxe: boot.ipxe
        files:
          ks.cfg: ks.cfg
    """)
VALUES_TEMPLATES = {"boot.ipxe": TEMPLATES["boot.ipxe"], "ks.cfg": "# {{name}}\ndb={{ansible.vars.db_password}}\n"}


class SecretsLab(DHCPLab):
    def __init__(self, the_lab, tmp, zone=ZONE, templates=TEMPLATES):
        for name, text in templates.items():
            (tmp / name).write_text(text)
        (tmp / "hooks").mkdir(exist_ok=True)
        (tmp / "hooks" / "record").write_text(RECORD_HOOK)
        (tmp / "hooks" / "record").chmod(0o755)
        tokens, self.tokens = write_tokens(tmp)
        self.token_file = tmp / "token-ops"
        super().__init__(the_lab, tmp, ports=4, zone=zone,
                         server_args=("--admin-port", ADMIN.split(":")[1], "--admin-token-file", str(tokens)))

    def take_lease(self, port):
        """The port's machine takes a lease and puts the address on its interface, as an installer does."""
        got = self.udhcpc(port)
        self.lab.addr(self.clients[port], "eth0", f"{got['ip']}/24")
        self.lab.run(self.clients[port], "ip", "route", "replace", "default", "via", "198.18.16.1")
        # Every relay port holds 198.18.16.1/24: the relay reaches the machine by a host route, as a switch knows its hosts.
        self.lab.run(self.relay, "ip", "route", "replace", f"{got['ip']}/32", "dev", port)
        return got

    def fetch(self, port, path, token=None):
        """GET from the port's machine; with `token`, as `Authorization: Bearer` (what an operator's tool sends)."""
        header = ("-H", f"Authorization: Bearer {token}") if token else ()
        out = self.lab.run(self.clients[port], "curl", "-s", "--max-time", "10", "-w", "\n%{http_code}", *header,
                           f"http://{SERVER}{path}", check=False).stdout
        body, _, code = out.rpartition("\n")
        return int(code), body

    def zonectl(self, *args):
        return self.lab.run(self.srv, ZONECTL, *args, "--server", f"http://{ADMIN}", "--token-file", self.token_file,
                            check=False)

    def hook_events(self):
        runs = self.tmp / "runs"
        return [json.loads(p.read_text()) for p in sorted(runs.glob("*.json"))] if runs.exists() else []


@pytest.fixture
def secrets_lab(tmp_path):
    require_tools("ip", "dhcrelay", "busybox", "curl", "openssl")
    with lab() as the_lab:
        yield SecretsLab(the_lab, tmp_path)


def test_a_host_gets_its_own_secrets_once_and_no_other_machine_gets_them(secrets_lab):
    zb = secrets_lab
    host, address = HOST["swp1"]
    assert zb.take_lease("swp1")["ip"] == address
    assert zb.take_lease("swp2")["ip"] == HOST["swp2"][1]
    discovered = zb.take_lease("swp4")["ip"]
    assert discovered.startswith("198.18.16.2"), discovered
    key_url, token_url, quick_url = (f"/bootstrap/{host}/{name}" for name in ("chef-client-key", "pull-token", "quick"))

    # The install config names the URLs and issues the secrets.
    code, kickstart = zb.fetch("swp1", f"/hosts/{host}/ks.cfg")
    assert code == 200 and f"key=http://{SERVER}{key_url}" in kickstart, kickstart
    listed = json.loads(zb.zonectl("secrets", "--json").stdout)
    assert {(r["host"], r["name"], r["status"]) for r in listed} == {
        (host, "chef-client-key", "issued"), (host, "pull-token", "issued"), (host, "quick", "issued")}, listed

    # Another host, from its own leased address, and a discovered machine: 403; an undeclared name: 404.
    assert zb.fetch("swp2", key_url)[0] == 403
    assert zb.fetch("swp4", key_url)[0] == 403
    assert zb.fetch("swp4", token_url)[0] == 403
    assert zb.fetch("swp1", f"/bootstrap/{host}/validation.pem")[0] == 404
    assert zb.fetch("swp1", "/files/chef/validation.pem")[0] == 404

    # The owner: once; then 410.
    code, key = zb.fetch("swp1", key_url)
    assert code == 200 and key.startswith("-----BEGIN RSA PRIVATE KEY-----"), key[:80]
    assert zb.fetch("swp1", key_url)[0] == 410
    code, token = zb.fetch("swp1", token_url)
    assert code == 200 and len(token.strip()) == 43, token
    assert zb.fetch("swp1", token_url)[0] == 410

    # Not fetched within its ttl (2s): expired, 410, even for the owner.
    time.sleep(2.5)
    assert zb.fetch("swp1", quick_url)[0] == 410

    # The hook got the public half of the key the host got, and the token's SHA-256: nothing else.
    events = wait_for(lambda: (lambda e: e if len(e) == 2 else None)(zb.hook_events()), what="two bootstrap.issued runs")
    by_secret = {e["details"]["secret"]: e for e in events}
    assert {e["type"] for e in events} == {"bootstrap.issued"} and {e["name"] for e in events} == {host}
    key_file = zb.tmp / "client.pem"
    key_file.write_text(key)
    public = subprocess.run(["openssl", "pkey", "-in", key_file, "-pubout"], check=True, capture_output=True,
                            text=True).stdout
    assert by_secret["chef-client-key"]["details"]["public_key"].strip() == public.strip()
    assert "PRIVATE" not in json.dumps(events)
    assert by_secret["pull-token"]["details"]["token_sha256"] == hashlib.sha256(token.strip().encode()).hexdigest()
    assert token.strip() not in json.dumps(events)

    # zonectl: used and expired, with fingerprints, never a value.
    listed = zb.zonectl("secrets", "--json")
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert {n: r["status"] for n, r in rows.items()} == {"chef-client-key": "used", "pull-token": "used", "quick": "expired"}
    assert rows["chef-client-key"]["served_to"] == address
    assert rows["chef-client-key"]["fingerprint"] == by_secret["chef-client-key"]["details"]["fingerprint"]
    table = zb.zonectl("secrets").stdout
    assert "expired" in table and "used" in table, table
    for shown in (listed.stdout, table):
        assert token.strip() not in shown and "PRIVATE" not in shown
    # Without a token the listing is refused.
    refused = zb.lab.run(zb.srv, ZONECTL, "secrets", "--server", f"http://{ADMIN}", check=False)
    assert refused.returncode != 0

    # Nothing secret was logged or stored.
    log = "".join(p.read_text(errors="replace") for p in zb.tmp.glob("zonebootd-*.log"))
    assert f"served bootstrap secret chef-client-key to {host}" in log
    stored = b"".join(p.read_bytes() for p in zb.state.glob("zoneboot.sqlite*"))
    body = "".join(key.strip().splitlines()[1:-1])
    for secret in (token.strip(), body[:64], body[-64:]):
        assert secret not in log and secret.encode() not in stored


def test_a_replaced_machine_is_issued_a_new_key_the_same_machine_is_not(secrets_lab):
    zb = secrets_lab
    host, address = HOST["swp1"]
    key_url = f"/bootstrap/{host}/chef-client-key"
    zb.take_lease("swp1")
    assert zb.fetch("swp1", f"/hosts/{host}/ks.cfg")[0] == 200
    first = zb.fetch("swp1", key_url)
    assert first[0] == 200
    # The same machine installing again: still used.
    assert zb.fetch("swp1", f"/hosts/{host}/ks.cfg")[0] == 200
    assert zb.fetch("swp1", key_url)[0] == 410
    # Another machine in its place (a new MAC on swp1): a new install, a new key, once.
    zb.lab.run(zb.clients["swp1"], "ip", "addr", "flush", "dev", "eth0")
    zb.lab.run(zb.clients["swp1"], "ip", "link", "set", "eth0", "address", zb.mac(1, generation=1))
    assert zb.take_lease("swp1")["ip"] == address
    assert zb.fetch("swp1", f"/hosts/{host}/ks.cfg")[0] == 200
    second = zb.fetch("swp1", key_url)
    assert second[0] == 200 and second[1] != first[1]
    assert zb.fetch("swp1", key_url)[0] == 410
    # The operator lets the same machine reinstall.
    assert zb.lab.run(zb.srv, ZONECTL, "secrets", "reset", host, "--state", zb.state, check=False).returncode == 0
    assert zb.fetch("swp1", f"/hosts/{host}/ks.cfg")[0] == 200
    assert zb.fetch("swp1", key_url)[0] == 200


def write_secret(tmp, text):
    path = tmp / "secrets" / "db-password"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text + "\n")
    path.chmod(0o600)


def test_secret_values_reach_only_the_host_itself_and_plans_show_only_their_digest(tmp_path):
    require_tools("ip", "dhcrelay", "busybox", "curl")
    write_secret(tmp_path, PASSWORD)
    with lab() as the_lab:
        zb = SecretsLab(the_lab, tmp_path, zone=VALUES_ZONE, templates=VALUES_TEMPLATES)
        host, address = HOST["swp1"]
        zb.take_lease("swp1")
        zb.take_lease("swp2")
        # The host's own kickstart and node JSON carry the value.
        assert zb.fetch("swp1", f"/hosts/{host}/ks.cfg") == (200, f"# {host}\ndb={PASSWORD}\n")
        code, node = zb.fetch("swp1", f"/chef/nodes/{host}.json")
        assert code == 200 and json.loads(node)["db"] == {"user": "app", "password": PASSWORD}, node
        # Another machine gets nothing of it; a read token holder (from anywhere) sees it redacted,
        # with the digest's prefix.
        digest = hashlib.sha256((PASSWORD + "\n").encode()).hexdigest()[:12]
        redacted = f"(secret secrets/db-password, sha256:{digest}\u2026)"
        shown = {}
        for path in (f"/chef/nodes/{host}.json", "/ansible/inventory", f"/ansible/inventory/{host}"):
            code, refused = zb.fetch("swp2", path)
            assert code == 403 and PASSWORD not in refused, refused
            code, shown[path] = zb.fetch("swp2", path, token=zb.tokens["audit"])
            assert code == 200 and PASSWORD not in shown[path], shown[path]
        assert json.loads(shown[f"/chef/nodes/{host}.json"])["db"]["password"] == redacted
        assert json.loads(shown[f"/ansible/inventory/{host}"])["db_password"] == redacted

        def zonectl(*args):
            return zb.lab.run(zb.srv, ZONECTL, *args, "--server", f"http://{ADMIN}", "--token-file", zb.token_file,
                              "--no-color", check=False)

        # A new password: a change of the role in the plan (exit 2: changes), shown by its digest, applied, served.
        write_secret(tmp_path, NEW_PASSWORD)
        plan = zonectl("plan", zb.zone)
        new_digest = hashlib.sha256((NEW_PASSWORD + "\n").encode()).hexdigest()[:12]
        assert plan.returncode == 2 and "role hypervisor" in plan.stdout and new_digest in plan.stdout, plan.stdout + plan.stderr
        planned_json = zonectl("plan", zb.zone, "--json")
        applied = zonectl("apply", zb.zone, "--yes", "-m", "rotate the db password")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        history = zonectl("history")
        history_json = zonectl("history", "--json")
        assert zb.fetch("swp1", f"/hosts/{host}/ks.cfg") == (200, f"# {host}\ndb={NEW_PASSWORD}\n")
        # zonectl render (offline, from the zone file) and the inventory on disk: redacted too.
        render = zb.lab.run(zb.srv, ZONECTL, "render", zb.zone, "--name", host, check=False)
        assert render.returncode == 0 and f"db=(secret secrets/db-password, sha256:{new_digest}" in render.stdout, render.stdout
        log = "".join(p.read_text(errors="replace") for p in zb.tmp.glob("zonebootd-*.log"))
        stored = b"".join(p.read_bytes() for p in zb.state.glob("zoneboot.sqlite*"))
        outputs = [plan.stdout, planned_json.stdout, applied.stdout, history.stdout, history_json.stdout, render.stdout, log,
                   *shown.values()]
        for secret in (PASSWORD, NEW_PASSWORD):
            assert not [o for o in outputs if secret in o]
            assert secret.encode() not in stored
