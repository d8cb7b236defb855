"""A zone of many switch ports behind one relay, for tests that drive each port's circuit-id
themselves (dhcp_load, the overload probe): one pod, ToRs of 40 ports, port swp<n> (n from 1)
getting FIRST + n - 1. It was the 10,000-machine boot storm's zone before that benchmark
moved to a generated 100,000-host zone with a relay per pod (bench/boot_storm.py)."""
import ipaddress
import textwrap

SERVER, GIADDR = "198.18.0.10", "198.18.64.1"
PER_SWITCH = 40
FIRST = ipaddress.IPv4Address("198.18.64.10")


def relay_ports_zone(ports):
    """The zone: ports / 40 ToRs of 40 ports in pod p01, relayed through GIADDR."""
    switches = []
    for s in range(ports // PER_SWITCH):
        lo, hi = s * PER_SWITCH + 1, (s + 1) * PER_SWITCH
        switches.append(f"      - name: tor-{s + 1:03d}\n        ports:\n"
                        f"          - {{ ports: swp{lo}-swp{hi}, rack: {s + 1}, units: 1-{PER_SWITCH}, role: hypervisor, "
                        f"network: servers, address: {FIRST + s * PER_SWITCH} }}\n")
    return textwrap.dedent(f"""\
        apiVersion: zoneboot/v1
        zone: storm
        domain: storm.example.net
        defaults: {{ lease: 12h, dns: [198.18.0.53], boot-server: {SERVER} }}
        pods:
          - name: p01
            relays: [{GIADDR}]
            networks:
              servers: {{ subnet: 198.18.64.0/18, gateway: {GIADDR} }}
            switches:
        """) + "".join(switches) + "roles:\n  hypervisor: {}\n"
