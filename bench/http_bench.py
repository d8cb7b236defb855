#!/usr/bin/python3
"""HTTP benchmark: zonebootd and nginx side by side, in one run, on this machine.

A host takes its port's lease through the real relay (udhcpc behind `dhcrelay -a`), then
wrk, from that host's namespace and address, fetches:
  - a 64 MiB file from zonebootd's /files/ and from nginx serving the same directory;
  - the host's own rendered boot script (/hosts/<name>/boot.ipxe): rendered once per revision and
    kept, the lease at the client's address checked on every request.
Addresses come from 198.18.0.0/15 and every namespace is removed at the end.

    [srv: 198.18.0.10, zonebootd :80, nginx :8080] ── [relay] ── [c1: 198.18.16.11, wrk]
"""
import os
import re
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from dhcp_lab import DHCPLab, SERVER, lab_zone  # noqa: E402
from netlab import ROOT, lab, wait_for  # noqa: E402

ZONEBOOTD = Path(os.environ.get("ZONEBOOTD", ROOT / ".build" / "release" / "zonebootd"))
HOST, ADDRESS = "lab-p01-r01-u01", "198.18.16.11"
SECONDS = int(os.environ.get("SECONDS_PER_RUN", "8"))

ZONE = lab_zone(defaults="{ lease: 1h, dns: [198.18.0.53], boot-server: 198.18.0.10 }", discovery=None,
                roles="hypervisor: { boot: bench }", more="""\
    profiles:
      bench: { ipxe: boot.ipxe }
    """)

SCRIPT = textwrap.dedent("""\
    #!ipxe
    # {{name}} ({{fqdn}}) at {{address}}/{{prefix_length}} via {{gateway}}, {{switch}}/{{port}}
    set base {{boot_url}}/files
    kernel ${base}/vmlinuz ip={{address}}::{{gateway}}:{{netmask}}:{{name}}::none nameserver={{#dns}}{{.}}{{/dns}}
    initrd ${base}/initrd.img
    boot
    """)

NGINX = """
worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    server {{
        listen {server}:8080;
        root {files};
    }}
}}
"""


def wrk(the_lab, ns, url, connections, threads=1):
    out = the_lab.run(ns, "wrk", "-t", threads, "-c", connections, "-d", f"{SECONDS}s", "--latency", url,
                      timeout=SECONDS + 60).stdout
    requests = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    scale = {"B": 1 / 2**20, "KB": 1 / 1024, "MB": 1, "GB": 1024}[transfer.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    return {"req_s": requests, "mib_s": float(transfer.group(1)) * scale, "non2xx": int(errors.group(1)) if errors else 0,
            "p99": p99.group(1) + p99.group(2) if p99 else "?"}


def main():
    with lab() as the_lab, tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        # nginx's workers run as an unprivileged user: they must be able to read the files.
        tmp.chmod(0o755)
        files = tmp / "files"
        files.mkdir(mode=0o755)
        with open(files / "image.bin", "wb") as f:
            f.write(os.urandom(64 << 20))
        (tmp / "boot.ipxe").write_text(SCRIPT)
        zb = DHCPLab(the_lab, tmp, ports=1, zone=ZONE, binary=ZONEBOOTD,
                     server_args=("--files", files, "--log-level", "warning"))
        client = zb.clients["swp1"]
        lease = zb.udhcpc("swp1")
        assert lease["ip"] == ADDRESS, lease
        the_lab.addr(client, "eth0", f"{ADDRESS}/24")
        the_lab.run(client, "ip", "route", "add", "default", "via", "198.18.16.1")
        (tmp / "nginx.conf").write_text(NGINX.format(tmp=tmp, server=SERVER, files=files))
        the_lab.spawn(zb.srv, "nginx", "-c", tmp / "nginx.conf", "-p", tmp, "-g", "daemon off;", log=tmp / "nginx.out")
        wait_for(lambda: the_lab.run(client, "curl", "-sf", "-o", "/dev/null", f"http://{SERVER}:8080/image.bin",
                                     check=False).returncode == 0, timeout=20, what="nginx")
        script = the_lab.run(client, "curl", "-sf", f"http://{SERVER}/hosts/{HOST}/boot.ipxe").stdout
        assert f"kernel ${{base}}/vmlinuz ip={ADDRESS}::198.18.16.1:255.255.255.0:{HOST}::none" in script, script

        print(f"HTTP, wrk from the host's own namespace through the relay, {SECONDS} s per run, 2 shared cores.\n")
        big_ours = wrk(the_lab, client, f"http://{SERVER}/files/image.bin", 4)
        big_nginx = wrk(the_lab, client, f"http://{SERVER}:8080/image.bin", 4)
        print("64 MiB file, 4 connections:")
        print(f"  {'server':<10} {'MiB/s':>8} {'req/s':>8} {'p99':>10} {'non-2xx':>8}")
        for name, r in (("zonebootd", big_ours), ("nginx", big_nginx)):
            print(f"  {name:<10} {r['mib_s']:>8.0f} {r['req_s']:>8.1f} {r['p99']:>10} {r['non2xx']:>8}")
        ratio = big_ours["mib_s"] / big_nginx["mib_s"] if big_nginx["mib_s"] else 0
        print(f"  ratio zonebootd / nginx: {ratio:.2f}x (target >= 0.8x)\n")

        # nginx serves the same bytes as a static file: the cost of rendering, side by side.
        (files / "boot.ipxe").write_text(script)
        rendered = wrk(the_lab, client, f"http://{SERVER}/hosts/{HOST}/boot.ipxe", 32, threads=2)
        static = wrk(the_lab, client, f"http://{SERVER}:8080/boot.ipxe", 32, threads=2)
        print("Boot script, 32 connections:")
        print(f"  zonebootd, rendered and lease-checked:  {rendered['req_s']:>8.0f} req/s, p99 {rendered['p99']}, "
              f"non-2xx {rendered['non2xx']} (target >= 20,000/s)")
        print(f"  nginx, the same bytes as a static file: {static['req_s']:>8.0f} req/s, p99 {static['p99']}")


if __name__ == "__main__":
    main()
