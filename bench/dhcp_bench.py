#!/usr/bin/python3
"""DHCP benchmark: zonebootd and Kea 2.2 side by side, in one run, on this machine.

perfdhcp (Debian's kea-admin) acts as a relay from its own namespace and drives
relayed DORA with Option 82 against each server in turn, the servers in another
namespace on the same address. Kea keeps leases in memfile with persistence on;
zonebootd in its embedded SQLite, durable before each ACK. Addresses come from
198.18.0.0/15 and every namespace is removed at the end.

    [load: up0 198.18.0.1, perfdhcp] ── [srv: eth0 198.18.0.10, zonebootd | kea-dhcp4]
"""
import os
import re
import resource
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from netlab import ROOT, lab, server_and_client, start_kea, start_zonebootd  # noqa: E402

ZONEBOOTD = Path(os.environ.get("ZONEBOOTD", ROOT / ".build" / "release" / "zonebootd"))
SERVER, RELAY = "198.18.0.10", "198.18.0.1"
CIRCUIT, REMOTE_ID = b"bench", b"bench-tor"
OPTION_82 = (b"\x01" + bytes([len(CIRCUIT)]) + CIRCUIT + b"\x02" + bytes([len(REMOTE_ID)]) + REMOTE_ID).hex()
POOL = ("198.18.17.0", "198.18.31.250")

ZONE = textwrap.dedent(f"""\
    apiVersion: zoneboot/v1
    zone: bench
    domain: bench.example.net
    defaults: {{ lease: 1h, dns: [198.18.0.53], boot-server: {SERVER} }}
    pods:
      - name: p01
        relays: [{RELAY}]
        networks:
          servers: {{ subnet: 198.18.16.0/20, gateway: 198.18.16.1 }}
        switches:
          - name: tor-a
            remote-id: "{REMOTE_ID.decode()}"
            ports:
              - {{ ports: swp1-swp40, rack: 1, units: 1-40, role: hypervisor, network: servers, address: 198.18.16.11 }}
        discovery: {{ network: servers, range: {POOL[0]}-{POOL[1]}, lease: 1h }}
    roles:
      hypervisor: {{}}
    """)


def kea_config(tmp):
    return {"Dhcp4": {
        "interfaces-config": {"interfaces": [f"eth0/{SERVER}"], "dhcp-socket-type": "udp"},
        "lease-database": {"type": "memfile", "persist": True, "name": str(tmp / "kea-leases4.csv"), "lfc-interval": 0},
        "valid-lifetime": 3600,
        "subnet4": [{"id": 1, "subnet": "198.18.16.0/20", "relay": {"ip-addresses": [RELAY]},
                     "pools": [{"pool": f"{POOL[0]} - {POOL[1]}"}],
                     "option-data": [{"name": "routers", "data": "198.18.16.1"},
                                     {"name": "domain-name-servers", "data": "198.18.0.53"}]}],
        "loggers": [{"name": "kea-dhcp4", "severity": "WARN", "output_options": [{"output": str(tmp / "kea.log")}]}],
    }}


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def perfdhcp(the_lab, load, rate, clients, seconds):
    # -x t: perfdhcp prints when each packet left and its answer arrived, from which the
    # median and p99 come (its summary has only min, average and max).
    result = the_lab.run(load, "perfdhcp", "-4", "-l", RELAY, "-r", rate, "-R", clients, "-p", seconds, "-W", "2",
                         "-x", "t", "-o", f"82,{OPTION_82}", SERVER, timeout=seconds + 60, check=False)
    return result.stdout + result.stderr


def delays_ms(output, exchange):
    """The delays perfdhcp timed for one exchange ("DISCOVER-OFFER" or "REQUEST-ACK")."""
    section = output.split(f"***Timestamps for packets: {exchange}***", 1)
    if len(section) < 2:
        return []
    found = re.findall(r"sent / received: ([\d.]+) / ([\d.]+)", section[1].split("***", 1)[0])
    return sorted((float(received) - float(sent)) * 1000 for sent, received in found)


def percentile(values, fraction):
    return values[min(len(values) - 1, int(fraction * len(values)))] if values else float("nan")


def parse(output, seconds):
    sent = re.findall(r"sent packets: (\d+)", output)
    received = re.findall(r"received packets: (\d+)", output)
    drops = re.findall(r"drops: (\d+)", output)
    offers, acks = delays_ms(output, "DISCOVER-OFFER"), delays_ms(output, "REQUEST-ACK")
    return {
        "discovers": int(sent[0]) if sent else 0,
        "acks": int(received[1]) if len(received) > 1 else 0,
        "drops": sum(int(d) for d in drops),
        "offer_p50_ms": percentile(offers, 0.5), "offer_p99_ms": percentile(offers, 0.99),
        "ack_p50_ms": percentile(acks, 0.5), "ack_p99_ms": percentile(acks, 0.99),
        "exchanges_per_s": (int(received[1]) if len(received) > 1 else 0) / seconds,
        "raw": output,
    }


def run_server(the_lab, srv, which, tmp):
    if which == "kea":
        return start_kea(the_lab, srv, kea_config(tmp), tmp)
    zone = tmp / "zone.yaml"
    zone.write_text(ZONE)
    # perfdhcp sends every client through one circuit-id, which on a real switch is one
    # port; the per-port flood cap would rightly stop it.
    return start_zonebootd(the_lab, srv, zone, tmp / "state", SERVER, tmp / "counters.json", "--log-level", "warning",
                           "--max-requests-per-circuit", "0", binary=ZONEBOOTD, log=tmp / "zonebootd.log")


def measure(which, rate, clients, seconds):
    with lab() as the_lab, tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        srv, load = server_and_client(the_lab, SERVER, RELAY)
        proc = run_server(the_lab, srv, which, tmp)
        before = cpu_seconds(proc.pid)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        output = perfdhcp(the_lab, load, rate, clients, seconds)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = parse(output, seconds)
        result["server_cpu_s"] = round(cpu_seconds(proc.pid) - before, 2)
        result["perfdhcp_cpu_s"] = round(after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime, 2)
        result["loss"] = result["drops"] / max(1, result["discovers"])
        if os.environ.get("VERBOSE"):
            print(output)
        return result


def table(title, results):
    print(title)
    print(f"  {'server':<14} {'DORA/s':>7} {'ACKs':>7} {'drops':>6} {'OFFER p50/p99 ms':>17} {'ACK p50/p99 ms':>15} "
          f"{'CPU us/DORA':>12} {'perfdhcp us':>12}")
    for which, r in results.items():
        acks = max(1, r["acks"])
        print(f"  {which:<14} {r['exchanges_per_s']:>7.0f} {r['acks']:>7} {r['drops']:>6} "
              f"{r['offer_p50_ms']:>8.2f}/{r['offer_p99_ms']:<8.2f} {r['ack_p50_ms']:>7.2f}/{r['ack_p99_ms']:<7.2f} "
              f"{r['server_cpu_s'] / acks * 1e6:>12.0f} {r['perfdhcp_cpu_s'] / acks * 1e6:>12.0f}")


def sustained(which, rates, clients, seconds):
    """The highest offered rate answered with under 1 % lost, climbing until a step fails."""
    best = None
    for rate in rates:
        result = measure(which, rate, clients, seconds)
        print(f"  {which:<10} offered {rate:>6}/s: {result['exchanges_per_s']:>7.0f} DORA/s, "
              f"{100 * result['loss']:.1f} % lost", flush=True)
        if result["loss"] >= 0.01:
            break
        best = (rate, result)
    return best


def main():
    seconds = int(os.environ.get("SECONDS_PER_RUN", "8"))
    clients = int(os.environ.get("CLIENTS", "3000"))
    steady, flood = int(os.environ.get("STEADY_RATE", "3000")), int(os.environ.get("RATE", "16000"))
    ladder = [int(r) for r in os.environ.get("LADDER", "2000,4000,6000,8000,10000,12000,14000").split(",")]
    print(f"DHCP, relayed DORA with Option 82 (perfdhcp as relay, {clients} clients, {seconds} s per run).")
    print("Leases: zonebootd SQLite, fsync'd before each ACK (group commit); Kea memfile, persist on (written, not fsync'd).")
    print("perfdhcp shares the machine's two cores with the server under test; its own CPU per exchange is shown,")
    print("since where it costs more than the server, it is what saturates.\n")
    steady_results = {which: measure(which, steady, clients, seconds) for which in ("kea", "zonebootd")}
    table(f"Steady load, {steady}/s offered (latency below saturation):", steady_results)
    flood_results = {which: measure(which, flood, clients, seconds) for which in ("kea", "zonebootd")}
    table(f"\nSaturation, {flood}/s offered (throughput):", flood_results)
    print(f"\nSustained: the highest offered rate with under 1 % lost ({', '.join(map(str, ladder))}/s):")
    best = {which: sustained(which, ladder, clients, seconds) for which in ("kea", "zonebootd")}
    kea, ours = flood_results["kea"], flood_results["zonebootd"]
    print()
    if kea["exchanges_per_s"]:
        print(f"ratio zonebootd / kea at saturation: {ours['exchanges_per_s'] / kea['exchanges_per_s']:.2f}x (target >= 2x)")
    if best["kea"] and best["zonebootd"]:
        print(f"ratio zonebootd / kea, sustained rate: {best['zonebootd'][0] / best['kea'][0]:.2f}x "
              f"({best['zonebootd'][0]}/s vs {best['kea'][0]}/s)")
    if kea["acks"] and ours["acks"] and ours["server_cpu_s"]:
        print(f"ratio kea / zonebootd, server CPU per DORA at saturation: "
              f"{(kea['server_cpu_s'] / kea['acks']) / (ours['server_cpu_s'] / ours['acks']):.2f}x")


if __name__ == "__main__":
    main()
