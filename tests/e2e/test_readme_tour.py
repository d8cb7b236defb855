"""The README's five-minute tour pastes as it is (issue 21, item 9): every `sh` block of the
tour, run in order by one bash that expands aliases, the way an operator pastes them into a
terminal at the repository's root. Only what the test cannot do as a person would is changed:
`make build` and `make firmware` are done already (the binaries under test stand in for
`.build/debug`), apply gets `--yes` where a person answers its question, and /tmp paths move
into the test's own directory. The whole tour runs inside a network namespace the test makes, so the server on
127.0.0.1 is the namespace's own loopback.
"""
import re
import shutil
from pathlib import Path

import pytest

from apply_lab import ZONECTL
from netlab import FIRMWARE, ROOT, ZONEBOOTD, lab

pytestmark = pytest.mark.skipif(not Path(ZONEBOOTD).exists(), reason="build zonebootd first")


def tour_blocks():
    text = (ROOT / "README.md").read_text()
    start = text.index("## A five-minute tour")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```sh\n(.*?)```", text[start:end], flags=re.S)


def test_the_tour_blocks_paste_as_they_are(tmp_path):
    blocks = tour_blocks()
    script = "\n".join(blocks)
    # The tour names the binaries through the alias line, never a path a reader must edit.
    assert 'alias zonectl="$PWD/.build/debug/zonectl" zonebootd="$PWD/.build/debug/zonebootd"' in script
    without_root = next(b for b in blocks if "zonebootd --zone" in b)
    ports = [int(p) for p in re.findall(r"--(?:dhcp|http|tftp|admin)-port (\d+)", without_root)]
    assert len(ports) == 4 and min(ports) > 1024, without_root

    # The repository's root as the reader has it: zones/ and a .build/debug holding the
    # binaries under test.
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "zones", root / "zones")
    (root / ".build" / "debug").mkdir(parents=True)
    for binary in (ZONECTL, ZONEBOOTD):
        (root / ".build" / "debug" / Path(binary).name).symlink_to(Path(binary).resolve())
    (root / "firmware").symlink_to(FIRMWARE.resolve())
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    lines = [line for line in script.replace("/tmp/", f"{scratch}/").splitlines() if not line.startswith("make build")]
    lines = [line.replace(" -m ", " --yes -m ") if line.startswith("zonectl apply") else line for line in lines]
    (root / "tour.sh").write_text("shopt -s expand_aliases\n" + "\n".join(lines) + "\nwait\necho TOUR-DONE\n")

    with lab() as the_lab:
        ns = the_lab.ns("tour")
        result = the_lab.run(ns, "bash", "-c", f"cd {root} && bash tour.sh", timeout=300, check=False)
    out = result.stdout + result.stderr
    assert result.returncode == 0 and "TOUR-DONE" in result.stdout, out
    assert "zone ams1 is valid" in out
    assert "Applied revision 1" in out
    assert "10000 host(s)" in out
    assert "ams1-p01-r01-u07" in out                  # render, local and through the server
    assert "ORIGIN" in out and "first start with zones/ams1.yaml" in out   # history through the server
    assert (scratch / "zb-tour").is_dir() and (root / ".state").is_dir()
