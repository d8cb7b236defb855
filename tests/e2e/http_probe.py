#!/usr/bin/python3
"""HTTP clients, good and bad, run inside a test's namespace; each prints one JSON line.

  request METHOD URL [HEADER: VALUE ...]   one request; status, headers, body (hex), seconds
  drip HOST PORT --interval S              a request sent one byte at a time (slowloris)
  silent HOST PORT                         a connection that never sends anything
  idle HOST PORT                           one whole request, its answer read, then silence
  stall HOST PORT PATH --seconds S         one whole request whose answer is not read for S
                                           seconds, then read to the end: bytes and whether cut
  hold HOST PORT --count N --sources A,B   N connections held open, spread over source
                                           addresses; writes --ready when all are tried

The last four report how many seconds passed before the server closed the connection
(null if it had not within --timeout). Only 198.18.0.0/15 addresses; every loop is
bounded by a count and a time.
"""
import argparse
import errno
import http.client
import json
import os
import resource
import select
import signal
import socket
import sys
import time

ALLOWED = ("198.18.", "198.19.")


def allowed(address):
    assert address.startswith(ALLOWED), f"{address} is outside 198.18.0.0/15"
    return address


def request(method, url, headers):
    assert url.startswith("http://")
    host_port, _, path = url[len("http://"):].partition("/")
    host, _, port = host_port.partition(":")
    started = time.monotonic()
    conn = http.client.HTTPConnection(allowed(host), int(port or 80), timeout=10)
    conn.request(method, "/" + path, headers=dict(h.split(": ", 1) for h in headers))
    response = conn.getresponse()
    body = response.read()
    seconds = time.monotonic() - started
    conn.close()
    return {"status": response.status, "headers": {k.lower(): v for k, v in response.getheaders()},
            "body": body.hex(), "seconds": seconds}


def closed_by_peer(sock, timeout):
    """Seconds until the peer closes (EOF or reset), reading and discarding what it sends; None if it does not."""
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            continue
        try:
            if not sock.recv(65536):
                return time.monotonic() - started
        except ConnectionError:
            return time.monotonic() - started
    return None


def drip(host, port, interval, timeout):
    """Sends a request a byte at a time; reports when the server cut the connection."""
    payload = b"GET /files/data.bin HTTP/1.1\r\nHost: zoneboot\r\nX-Padding: " + b"a" * 200 + b"\r\n\r\n"
    sock = socket.create_connection((allowed(host), port), timeout=5)
    started = time.monotonic()
    sent = 0
    try:
        while sent < len(payload) and time.monotonic() - started < timeout:
            try:
                sock.send(payload[sent:sent + 1])
            except (BrokenPipeError, ConnectionError):
                return {"cut_after": time.monotonic() - started, "sent": sent}
            sent += 1
            cut = closed_by_peer(sock, interval)
            if cut is not None:
                return {"cut_after": time.monotonic() - started, "sent": sent}
        return {"cut_after": None, "sent": sent}
    finally:
        sock.close()


def silent(host, port, timeout):
    sock = socket.create_connection((allowed(host), port), timeout=5)
    try:
        return {"cut_after": closed_by_peer(sock, timeout)}
    finally:
        sock.close()


def idle(host, port, timeout):
    """One whole request (keep-alive), its whole answer read, then nothing."""
    sock = socket.create_connection((allowed(host), port), timeout=5)
    try:
        sock.sendall(b"GET /files/data.bin HTTP/1.1\r\nHost: zoneboot\r\n\r\n")
        answer = b""
        deadline = time.monotonic() + 10
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            answer += sock.recv(65536)
        head, _, body = answer.partition(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
        while len(body) < length and time.monotonic() < deadline:
            body += sock.recv(65536)
        return {"status": head.split(b" ")[1].decode(), "read": len(body), "cut_after": closed_by_peer(sock, timeout)}
    finally:
        sock.close()


def stall(host, port, path, seconds):
    """Asks for a large file and reads nothing for `seconds` (a small receive buffer, so the
    server's side fills); then reads what arrives until the end or the server's close."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect((allowed(host), port))
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: zoneboot\r\n\r\n".encode())
        time.sleep(seconds)
        received, cut = 0, False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(1 << 20)
            except ConnectionError:
                cut = True
                break
            except socket.timeout:
                break  # still open, just slow: not cut
            if not chunk:
                cut = True
                break
            received += len(chunk)
        return {"received": received, "closed": cut}
    finally:
        sock.close()


def peer_closed(sock):
    """Whether the server closed or reset a held connection (never reads its data)."""
    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
        return True
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


def hold(host, port, count, sources, ready, seconds):
    """Opens `count` connections round-robin over `sources` and holds the ones the server
    keeps; once the count settles, records how many the server closed."""
    assert count <= 5000 and seconds <= 300
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 100)), hard))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    sockets = []
    failed = 0
    started = time.monotonic()
    for n in range(count):
        if time.monotonic() - started > 60:
            break
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((allowed(sources[n % len(sources)]), 0))
        sock.setblocking(False)
        code = sock.connect_ex((allowed(host), port))
        if code not in (0, errno.EINPROGRESS):
            failed += 1
            sock.close()
            continue
        sockets.append(sock)
    # Connected once writable (poll: select cannot watch descriptors past 1023).
    deadline = time.monotonic() + 10
    pending = {sock.fileno(): sock for sock in sockets}
    poller = select.poll()
    for fd in pending:
        poller.register(fd, select.POLLOUT)
    while pending and time.monotonic() < deadline:
        for fd, _ in poller.poll(500):
            poller.unregister(fd)
            pending.pop(fd, None)
    # The server may still be accepting (and refusing or evicting) what waits in its queue:
    # count until two looks a second apart agree, for at most 15 s.
    kept, closed = list(sockets), 0
    previous = None
    settle = time.monotonic() + 15
    while time.monotonic() < settle:
        time.sleep(1)
        still = []
        for sock in kept:
            if peer_closed(sock):
                closed += 1
                sock.close()
            else:
                still.append(sock)
        kept = still
        if previous == len(kept):
            break
        previous = len(kept)
    report = {"tried": count, "failed": failed, "closed_by_server": closed, "held": len(kept),
              "opening_seconds": time.monotonic() - started}
    with open(ready + ".partial", "w") as f:
        json.dump(report, f)
    os.replace(ready + ".partial", ready)
    end = time.monotonic() + seconds
    while not stop and time.monotonic() < end:
        time.sleep(0.1)
    for sock in kept:
        sock.close()
    return report


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["request", "drip", "silent", "idle", "stall", "hold"])
    p.add_argument("args", nargs="*")
    p.add_argument("--interval", type=float, default=0.5)
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--count", type=int, default=2000)
    p.add_argument("--sources", default="")
    p.add_argument("--ready", default="")
    p.add_argument("--seconds", type=float, default=60)
    a = p.parse_args()
    if a.mode == "request":
        result = request(a.args[0], a.args[1], a.args[2:])
    elif a.mode == "drip":
        result = drip(a.args[0], int(a.args[1]), a.interval, a.timeout)
    elif a.mode == "silent":
        result = silent(a.args[0], int(a.args[1]), a.timeout)
    elif a.mode == "idle":
        result = idle(a.args[0], int(a.args[1]), a.timeout)
    elif a.mode == "stall":
        result = stall(a.args[0], int(a.args[1]), a.args[2], a.seconds)
    else:
        result = hold(a.args[0], int(a.args[1]), a.count, a.sources.split(","), a.ready, a.seconds)
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
