"""TFTP end to end: the real zonebootd on 127.0.0.1 (high ports), fetched from by real clients
(tftp-hpa, curl, atftp) and by crafted packets (scapy), compared byte for byte.

Everything talks to 127.0.0.1 only, on ports the test picks; zonebootd is started and stopped
by PID; loads are bounded in count and time.
"""
import hashlib
import os
import random
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest
from scapy.layers.tftp import TFTP, TFTP_ACK, TFTP_ERROR, TFTP_Option, TFTP_Options, TFTP_RRQ, TFTP_WRQ

from netlab import ROOT, ZONEBOOTD, free_port, read_counters, require_tools, wait_for

HOST = "127.0.0.1"
BIG = 64 * 1024 * 1024 + 1234  # over 32 MiB at 512: block numbers wrap twice


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Server:
    """zonebootd answering TFTP on 127.0.0.1:port (and DHCP on another high port)."""

    def __init__(self, tmp, root, *extra):
        self.port = free_port(socket.SOCK_DGRAM)
        self.counters = Path(tmp) / f"tftp-{self.port}.json"
        state = Path(tmp) / f"state-{self.port}"
        state.mkdir()
        self.log = open(Path(tmp) / f"zonebootd-{self.port}.log", "w")
        self.proc = subprocess.Popen(
            [str(ZONEBOOTD), "--zone", str(ROOT / "zones" / "ams1.yaml"), "--state", str(state),
             "--listen", HOST, "--dhcp-port", str(free_port(socket.SOCK_DGRAM)), "--counters-file", str(state / "dhcp.json"),
             "--tftp-port", str(self.port), "--tftp-root", str(root), "--tftp-counters-file", str(self.counters),
             "--http-port", "0", "--admin-port", "0", "--firmware", str(ROOT / "firmware"),
             *[str(a) for a in extra]],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: read_counters(self.counters) is not None, timeout=30, what="zonebootd to start")

    def counters_now(self):
        # The file is rewritten every second: wait for a fresh one.
        before = self.counters.stat().st_mtime_ns
        wait_for(lambda: self.counters.stat().st_mtime_ns != before, timeout=5, what="fresh counters")
        return read_counters(self.counters)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.log.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tftp")
    root = tmp / "root"
    (root / "boot" / "x64").mkdir(parents=True)
    rng = random.Random(4)
    (root / "small.txt").write_bytes(b"hello from zoneboot\n")
    (root / "exact.bin").write_bytes(rng.randbytes(512 * 8))  # a multiple of the block size
    (root / "mid.bin").write_bytes(rng.randbytes(3 * 1024 * 1024 + 77))
    (root / "boot" / "x64" / "ipxe.efi").write_bytes(rng.randbytes(200_000))
    (root / "big.bin").write_bytes(os.urandom(BIG))
    (tmp / "secret").write_text("outside the root\n")
    (root / "escape").symlink_to(tmp / "secret")
    (root / "passwd").symlink_to("/etc/passwd")
    (root / "inside").symlink_to("small.txt")
    os.mkfifo(root / "fifo")
    return tmp, root


@pytest.fixture(scope="module")
def server(files):
    require_tools("tftp", "atftp", "curl")
    tmp, root = files
    running = Server(tmp, root, "--tftp-max-per-client", 64)
    yield running
    running.stop()


# --- a small client of our own, for what no packaged client lets us do ---

def rrq(name, options=(), mode=b"octet"):
    packet = TFTP() / TFTP_RRQ(filename=name.encode() if isinstance(name, str) else name, mode=mode)
    if options:
        packet = packet / TFTP_Options(options=[TFTP_Option(oname=k.encode(), value=str(v).encode()) for k, v in options])
    return bytes(packet)


def ack(block):
    return bytes(TFTP() / TFTP_ACK(block=block & 0xFFFF))


def parse_options(payload):
    parts = payload.split(b"\0")[:-1]
    return {parts[i].decode().lower(): parts[i + 1].decode() for i in range(0, len(parts) - 1, 2)}


def udp(timeout=3.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, 0))
    s.settimeout(timeout)
    return s


def expect_error(sock, server_port, request):
    sock.sendto(request, (HOST, server_port))
    data, _ = sock.recvfrom(65536)
    opcode, code = struct.unpack("!HH", data[:4])
    assert opcode == 5, f"expected an ERROR, got opcode {opcode}"
    return code, data[4:-1].decode()


def fetch(server_port, name, options=(), sock=None, on_first_data=None):
    """Reads a file with RFC 7440 windows when asked; returns (oack, bytes)."""
    s = sock or udp()
    s.sendto(rrq(name, options), (HOST, server_port))
    blksize = 512
    oack = {}
    window = 1
    expected = 1
    chunks = []
    data, peer = s.recvfrom(65536)
    if struct.unpack("!H", data[:2])[0] == 6:
        oack = parse_options(data[2:])
        blksize = int(oack.get("blksize", 512))
        window = int(oack.get("windowsize", 1))
        s.sendto(ack(0), peer)
        data, peer = s.recvfrom(65536)
    first = True
    received_in_window = 0
    while True:
        opcode, block = struct.unpack("!HH", data[:4])
        assert opcode == 3, f"expected DATA, got {data[:40]!r}"
        if first and on_first_data:
            on_first_data(s, peer)
            first = False
        if block == expected & 0xFFFF:
            chunks.append(data[4:])
            expected += 1
            received_in_window += 1
            last = len(data) - 4 < blksize
            if last or received_in_window == window:
                s.sendto(ack(block), peer)
                received_in_window = 0
            if last:
                break
        data, peer = s.recvfrom(65536)
    if sock is None:
        s.close()
    return oack, b"".join(chunks)


# --- real clients ---

def curl(server, name, out, *args, timeout=120):
    return subprocess.run(["curl", "-sS", "-o", str(out), *args, f"tftp://{HOST}:{server.port}/{name}"],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("blksize", [512, 1468, 8192, 65464])
def test_curl_fetches_identical_bytes_at_every_block_size(server, files, tmp_path, blksize):
    _, root = files
    out = tmp_path / "mid.bin"
    result = curl(server, "mid.bin", out, "--tftp-blksize", str(blksize))
    assert result.returncode == 0, result.stderr
    assert sha256(out) == sha256(root / "mid.bin")


def test_tftp_hpa_fetches_without_options(server, files, tmp_path):
    _, root = files
    for name in ("small.txt", "exact.bin", "mid.bin", "inside"):
        out = tmp_path / name
        result = subprocess.run(["tftp", HOST, str(server.port), "-m", "octet", "-c", "get", name, str(out)],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        assert sha256(out) == sha256(root / name)


def test_atftp_with_windowsize(server, files, tmp_path):
    _, root = files
    out = tmp_path / "ipxe.efi"
    result = subprocess.run(["atftp", "--option", "blksize 1468", "--option", "windowsize 16", "--option", "tsize 0",
                             "-g", "-r", "boot/x64/ipxe.efi", "-l", str(out), HOST, str(server.port)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sha256(out) == sha256(root / "boot" / "x64" / "ipxe.efi")


def test_64_mib_at_512_rolls_block_numbers_over(server, files, tmp_path):
    """131,076 blocks of 512: the 16-bit block number wraps twice (tftp-hpa, no options)."""
    _, root = files
    out = tmp_path / "big.bin"
    started = time.time()
    result = subprocess.run(["tftp", HOST, str(server.port), "-m", "octet", "-c", "get", "big.bin", str(out)],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.stat().st_size == BIG
    assert sha256(out) == sha256(root / "big.bin")
    assert time.time() - started < 240


def test_pxe_rom_spellings_are_served(server, files):
    _, root = files
    expected = (root / "boot" / "x64" / "ipxe.efi").read_bytes()
    for name in ("/boot/x64/ipxe.efi", "boot\\x64\\ipxe.efi", "\\boot\\x64\\ipxe.efi", "boot//x64/./ipxe.efi"):
        _, data = fetch(server.port, name, [("blksize", 1432)])
        assert data == expected, name


# --- what OVMF does ---

def test_ovmf_tsize_probe_then_windowed_fetch(server, files):
    """OVMF asks for tsize alone, aborts with error 8, then fetches with windowsize 4."""
    _, root = files
    before = server.counters_now()
    s = udp()
    s.sendto(rrq("boot/x64/ipxe.efi", [("tsize", 0)]), (HOST, server.port))
    data, peer = s.recvfrom(65536)
    assert data[:2] == b"\x00\x06"
    assert parse_options(data[2:]) == {"tsize": str((root / "boot" / "x64" / "ipxe.efi").stat().st_size)}
    s.sendto(bytes(TFTP() / TFTP_ERROR(errorcode=8, errormsg=b"User aborted the transfer")), peer)
    oack, data = fetch(server.port, "boot/x64/ipxe.efi", [("tsize", 0), ("blksize", 1468), ("windowsize", 4)], sock=s)
    s.close()
    assert oack == {"tsize": "200000", "blksize": "1468", "windowsize": "4"}
    assert data == (root / "boot" / "x64" / "ipxe.efi").read_bytes()
    after = server.counters_now()
    assert after["transfers_ended"].get("aborted-by-client", 0) == before["transfers_ended"].get("aborted-by-client", 0) + 1


# --- refused ---

@pytest.mark.parametrize("name,code,reason", [
    ("../etc/passwd", 2, "parent-component"),
    ("boot/../../etc/passwd", 2, "parent-component"),
    ("..\\..\\etc\\passwd", 2, "parent-component"),
    ("/etc/passwd", 1, "not-found"),  # means etc/passwd under the root, which does not exist
    ("escape", 2, "outside-root"),  # a symlink to a file outside the root
    ("passwd", 2, "outside-root"),
    ("fifo", 2, "not-a-regular-file"),
    ("boot", 2, "not-a-regular-file"),
    ("no-such-file", 1, "not-found"),
])
def test_traversal_and_non_files_are_refused(server, name, code, reason):
    before = server.counters_now()
    s = udp()
    got_code, _ = expect_error(s, server.port, rrq(name))
    s.close()
    assert got_code == code
    after = server.counters_now()
    assert after["refused"].get(reason, 0) == before["refused"].get(reason, 0) + 1


def test_real_clients_get_errors_for_traversal(server, tmp_path):
    result = curl(server, "..%2Fetc%2Fpasswd", tmp_path / "x")
    assert result.returncode != 0
    result = subprocess.run(["tftp", HOST, str(server.port), "-m", "octet", "-c", "get", "../etc/passwd", str(tmp_path / "y")],
                            capture_output=True, text=True, timeout=30)
    assert "Error code 2" in result.stdout + result.stderr


def test_write_requests_are_refused(server, tmp_path):
    (tmp_path / "upload").write_text("x")
    before = server.counters_now()
    result = subprocess.run(["tftp", HOST, str(server.port), "-m", "octet", "-c", "put", str(tmp_path / "upload"), "upload"],
                            capture_output=True, text=True, timeout=30)
    assert "Error code 2" in result.stdout + result.stderr
    s = udp()
    code, _ = expect_error(s, server.port, bytes(TFTP() / TFTP_WRQ(filename=b"x", mode=b"octet")))
    s.close()
    assert code == 2
    after = server.counters_now()
    assert after["refused"].get("write-request", 0) == before["refused"].get("write-request", 0) + 2


def test_unsupported_mode_and_unknown_opcode_get_error_4(server):
    s = udp()
    assert expect_error(s, server.port, rrq("small.txt", mode=b"mail"))[0] == 4
    assert expect_error(s, server.port, b"\x00\x09whatever\x00")[0] == 4
    s.close()


# --- bad input ---

def test_option_edges(server, files):
    _, root = files
    expected = (root / "mid.bin").read_bytes()
    oack, data = fetch(server.port, "mid.bin", [("blksize", 65536)])
    assert oack == {"blksize": "65464"} and data == expected
    oack, data = fetch(server.port, "mid.bin", [("blksize", 1)])  # refused option: plain 512, no OACK
    assert oack == {} and data == expected
    oack, data = fetch(server.port, "mid.bin", [("windowsize", 100000), ("blksize", 1024)])
    assert oack == {"windowsize": "64", "blksize": "1024"} and data == expected
    before = server.counters_now()
    oack, data = fetch(server.port, "small.txt", [("blksize", "1e3"), ("multicast", ""), ("timeout", 0), ("BLKSIZE", 99)])
    assert oack == {} and data == (root / "small.txt").read_bytes()
    after = server.counters_now()["ignored_options"]
    for key in ("blksize:not-a-number", "other:unknown", "timeout:out-of-range", "blksize:duplicate"):
        assert after.get(key, 0) == before["ignored_options"].get(key, 0) + 1, key


def test_garbage_is_counted_and_the_server_keeps_serving(server, files, tmp_path):
    _, root = files
    before = server.counters_now()
    rng = random.Random(9)
    s = udp()
    sent = 0
    deadline = time.time() + 10
    for _ in range(3000):
        if time.time() > deadline:
            break
        length = rng.randint(0, 80)
        payload = bytes(rng.getrandbits(8) for _ in range(length))
        if length >= 2 and rng.random() < 0.5:
            payload = bytes([0, rng.choice([1, 2, 3, 4, 5, 6])]) + payload[2:]
        s.sendto(payload, (HOST, server.port))
        sent += 1
        if sent % 50 == 0:
            time.sleep(0.005)  # bounded bursts: the count is exact only if the socket buffer never overflows
    s.close()
    out = tmp_path / "small.txt"
    result = curl(server, "small.txt", out)
    assert result.returncode == 0 and out.read_bytes() == (root / "small.txt").read_bytes()
    after = server.counters_now()
    assert after["received"] - before["received"] == sent + 1, "every datagram counted"
    malformed = sum(after["malformed"].values()) - sum(before["malformed"].values())
    assert malformed > sent // 4
    assert server.proc.poll() is None


def test_ack_floods_never_cause_extra_sends(server, files):
    """Mid-transfer, 2,000 duplicate, never-sent, truncated and strangers' ACKs: ignored (the
    first three counted by reason); the transfer completes with exactly one send per block."""
    _, root = files
    before = server.counters_now()

    def flood(sock, peer):
        stranger = udp()
        for i in range(500):
            sock.sendto(ack(0), peer)  # duplicate: block 0 was acknowledged already (OACK)
            sock.sendto(ack(5000 + i), peer)  # never sent
            sock.sendto(b"\x00\x04", peer)  # truncated
            stranger.sendto(ack(1), peer)  # another transfer ID: the connected socket never sees it
            if i % 20 == 19:
                time.sleep(0.005)  # bounded bursts, so the socket buffer holds every one
        stranger.close()

    oack, data = fetch(server.port, "mid.bin", [("blksize", 1468)], on_first_data=flood)
    assert data == (root / "mid.bin").read_bytes()
    expected_blocks = len(data) // 1468 + 1

    def settled():
        c = server.counters_now()
        ignored = {k: c["ignored"].get(k, 0) - before["ignored"].get(k, 0) for k in c["ignored"]}
        return (ignored.get("duplicate-ack", 0) >= 500 and ignored.get("malformed-in-transfer", 0) >= 500 and (c, ignored))

    after, ignored = wait_for(settled, timeout=10, what="flood counted")
    assert ignored.get("ack-unsent", 0) == 500
    assert ignored.get("malformed-in-transfer", 0) == 500
    assert after["blocks_sent"] - before["blocks_sent"] == expected_blocks
    assert after["blocks_retransmitted"] == before["blocks_retransmitted"]


# --- limits and reaping ---

def test_limits_refuse_and_idle_transfers_are_reaped(files):
    tmp, root = files
    limited = Server(tmp, root, "--tftp-max-per-client", 2, "--tftp-max-transfers", 3, "--tftp-retries", 1)
    try:
        socks = [udp() for _ in range(3)]
        for s in socks[:2]:
            s.sendto(rrq("mid.bin"), (HOST, limited.port))
            assert s.recvfrom(65536)[0][:2] == b"\x00\x03"  # DATA 1, never acknowledged
        code, message = expect_error(socks[2], limited.port, rrq("mid.bin"))
        assert code == 0 and "busy" in message
        counters = limited.counters_now()
        assert counters["refused"].get("busy-client") == 1
        assert counters["transfers_active"] == 2
        # One retry after 1 s, then given up 2 s later: both idle transfers are reaped.
        counters = wait_for(lambda: (c := limited.counters_now())["transfers_active"] == 0 and c, timeout=15,
                            what="idle transfers reaped")
        assert counters["transfers_ended"].get("timed-out") == 2
        assert counters["blocks_retransmitted"] == 2
        _, data = fetch(limited.port, "small.txt", sock=socks[2])
        assert data == (root / "small.txt").read_bytes()
        for s in socks:
            s.close()
    finally:
        limited.stop()


def test_many_transfers_at_once_each_get_their_bytes_and_a_stalled_client_holds_no_one_up(server, files, tmp_path):
    """Transfers share a few worker threads: 48 real clients at once, at mixed block sizes and
    windows, beside two clients that never ACK, all get identical bytes."""
    _, root = files
    stalled = [udp() for _ in range(2)]
    for s in stalled:
        s.sendto(rrq("mid.bin"), (HOST, server.port))
        assert s.recvfrom(65536)[0][:4] == b"\x00\x03\x00\x01"  # DATA 1, never acknowledged
    before = server.counters_now()
    procs = []
    for i in range(40):
        out = tmp_path / f"curl-{i}.bin"
        argv = ["curl", "-sS", "-o", str(out), "--tftp-blksize", str((512, 1468, 8192)[i % 3]),
                f"tftp://{HOST}:{server.port}/mid.bin"]
        procs.append((out, subprocess.Popen(argv, stderr=subprocess.PIPE)))
    for i in range(8):
        out = tmp_path / f"atftp-{i}.bin"
        argv = ["atftp", "--option", "blksize 1468", "--option", "windowsize 8", "-g", "-r", "mid.bin", "-l", str(out),
                HOST, str(server.port)]
        procs.append((out, subprocess.Popen(argv, stderr=subprocess.PIPE)))
    expected = sha256(root / "mid.bin")
    for out, proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert sha256(out) == expected, out.name
    after = server.counters_now()
    completed = after["transfers_ended"].get("completed", 0) - before["transfers_ended"].get("completed", 0)
    assert completed == len(procs)
    assert after["transfers_active"] >= 2  # the stalled two are still waiting, holding no one up
    for s in stalled:
        s.close()


def test_stopping_ends_running_transfers_promptly(files):
    tmp, root = files
    running = Server(tmp, root)
    try:
        s = udp()
        s.sendto(rrq("mid.bin"), (HOST, running.port))
        assert s.recvfrom(65536)[0][:2] == b"\x00\x03"
        assert running.counters_now()["transfers_active"] == 1
        started = time.monotonic()
        running.proc.send_signal(signal.SIGTERM)
        assert running.proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
        s.close()
    finally:
        running.stop()


# --- what a stranger can make the server hold ---

def forged_sources(count):
    """Sockets on `count` distinct loopback addresses (127.0.x.y), as forged sources would be:
    each its own client address, so the per-client cap does not stop them. Kept open and never
    read, so no ICMP unreachable tells the server they are gone."""
    socks = []
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((f"127.0.{10 + i // 250}.{1 + i % 250}", 0))
        socks.append(s)
    return socks


def test_a_flood_of_never_acknowledged_timeout_255_requests_locks_no_real_client_out(files, tmp_path):
    """1,100 requests asking `timeout 255`, none ever acknowledged (by the transfer timers alone
    each would hold its slot about 2.2 hours): the 1,024 slots fill, the oldest never-acknowledged
    transfer makes room for each newcomer, a real client gets its file at once, and every forged
    one is gone after the progress limit."""
    require_tools("curl")
    tmp, root = files
    limited = Server(tmp, root, "--tftp-progress-limit", 15)
    socks = forged_sources(1100)
    try:
        for i, s in enumerate(socks):
            s.sendto(rrq("mid.bin", [("timeout", 255), ("tsize", 0)]), (HOST, limited.port))
            if i % 50 == 49:
                time.sleep(0.01)  # bounded bursts: the listener's socket buffer holds every request
        counters = wait_for(lambda: (c := limited.counters_now())["transfers_started"] == 1100 and c, timeout=20,
                            what="every forged request admitted")
        assert counters["transfers_active"] == 1024
        assert counters["transfers_evicted"] == 1100 - 1024
        assert counters["refused"] == {}
        out = tmp_path / "mid.bin"
        result = curl(limited, "mid.bin", out, "--tftp-blksize", "1468")
        assert result.returncode == 0, result.stderr
        assert sha256(out) == sha256(root / "mid.bin")
        counters = wait_for(lambda: (c := limited.counters_now())["transfers_active"] == 0 and c, timeout=40,
                            what="the forged transfers to end at the progress limit")
        ended = counters["transfers_ended"]
        assert ended.get("completed") == 1
        assert ended.get("evicted", 0) == counters["transfers_evicted"] == 1100 - 1024 + 1
        assert ended.get("stalled", 0) == 1100 - ended["evicted"]
        assert "timed-out" not in ended
    finally:
        for s in socks:
            s.close()
        limited.stop()


def test_unknown_option_names_never_become_counter_keys(server, files):
    """500 requests, each with an unknown option of its own name: one counter key, `other:unknown`."""
    _, root = files
    before = server.counters_now()
    s = udp()
    for i in range(500):
        oack, data = fetch(server.port, "small.txt", [(f"x-{i}-{random.random()}", 1)], sock=s)
        assert oack == {} and data == (root / "small.txt").read_bytes()
    s.close()
    after = server.counters_now()
    for field, value in after.items():
        if isinstance(value, dict):
            assert set(value) - set(before[field]) <= {"other:unknown", "completed"}, field
    assert after["ignored_options"]["other:unknown"] == before["ignored_options"].get("other:unknown", 0) + 500
    assert all(key.split(":")[0] in ("blksize", "tsize", "timeout", "windowsize", "other") for key in after["ignored_options"])


def test_too_many_or_too_long_options_are_refused_with_error_8(server):
    before = server.counters_now()
    s = udp()
    code, message = expect_error(s, server.port, rrq("small.txt", [(f"o{i}", i) for i in range(17)]))
    assert code == 8 and message == "option negotiation refused"
    assert expect_error(s, server.port, rrq("small.txt", [("n" * 65, 1)]))[0] == 8
    assert expect_error(s, server.port, rrq("small.txt", [("blksize", "1" * 65)]))[0] == 8
    # Sixteen options of 64 bytes are still a request.
    oack, _ = fetch(server.port, "small.txt", [("o" * 60 + f"{i:04}", "v" * 64) for i in range(15)] + [("tsize", 0)], sock=s)
    assert oack == {"tsize": str(len(b"hello from zoneboot\n"))}
    s.close()
    after = server.counters_now()
    assert after["refused"].get("too-many-options", 0) == before["refused"].get("too-many-options", 0) + 1
    assert after["refused"].get("option-too-long", 0) == before["refused"].get("option-too-long", 0) + 2


def test_window_buffers_stay_within_their_budget(files):
    """With a 1 MiB budget, windows of 64 x 65464 (4 MiB each) are granted what fits; stalled
    ones asking that much never push the total past the budget, nor keep a real client out."""
    tmp, root = files
    limited = Server(tmp, root, "--tftp-buffer-budget-mib", 1)
    socks = forged_sources(20)
    try:
        expected = (root / "mid.bin").read_bytes()
        # 1 MiB less the 64 KiB read-ahead chunk holds 15 packets of 65468 bytes. (Read the OACK
        # and abort, as OVMF does: a burst of 15 such packets overflows a test socket's buffer.)
        s = udp()
        s.sendto(rrq("mid.bin", [("blksize", 65464), ("windowsize", 64)]), (HOST, limited.port))
        data, peer = s.recvfrom(65536)
        assert data[:2] == b"\x00\x06" and parse_options(data[2:]) == {"blksize": "65464", "windowsize": "15"}
        s.sendto(bytes(TFTP() / TFTP_ERROR(errorcode=8, errormsg=b"User aborted the transfer")), peer)
        s.close()
        wait_for(lambda: limited.counters_now()["transfers_active"] == 0, timeout=10, what="the aborted transfer to end")
        for i, s in enumerate(socks):
            s.sendto(rrq("mid.bin", [("blksize", 65464), ("windowsize", 64)]), (HOST, limited.port))
            s.settimeout(5)
            assert s.recvfrom(65536)[0][:2] == b"\x00\x06"  # the OACK, never acknowledged
            if i % 5 == 4:
                assert limited.counters_now()["buffer_bytes_in_use"] <= 1 << 20
        oack, data = fetch(limited.port, "mid.bin", [("blksize", 1468), ("windowsize", 8)])
        assert oack == {"blksize": "1468", "windowsize": "8"} and data == expected
        counters = limited.counters_now()
        assert counters["buffer_bytes_in_use"] <= 1 << 20
        assert counters["windows_reduced_to_budget"] >= 21
        assert counters["transfers_evicted"] == 20
        assert counters["transfers_ended"].get("aborted-by-client") == 1
        assert counters["transfers_ended"].get("completed") == 1
    finally:
        for s in socks:
            s.close()
        limited.stop()


def test_acknowledged_greedy_windows_slow_newcomers_but_never_lock_them_out(files):
    """40 clients ask 64 x 65464 windows, acknowledge the OACK (so they are never evicted) and
    stall. The budget keeps every free slot's least window in reserve: they get what is beyond
    it, and a real client arriving after them still gets its file."""
    tmp, root = files
    limited = Server(tmp, root, "--tftp-buffer-budget-mib", 80, "--tftp-max-transfers", 64)
    socks = forged_sources(40)
    try:
        for s in socks:
            s.settimeout(5)
            s.sendto(rrq("mid.bin", [("blksize", 65464), ("windowsize", 64)]), (HOST, limited.port))
            data, peer = s.recvfrom(65536)
            assert data[:2] == b"\x00\x06"
            s.sendto(ack(0), peer)
        oack, data = fetch(limited.port, "mid.bin", [("blksize", 1468), ("windowsize", 16)])
        assert data == (root / "mid.bin").read_bytes()
        assert int(oack["blksize"]) * int(oack["windowsize"]) < 1468 * 16  # granted less: the greedy ones hold the rest
        counters = limited.counters_now()
        assert counters["refused"] == {}
        assert counters["transfers_evicted"] == 0
        assert counters["buffer_bytes_in_use"] <= 80 << 20
        assert counters["transfers_active"] == 40
        assert counters["windows_reduced_to_budget"] >= 20
    finally:
        for s in socks:
            s.close()
        limited.stop()


# --- the HTTP upstream proxy ---

class Upstream:
    """An HTTP server on 127.0.0.1 with ETags, counting what it is asked; `slow` paths stream in small steps."""

    def __init__(self, files, slow=()):
        import http.server
        import threading
        self.files, self.slow, self.requests = files, set(slow), []
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.removeprefix("/files/")
                body = upstream.files.get(path)
                etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"' if body is not None else None
                conditional = self.headers.get("If-None-Match")
                if body is None:
                    status = 404
                elif conditional == etag:
                    status = 304
                else:
                    status = 200
                upstream.requests.append((path, status))
                self.send_response(status)
                if status == 200:
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("ETag", etag)
                    self.end_headers()
                    step = 64 * 1024
                    for i in range(0, len(body), step):
                        self.wfile.write(body[i:i + step])
                        if path in upstream.slow:
                            self.wfile.flush()
                            time.sleep(0.02)
                else:
                    self.send_header("Content-Length", "0")
                    self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_upstream_files_are_fetched_once_revalidated_and_served_when_the_upstream_is_down(files, tmp_path):
    tmp, root = files
    rng = random.Random(12)
    body = rng.randbytes(700_000)
    upstream = Upstream({"loaders/ipxe.efi": body, "small.txt": b"upstream copy\n"})
    empty_cache = tmp_path / "cache"
    proxy = Server(tmp, root, "--tftp-upstream", f"http://{HOST}:{upstream.port}/files/", "--tftp-cache", empty_cache,
                   "--tftp-upstream-revalidate", 0)
    try:
        out = tmp_path / "ipxe.efi"
        for expected_requests in ([("loaders/ipxe.efi", 200)], [("loaders/ipxe.efi", 200), ("loaders/ipxe.efi", 304)]):
            result = curl(proxy, "loaders/ipxe.efi", out, "--tftp-blksize", "1468")
            assert result.returncode == 0, result.stderr
            assert out.read_bytes() == body
            assert upstream.requests == expected_requests
        # The local root comes first: its small.txt, not the upstream's.
        assert curl(proxy, "small.txt", out).returncode == 0 and out.read_bytes() == (root / "small.txt").read_bytes()
        assert len(upstream.requests) == 2
        s = udp()
        assert expect_error(s, proxy.port, rrq("loaders/missing.efi"))[0] == 1
        s.close()
        upstream.stop()
        result = curl(proxy, "loaders/ipxe.efi", out, "--tftp-blksize", "1468")
        assert result.returncode == 0, result.stderr
        assert out.read_bytes() == body
    finally:
        proxy.stop()
        upstream.stop()


def test_concurrent_readers_stream_while_the_cache_fills(files, tmp_path):
    tmp, root = files
    body = random.Random(13).randbytes(3 * 1024 * 1024)  # 48 steps of 64 KiB, 20 ms apart: about 1 s to fill
    upstream = Upstream({"big.img": body}, slow={"big.img"})
    proxy = Server(tmp, root, "--tftp-upstream", f"http://{HOST}:{upstream.port}/files", "--tftp-cache", tmp_path / "cache")
    try:
        outs = [tmp_path / f"out{i}" for i in range(4)]
        procs = [subprocess.Popen(["curl", "-sS", "-o", str(out), "--tftp-blksize", "1468", f"tftp://{HOST}:{proxy.port}/big.img"],
                                  stderr=subprocess.PIPE) for out in outs]
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
        for out in outs:
            assert out.read_bytes() == body
        assert upstream.requests == [("big.img", 200)]
        counters = proxy.counters_now()
        assert counters["transfers_ended"].get("completed") == 4
    finally:
        proxy.stop()
        upstream.stop()


def test_the_upstream_cache_stays_under_its_cap_least_recently_used_first(files, tmp_path):
    """A 2 MiB cache and files of 700 kB: the least recently used goes to make room, and a file
    larger than the whole cap is refused (error 2), never cached."""
    tmp, root = files
    rng = random.Random(21)
    bodies = {name: rng.randbytes(700_000) for name in ("a.bin", "b.bin", "c.bin", "d.bin")}
    bodies["huge.bin"] = rng.randbytes(3 * 1024 * 1024)
    bodies["d.bin.meta"] = b'{"size": 1}'  # named like the cache's metadata of d.bin
    upstream = Upstream(bodies)
    cache = tmp_path / "cache"
    proxy = Server(tmp, root, "--tftp-upstream", f"http://{HOST}:{upstream.port}/files/", "--tftp-cache", cache,
                   "--tftp-upstream-revalidate", 0, "--tftp-cache-max-mib", 2)

    def get(name):
        out = tmp_path / name
        result = curl(proxy, name, out, "--tftp-blksize", "1468")
        assert result.returncode == 0, result.stderr
        assert out.read_bytes() == bodies[name]

    def cached():
        # Cache names never start with a dot: those are the atomic writes' temporary files.
        return {p.name for p in cache.iterdir() if not p.name.endswith(".meta") and not p.name.startswith(".")}

    def expect_cached(names):
        # A fill is committed when the upstream's body ends, a moment after its last block went out.
        wait_for(lambda: cached() == names, timeout=5, what=f"the cache to hold {names}")

    def cache_bytes():
        return sum(p.stat().st_size for p in cache.iterdir() if not p.name.endswith(".meta"))

    try:
        get("a.bin")
        get("b.bin")
        get("a.bin")  # revalidated (304): a is now the most recently used
        get("c.bin")  # 2.1 MB with b: b, the least recently used, goes
        expect_cached({"a.bin", "c.bin"})
        assert cache_bytes() <= 2 << 20
        get("d.bin")
        expect_cached({"c.bin", "d.bin"})
        assert cache_bytes() <= 2 << 20
        get("d.bin.meta")  # cached under a name of its own: d.bin's metadata stays as it was
        expect_cached({"c.bin", "d.bin", "d.bin%2Emeta"})
        get("d.bin")
        assert upstream.requests[-1] == ("d.bin", 304)  # revalidated with its own ETag
        get("b.bin")  # fetched again in full: it was evicted; c, the least recently used, goes
        assert [r for r in upstream.requests if r[0] == "b.bin"] == [("b.bin", 200), ("b.bin", 200)]
        before = proxy.counters_now()
        s = udp()
        code, message = expect_error(s, proxy.port, rrq("huge.bin"))
        s.close()
        assert code == 2 and "larger" in message
        assert "huge.bin" not in cached() and not any(".part-" in p.name for p in cache.iterdir())
        assert cache_bytes() <= 2 << 20
        after = proxy.counters_now()
        assert after["refused"].get("upstream-too-large", 0) == before["refused"].get("upstream-too-large", 0) + 1
    finally:
        proxy.stop()
        upstream.stop()
    # A restart with a lower cap keeps the most recently used files that fit.
    smaller = Server(tmp, root, "--tftp-upstream", f"http://{HOST}:1/files/", "--tftp-cache", cache, "--tftp-cache-max-mib", 1)
    try:
        expect_cached({"b.bin"})
        assert cache_bytes() <= 1 << 20
    finally:
        smaller.stop()
