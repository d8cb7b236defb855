"""Network boot with real firmware: QEMU (TCG) on a switch port behind `dhcrelay -a`.

    [srv: eth0 198.18.0.10] ── [rly: up0 198.18.0.1 | tap swp1, swp2 198.18.16.1] ── QEMU

QEMU's NIC sits on a tap named after the switch port, inside the relay namespace, so
dhcrelay puts that port's name in Option 82 like a ToR does. Each boot must end with
the served script fetching `/hosts/<name>/booted`, which only that host's script holds,
from that host's address: the server logs it, and the test reads the log.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import textwrap
import time
from pathlib import Path

import pytest

from dhcp_lab import DHCPLab, lab_zone
from netlab import ROOT, lab, read_counters, require_tools, start_kea, start_zonebootd, wait_for

SERVER = "198.18.0.10"
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS.fd")

ZONE = lab_zone(defaults="{ lease: 1h, dns: [198.18.0.53], boot-server: 198.18.0.10 }", discovery=None,
                roles="hypervisor: { boot: lab }", more="""\
    profiles:
      lab:
        ipxe: boot.ipxe
    """)

# What the host's script does: fetch the marker only this host's script names, then stop.
SCRIPT = textwrap.dedent("""\
    #!ipxe
    echo ZoneBoot: {{name}} at {{address}} on {{switch}}/{{port}}
    imgfetch {{boot_url}}/hosts/{{name}}/booted
    poweroff
    """)

HOSTS = {"swp1": ("lab-p01-r01-u01", "198.18.16.11"), "swp2": ("lab-p01-r01-u02", "198.18.16.12")}
# A port with a veth instead of a tap, for a PXE ROM played by scapy (see the BIOS PXE test).
PXE_PORT, PXE_HOST, PXE_ADDRESS = "swp3", "lab-p01-r01-u03", "198.18.16.13"


class BootLab:
    def __init__(self, the_lab, tmp: Path, proxy=False):
        self.lab = the_lab
        self.tmp = tmp
        (tmp / "zone.yaml").write_text(ZONE)
        (tmp / "boot.ipxe").write_text(SCRIPT)
        self.srv = the_lab.ns("srv")
        self.relay = the_lab.ns("rly")
        the_lab.link(self.srv, "eth0", self.relay, "up0")
        the_lab.addr(self.srv, "eth0", f"{SERVER}/24")
        the_lab.addr(self.relay, "up0", "198.18.0.1/24")
        the_lab.route(self.srv, "198.18.16.0/22", "198.18.0.1")
        the_lab.run(self.relay, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for port, (_, address) in HOSTS.items():
            the_lab.run(self.relay, "ip", "tuntap", "add", "dev", port, "mode", "tap")
            the_lab.addr(self.relay, port, "198.18.16.1/24")
            the_lab.run(self.relay, "ip", "link", "set", port, "up")
            # Every port holds the gateway address; the switch knows which host is behind which port.
            the_lab.run(self.relay, "ip", "route", "add", f"{address}/32", "dev", port)
        self.pxe_client = the_lab.ns("pxe")
        the_lab.link(self.relay, PXE_PORT, self.pxe_client, "eth0")
        the_lab.addr(self.relay, PXE_PORT, "198.18.16.1/24")
        the_lab.run(self.relay, "ip", "route", "add", f"{PXE_ADDRESS}/32", "dev", PXE_PORT)
        the_lab.wait_up(self.srv, "eth0")
        the_lab.wait_up(self.relay, PXE_PORT)
        self.log = tmp / "zonebootd.log"
        servers = [SERVER]
        if proxy:
            # proxyDHCP: Kea gives the addresses, from a pool; zonebootd only the boot.
            the_lab.addr(self.srv, "eth0", f"{KEA}/24")
            start_kea(the_lab, self.srv, kea_config(tmp), tmp)
            servers.append(KEA)
            # Kea's pool is behind swp1 (the only port these tests boot on in proxy mode).
            the_lab.run(self.relay, "ip", "route", "add", "198.18.16.96/27", "dev", "swp1")
        self.server = start_zonebootd(the_lab, self.srv, tmp / "zone.yaml", tmp / "state", SERVER,
                                      tmp / "counters.json", "--log-level", "debug",
                                      *(["--proxy-dhcp"] if proxy else []), log=self.log)
        self.relay_proc = the_lab.spawn(self.relay, "dhcrelay", "-4", "-d", "-a", "-m", "replace",
                                        "-pf", tmp / "dhcrelay.pid", "-id", "swp1", "-id", "swp2", "-id", PXE_PORT,
                                        "-iu", "up0", *servers, log=tmp / "dhcrelay.log")
        time.sleep(1)

    def boot(self, port, firmware, mac, timeout=150, address=None):
        """Boots a VM on a port and returns the host the server saw boot, and from where."""
        name, zone_address = HOSTS[port]
        address = address or zone_address
        args = ["qemu-system-x86_64", "-machine", "accel=tcg", "-m", "256", "-display", "none",
                "-serial", f"file:{self.tmp / f'serial-{port}-{firmware}.log'}", "-monitor", "none",
                "-netdev", f"tap,id=n0,ifname={port},script=no,downscript=no"]
        if firmware == "bios-ipxe":
            # QEMU's own NIC ROM is iPXE.
            args += ["-device", f"virtio-net-pci,netdev=n0,mac={mac}", "-boot", "n"]
        else:
            vars_copy = self.tmp / f"vars-{port}-{firmware}.fd"
            shutil.copyfile(OVMF_VARS, vars_copy)
            # romfile= removes QEMU's iPXE ROM, so OVMF's own PXE or HTTP boot stack runs.
            args += ["-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                     "-drive", f"if=pflash,format=raw,file={vars_copy}",
                     "-device", f"virtio-net-pci,netdev=n0,mac={mac},romfile="]
            if firmware == "uefi-http":
                # Skip OVMF's PXE attempts (about two minutes) and go straight to HTTP boot.
                args += ["-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n",
                         "-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=n"]
        marker = re.compile(rf"host {re.escape(name)} booted from {address if isinstance(address, str) and address.startswith('(') else re.escape(address)}:")
        seen_before = len(marker.findall(self.log.read_text()))
        vm = self.lab.spawn(self.relay, *args, log=self.tmp / f"qemu-{port}-{firmware}.log")
        try:
            wait_for(lambda: len(marker.findall(self.log.read_text())) > seen_before, timeout=timeout, interval=1,
                     what=f"{firmware} VM on {port} to run {name}'s script to the end")
        finally:
            self.lab.stop(vm)
        return name

    def served(self, pattern):
        return re.findall(pattern, self.log.read_text())


KEA = "198.18.0.11"
KEA_POOL = ("198.18.16.100", "198.18.16.150")


def kea_config(tmp):
    return {"Dhcp4": {
        "interfaces-config": {"interfaces": [f"eth0/{KEA}"], "dhcp-socket-type": "udp"},
        "lease-database": {"type": "memfile", "persist": False},
        "valid-lifetime": 3600,
        "subnet4": [{"id": 1, "subnet": "198.18.16.0/24", "relay": {"ip-addresses": ["198.18.16.1"]},
                     "pools": [{"pool": f"{KEA_POOL[0]} - {KEA_POOL[1]}"}],
                     "option-data": [{"name": "routers", "data": "198.18.16.1"}]}],
        "loggers": [{"name": "kea-dhcp4", "severity": "INFO", "output_options": [{"output": str(tmp / "kea.log")}]}],
    }}


@pytest.fixture
def proxy_lab(tmp_path):
    require_tools("qemu-system-x86_64", "dhcrelay", "kea-dhcp4")
    with lab() as the_lab:
        yield BootLab(the_lab, tmp_path, proxy=True)


def test_proxy_dhcp_boots_the_ports_host_on_another_servers_address(proxy_lab):
    # Kea's pool address, not the zone's: the host is still the port's, and reads its own script.
    assert proxy_lab.boot("swp1", "bios-ipxe", "52:54:00:b3:00:01", address=r"(198\.18\.16\.1[0-5][0-9])") \
        == "lab-p01-r01-u01"
    log = proxy_lab.log.read_text()
    assert "proxyDHCP boot server listening" in log
    # zonebootd gave no address: no lease of its own in its store.
    db = sqlite3.connect(proxy_lab.tmp / "state" / "zoneboot.sqlite")
    try:
        assert db.execute("SELECT count(*) FROM lease").fetchone()[0] == 0
    finally:
        db.close()


@pytest.fixture
def boot_lab(tmp_path):
    require_tools("qemu-system-x86_64", "dhcrelay")
    for path in (OVMF_CODE, OVMF_VARS):
        assert path.exists(), f"{path} missing: run `make deps`"
    with lab() as the_lab:
        yield BootLab(the_lab, tmp_path)


def test_bios_ipxe_rom_gets_its_ports_script_and_moving_the_vm_moves_the_identity(boot_lab):
    # The same VM (same MAC) on two ports: the port decides who it is.
    assert boot_lab.boot("swp1", "bios-ipxe", "52:54:00:b0:00:01") == "lab-p01-r01-u01"
    assert boot_lab.boot("swp2", "bios-ipxe", "52:54:00:b0:00:01") == "lab-p01-r01-u02"
    # iPXE was answered with its script, never a loader: no chainload loop.
    assert not boot_lab.served(r"served loader")


def test_uefi_http_boot_gets_the_loader_by_url_then_the_script(boot_lab):
    assert boot_lab.boot("swp1", "uefi-http", "52:54:00:b1:00:01") == "lab-p01-r01-u01"
    assert boot_lab.served(r"served loader /loaders/ipxe.efi to 198\.18\.16\.11")


def test_uefi_pxe_gets_the_efi_loader_over_tftp_then_the_script(boot_lab):
    # OVMF's own PXE stack (no iPXE ROM): arch 7 → ipxe.efi over TFTP → iPXE asks again → script.
    assert boot_lab.boot("swp2", "uefi-pxe", "52:54:00:b2:00:02") == "lab-p01-r01-u02"
    counters = read_counters(boot_lab.tmp / "state" / "tftp-counters.json")
    assert counters["transfers_ended"].get("completed", 0) >= 1


def test_a_host_reads_only_its_own_files(boot_lab):
    # From the server's namespace (not a host's address, no lease): refused.
    out = boot_lab.lab.run(boot_lab.relay, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                           f"http://{SERVER}/hosts/lab-p01-r01-u01/boot.ipxe", check=False)
    assert out.stdout == "403"
    out = boot_lab.lab.run(boot_lab.relay, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                           f"http://{SERVER}/hosts/nobody/boot.ipxe", check=False)
    assert out.stdout == "404"
    # Loaders are open to any machine, with Range and HEAD.
    out = boot_lab.lab.run(boot_lab.relay, "curl", "-s", "-r", "0-3", f"http://{SERVER}/loaders/ipxe.efi",
                           check=False)
    assert out.stdout.startswith("MZ")
    out = boot_lab.lab.run(boot_lab.relay, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                           f"http://{SERVER}/loaders/../manifest.json", "--path-as-is", check=False)
    assert out.stdout in ("400", "404")


# What a vendor BIOS PXE ROM (Intel Boot Agent and the like) sends: no user class, no
# option 175. Debian ships no such ROM (QEMU's NIC ROMs are all iPXE), so scapy plays its
# DHCP part through the real relay, and the real tftp-hpa client fetches the loader.
PXE_ROM = textwrap.dedent("""
    import sys
    from scapy.all import BOOTP, DHCP, IP, UDP, Ether, conf, get_if_hwaddr, srp1
    conf.checkIPaddr = False
    iface = "eth0"
    mac = get_if_hwaddr(iface)
    chaddr = bytes.fromhex(mac.replace(":", ""))
    rom = [("vendor_class_id", b"PXEClient:Arch:00000:UNDI:002001"), (93, b"\\x00\\x00"), (94, b"\\x01\\x02\\x01"),
           (97, b"\\x00" + bytes(range(16)))]
    def exchange(kind, extra):
        packet = (Ether(dst="ff:ff:ff:ff:ff:ff", src=mac) / IP(src="0.0.0.0", dst="255.255.255.255")
                  / UDP(sport=68, dport=67) / BOOTP(chaddr=chaddr, xid=0x5045, flags=0x8000)
                  / DHCP(options=[("message-type", kind)] + rom + extra + ["end"]))
        reply = srp1(packet, iface=iface, timeout=5, retry=3, verbose=False)
        if reply is None:
            sys.exit(f"no answer to {kind}")
        return reply[BOOTP]
    offer = exchange("discover", [])
    ack = exchange("request", [("requested_addr", offer.yiaddr), ("server_id", "198.18.0.10")])
    options = {o[0]: o[1] for o in ack[DHCP].options if isinstance(o, tuple)}
    print(ack.yiaddr, ack.siaddr, ack.file.rstrip(b"\\x00").decode(), options.get("boot-file-name", b"").decode(),
          options.get("tftp_server_name", b"").decode(), 175 in options or "vendor_class_id" in options)
    """)


def test_bios_pxe_rom_gets_undionly_over_tftp(boot_lab):
    script = boot_lab.tmp / "pxe_rom.py"
    script.write_text(PXE_ROM)
    out = boot_lab.lab.run(boot_lab.pxe_client, "/usr/bin/python3", script, timeout=60)
    yiaddr, siaddr, file_field, option67, option66, extra = out.stdout.split()
    assert (yiaddr, siaddr, file_field, option67, option66) == (PXE_ADDRESS, SERVER, "undionly.kpxe",
                                                                "undionly.kpxe", SERVER)
    assert extra == "False"  # no option 60 echoed to a PXE ROM, nothing iPXE-only
    # The ROM now has the port's address and fetches the loader over TFTP from siaddr.
    boot_lab.lab.addr(boot_lab.pxe_client, "eth0", f"{PXE_ADDRESS}/24")
    boot_lab.lab.run(boot_lab.pxe_client, "ip", "route", "add", "default", "via", "198.18.16.1")
    target = boot_lab.tmp / "undionly.kpxe"
    boot_lab.lab.run(boot_lab.pxe_client, "tftp", "-m", "binary", SERVER, "-c", "get", "undionly.kpxe", target,
                     timeout=60)
    manifest = json.loads((ROOT / "firmware" / "manifest.json").read_text())
    pinned = next(entry["sha256"] for entry in manifest["loaders"] if entry["file"] == "undionly.kpxe")
    assert hashlib.sha256(target.read_bytes()).hexdigest() == pinned
    # The host's own script is served over TFTP too, to the host's address only.
    script_copy = boot_lab.tmp / "boot.ipxe.tftp"
    boot_lab.lab.run(boot_lab.pxe_client, "tftp", "-m", "binary", SERVER, "-c", "get", f"hosts/{PXE_HOST}/boot.ipxe",
                     script_copy, timeout=60)
    assert f"imgfetch http://{SERVER}/hosts/{PXE_HOST}/booted" in script_copy.read_text()
    refused = boot_lab.lab.run(boot_lab.pxe_client, "tftp", "-m", "binary", SERVER, "-c", "get",
                               "hosts/lab-p01-r01-u01/boot.ipxe", boot_lab.tmp / "other.ipxe", timeout=60, check=False)
    assert "Error" in refused.stdout + refused.stderr


def test_inventory_and_chef_nodes_are_not_served_to_strangers(boot_lab):
    """The relay holds no lease and this server has no token file: the zone's inventory and
    every host's variables and node JSON are refused (tests/e2e/test_access.py: the owner and
    a read token get them)."""
    def status(path):
        return boot_lab.lab.run(boot_lab.relay, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                f"http://{SERVER}{path}", check=False).stdout
    for path in ("/ansible/inventory", "/ansible/inventory?state=seen", "/ansible/inventory/lab-p01-r01-u02",
                 "/chef/nodes/lab-p01-r01-u01.json"):
        assert status(path) == "403", path
    assert status("/chef/nodes/nobody.json") == "404"


def test_a_cached_file_is_still_served_only_to_its_host_and_a_new_revision_renders_anew(tmp_path):
    # Rendered files are cached per revision; the lease check must still run on every request.
    require_tools("dhcrelay", "busybox", "curl")
    (tmp_path / "boot.ipxe").write_text(SCRIPT)
    with lab() as the_lab:
        zb = DHCPLab(the_lab, tmp_path, ports=2, zone=ZONE)
        hosts = {}
        for port, (name, address) in HOSTS.items():
            assert zb.udhcpc(port)["ip"] == address
            the_lab.addr(zb.clients[port], "eth0", f"{address}/24")
            the_lab.run(zb.clients[port], "ip", "route", "add", "default", "via", "198.18.16.1")
            hosts[port] = name

        def fetch(port, host):
            out = the_lab.run(zb.clients[port], "curl", "-s", "-w", "\n%{http_code}",
                              f"http://{SERVER}/hosts/{host}/boot.ipxe", check=False).stdout
            body, _, code = out.rpartition("\n")
            return code, body

        code, first = fetch("swp1", hosts["swp1"])
        assert code == "200" and f"echo ZoneBoot: {hosts['swp1']} at" in first
        assert fetch("swp1", hosts["swp1"]) == ("200", first)
        # Cached for swp1's host by now: another host's address, with a live lease of its own, is refused.
        assert fetch("swp2", hosts["swp1"])[0] == "403"
        assert fetch("swp2", hosts["swp2"])[0] == "200"
        # A new revision (SIGHUP with a changed template) is rendered anew, never served from before.
        (tmp_path / "boot.ipxe").write_text(SCRIPT.replace("poweroff", "echo revision 2\npoweroff"))
        os.kill(zb.server.pid, signal.SIGHUP)
        wait_for(lambda: "echo revision 2" in fetch("swp1", hosts["swp1"])[1], timeout=20, what="the new revision's script")
        assert fetch("swp2", hosts["swp1"])[0] == "403"
