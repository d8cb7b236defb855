"""One JSON style (issue 21, item 8): every `zonectl --json` output, saved plans and the
admin API's answers use snake_case keys, numbers for counts and, for times, Unix seconds
(integers) or RFC 3339 UTC strings, as README's "JSON" section says. The test walks each
document and names every key that breaks the rule.

The server listens on 127.0.0.1 with high ports and receives no DHCP (test_one_way_to_a_server's
fixture: one dead letter, one registered BMC, so events and bmcs are not empty).
"""
import json
import re
from pathlib import Path

import pytest

from netlab import ZONEBOOTD
from test_one_way_to_a_server import server, zonectl  # noqa: F401  (server is a fixture)

pytestmark = pytest.mark.skipif(not Path(ZONEBOOTD).exists(), reason="build zonebootd first")

SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
# Maps whose keys are data, not names: template paths, secret files, an event's details.
DATA_MAPS = {"files", "secret_digests", "details"}
COUNTS = {"add", "change", "remove", "hosts", "bmcs", "switches", "count", "attempts"}


def problems(value, where="$", data=False):
    """Every key of `value` that is not snake_case, every time that is neither Unix seconds
    nor RFC 3339 UTC, every count that is not a number."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if not data and not SNAKE.match(key):
                found.append(f"{where}.{key}: not snake_case")
            # (A diagnostic's `at` is a position: an object, not a time.)
            if not data and (key == "at" or key.endswith("_at")) and not isinstance(item, (dict, type(None))) \
                    and not (isinstance(item, int) or (isinstance(item, str) and RFC3339_UTC.match(item))):
                found.append(f"{where}.{key}: time {item!r} is neither Unix seconds nor RFC 3339 UTC")
            if not data and key in COUNTS and not isinstance(item, (int, dict, list)):
                found.append(f"{where}.{key}: count {item!r} is not a number")
            found += problems(item, f"{where}.{key}", data=key in DATA_MAPS)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += problems(item, f"{where}[{index}]")
    return found


def test_the_style_check_catches_what_it_should():
    assert problems({"baseRevision": 1, "plan": {"summary": {"add": "3"}}, "created_at": "yesterday",
                     "files": {"templates/CentOS.ipxe": "x"}}) == [
        "$.baseRevision: not snake_case", "$.plan.summary.add: count '3' is not a number",
        "$.created_at: time 'yesterday' is neither Unix seconds nor RFC 3339 UTC"]


def test_every_json_output_has_one_style(server, tmp_path):
    zone = server.zone
    changed = zone.parent / "changed.yaml"  # beside its templates and hooks
    changed.write_text(zone.read_text().replace("lease: 12h", "lease: 8h", 1))
    saved = tmp_path / "saved.plan"
    documents = {
        "status": zonectl(server, "status", "--json", check=0).stdout,
        "history": zonectl(server, "history", "--json", check=0).stdout,
        "hosts": zonectl(server, "hosts", "--json", check=0).stdout,
        "leases": zonectl(server, "leases", "--json", check=0).stdout,
        "events": zonectl(server, "events", "--json", check=0).stdout,
        "bmcs": zonectl(server, "bmcs", "--json", check=0).stdout,
        "render": zonectl(server, "render", zone, "--name", "ex-p01-r01-u01", "--json", check=0).stdout,
        "validate": zonectl(server, "validate", zone, "--json", check=0).stdout,
        "plan --server": zonectl(server, "plan", changed, "--json", "-o", saved, check=2).stdout,
    }
    documents["saved plan (server)"] = saved.read_text()
    state = tmp_path / "state"
    documents["apply --state"] = zonectl(server, "apply", zone, "--state", state, "--yes", "--json", server=False,
                                         check=0).stdout
    offline = tmp_path / "offline.plan"
    documents["plan --state"] = zonectl(server, "plan", changed, "--state", state, "--json", "-o", offline, server=False,
                                        check=2).stdout
    documents["saved plan (offline)"] = offline.read_text()
    documents["history --state"] = zonectl(server, "history", "--state", state, "--json", server=False, check=0).stdout
    for path in ("/v1/revision", "/v1/revision/source", "/v1/history", "/v1/hosts", "/v1/leases", "/v1/status",
                 "/v1/events", "/v1/bmcs"):
        status, answer = server.api("GET", path)
        assert status == 200, (path, answer)
        documents[path] = json.dumps(answer)
    status, answer = server.api("POST", "/v1/plan", {"source": json.loads(documents["saved plan (server)"])["source"]})
    assert status == 200, answer
    documents["POST /v1/plan"] = json.dumps(answer)
    # A refusal's body too: a stale base is 409 with the revision the server is at.
    ops = (server.tmp / "token-ops").read_text().strip().rsplit(":", 1)[1]
    status, answer = server.api("POST", "/v1/apply", {"source": answer["source"], "base_revision": 99}, token=ops)
    assert status == 409 and answer["current_revision"] == 1, answer
    documents["409 from /v1/apply"] = json.dumps(answer)
    parsed = {name: json.loads(text) for name, text in documents.items()}
    assert parsed["plan --server"]["plan"]["blast_radius"]["reach"]["hosts"] == 4
    assert isinstance(parsed["status"], dict) and parsed["bmcs"] and parsed["events"]
    found = [f"{name}: {problem}" for name, value in parsed.items() for problem in problems(value)]
    assert not found, "\n".join(found)
