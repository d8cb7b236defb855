"""The event outbox's retention: the real zonebootd deletes delivered events older than
--event-retention, and keeps dead letters and undelivered events whatever their age.

zonebootd listens on 127.0.0.1 only (DHCP on a high port, no HTTP, TFTP or admin API) and is
started and stopped by PID; the events are written straight into its database (WAL lets a
second writer in while it runs).
"""
import os
import signal
import socket
import sqlite3
import subprocess
import time

from netlab import ROOT, ZONEBOOTD, free_port, read_counters, wait_for


def test_delivered_events_past_the_retention_are_pruned_and_nothing_else(tmp_path):
    state = tmp_path / "state"
    counters = tmp_path / "dhcp.json"
    log = open(tmp_path / "zonebootd.log", "w")
    proc = subprocess.Popen(
        [str(ZONEBOOTD), "--zone", str(ROOT / "zones" / "ams1.yaml"), "--state", str(state), "--listen", "127.0.0.1",
         "--dhcp-port", str(free_port(socket.SOCK_DGRAM)), "--counters-file", str(counters), "--http-port", "0", "--admin-port", "0",
         "--tftp-port", "0", "--firmware", str(ROOT / "firmware"), "--event-retention", "60s"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: read_counters(counters) is not None, timeout=30, what="zonebootd to start")
        now = int(time.time())
        db = sqlite3.connect(state / "zoneboot.sqlite", timeout=10)
        rows = {
            "old-delivered": dict(delivered_at=now - 3600),
            "new-delivered": dict(delivered_at=now),
            "old-dead": dict(dead_at=now - 3600),
            "old-pending": dict(next_attempt_ms=(now + 86400) * 1000),
        }
        ids = {}
        with db:
            for name, columns in rows.items():
                cursor = db.execute(
                    "INSERT INTO event (type, at, body, delivered_at, dead_at, next_attempt_ms) VALUES (?, ?, '{}', ?, ?, ?)",
                    ("lease.acked", now - 3600, columns.get("delivered_at"), columns.get("dead_at"),
                     columns.get("next_attempt_ms", 0)))
                ids[name] = cursor.lastrowid

        def left():
            present = {row[0] for row in db.execute("SELECT id FROM event")}
            return {name for name, id in ids.items() if id in present}

        # The sweep runs every tenth of the retention (6 s here).
        wait_for(lambda: "old-delivered" not in left(), timeout=30, what="the old delivered event to be pruned")
        assert left() == {"new-delivered", "old-dead", "old-pending"}
        pruned = wait_for(lambda: (read_counters(counters) or {}).get("hooks", {}).get("events_pruned"), timeout=5,
                          what="the pruned count")
        assert pruned >= 1
        db.close()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        log.close()
