"""The command line as an operator meets it (issue 21, items 7 and 8): read-only commands
never create a state directory, `--version` on both binaries, exit statuses documented in
`--help` and kept, and the zone as a positional argument for `inventory` and `chef-node`.

No server is started and nothing is sent on any network.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from apply_lab import ZONECTL
from netlab import ROOT, ZONEBOOTD

pytestmark = pytest.mark.skipif(not Path(ZONEBOOTD).exists(), reason="build zonebootd first")

ZONE = ROOT / "zones" / "ams1.yaml"


def run(*args, check=None, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZONEBOOT_")}
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120, env=dict(env, NO_COLOR="1"),
                            cwd=cwd)
    if check is not None:
        assert result.returncode == check, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def test_both_binaries_say_their_version():
    zonectl = run(ZONECTL, "--version", check=0).stdout.strip()
    zonebootd = run(ZONEBOOTD, "--version", check=0).stdout.strip()
    # The git revision where the Makefile gave one (make release/package), else "unknown".
    assert zonectl == zonebootd and re.fullmatch(r"\S+ \(git (unknown|[0-9a-f]{7,}(-dirty)?), admin API v1\)", zonectl)


def test_release_builds_carry_the_git_revision(tmp_path):
    """`make release` (and `package`) hand the revision to Sources/CBuildInfo as a C macro;
    compiled as the Makefile says, it gives that revision, and "unknown" without it."""
    dry = run("make", "-n", "release", cwd=ROOT, check=0).stdout
    flags = shlex.split(re.search(r"swift build -c release (.*)", dry).group(1))
    revision = run("git", "describe", "--always", "--dirty", "--abbrev=12", cwd=ROOT, check=0).stdout.strip()
    defines = [flag for flag in flags if flag.startswith("-D")]
    assert defines == [f'-DZONEBOOT_GIT_REVISION="{revision}"'] and flags.count("-Xcc") == len(defines)
    main = tmp_path / "main.c"
    main.write_text('#include <stdio.h>\n#include "build_info.h"\nint main(void) { puts(zoneboot_git_revision()); }\n')
    clang = Path(shutil.which("swift")).resolve().parent / "clang"  # the toolchain's, which builds the C targets
    for given, expected in ((defines, revision), ([], "unknown")):
        run(clang, *given, "-I", ROOT / "Sources" / "CBuildInfo" / "include", ROOT / "Sources" / "CBuildInfo" / "build_info.c",
            main, "-o", tmp_path / "revision", check=0)
        assert run(tmp_path / "revision", check=0).stdout.strip() == expected


def test_exit_statuses_are_documented_and_kept(tmp_path):
    for binary in (ZONECTL, ZONEBOOTD):
        assert "Exit status: 0" in " ".join(run(binary, "--help", check=0).stdout.split())
        assert "64" in run(binary, "--help").stdout
    assert run(ZONECTL, "validate", ZONE, "--no-such-option").returncode == 64
    assert run(ZONEBOOTD, "--zone", ZONE, "--listen", "not-an-address").returncode == 64
    broken = tmp_path / "broken.yaml"
    broken.write_text("zone: [unclosed\n")
    assert run(ZONECTL, "validate", broken).returncode == 1
    # plan: 2 when there are changes (here, against nothing), as terraform plan -detailed-exitcode.
    nowhere = tmp_path / "no-such-state"
    planned = run(ZONECTL, "plan", ZONE, "--state", nowhere, check=2)
    assert f"there is no state directory {nowhere}" in planned.stdout + planned.stderr


def test_read_only_commands_create_no_state_directory(tmp_path):
    nowhere = tmp_path / "no-such-state"
    run(ZONECTL, "plan", ZONE, "--state", nowhere, check=2)
    for command in (("history",), ("events",), ("bmcs",), ("secrets",)):
        failed = run(ZONECTL, *command, "--state", nowhere, check=1)
        assert f"there is no state directory {nowhere}" in failed.stderr, command
    assert not nowhere.exists()
    # The handoff commands read the state directory only where it exists.
    run(ZONECTL, "inventory", ZONE, "--list", "--state-dir", nowhere, check=0)
    assert not nowhere.exists()
    # apply is what creates it.
    run(ZONECTL, "apply", ZONE, "--state", nowhere, "--yes", check=0)
    history = json.loads(run(ZONECTL, "history", "--state", nowhere, "--json", check=0).stdout)
    assert [(h["id"], h["origin"]) for h in history] == [(1, "apply")]


def test_inventory_and_chef_node_take_the_zone_as_every_command_does():
    positional = json.loads(run(ZONECTL, "inventory", ZONE, "--list", check=0).stdout)
    assert positional == json.loads(run(ZONECTL, "inventory", "--zone", ZONE, "--list", check=0).stdout)
    assert "ams1-p01-r01-u07" in positional["_meta"]["hostvars"]
    # The host filter is --hosts (--state still works); both pick the same hosts.
    hosts = run(ZONECTL, "inventory", ZONE, "--hosts", "seen", "--list", "--state-dir", "/nonexistent", check=0).stdout
    assert hosts == run(ZONECTL, "inventory", ZONE, "--state", "seen", "--list", "--state-dir", "/nonexistent", check=0).stdout
    node = json.loads(run(ZONECTL, "chef-node", ZONE, "ams1-p01-r01-u07", check=0).stdout)
    assert node == json.loads(run(ZONECTL, "chef-node", "ams1-p01-r01-u07", "--zone", ZONE, check=0).stdout)
    assert node["zoneboot"]["rack"] == 1
    twice = run(ZONECTL, "chef-node", ZONE, "ams1-p01-r01-u07", "--zone", ZONE, check=1)
    assert "give the zone file once" in twice.stderr
    assert run(ZONECTL, "chef-node", check=64).returncode == 64


def test_example_without_output_says_it_needs_its_templates(tmp_path):
    """Printed alone, the example zone names templates and a hook it does not print: zonectl
    says so on standard error (standard output stays the zone file), and -o writes a zone
    that validates as written."""
    printed = run(ZONECTL, "example", check=0)
    assert printed.stdout.startswith("# A generated zone")
    assert "-o DIR" in printed.stderr and "templates/" in printed.stderr
    alone = tmp_path / "alone.yaml"
    alone.write_text(printed.stdout)
    assert "does not exist" in run(ZONECTL, "validate", alone, check=1).stderr
    run(ZONECTL, "example", "-o", tmp_path / "whole", check=0)
    run(ZONECTL, "validate", tmp_path / "whole" / "example.yaml", check=0)


def test_render_names_the_hooks_a_location_fires_and_on_which_events(tmp_path):
    """`zonectl render` (issue 18): the hooks events about a location go to (its role's), each
    with the events it takes; zone.applied is about the zone and not listed; a webhook's URL
    is shown redacted (it may carry credentials)."""
    zone = tmp_path / "zone.yaml"
    text = ZONE.read_text().replace(
        "    hooks: [register-bmc]",
        "    hooks: [register-bmc, notify]")
    created = "    run: hooks/chef-client-create        # creates the host's Chef client with its public key\n"
    assert created in text
    text = text.replace(created, created + "  notify:\n    on: [lease.acked, host.miscabled, zone.applied]\n"
                        "    url: https://user:s3cret@hooks.example.net/notify?token=abc\n", 1)
    zone.write_text(text)
    for folder in ("templates", "hooks"):
        shutil.copytree(ROOT / "zones" / folder, tmp_path / folder)
    run(ZONECTL, "validate", zone, check=0)
    bmc = run(ZONECTL, "render", zone, "--name", "ams1-p01-r01-u01-lom", check=0).stdout
    hooks = bmc[bmc.index("Hooks (events about this location, role lom)"):].split("\n\n")[0]
    assert "register-bmc" in hooks and "on lease.acked: runs hooks/register-bmc" in hooks
    assert "notify" in hooks and "on lease.acked, host.miscabled: POSTs to https://hooks.example.net/…" in hooks
    assert "s3cret" not in bmc and "token=abc" not in bmc and "zone.applied" not in hooks
    report = json.loads(run(ZONECTL, "render", zone, "--name", "ams1-p01-r01-u01-lom", "--json", check=0).stdout)
    assert [(h["name"], h["on"]) for h in report["hooks"]] == [("register-bmc", ["lease.acked"]),
                                                               ("notify", ["lease.acked", "host.miscabled"])]
    host = run(ZONECTL, "render", zone, "--switch", "tor-a", "--port", "swp7", check=0).stdout
    assert "chef-client-create      on bootstrap.issued: runs hooks/chef-client-create" in host
