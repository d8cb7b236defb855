#!/usr/bin/python3
"""Captures the seed corpora of the wire codecs' fuzz targets from real peers.

    sudo fuzz/capture_seeds.py      (root: it makes network namespaces; needs .build/debug/zonebootd)

The relayed DHCP lab of tests/e2e (zonebootd, `dhcrelay -a`, clients in namespaces, all in
198.18.0.0/15) runs dhclient, busybox udhcpc and dhcpcd through the relay, and tftp-hpa,
atftp (blksize, tsize, windowsize) and curl fetch a file from zonebootd's TFTP server. A
packet socket on the server's interface records every IPv4/UDP packet both ways. Each
distinct packet becomes a seed: the IPv4 packet for udp-frame, its DHCP payload for
dhcp-message, that payload's Option 82 data for relay-agent-information, its TFTP payload
for tftp-packet. Files are named by content hash, so running it again only adds.
"""
import hashlib
import struct
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from dhcp_lab import DHCPLab, SERVER  # noqa: E402
from netlab import lab, wait_for  # noqa: E402

CORPUS = ROOT / "fuzz" / "corpus"
# Runs inside the server's namespace: ETH_P_ALL also sees what the server sends.
SNIFFER = """
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
s.settimeout(0.2)
out = open(sys.argv[2], "wb", buffering=0)
end = time.time() + float(sys.argv[3])
while time.time() < end:
    try:
        frame = s.recv(65535)
    except socket.timeout:
        continue
    if frame[12:14] == b"\\x08\\x00" and frame[14 + 9] == 17:
        out.write(struct.pack("!I", len(frame) - 14) + frame[14:])
"""


def option82(dhcp):
    """Option 82's data in a DHCP message's options field, if there."""
    i = 240
    while i + 1 < len(dhcp) and dhcp[i] != 255:
        if dhcp[i] == 0:
            i += 1
            continue
        code, length = dhcp[i], dhcp[i + 1]
        if code == 82:
            return dhcp[i + 2:i + 2 + length]
        i += 2 + length
    return None


def save(target, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def main():
    with lab() as the_lab, tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tftp_root = tmp / "tftp"
        tftp_root.mkdir()
        (tftp_root / "undionly.kpxe").write_bytes(bytes(range(256)) * 9)
        DHCPLab.server_args = ("--tftp-root", str(tftp_root))
        dhcp = DHCPLab(the_lab, tmp, ports=3)
        packets = tmp / "packets"
        sniffer = the_lab.spawn(dhcp.srv, sys.executable, "-c", SNIFFER, "eth0", packets, 60)
        time.sleep(1)
        dhcp.dhclient("swp1")
        dhcp.udhcpc("swp2")
        dhcp.dhcpcd("swp3")
        for args in (["tftp", SERVER, "-m", "octet", "-c", "get", "undionly.kpxe", tmp / "a"],
                     ["atftp", "--option", "blksize 1468", "--option", "windowsize 4", "--option", "tsize 0",
                      "-g", "-r", "undionly.kpxe", "-l", tmp / "b", SERVER],
                     ["atftp", "-g", "-r", "missing.efi", "-l", tmp / "c", SERVER],
                     ["curl", "-s", "-o", tmp / "d", f"tftp://{SERVER}/undionly.kpxe"]):
            the_lab.run(dhcp.relay, *args, check=False, timeout=30)
        time.sleep(1)
        the_lab.stop(sniffer)
        data = packets.read_bytes()
        counts = {}
        i = 0
        while i + 4 <= len(data):
            (length,) = struct.unpack("!I", data[i:i + 4])
            ip = data[i + 4:i + 4 + length]
            i += 4 + length
            header = (ip[0] & 15) * 4
            sport, dport = struct.unpack("!HH", ip[header:header + 4])
            payload = ip[header + 8:]
            ports = {sport, dport}
            if ports & {67, 68}:
                kinds = ["udp-frame", "dhcp-message"]
                save("dhcp-message", payload)
                if (relay := option82(payload)) is not None:
                    save("relay-agent-information", relay)
                    kinds.append("relay-agent-information")
            elif 69 in ports or (sport > 1023 and dport > 1023):
                kinds = ["udp-frame", "tftp-packet"]
                # One DATA or ACK is the same codec path as the next: keep a few of each.
                opcode = f"tftp-opcode-{payload[:2].hex()}"
                if payload[:2] in (b"\x00\x03", b"\x00\x04") and counts.get(opcode, 0) >= 3:
                    continue
                counts[opcode] = counts.get(opcode, 0) + 1
                save("tftp-packet", payload)
            else:
                continue
            save("udp-frame", ip)
            for kind in kinds:
                counts[kind] = counts.get(kind, 0) + 1
        print(counts)


if __name__ == "__main__":
    main()
