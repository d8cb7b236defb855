"""Who may read what: the boot port's inventory and node JSON, the admin API's read and write
tokens, and the admin API over TLS (and mutual TLS) with zonectl as the client.

The boot-port rules run in a namespace lab (198.18.0.0/15): a host that took its lease on
its own port, a host on another port and a discovered machine on an undeclared port, each
with its address on its interface, fetching with curl. The TLS tests run zonebootd on
127.0.0.1 with certificates made here by `openssl` (nothing private is committed).
"""
import http.client
import json
import os
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from apply_lab import LocalServer, ZONECTL, example_zone, write_tokens
from dhcp_lab import DHCPLab, SERVER, lab_zone
from netlab import ROOT, ZONEBOOTD, free_port, lab, require_tools, wait_for

pytestmark = pytest.mark.skipif(not Path(ZONEBOOTD).exists(), reason="build zonebootd first")

SCRIPT = ROOT / "contrib" / "zoneboot-inventory"
OWNER, OWNER_ADDRESS = "lab-p01-r01-u01", "198.18.16.11"
NEIGHBOUR_ADDRESS = "198.18.16.12"
LAB_ZONE = lab_zone(roles="""\
    hypervisor:
      ansible: { groups: [hypervisors], vars: { kvm: true } }
      chef: { run-list: ["recipe[base]"], environment: lab, attributes: { site: { rack_secret: not-for-neighbours } } }
    """)


def ansible_tool(name):
    for candidate in (ROOT / ".venv" / "bin" / name, shutil.which(name)):
        if candidate and Path(candidate).exists():
            return str(candidate)
    pytest.fail(f"{name} not found: run `make deps` (installs ansible-core into .venv)")


@pytest.fixture(scope="module")
def boot_lab(tmp_path_factory):
    """The owner on swp1, a neighbour host on swp2, a discovered machine on swp4 (a port the
    zone does not declare): each took its lease through the relay and holds its address."""
    require_tools("ip", "dhcrelay", "busybox", "curl")
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root")
    tmp = tmp_path_factory.mktemp("access")
    tokens_file, tokens = write_tokens(tmp)
    with lab() as the_lab:
        dhcp = DHCPLab(the_lab, tmp, ports=4, zone=LAB_ZONE, server_args=("--admin-token-file", tokens_file))
        dhcp.tokens = tokens
        dhcp.addresses = {}
        for port in ("swp1", "swp2", "swp4"):
            address = dhcp.udhcpc(port)["ip"]
            if port == "swp4":
                # The discovery range: the relay needs the host route a switch would have.
                the_lab.run(dhcp.relay, "ip", "route", "add", f"{address}/32", "dev", port)
            the_lab.addr(dhcp.clients[port], "eth0", f"{address}/24")
            the_lab.run(dhcp.clients[port], "ip", "route", "add", "default", "via", "198.18.16.1")
            dhcp.addresses[port] = address
        assert dhcp.addresses["swp1"] == OWNER_ADDRESS and dhcp.addresses["swp2"] == NEIGHBOUR_ADDRESS
        assert dhcp.addresses["swp4"].startswith("198.18.16.2")
        yield dhcp


def fetch(dhcp, port, path, token=None):
    """curl from the machine on `port` (or the relay for port=None): (status, body)."""
    ns = dhcp.relay if port is None else dhcp.clients[port]
    args = ["curl", "-s", "-w", "\n%{http_code}", "--max-time", "20"]
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    out = dhcp.lab.run(ns, *args, f"http://{SERVER}{path}", check=False).stdout
    body, _, code = out.rpartition("\n")
    return code, body


def test_a_host_reads_its_own_variables_and_node_json_and_nobody_elses(boot_lab):
    own_vars, own_node = f"/ansible/inventory/{OWNER}", f"/chef/nodes/{OWNER}.json"
    code, body = fetch(boot_lab, "swp1", own_vars)
    assert code == "200" and json.loads(body)["ansible_host"] == OWNER_ADDRESS
    code, body = fetch(boot_lab, "swp1", own_node)
    assert code == "200" and json.loads(body)["site"]["rack_secret"] == "not-for-neighbours"
    before = boot_lab.counter("http", "requests", "forbidden")
    # A host on another port and a discovered machine: 403 for the owner's data and the whole zone.
    for port in ("swp2", "swp4"):
        for path in (own_vars, own_node, "/ansible/inventory", "/ansible/inventory?state=seen"):
            code, body = fetch(boot_lab, port, path)
            assert code == "403", (port, path, body)
            assert "not-for-neighbours" not in body
    # The owner cannot read the whole zone either (it holds other hosts' values).
    assert fetch(boot_lab, "swp1", "/ansible/inventory")[0] == "403"
    wait_for(lambda: boot_lab.counter("http", "requests", "forbidden") >= before + 9, timeout=5,
             what="the refusals counted")
    # An unknown name is 404 whoever asks.
    assert fetch(boot_lab, "swp4", "/chef/nodes/nobody.json")[0] == "404"


def test_a_read_token_reads_the_whole_inventory_from_anywhere(boot_lab):
    for name in ("audit", "ops"):
        code, body = fetch(boot_lab, None, "/ansible/inventory?state=seen", token=boot_lab.tokens[name])
        assert code == "200"
        seen = json.loads(body)["_meta"]["hostvars"]
        assert sorted(seen) == [OWNER, "lab-p01-r01-u02"]
        assert seen[OWNER]["mac"] == DHCPLab.mac(1)
    code, body = fetch(boot_lab, "swp4", f"/chef/nodes/{OWNER}.json", token=boot_lab.tokens["audit"])
    assert code == "200" and json.loads(body)["zoneboot"]["name"] == OWNER
    assert fetch(boot_lab, None, "/ansible/inventory", token="0" * 32)[0] == "403"


def test_ansible_inventory_reads_the_running_server_with_the_read_token(boot_lab):
    """contrib/zoneboot-inventory in HTTP mode (ZONEBOOT_INVENTORY_URL), run by ansible-inventory
    on the relay: with the read token it lists the live inventory, without one it fails."""
    inventory = ansible_tool("ansible-inventory")
    env = ["env", f"ZONEBOOT_INVENTORY_URL=http://{SERVER}", "ZONEBOOT_INVENTORY_HOSTS=seen", "ANSIBLE_NOCOLOR=1",
           "ANSIBLE_LOCAL_TEMP=/tmp", "ANSIBLE_HOME=/tmp/zoneboot-ansible-home"]
    ok = boot_lab.lab.run(boot_lab.relay, *env, f"ZONEBOOT_TOKEN_FILE={boot_lab.tmp / 'token-audit'}", inventory,
                          "-i", SCRIPT, "--list", timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    listed = json.loads(ok.stdout)
    assert sorted(listed["_meta"]["hostvars"]) == [OWNER, "lab-p01-r01-u02"]
    assert listed["_meta"]["hostvars"][OWNER]["lease_state"] == "bound"
    assert sorted(listed["hypervisors"]["hosts"]) == [OWNER, "lab-p01-r01-u02"]
    # The script alone, as Ansible runs it, and without a token: it fails and says why.
    alone = boot_lab.lab.run(boot_lab.relay, *env, SCRIPT, "--host", OWNER, check=False)
    assert alone.returncode == 1 and "needs ZONEBOOT_TOKEN_FILE" in alone.stderr
    wrong = boot_lab.tmp / "token-wrong"
    wrong.write_text("someone:read:" + "0" * 32 + "\n")
    refused = boot_lab.lab.run(boot_lab.relay, *env, f"ZONEBOOT_TOKEN_FILE={wrong}", SCRIPT, "--list", check=False)
    assert refused.returncode != 0 and "403" in refused.stderr + refused.stdout
    # ansible-inventory itself, with a token the server does not know and with none: no host.
    for token_env in ([f"ZONEBOOT_TOKEN_FILE={wrong}"], []):
        failed = boot_lab.lab.run(boot_lab.relay, *env, *token_env, inventory, "-i", SCRIPT, "--list", timeout=120,
                                  check=False)
        assert failed.returncode != 0 or not json.loads(failed.stdout)["_meta"]["hostvars"], failed.stdout
        assert "zoneboot-inventory" in failed.stderr, failed.stderr


# The admin API over TLS


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(directory):
    """A CA, a server certificate for 127.0.0.1 it signed, another CA for clients and a client
    certificate; keys are P-256 and 0600. Also a CA that signed nothing here."""
    require_tools("openssl")
    d = Path(directory)
    d.mkdir(exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "client-ca", "other-ca"):
        openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2",
                "-subj", f"/CN=zoneboot test {ca}", cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                  "extendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    for name, ca in (("server", "ca"), ("client", "client-ca")):
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN=zoneboot test {name}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    for key in d.glob("*.key"):
        key.chmod(0o600)
    return d


class TLSServer(LocalServer):
    """LocalServer with the admin API on https://127.0.0.1 (mutual TLS with client_ca)."""

    def __init__(self, tmp, zone, tokens_file, certs, client_ca=False):
        self.certs = certs
        extra = ["--admin-tls-cert", certs / "server.pem", "--admin-tls-key", certs / "server.key"]
        if client_ca:
            extra += ["--admin-tls-client-ca", certs / "client-ca.pem"]
        self.client_ca = client_ca
        super().__init__(tmp, zone, tokens_file, extra=extra)
        self.url = self.url.replace("http://", "https://")

    def context(self, client_cert=None):
        context = ssl.create_default_context(cafile=str(self.certs / "ca.pem"))
        if client_cert is None and self.client_ca:
            client_cert = True
        if client_cert:
            context.load_cert_chain(self.certs / "client.pem", self.certs / "client.key")
        return context

    def api(self, method, path, body=None, token="read", raw=None, timeout=60, client_cert=None):
        if token == "read":
            token = self.read_token() if method == "GET" or path == "/v1/plan" else None
        connection = http.client.HTTPSConnection("127.0.0.1", self.admin_port, timeout=timeout,
                                                 context=self.context(client_cert))
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            connection.request(method, path, body=raw if raw is not None else json.dumps(body) if body is not None else None,
                               headers=headers)
            answer = connection.getresponse()
            text = answer.read()
            try:
                return answer.status, json.loads(text or b"null")
            except ValueError:
                return answer.status, text.decode(errors="replace")
        finally:
            connection.close()

    def running(self):
        try:
            return self.api("GET", "/v1/revision")[0] == 200
        except (OSError, ssl.SSLError):
            return False

    def zonectl(self, *args, token="audit", ca=True, client=None, check=None, timeout=120):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZONEBOOT_")}
        env.update(ZONEBOOT_SERVER=self.url, NO_COLOR="1")
        if token:
            env["ZONEBOOT_TOKEN_FILE"] = str(self.tmp / f"token-{token}")
        if ca:
            env["ZONEBOOT_CA_FILE"] = str(self.certs / ("ca.pem" if ca is True else ca))
        if client:
            env["ZONEBOOT_CLIENT_CERT"], env["ZONEBOOT_CLIENT_KEY"] = str(self.certs / "client.pem"), str(self.certs / "client.key")
        result = subprocess.run([str(ZONECTL), *[str(a) for a in args]], capture_output=True, text=True, env=env,
                                timeout=timeout)
        if check is not None:
            assert result.returncode == check, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("certs"))


def test_the_admin_api_over_https_with_scoped_tokens(tmp_path, certs):
    tokens_file, tokens = write_tokens(tmp_path)
    zone = example_zone(tmp_path, 1, 1, 4)
    srv = TLSServer(tmp_path, zone, tokens_file, certs)
    try:
        assert "admin API listening on 127.0.0.1" in srv.log.read_text() and "(https;" in srv.log.read_text()
        source = {"zoneFile": str(zone), "text": zone.read_text(), "files": {}}
        for f in ("templates/centos7.ipxe", "templates/centos7-ks.cfg"):
            if (zone.parent / f).exists():
                source["files"][f] = (zone.parent / f).read_text()
        # Plan: 401 without a token, 200 with the read token; apply with it: 403.
        status, answer = srv.api("POST", "/v1/plan", {"source": source}, token=None)
        assert status == 401 and "Bearer" in answer["error"]
        assert srv.api("POST", "/v1/plan", {"source": source}, token=tokens["audit"])[0] == 200
        status, answer = srv.api("POST", "/v1/apply", {"source": source, "baseRevision": 1}, token=tokens["audit"])
        assert status == 403 and "may only read" in answer["error"]
        assert srv.api("POST", "/v1/apply", {"source": source, "baseRevision": 1}, token=tokens["ops"])[0] == 200
        # zonectl over https with the CA: reads with the read token.
        hosts = srv.zonectl("hosts", "--json", check=0)
        assert any(h["name"] == "ex-p01-r01-u01" for h in json.loads(hosts.stdout))
        # Without the CA: refused, naming the server and the fix.
        untrusted = srv.zonectl("hosts", ca=False, check=1)
        assert srv.url in untrusted.stderr and "does not trust" in untrusted.stderr and "--ca-file" in untrusted.stderr
        other = srv.zonectl("hosts", ca="other-ca.pem", check=1)
        assert "does not trust" in other.stderr
        # Plain http to the https port: said so, not a traceback.
        plain = srv.zonectl("hosts", "--server", f"127.0.0.1:{srv.admin_port}", check=1)
        assert "https" in plain.stderr, plain.stderr
    finally:
        srv.stop()


def test_mutual_tls_refuses_a_client_without_a_certificate(tmp_path, certs):
    tokens_file, _ = write_tokens(tmp_path)
    srv = TLSServer(tmp_path, example_zone(tmp_path, 1, 1, 4), tokens_file, certs, client_ca=True)
    try:
        assert "client certificates required" in srv.log.read_text()
        assert srv.api("GET", "/v1/hosts")[0] == 200
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
            srv.api("GET", "/v1/revision", client_cert=False)
        refused = srv.zonectl("hosts", check=1)
        assert srv.url in refused.stderr and "--client-cert" in refused.stderr, refused.stderr
        assert "ex-p01-r01-u01" in srv.zonectl("hosts", client=True, check=0).stdout
    finally:
        srv.stop()


def test_a_tls_key_others_can_read_is_refused_at_start(tmp_path, certs):
    key = tmp_path / "server.key"
    key.write_bytes((certs / "server.key").read_bytes())
    key.chmod(0o644)
    args = [str(ZONEBOOTD), "--zone", str(example_zone(tmp_path, 1, 1, 4)), "--state", str(tmp_path / "state"),
            "--listen", "127.0.0.1", "--dhcp-port", "0", "--http-port", "0", "--tftp-port", "0",
            "--admin-port", str(free_port()), "--admin-tls-cert", str(certs / "server.pem"), "--admin-tls-key", str(key)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"the TLS key file {key} has mode 644" in result.stderr and "chmod 600" in result.stderr
    # A certificate and a key that do not belong together.
    key.write_bytes((certs / "client.key").read_bytes())
    key.chmod(0o600)
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "do they belong together" in result.stderr, result.stderr


def test_zonectl_takes_host_port_and_says_when_it_is_not_the_admin_port(tmp_path):
    tokens_file, _ = write_tokens(tmp_path)
    srv = LocalServer(tmp_path, example_zone(tmp_path, 1, 1, 4), tokens_file)
    other_port = free_port()
    (tmp_path / "www").mkdir()
    web = subprocess.Popen(["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", str(other_port),
                            "--directory", str(tmp_path / "www")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        hosts = srv.zonectl("hosts", "--server", f"127.0.0.1:{srv.admin_port}", token="audit", check=0)
        assert "ex-p01-r01-u01" in hosts.stdout
        wait_for(lambda: subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{other_port}/"]).returncode == 0,
                 timeout=20, what="the other web server")
        wrong = srv.zonectl("hosts", "--server", f"127.0.0.1:{other_port}", token="audit", check=1)
        assert "is this the admin port?" in wrong.stderr and f"127.0.0.1:{other_port}" in wrong.stderr
    finally:
        web.terminate()
        web.wait(timeout=10)
        srv.stop()
