#!/usr/bin/env bash
# Zone benchmark: a generated 10,000-host zone (25 pods x 10 racks x 40 units), measured
# as an operator runs it: validate (parse, check, expand), apply into an empty store, and
# plan against that revision after one host's address changed. Seconds and peak RSS
# come from /usr/bin/time, best of three; targets: under 1 s and under 100 MB each. Slow steps are MISS; wrong exit status fails.
# Then the same steps and `inventory --list` for 100,000 hosts (250 pods, laid out in
# 10.0.0.0/8 with `zonectl example --network`: nothing is sent anywhere), target under 1 s each.
set -euo pipefail
cd "$(dirname "$0")/.."
ZONECTL=${ZONECTL:-.build/release/zonectl}
[ -x "$ZONECTL" ] || { echo "build first: swift build -c release" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$ZONECTL" example --pods 25 --racks 10 --units 40 --zone bench -o "$work/zone" > /dev/null
zone="$work/zone/bench.yaml"
mkdir -p "$work/empty" "$work/applied"

# measure STATE CMD...: runs CMD three times, each with a fresh copy of STATE as --state
# (or none for "-"), and prints "seconds peak_kib exit_code" of the fastest run (each bounded to 60 s).
measure() {
    local state=$1 best="" rss="" code="" s k x
    shift
    for _ in 1 2 3; do
        local extra=()
        if [ "$state" != - ]; then rm -rf "$work/try"; cp -r "$work/$state" "$work/try"; extra=(--state "$work/try"); fi
        # time(1) writes "Command exited with non-zero status N" first when N != 0: keep the last line.
        /usr/bin/time -f '%e %M %x' -o "$work/time" timeout 60 "$@" "${extra[@]}" > /dev/null 2>&1 || true
        read -r s k x < <(tail -n 1 "$work/time")
        if [ -z "$best" ] || awk "BEGIN{exit !($s < $best)}"; then best=$s; rss=$k; code=$x; fi
    done
    echo "$best $rss $code"
}

# move_one_host ZONE POD: swp40 of POD's first rack leaves its run and takes the address just
# past the pod's discovery range (free in the generated layout); every other identity stays.
move_one_host() {
    python3 - "$1" "$2" <<'PY'
import ipaddress, re, sys
path, name = sys.argv[1], sys.argv[2]
text = open(path).read()
pod = text.index(f"- name: {name}\n")
entry = re.compile(r"^( *)- \{ ports: swp1-swp40, rack: 1, units: 1-40, role: hypervisor, network: servers, "
                   r"address: ([0-9.]+) \}$", re.M).search(text, pod)
pool = re.compile(r"discovery: \{ network: servers, range: [0-9.]+-([0-9.]+),").search(text, pod)
indent, first = entry.group(1), entry.group(2)
moved = ipaddress.IPv4Address(pool.group(1)) + 1
new = (f"{indent}- {{ ports: swp1-swp39, rack: 1, units: 1-39, role: hypervisor, network: servers, address: {first} }}\n"
       f"{indent}- {{ ports: swp40, rack: 1, units: 40, role: hypervisor, network: servers, address: {moved} }}")
open(path, "w").write(text[:entry.start()] + new + text[entry.end():])
PY
}

failed=0
# The memory target of `report` in bytes (none: 0, the peak is reported only).
memory_target=100000000
# report NAME SECONDS PEAK_KIB EXIT EXPECTED_EXIT: one row; the target is under 1 s (and under memory_target).
report() {
    local name=$1 s=$2 k=$3 code=$4 expected=$5 verdict=PASS target="<1 s"
    [ "$memory_target" = 0 ] || target="<1 s, <$((memory_target / 1000000)) MB"
    awk "BEGIN{exit !($s < 1.0 && ($memory_target == 0 || $k * 1024 < $memory_target))}" || verdict=MISS
    [ "$code" = "$expected" ] || { verdict="FAIL (exit $code)"; failed=1; }
    printf '%-36s %8s %9s  %-16s %s\n' "$name" "$s" "$(awk "BEGIN{printf \"%.1f\", $k / 1024}")" "$target" "$verdict"
}

printf '%-36s %8s %9s  %-16s %s\n' "step (10,000 hosts, best of 3)" "seconds" "peak MiB" "target" "result"
read -r s m code < <(measure - "$ZONECTL" validate "$zone")
report "validate + expand" "$s" "$m" "$code" 0
read -r s m code < <(measure empty "$ZONECTL" apply "$zone" --yes)
report "apply into an empty store" "$s" "$m" "$code" 0

"$ZONECTL" apply "$zone" --yes --state "$work/applied" > /dev/null
move_one_host "$zone" p13
read -r s m code < <(measure applied "$ZONECTL" plan "$zone")
report "plan, one host changed (exit 2)" "$s" "$m" "$code" 2
echo
"$ZONECTL" plan "$zone" --state "$work/applied" --no-color | grep -E '→|^Plan:' || true

# The Ansible inventory of the same 10,000-host zone (20,500 identities), as the server
# builds it per request: build + JSON, best of three (target < 300 ms; the zone is loaded
# once, before). Then real Ansible reads it through contrib/zoneboot-inventory.
echo
best=""
for _ in 1 2 3; do
    line=$("$ZONECTL" inventory --zone "$zone" --timings 2>&1 > "$work/inventory.json")
    ms=$(sed -n 's/.* JSON in \([0-9.]*\) ms .*/\1/p' <<< "$line")
    [ -n "$ms" ] || { echo "zonectl inventory --timings said: $line" >&2; exit 1; }
    if [ -z "$best" ] || awk "BEGIN{exit !($ms < $best)}"; then best=$ms; summary=$line; fi
done
verdict=PASS
awk "BEGIN{exit !($best < 300)}" || verdict=MISS
echo "$summary"
printf '%-36s %8s ms  %-16s %s\n' "inventory JSON (build + write)" "$best" "<300 ms" "$verdict"
read -r s m code < <(measure - "$ZONECTL" inventory --zone "$zone")
report "inventory --list (load + JSON)" "$s" "$m" "$code" 0
/usr/bin/time -f '%e %M %x' -o "$work/time" timeout 120 "$ZONECTL" inventory --zone "$zone" --yaml > "$work/inventory.yaml" 2>&1 || true
read -r s k code < <(tail -n 1 "$work/time")
[ "$code" = 0 ] || failed=1
printf '%-36s %8s %9s  %-16s %s\n' "inventory --yaml (static file)" "$s" "$(awk "BEGIN{printf \"%.1f\", $k / 1024}")" \
    "reported" "$([ "$code" = 0 ] && echo "$(wc -c < "$work/inventory.yaml") bytes" || echo "FAIL (exit $code)")"

ANSIBLE_INVENTORY=${ANSIBLE_INVENTORY:-$(command -v ansible-inventory || true)}
if [ -x "$ANSIBLE_INVENTORY" ]; then
    # ansible-inventory is not ours: its time is reported, with no target; it must complete.
    /usr/bin/time -f '%e %M %x' -o "$work/time" timeout 600 env ZONEBOOT_ZONE="$zone" ZONECTL="$ZONECTL" \
        ANSIBLE_HOME="$work/ansible" "$ANSIBLE_INVENTORY" -i contrib/zoneboot-inventory --list \
        > "$work/ansible.json" 2> "$work/ansible.err" || true
    read -r s k code < <(tail -n 1 "$work/time")
    hosts=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["_meta"]["hostvars"]))' "$work/ansible.json" \
        2>/dev/null || echo 0)
    verdict="completes ($hosts hosts)"
    [ "$code" = 0 ] && [ "$hosts" -gt 0 ] || { verdict="FAIL (exit $code): $(tail -n 3 "$work/ansible.err")"; failed=1; }
    printf '%-36s %8s %9s  %-16s %s\n' "ansible-inventory --list (script)" "$s" "$(awk "BEGIN{printf \"%.1f\", $k / 1024}")" \
        "reported" "$verdict"
else
    echo "ansible-inventory not found (make deps installs it into .venv): skipped"
fi

# 100,000 hosts (200,500 identities): what the issue asks of a zone ten times the design target.
echo
"$ZONECTL" example --pods 250 --racks 10 --units 40 --zone huge --network 10.0.0.0/8 -o "$work/huge" > /dev/null
huge="$work/huge/huge.yaml"
mkdir -p "$work/huge-applied"
"$ZONECTL" apply "$huge" --yes --state "$work/huge-applied" > /dev/null
memory_target=0
printf '%-36s %8s %9s  %-16s %s\n' "step (100,000 hosts, best of 3)" "seconds" "peak MiB" "target" "result"
read -r s m code < <(measure - "$ZONECTL" validate "$huge")
report "validate + expand" "$s" "$m" "$code" 0
read -r s m code < <(measure - "$ZONECTL" inventory --zone "$huge")
report "inventory --list (load + JSON)" "$s" "$m" "$code" 0
move_one_host "$huge" p130
read -r s m code < <(measure huge-applied "$ZONECTL" plan "$huge")
report "plan, one host changed (exit 2)" "$s" "$m" "$code" 2
"$ZONECTL" plan "$huge" --state "$work/huge-applied" --no-color | grep -E '→|^Plan:' || true

# Slow is reported (MISS); a step that does not do its job (wrong exit status) fails the run.
exit "$failed"
