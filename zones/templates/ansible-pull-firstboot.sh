#!/bin/sh
# First boot of {{fqdn}}: hand the host to Ansible. Rendered by ZoneBoot; run once by
# zoneboot-handoff.service.
set -eu

# The host's place in the zone as Ansible local facts: plays see
# ansible_local.zoneboot.rack, .pod, .groups ...
mkdir -p /etc/ansible/facts.d
cat > /etc/ansible/facts.d/zoneboot.fact <<'FACT'
{"name": "{{name}}", "fqdn": "{{fqdn}}", "zone": "{{zone}}", "pod": "{{pod}}", "rack": {{rack}}, "unit": {{unit}},
 "switch": "{{switch}}", "switch_port": "{{port}}", "role": "{{role}}", "address": "{{address}}",
 "groups": [{{#ansible.groups}}"{{.}}"{{^last()}}, {{/last()}}{{/ansible.groups}}]}
FACT

# The site playbook decides what the host becomes from those facts (group_by on
# ansible_local.zoneboot.groups); the same playbooks run from a control node against
# `zonectl inventory` see the same names as groups.
ansible-pull --url {{ansible.vars.pull_repo}} --checkout main --directory /var/lib/ansible/pull \
    --inventory localhost, --limit localhost site.yml
mkdir -p /var/lib/zoneboot
touch /var/lib/zoneboot/handoff.done
