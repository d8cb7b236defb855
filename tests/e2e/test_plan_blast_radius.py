"""Plans tell the blast radius (issue 21, item 7): a setting change says how many machines
it reaches and what changes for them, a template edit shows its diff, a plan against a
store of another zone says so, and saved plans work offline: `zonectl plan -o FILE --state`
then `zonectl apply --plan FILE` records exactly that plan without asking, and refuses
once the store has moved.

Only state directories under the test's tmp folder; no server, nothing on any network.
"""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from apply_lab import ZONECTL
from netlab import ROOT, ZONEBOOTD

pytestmark = pytest.mark.skipif(not Path(ZONEBOOTD).exists(), reason="build zonebootd first")


def run(*args, check=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZONEBOOT_")}
    # stdin is not a terminal: a command that asked for confirmation would refuse.
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                            env=dict(env, NO_COLOR="1", ZONEBOOT_AUTHOR="tester"))
    if check is not None:
        assert result.returncode == check, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def site(tmp_path):
    """The example zone with its templates in tmp, applied once to tmp/state (revision 1)."""
    shutil.copytree(ROOT / "zones", tmp_path / "zones")
    zone, state = tmp_path / "zones" / "ams1.yaml", tmp_path / "state"
    run(ZONECTL, "apply", zone, "--state", state, "--yes", check=0)
    return zone, state


def test_a_lease_change_affects_every_machine_and_a_template_edit_shows_its_diff(site):
    zone, state = site
    zone.write_text(zone.read_text().replace("lease: 12h", "lease: 8h", 1))
    template = zone.parent / "templates" / "centos7.ipxe"
    template.write_text(template.read_text() + "echo blast radius test\n")
    shown = run(ZONECTL, "plan", zone, "--state", state, check=2).stdout
    machines = json.loads(run(ZONECTL, "plan", zone, "--state", state, "--json", check=2).stdout)
    # "1 to change" for the zone, but every machine's DHCP answer changes.
    assert re.search(r"~ zone ams1\n\s+defaults\.lease\s+12h → 8h\n\s+→ affects 40 hosts, 40 BMCs, 2 switches \(DHCP answer",
                     shown), shown
    assert "+++ b/templates/centos7.ipxe" in shown and "      +echo blast radius test" in shown
    assert re.search(r"~ profile centos7-kvm\n(.*\n)*?\s+→ affects 40 hosts \(boot files", shown), shown
    radius = machines["blast_radius"]
    assert radius["reach"] == {"hosts": 40, "bmcs": 40, "switches": 2}
    assert {e["key"]: e["outputs"] for e in radius["effects"]}["zone ams1"] == ["dhcp_answer"]
    assert radius["templates"][0]["path"] == "templates/centos7.ipxe"


def test_a_plan_against_a_store_of_another_zone_says_so(site):
    zone, state = site
    other = zone.parent / "fra2.yaml"
    other.write_text(zone.read_text().replace("zone: ams1", "zone: fra2", 1))
    shown = run(ZONECTL, "plan", other, "--state", state, check=2).stdout
    assert "WARNING: the store holds zone ams1, not fra2." in shown
    assert json.loads(run(ZONECTL, "plan", other, "--state", state, "--json", check=2).stdout)["blast_radius"][
        "replaces_zone"] == "ams1"


def test_a_saved_offline_plan_applies_exactly_without_asking_and_not_twice(site, tmp_path):
    zone, state = site
    planned = zone.read_text().replace("lease: 12h", "lease: 8h", 1)
    zone.write_text(planned)
    saved = tmp_path / "lease.plan"
    out = run(ZONECTL, "plan", zone, "--state", state, "-o", saved, check=2).stdout
    assert f"Saved the plan to {saved}" in out
    body = json.loads(saved.read_text())
    assert body["base_revision"] == 1 and body["state_directory"] == str(state)
    # The file changes after the plan was saved: the plan, not the file, is applied.
    zone.write_text(planned.replace("lease: 8h", "lease: 6h", 1))
    applied = run(ZONECTL, "apply", "--plan", saved, check=0).stdout
    assert "Apply these changes?" not in applied
    assert f"Applied the plan {saved} as revision 2 (zone ams1) in {state}" in applied
    zone.write_text(planned)
    assert "No changes. The zone matches revision 2." in run(ZONECTL, "plan", zone, "--state", state, check=0).stdout
    # The store moved since (here: the plan itself): applying it again is refused, nothing recorded.
    again = run(ZONECTL, "apply", "--plan", saved, check=1)
    assert f"refusing to apply {saved}: it was planned against revision 1 of {state}, which is now at revision 2" \
        in again.stderr
    history = json.loads(run(ZONECTL, "history", "--state", state, "--json", check=0).stdout)
    assert [h["id"] for h in history] == [2, 1] or [h["id"] for h in history] == [1, 2]
