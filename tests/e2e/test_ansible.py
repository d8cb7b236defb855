"""The zone as Ansible reads it, with real Ansible (ansible-core from `make deps`).

`ansible-inventory` runs contrib/zoneboot-inventory (which runs `zonectl inventory`)
and the static YAML from `zonectl inventory --yaml`; `ansible-playbook` runs a local
play against one inventory host. Expectations are computed from the zone file itself.
Chef has no package here: its first-boot JSON is checked against Chef's documented
rules (run-list item syntax, environment names, what `chef-client -j` reads).
"""
import ipaddress
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from dhcp_lab import DHCPLab, lab_zone
from netlab import ROOT, ZONEBOOTD, lab, require_tools

ZONECTL = Path(os.environ.get("ZONECTL", ZONEBOOTD.parent / "zonectl"))
SCRIPT = ROOT / "contrib" / "zoneboot-inventory"
ZONE = ROOT / "zones" / "ams1.yaml"


def ansible_tool(name):
    """ansible-core from `make deps` (the repository's .venv), else one on PATH."""
    for candidate in (ROOT / ".venv" / "bin" / name, shutil.which(name)):
        if candidate and Path(candidate).exists():
            return str(candidate)
    pytest.fail(f"{name} not found: run `make deps` (installs ansible-core into .venv)")


def run(*args, env=None, timeout=120, check=True):
    full_env = {**os.environ, "ZONECTL": str(ZONECTL), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": "/tmp",
                "ANSIBLE_HOME": "/tmp/zoneboot-ansible-home", **(env or {})}
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=full_env)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def expected_zone():
    """Hosts the example zone declares, computed from the YAML: name → (address, rack, unit, port, role)."""
    zone = yaml.safe_load(ZONE.read_text())
    hosts = {}
    for pod in zone["pods"]:
        for switch in pod["switches"]:
            for entry in switch["ports"]:
                if "role" not in entry:
                    continue
                first, last = entry["ports"].split("-")
                numbers = range(int(first[3:]), int(last[3:]) + 1)
                units = range(*(lambda a, b: (int(a), int(b) + 1))(*str(entry["units"]).split("-")))
                for i, (n, unit) in enumerate(zip(numbers, units)):
                    host = f"{zone['zone']}-{pod['name']}-r{entry['rack']:02}-u{unit:02}"
                    name = host + "-lom" if entry["role"] == "lom" else host
                    address = str(ipaddress.IPv4Address(entry["address"]) + i)
                    hosts[name] = dict(address=address, rack=entry["rack"], unit=unit, port=f"swp{n}",
                                       switch=switch["name"], role=entry["role"], pod=pod["name"])
    return zone, hosts


def inventory_env(**extra):
    return {"ZONEBOOT_ZONE": str(ZONE), **extra}


def ansible_list(source, env=None):
    result = run(ansible_tool("ansible-inventory"), "-i", source, "--list", env=env)
    assert "WARNING" not in result.stderr, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def static_yaml(tmp_path_factory):
    path = tmp_path_factory.mktemp("inventory") / "inventory.yaml"
    path.write_text(run(ZONECTL, "inventory", "--zone", ZONE, "--yaml").stdout)
    return path


def check_against_zone(listed):
    zone, hosts = expected_zone()
    hostvars = listed["_meta"]["hostvars"]
    # Hosts and BMCs from the port entries, plus each switch's management port.
    assert set(hosts) <= set(hostvars)
    assert len(hostvars) == len(hosts) + 2
    for name, want in hosts.items():
        got = hostvars[name]
        assert got["ansible_host"] == want["address"], name
        assert (got["pod"], got["rack"], got["unit"]) == (want["pod"], want["rack"], want["unit"]), name
        assert (got["switch"], got["switch_port"], got["role"]) == (want["switch"], want["port"], want["role"]), name
        assert got["fqdn"] == f"{name}.{zone['domain']}"
        # Ansible reserves `name` and `port`: neither is a host variable.
        assert "name" not in got and "port" not in got
        role = zone["roles"][want["role"]]
        for key, value in role.get("ansible", {}).get("vars", {}).items():
            assert got[key] == value, (name, key)
    # Zone-wide values are variables of `all`, which ansible-inventory --list folds into each host's.
    assert all(h["domain"] == zone["domain"] and h["dns"] == zone["defaults"]["dns"] for h in hostvars.values())
    # Groups: roles (dashes made underscores), the role's ansible.groups, pods with racks as children, switches.
    hypervisors = sorted(n for n, h in hosts.items() if h["role"] == "hypervisor")
    assert sorted(listed["hypervisor"]["hosts"]) == hypervisors
    assert sorted(listed["hypervisors"]["hosts"]) == hypervisors
    assert listed["lom_switch"]["hosts"] == ["ams1-p01-lom-1"]
    assert listed["pod_p01"]["children"] == ["p01_r01"]
    assert sorted(listed["pod_p01"]["hosts"]) == ["ams1-p01-lom-1", "ams1-p01-tor-a"]
    assert sorted(listed["p01_r01"]["hosts"]) == sorted(hosts)
    assert sorted(listed["p01_tor_a"]["hosts"]) == sorted(hypervisors + ["ams1-p01-lom-1"])
    assert "pod_p01" in listed["all"]["children"]


def test_the_inventory_script_lists_the_zone():
    check_against_zone(ansible_list(SCRIPT, env=inventory_env()))


def test_the_static_yaml_lists_the_same_inventory(static_yaml):
    from_yaml = ansible_list(static_yaml)
    check_against_zone(from_yaml)
    from_script = ansible_list(SCRIPT, env=inventory_env())
    assert from_yaml["_meta"] == from_script["_meta"]
    for group in set(from_yaml) | set(from_script):
        if group != "_meta":
            a, b = from_yaml.get(group, {}), from_script.get(group, {})
            assert sorted(a.get("hosts", [])) == sorted(b.get("hosts", [])), group
            assert sorted(a.get("children", [])) == sorted(b.get("children", [])), group


@pytest.mark.parametrize("source", ["script", "yaml"])
def test_the_graph_nests_racks_in_pods(source, static_yaml):
    inventory, env = (SCRIPT, inventory_env()) if source == "script" else (static_yaml, None)
    graph = run(ansible_tool("ansible-inventory"), "-i", inventory, "--graph", env=env).stdout
    assert "\n  |--@pod_p01:\n  |  |--@p01_r01:\n  |  |  |--ams1-p01-r01-u01\n  |  |  |--ams1-p01-r01-u01-lom\n" in graph, graph
    assert "\n  |  |  |--ams1-p01-r01-u40-lom\n  |  |--ams1-p01-lom-1\n  |  |--ams1-p01-tor-a\n" in graph, graph
    assert "\n  |--@hypervisors:\n  |  |--ams1-p01-r01-u01\n" in graph


def test_host_view_is_that_hosts_variables():
    result = run(SCRIPT, "--host", "ams1-p01-r01-u07", env=inventory_env())
    listed = json.loads(run(SCRIPT, "--list", env=inventory_env()).stdout)
    assert json.loads(result.stdout) == listed["_meta"]["hostvars"]["ams1-p01-r01-u07"]
    missing = run(SCRIPT, "--host", "ams1-p01-r09-u99", env=inventory_env(), check=False)
    assert missing.returncode == 1
    assert "no host named 'ams1-p01-r09-u99'" in missing.stderr


def test_a_local_play_sees_the_hosts_variables(tmp_path):
    playbook = tmp_path / "show.yml"
    playbook.write_text("""\
- hosts: ams1-p01-r01-u07
  connection: local
  gather_facts: false
  tasks:
    - name: show where the host is
      ansible.builtin.debug:
        msg: "{{ inventory_hostname }} at {{ ansible_host }}: {{ pod }} rack {{ rack }} unit {{ unit }}, {{ switch }}/{{ switch_port }}, role {{ role }}, kvm={{ kvm }}, zone {{ zone }}"
    - name: the host is in its groups
      ansible.builtin.assert:
        that:
          - "'hypervisor' in group_names"
          - "'hypervisors' in group_names"
          - "'p01_r01' in group_names"
          - "'pod_p01' in group_names"
          - "'p01_tor_a' in group_names"
          - "groups['p01_r01'] | length == 80"
""")
    result = run(ansible_tool("ansible-playbook"), "-i", SCRIPT, playbook, env=inventory_env())
    assert ('"msg": "ams1-p01-r01-u07 at 198.18.16.17: p01 rack 1 unit 7, tor-a/swp7, role hypervisor, kvm=True, '
            'zone ams1"') in result.stdout, result.stdout
    assert re.search(r"ams1-p01-r01-u07\s+: ok=2\s+changed=0\s+unreachable=0\s+failed=0", result.stdout), result.stdout
    assert "WARNING" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_the_applied_revision_is_used_without_a_zone_file(tmp_path):
    state = tmp_path / "state"
    run(ZONECTL, "apply", ZONE, "--state", state, "--yes", "-m", "for the inventory")
    listed = ansible_list(SCRIPT, env={"ZONEBOOT_STATE": str(state)})
    check_against_zone(listed)
    empty = run(SCRIPT, "--list", env={"ZONEBOOT_STATE": str(tmp_path / "none")}, check=False)
    assert empty.returncode == 1
    assert "no zone: give --zone FILE, set ZONEBOOT_ZONE, or apply a revision" in empty.stderr


LAB_ZONE = lab_zone(defaults="{ lease: 1h, dns: [198.18.0.53], boot-server: 198.18.0.10 }", discovery=None,
                    roles="hypervisor: { ansible: { groups: [hypervisors], vars: { kvm: true } } }")


def test_seen_lists_only_hosts_that_took_a_lease(tmp_path):
    """A real lease: udhcpc behind dhcrelay gets swp2's identity from zonebootd."""
    require_tools("ip", "dhcrelay", "busybox")
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root")
    with lab() as the_lab:
        dhcp = DHCPLab(the_lab, tmp_path, ports=3, zone=LAB_ZONE)
        assert dhcp.udhcpc("swp2")["ip"] == "198.18.16.12"
        env = {"ZONEBOOT_ZONE": str(dhcp.zone), "ZONEBOOT_STATE": str(dhcp.state)}
        seen = ansible_list(SCRIPT, env={**env, "ZONEBOOT_INVENTORY_HOSTS": "seen"})
        assert list(seen["_meta"]["hostvars"]) == ["lab-p01-r01-u02"]
        host = seen["_meta"]["hostvars"]["lab-p01-r01-u02"]
        assert host["mac"] == DHCPLab.mac(2)
        assert host["lease_state"] == "bound"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", host["last_seen"])
        assert seen["hypervisors"]["hosts"] == ["lab-p01-r01-u02"]
        everyone = ansible_list(SCRIPT, env=env)
        assert sorted(everyone["_meta"]["hostvars"]) == ["lab-p01-r01-u01", "lab-p01-r01-u02", "lab-p01-r01-u03"]
        assert "mac" not in everyone["_meta"]["hostvars"]["lab-p01-r01-u01"]
        assert everyone["_meta"]["hostvars"]["lab-p01-r01-u02"]["mac"] == DHCPLab.mac(2)


# Chef's documented rules: run-list items are recipe[COOKBOOK], recipe[COOKBOOK::RECIPE],
# either with @VERSION, or role[NAME]; environment names are letters, digits, '_' and '-'.
RUN_LIST_ITEM = re.compile(r"(recipe\[[A-Za-z0-9_\-]+(::[A-Za-z0-9_\-]+)?(@\d+(\.\d+){0,2})?\]|role\[[A-Za-z0-9_\-]+\])")
ENVIRONMENT = re.compile(r"[A-Za-z0-9_\-]+")


def test_chef_node_is_first_boot_json_chef_client_reads():
    node = json.loads(run(ZONECTL, "chef-node", "ams1-p01-r01-u07", "--zone", ZONE).stdout)
    zone, hosts = expected_zone()
    chef = zone["roles"]["hypervisor"]["chef"]
    # chef-client -j takes run_list and chef_environment out; every other key is a normal attribute.
    assert node["run_list"] == chef["run-list"]
    assert all(RUN_LIST_ITEM.fullmatch(item) for item in node["run_list"])
    assert node["chef_environment"] == chef["environment"] and ENVIRONMENT.fullmatch(node["chef_environment"])
    assert set(node) == {"run_list", "chef_environment", "zoneboot"} | set(chef.get("attributes", {}))
    for key, value in chef.get("attributes", {}).items():
        assert node[key] == value
    identity, want = node["zoneboot"], hosts["ams1-p01-r01-u07"]
    assert identity["name"] == "ams1-p01-r01-u07"
    assert (identity["address"], identity["rack"], identity["unit"], identity["port"]) == \
        (want["address"], want["rack"], want["unit"], want["port"])
    # A BMC's role has no chef: Chef's default environment and an empty run list.
    bmc = json.loads(run(ZONECTL, "chef-node", "ams1-p01-r01-u07-lom", "--zone", ZONE).stdout)
    assert bmc["chef_environment"] == "_default" and bmc["run_list"] == []
    missing = run(ZONECTL, "chef-node", "nope", "--zone", ZONE, check=False)
    assert missing.returncode == 1 and "no identity named 'nope'" in missing.stderr


def test_example_profiles_render_files_their_installers_read(tmp_path):
    """Each example profile on a port of its own: the cloud-init files are YAML, the
    Ansible local fact is JSON, nothing is left unrendered, each ends in a handoff."""
    zones = tmp_path / "zones"
    shutil.copytree(ROOT / "zones", zones)
    text = (zones / "ams1.yaml").read_text()
    anchor = "          - { ports: swp48, device: lom-1"
    plugged = "".join(f"          - {{ ports: swp4{i}, rack: 2, units: {i}, role: {role}, network: servers, "
                      f"address: 198.18.16.6{i} }}\n" for i, role in ((1, "compute"), (2, "storage"), (3, "edge")))
    (zones / "ams1.yaml").write_text(text.replace(anchor, plugged + anchor, 1))
    zone = zones / "ams1.yaml"
    run(ZONECTL, "validate", zone)

    def files(name):
        report = json.loads(run(ZONECTL, "render", zone, "--name", name, "--json").stdout)
        rendered = {f["name"]: f["content"] for f in report["files"]}
        for file, content in rendered.items():
            assert "{{" not in content and "}}" not in content, (name, file)
        return rendered

    rocky = files("ams1-p01-r02-u01")
    assert "chef-client --once -j http://198.18.0.10/chef/nodes/ams1-p01-r02-u01.json" in rocky["ks.cfg"]

    debian = files("ams1-p01-r02-u02")
    fact = re.search(r"<<'FACT'\n(.*?)\nFACT\n", debian["firstboot.sh"], re.S).group(1)
    assert json.loads(fact)["groups"] == ["storage", "ceph_osd"] and json.loads(fact)["rack"] == 2
    assert "ansible-pull --url https://git.ams1.example.net/infra/site.git" in debian["firstboot.sh"]
    assert subprocess.run(["sh", "-n"], input=debian["firstboot.sh"], text=True).returncode == 0

    ubuntu = files("ams1-p01-r02-u03")
    user_data = yaml.safe_load(ubuntu["user-data"])
    assert ubuntu["user-data"].startswith("#cloud-config\n")
    auto = user_data["autoinstall"]
    assert auto["network"]["ethernets"]["primary"]["addresses"] == ["198.18.16.63/24"]
    assert ["chef-client", "--once", "-j", "http://198.18.0.10/chef/nodes/ams1-p01-r02-u03.json"] \
        in auto["user-data"]["runcmd"]
    assert yaml.safe_load(ubuntu["meta-data"]) == {"instance-id": "ams1-p01-r02-u03", "local-hostname": "ams1-p01-r02-u03"}
