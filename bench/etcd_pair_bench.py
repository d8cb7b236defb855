#!/usr/bin/python3
"""Relayed DORA/s of three setups side by side, in one run, with one load generator:

1. one zonebootd on SQLite (durable before each ACK);
2. a zonebootd pair on a 3-member etcd (both hosts up and following the zone's head; the
   relay's DORAs answered by host A, as a relay that forwards to one host of the pair);
3. a Kea 2.2 HA hot-standby pair (`libdhcp_ha.so` with `libdhcp_lease_cmds.so`; the primary
   answers and sends each lease to the standby before its ACK, over HA's dedicated HTTP
   listener, Kea multi-threading on as HA's listener needs), memfile with persistence.

The generator is bench/dhcp_load.c (relayed DORA, giaddr, Option 82 circuit-id per port,
every reply checked), pinned to core 1; every server process (zonebootd, etcd's members,
both Kea servers) is pinned to core 0 with `taskset -a`, so a pair competes for the same
core as a single host does. 40 declared ports: what a pair of hosts answers without etcd on
the path (answers for declared ports are a pure function of the revision). Also printed: etcd
writes per 10 ACKs during the pair's run (etcd's revision before and after: the declared
leases' records, written once per group commit). Discovery on a pair, with its block claims and
kills, is bench/etcd_pair_storm.py.

    [load: up0 198.19.32.1, dhcp_load] ── [srv: eth0 198.19.32.10 (A / primary), .11 (B / standby) | et0] ── [etc: etcd ×3]

    /usr/bin/python3 bench/etcd_pair_bench.py   (RATES, BENCH_SECONDS: the offered DISCOVERs/s and how long)

Each setup is offered each rate of RATES (a fresh lab each time: overload collapses some
servers, Kea's HA pair among them, so one rate would not be fair to all); its best DORA/s is
compared.

Namespaces are this run's, removed at the end; every process is stopped by PID.
"""
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
os.environ.setdefault("ZONEBOOTD", str(Path(__file__).resolve().parents[1] / ".build" / "release" / "zonebootd"))

from etcd_lab import etcd_beside  # noqa: E402
from lean_clients import compiled  # noqa: E402
from netlab import ZONEBOOTD, lab, server_and_client, start_kea, start_zonebootd, wait_for  # noqa: E402

RELAY, HOST_A, HOST_B = "198.19.32.1", "198.19.32.10", "198.19.32.11"
PORTS = 40
RATES = [int(r) for r in os.environ.get("RATES", "250,1000,4000").split(",")]
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
SERVER_CPU, GENERATOR_CPU = "0", "1"
HOOKS = Path("/usr/lib/x86_64-linux-gnu/kea/hooks")

ZONE = textwrap.dedent(f"""\
    apiVersion: zoneboot/v1
    zone: pair
    domain: pair.example.net
    defaults: {{ lease: 1h, dns: [198.19.32.53], boot-server: {HOST_A} }}
    pods:
      - name: p01
        relays: [{RELAY}]
        networks:
          servers: {{ subnet: 198.19.36.0/22, gateway: 198.19.36.1 }}
        switches:
          - name: tor-a
            ports:
              - {{ ports: swp1-swp{PORTS}, rack: 1, units: 1-{PORTS}, role: hypervisor, network: servers, address: 198.19.36.11 }}
    roles:
      hypervisor: {{}}
    """)


def pin(pid, cpu=SERVER_CPU):
    subprocess.run(["taskset", "-a", "-p", "-c", cpu, str(pid)], check=True, capture_output=True)


def load(the_lab, ns, server, rate):
    out = the_lab.run(ns, "taskset", "-c", GENERATOR_CPU, compiled("dhcp_load"), server, RELAY, rate, SECONDS, PORTS,
                      "swp%d", "-", timeout=SECONDS + 60, check=False)
    try:
        result = json.loads(out.stdout)
    except ValueError:
        sys.exit(f"dhcp_load said: {out.stderr.strip()[:300]}")
    if result["wrong"]:
        sys.exit(f"{result['wrong']} replies failed dhcp_load's checks against {server}")
    return result


def zonebootd(the_lab, srv, tmp, name, address, *extra):
    proc = start_zonebootd(the_lab, srv, tmp / "zone.yaml", tmp / f"state-{name}", address, tmp / f"counters-{name}.json",
                           "--log-level", "warning", "--admin-port", "0", "--http-port", "0", "--tftp-port", "0",
                           "--max-requests-per-mac", "0", "--max-requests-per-circuit", "0", *extra,
                           log=tmp / f"zonebootd-{name}.log")
    pin(proc.pid)
    return proc


def single(the_lab, srv, rly, tmp, rate):
    zonebootd(the_lab, srv, tmp, "single", HOST_A)
    return load(the_lab, rly, HOST_A, rate)


def etcd_revision(cluster):
    out = cluster.etcdctl("endpoint", "status", "--write-out", "json", names=cluster.names[:1])
    return json.loads(out.stdout)[0]["Status"]["header"]["revision"]


def pair(the_lab, srv, rly, tmp, rate):
    cluster = etcd_beside(the_lab, tmp, srv)
    for proc in cluster.procs.values():
        pin(proc.pid)
    for name, address in (("A", HOST_A), ("B", HOST_B)):
        zonebootd(the_lab, srv, tmp, name, address, "--etcd", cluster.endpoints)
    before = etcd_revision(cluster)
    result = load(the_lab, rly, HOST_A, rate)
    result["etcd_writes"] = etcd_revision(cluster) - before
    return result


def kea_config(tmp, name, address):
    peers = [{"name": "primary", "url": f"http://{HOST_A}:8000/", "role": "primary", "auto-failover": True},
             {"name": "standby", "url": f"http://{HOST_B}:8000/", "role": "standby", "auto-failover": True}]
    return {"Dhcp4": {
        "interfaces-config": {"interfaces": [f"eth0/{address}"], "dhcp-socket-type": "udp"},
        "lease-database": {"type": "memfile", "persist": True, "name": str(tmp / f"leases-{name}.csv"), "lfc-interval": 0},
        "valid-lifetime": 3600,
        "multi-threading": {"enable-multi-threading": True, "thread-pool-size": 2, "packet-queue-size": 64},
        "hooks-libraries": [
            {"library": str(HOOKS / "libdhcp_lease_cmds.so")},
            {"library": str(HOOKS / "libdhcp_ha.so"), "parameters": {"high-availability": [{
                "this-server-name": name, "mode": "hot-standby", "heartbeat-delay": 10000,
                "max-response-delay": 60000, "max-ack-delay": 5000, "max-unacked-clients": 5,
                "multi-threading": {"enable-multi-threading": True, "http-dedicated-listener": True,
                                    "http-listener-threads": 1, "http-client-threads": 1},
                "peers": peers}]}}],
        "subnet4": [{"id": 1, "subnet": "198.19.36.0/22", "relay": {"ip-addresses": [RELAY]},
                     "pools": [{"pool": "198.19.37.0 - 198.19.39.250"}],
                     "option-data": [{"name": "routers", "data": "198.19.36.1"},
                                     {"name": "domain-name-servers", "data": "198.19.32.53"}]}],
        "loggers": [{"name": "kea-dhcp4", "severity": "WARN", "output_options": [{"output": str(tmp / f"kea-{name}.log")}]}],
    }}


def ha_state(the_lab, srv, address):
    command = json.dumps({"command": "ha-heartbeat", "service": ["dhcp4"]})
    out = the_lab.run(srv, "curl", "-s", "-m", "2", "-H", "Content-Type: application/json", "-d", command,
                      f"http://{address}:8000/", check=False)
    try:
        answer = json.loads(out.stdout)
        return (answer[0] if isinstance(answer, list) else answer)["arguments"]["state"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def kea_ha(the_lab, srv, rly, tmp, rate):
    for name, address in (("primary", HOST_A), ("standby", HOST_B)):
        folder = tmp / name
        folder.mkdir()
        pin(start_kea(the_lab, srv, kea_config(folder, name, address), folder).pid)
    wait_for(lambda: ha_state(the_lab, srv, HOST_A) == "hot-standby", timeout=60, interval=0.5,
             what="Kea's primary in the hot-standby state")
    result = load(the_lab, rly, HOST_A, rate)
    result["standby_state"] = ha_state(the_lab, srv, HOST_B)
    return result


def measure(setup, rate):
    with tempfile.TemporaryDirectory() as d, lab() as the_lab:
        tmp = Path(d)
        (tmp / "zone.yaml").write_text(ZONE)
        srv, rly = server_and_client(the_lab, HOST_A, RELAY)
        the_lab.addr(srv, "eth0", f"{HOST_B}/24")
        return setup(the_lab, srv, rly, tmp, rate)


def main():
    if not Path(ZONEBOOTD).exists():
        sys.exit(f"{ZONEBOOTD} is not built (make release, or ZONEBOOTD=...)")
    print(f"relayed DORA/s, {PORTS} declared ports, dhcp_load offering {RATES}/s for {SECONDS} s each on core "
          f"{GENERATOR_CPU}, servers on core {SERVER_CPU}; {ZONEBOOTD}", flush=True)
    best = {}
    for name, setup in (("single host, SQLite", single), ("pair on etcd", pair), ("Kea 2.2 HA hot-standby", kea_ha)):
        for rate in RATES:
            r = measure(setup, rate)
            extra = f", etcd writes {r['etcd_writes']}" if "etcd_writes" in r else ""
            extra += f", standby {r['standby_state']}" if "standby_state" in r else ""
            print(f"  {name:<24} offered {rate:>5}/s: {r['exchanges_per_s']:>7.0f} DORA/s ({r['acks']} ACKs, {r['drops']} lost, "
                  f"ACK p50/p99 {r['ack_p50_ms']:.2f}/{r['ack_p99_ms']:.2f} ms{extra})", flush=True)
            if name not in best or r["exchanges_per_s"] > best[name]["exchanges_per_s"]:
                best[name] = r
    single_rate, pair_rate, kea_rate = (best[k]["exchanges_per_s"] for k in best)
    print(f"best DORA/s: single {single_rate:.0f}, pair on etcd {pair_rate:.0f}, Kea HA pair {kea_rate:.0f}")
    print(f"pair / single host: {pair_rate / max(single_rate, 1e-9):.2f}x (target >= 0.8x)")
    print(f"pair / Kea HA pair: {pair_rate / max(kea_rate, 1e-9):.2f}x (target >= 2x)")
    paired = best["pair on etcd"]
    print(f"etcd writes per 10 ACKs (declared ports): {10 * paired['etcd_writes'] / max(1, paired['acks']):.3f} "
          "(discovery on a pair: bench/etcd_pair_storm.py)")


if __name__ == "__main__":
    main()
