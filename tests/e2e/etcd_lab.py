"""A 3-member etcd cluster and zonebootd hosts that share one zone through it.

    [etc: eth0 198.18.41.1-3]  ── [srv: et0 198.18.41.254 | eth0 198.18.0.10 (A), 198.18.0.11 (B)] ── [rly] ── [cN]

etcd (Debian's etcd-server) runs in its own namespace, each member on its own address; its
data directories are in the test's tmp folder; members are stopped by PID (and the whole
namespace removed by the lab). The zonebootd hosts share the server namespace, each with
its own address, state directory and admin API; the relay (dhcrelay -a) forwards to one of
them, chosen with `relay_to`.
"""
import json
import subprocess
import time
from pathlib import Path

from apply_lab import ZONECTL, write_tokens
from dhcp_lab import DHCPLab, ZONE
from netlab import FIRMWARE, ZONEBOOTD, read_counters, require_tools, wait_for

ETCD_NET = "198.18.41."
HOSTS = {"A": "198.18.0.10", "B": "198.18.0.11"}
ADMIN_PORT = 9067

# Put before the benchmarks' in-namespace clients: their results, printed the same way.
PERCENTILES = r'''
def show(name, values, unit):
    values = sorted(values)
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))] * 1000
    print(f"{name}: p50 {pick(0.5):.2f} ms, p99 {pick(0.99):.2f} ms, max {values[-1] * 1000:.2f} ms ({len(values)} {unit})")
'''


def make_etcd_certificates(directory, addresses):
    """A CA, the members' certificate for `addresses` and a client certificate it signed.
    P-256 keys, mode 0600; nothing private is committed.

    One CA for both, and the members' certificate good for client use too: with
    --client-cert-auth, etcd 3.4's JSON gateway reaches its own gRPC server presenting the
    member's certificate, which must then pass the client check (seen: "failed to write client
    preface ... connection reset by peer" with a server-only certificate)."""
    require_tools("openssl")
    d = Path(directory)
    d.mkdir(exist_ok=True)

    def openssl(*args):
        subprocess.run(["openssl", *[str(a) for a in args]], cwd=d, check=True, capture_output=True, timeout=60)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=etcd test ca")
    (d / "member.ext").write_text("subjectAltName=" + ",".join(f"IP:{a}" for a in addresses)
                                  + "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n")
    (d / "client.ext").write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    for name in ("member", "client"):
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN=etcd test {name}")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")
    for key in d.glob("*.key"):
        key.chmod(0o600)
    return d


class EtcdCluster:
    """Members m1..mN on 198.18.41.1..N in namespace `ns`, client port 2379, peer port 2380.
    With `certs` (make_etcd_certificates), clients speak TLS and need a certificate the CA signed."""

    def __init__(self, lab, tmp, ns, members=3, certs=None):
        require_tools("etcd", "etcdctl")
        self.lab, self.tmp, self.ns, self.certs = lab, Path(tmp), ns, certs
        self.names = [f"m{n}" for n in range(1, members + 1)]
        self.addresses = {name: f"{ETCD_NET}{n}" for n, name in enumerate(self.names, start=1)}
        self.procs = {}

    @property
    def scheme(self):
        return "https" if self.certs else "http"

    @property
    def endpoints(self):
        return ",".join(f"{self.scheme}://{address}:2379" for address in self.addresses.values())

    def etcdctl(self, *args, names=None):
        """etcdctl on the members named (all by default), with the client certificate under TLS."""
        endpoints = ",".join(f"{self.scheme}://{self.addresses[name]}:2379" for name in names or self.names)
        tls = []
        if self.certs:
            tls = ["--cacert", self.certs / "ca.pem", "--cert", self.certs / "client.pem", "--key", self.certs / "client.key"]
        return self.lab.run(self.ns, "etcdctl", "--endpoints", endpoints, *tls, "--command-timeout", "2s", *args,
                            check=False, timeout=20)

    def start(self, names=None):
        cluster = ",".join(f"{name}=http://{address}:2380" for name, address in self.addresses.items())
        for name in names or self.names:
            address = self.addresses[name]
            # --initial-cluster* is read on the first start only; a restart finds its data directory.
            tls = []
            if self.certs:
                tls = ["--cert-file", self.certs / "member.pem", "--key-file", self.certs / "member.key",
                       "--client-cert-auth", "--trusted-ca-file", self.certs / "ca.pem"]
            client_url = f"{self.scheme}://{address}:2379"
            self.procs[name] = self.lab.spawn(
                self.ns, "etcd", "--name", name, "--data-dir", self.tmp / f"etcd-{name}", *tls,
                "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
                "--listen-peer-urls", f"http://{address}:2380", "--initial-advertise-peer-urls", f"http://{address}:2380",
                "--initial-cluster", cluster, "--initial-cluster-token", f"zb-{self.lab.tag}",
                "--initial-cluster-state", "new", log=self.tmp / f"etcd-{name}-{time.time_ns()}.log")
        wait_for(self.healthy, timeout=30, interval=0.3, what="etcd to elect a leader")

    def healthy(self, names=None):
        """Every member named (all by default) answers with a leader."""
        return self.etcdctl("endpoint", "health", names=names).returncode == 0

    def stop(self, names=None):
        for name in names or list(self.procs):
            proc = self.procs.pop(name, None)
            if proc:
                self.lab.stop(proc)


def etcd_beside(lab, tmp, srv):
    """A started 3-member EtcdCluster in a namespace of its own, linked to `srv` (et0, ETCD_NET .254)."""
    etc = lab.ns("etc")
    lab.link(srv, "et0", etc, "eth0")
    lab.addr(srv, "et0", f"{ETCD_NET}254/24")
    cluster = EtcdCluster(lab, tmp, etc)
    for address in cluster.addresses.values():
        lab.addr(etc, "eth0", f"{address}/24")
    lab.wait_up(srv, "et0")
    lab.wait_up(etc, "eth0")
    cluster.start()
    return cluster


class EtcdPairLab(DHCPLab):
    """DHCPLab's relay and clients, two zonebootd hosts (A and B) on one etcd cluster."""

    def __init__(self, lab, tmp, ports=3, zone=ZONE, host_args=()):
        require_tools("dhcrelay", "dhclient", "curl")
        # More zonebootd arguments for every host (--etcd-lease-ttl ...).
        self.host_args = tuple(host_args)
        self.use_files(lab, tmp, zone)
        self.srv, self.relay, self.etcd_ns = lab.ns("srv"), lab.ns("rly"), lab.ns("etc")
        lab.link(self.srv, "eth0", self.relay, "up0")
        for address in HOSTS.values():
            lab.addr(self.srv, "eth0", f"{address}/24")
        lab.addr(self.relay, "up0", "198.18.0.1/24")
        lab.route(self.srv, "198.18.16.0/22", "198.18.0.1")
        lab.run(self.relay, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        lab.link(self.srv, "et0", self.etcd_ns, "eth0")
        lab.addr(self.srv, "et0", f"{ETCD_NET}254/24")
        self.clients = {}
        for n in range(1, ports + 1):
            port = f"swp{n}"
            client = lab.ns(f"c{n}")
            lab.link(self.relay, port, client, "eth0")
            lab.addr(self.relay, port, "198.18.16.1/24")
            lab.run(client, "ip", "link", "set", "eth0", "address", self.mac(n))
            lab.run(self.relay, "ip", "route", "add", f"198.18.16.{10 + n}/32", "dev", port)
            self.clients[port] = client
        self.etcd = EtcdCluster(lab, tmp, self.etcd_ns)
        for n, address in enumerate(self.etcd.addresses.values()):
            lab.addr(self.etcd_ns, "eth0", f"{address}/24")
        for ns, ifname in [(self.srv, "eth0"), (self.srv, "et0"), (self.etcd_ns, "eth0"), (self.relay, "up0"),
                           *[(self.relay, p) for p in self.clients]]:
            lab.wait_up(ns, ifname)
        self.etcd.start()
        self.tokens_file, _ = write_tokens(self.tmp)
        self.hosts = {}
        for name in HOSTS:
            self.start_host(name)
        self.relay_proc = None
        self.relay_to("B")

    def start_host(self, name, wait=True):
        """zonebootd `name` on its address: DHCP and the admin API there, its own state, no HTTP or TFTP."""
        address = HOSTS[name]
        counters = self.tmp / f"counters-{name}.json"
        counters.unlink(missing_ok=True)
        proc = self.lab.spawn(self.srv, ZONEBOOTD, "--zone", self.zone, "--state", self.tmp / f"state-{name}",
                              "--listen", address, "--admin-listen", address, "--admin-port", ADMIN_PORT,
                              "--admin-token-file", self.tokens_file, "--counters-file", counters,
                              "--firmware", FIRMWARE, "--http-port", "0", "--tftp-port", "0",
                              "--etcd", self.etcd.endpoints, "--log-level", "info", *self.host_args,
                              log=self.log_path(name, new=True))
        self.hosts[name] = proc
        if wait:
            wait_for(lambda: proc.poll() is not None or read_counters(counters) is not None, timeout=60,
                     what=f"zonebootd {name} to start")
            assert proc.poll() is None, self.log(name)
        return proc

    def stop_host(self, name):
        self.lab.stop(self.hosts.pop(name))

    def log_path(self, name, new=False):
        if new:
            self._logs = getattr(self, "_logs", {})
            self._logs[name] = self.tmp / f"zonebootd-{name}-{time.time_ns()}.log"
        return self._logs[name]

    def log(self, name):
        return self.log_path(name).read_text()

    def relay_to(self, *names):
        """dhcrelay -a on the switch ports, forwarding to the hosts named (both: a ToR pair's relay)."""
        if self.relay_proc:
            self.lab.stop(self.relay_proc)
        args = ["dhcrelay", "-4", "-d", "-a", "-m", "replace", "-pf", self.tmp / "dhcrelay.pid"]
        for port in self.clients:
            args += ["-id", port]
        args += ["-iu", "up0", *[HOSTS[name] for name in names]]
        self.relay_proc = self.lab.spawn(self.relay, *args, log=self.tmp / f"dhcrelay-{'-'.join(names)}.log")
        time.sleep(1)

    def url(self, name):
        return f"http://{HOSTS[name]}:{ADMIN_PORT}"

    def revision(self, name):
        """Host `name`'s running revision (GET /v1/revision, open), or None when it does not answer."""
        result = self.lab.run(self.srv, "curl", "-s", "-m", "2", self.url(name) + "/v1/revision", check=False)
        try:
            return json.loads(result.stdout)["revision"]["id"]
        except (ValueError, KeyError, TypeError):
            return None

    def zonectl(self, name, *args, token="ops", timeout=120):
        """zonectl against host `name`'s admin API, with the `ops` write token."""
        return self.lab.run(self.srv, "env", f"ZONEBOOT_TOKEN_FILE={self.tmp / f'token-{token}'}", "NO_COLOR=1", ZONECTL,
                            *args, "--server", self.url(name), check=False, timeout=timeout)

    def write_zone(self, text, name):
        path = self.tmp / name
        path.write_text(text)
        return path
