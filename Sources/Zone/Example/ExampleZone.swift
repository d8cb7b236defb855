import Addressing

/// Writes valid zones of any size, shaped like the example zone `zones/ams1.yaml`.
///
/// Layout, all inside one network: by default 198.18.0.0/15 (RFC 2544 benchmarking space,
/// never routed), or the one given (`--network 10.0.0.0/8` holds zones of 100,000 hosts):
/// - Every rack has a ToR (its hosts on `swp1`…`swpU`, units 1…U) and a LoM switch
///   (their BMCs on the same ports); each switch's management port (`swp<U+8>`) is
///   plugged into the other switch of its rack.
/// - Every pod gets one aggregate prefix, packed from the network's first address upwards, that holds its
///   `servers` network (hosts, then a 50-address discovery range), its `lom` network
///   (BMCs) and its `mgmt` network (two switch management addresses per rack). Each is
///   a power of two, placed largest first, so each starts aligned and nothing is padded.
///   Each network's first address is its gateway; its gateway is a trusted relay.
/// - The last /24 of the network (198.19.255.0/24 by default) holds the zone's services
///   (boot server .10, DNS .53, NTP .123); no pod may reach it.
///
/// Each port entry is one line, so scripts can edit a generated zone with a regex.
/// The output is a pure function of the parameters: the same call gives the same bytes.
public enum ExampleZone {
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public static let defaultZone = "example"
    public static let pods = 1...999
    public static let racks = 1...999
    /// A rack's height; the ToR also needs a management port above its host ports.
    public static let units = 1...48
    /// Addresses per pod for machines whose location matches no port.
    public static let discoverySize = 50

    /// The default network; `network` takes another.
    public static let space = IPv4Network("198.18.0.0/15")!
    /// The services' /24 in the default network.
    public static let services = IPv4Network("198.19.255.0/24")!
    /// The longest prefix a zone's network may have: a /23 holds the services' /24 and one
    /// pod of up to a /24.
    public static let longestPrefix = 23

    /// The last /24 of `network`: where the zone's services are.
    public static func services(in network: IPv4Network) -> IPv4Network {
        IPv4Network(containing: network.broadcast, prefixLength: 24)
    }

    /// `text` as a zone's network: a CIDR network written with its own network address
    /// (so that a typo such as 10.0.0.1/8 is not silently moved), room for the services' /24
    /// and at least a pod.
    public static func network(_ text: String) throws(Problem) -> IPv4Network {
        guard let network = IPv4Network(text) else {
            throw Problem(description: "--network must be a CIDR network such as 10.0.0.0/8, not '\(text)'")
        }
        guard "\(network)" == text else {
            throw Problem(description: "--network \(text) is not a network address: did you mean \(network)?")
        }
        guard network.prefixLength <= longestPrefix else {
            throw Problem(description: "--network \(text) is too small: the zone's services take its last /24 and its pods "
                + "need the rest, so give a /\(longestPrefix) or larger")
        }
        return network
    }

    /// Addresses of one pod: its aggregate and the three networks inside it.
    public struct PodLayout: Sendable, Hashable {
        public var aggregate: IPv4Network
        public var servers: IPv4Network
        public var lom: IPv4Network
        public var mgmt: IPv4Network
    }

    /// The pods' address plan, or why the sizes do not fit.
    public static func layout(pods: Int, racks: Int, units: Int, network space: IPv4Network = ExampleZone.space) throws(Problem) -> [PodLayout] {
        guard Self.pods.contains(pods) else { throw Problem(description: "--pods must be \(Self.pods.lowerBound)…\(Self.pods.upperBound), not \(pods)") }
        guard Self.racks.contains(racks) else { throw Problem(description: "--racks must be \(Self.racks.lowerBound)…\(Self.racks.upperBound), not \(racks)") }
        guard Self.units.contains(units) else {
            throw Problem(description: "--units must be \(Self.units.lowerBound)…\(Self.units.upperBound) (units of one rack, one ToR port each), not \(units)")
        }
        let hosts = racks * units
        // Network address, gateway, …, broadcast: two more than the usable addresses.
        let serversBits = bits(holding: 2 + hosts + discoverySize + 1)
        let lomBits = bits(holding: 2 + hosts + 1)
        let mgmtBits = bits(holding: 2 + 2 * racks + 1)
        let podBits = bits(holding: (1 << serversBits) + (1 << lomBits) + (1 << mgmtBits))
        let services = Self.services(in: space)
        let available = (1 << (32 - space.prefixLength)) - (1 << (32 - services.prefixLength))
        let fitting = podBits > 32 - space.prefixLength ? 0 : available / (1 << podBits)
        guard pods <= fitting else {
            throw Problem(description: """
                \(pods) pod(s) of \(racks) rack(s) × \(units) unit(s) do not fit in \(space): each pod needs a /\(32 - podBits) \
                (servers /\(32 - serversBits), lom /\(32 - lomBits), mgmt /\(32 - mgmtBits)), and \(available) addresses \
                (\(space) without the services' \(services)) hold \(fitting) of them. Use fewer pods, racks or units, \
                or a larger --network.
                """)
        }
        return (0..<pods).map { p in
            let base = space.network.value + UInt32(p) << UInt32(podBits)
            // Largest first (servers, lom, mgmt where sizes tie), so each network starts aligned.
            var next = base
            var placed: [Int: IPv4Network] = [:]
            for (index, bits) in [serversBits, lomBits, mgmtBits].enumerated().sorted(by: { ($1.1, $0.0) < ($0.1, $1.0) }) {
                placed[index] = network(next, bits)
                next += UInt32(1) << UInt32(bits)
            }
            return PodLayout(aggregate: network(base, podBits), servers: placed[0]!, lom: placed[1]!, mgmt: placed[2]!)
        }
    }

    /// The zone file. Pods are `p01`…, racks 1…R in each pod, switches `tor-rNN` and `lom-rNN`.
    public static func yaml(zone: String = defaultZone, pods: Int, racks: Int, units: Int,
                            network space: IPv4Network = ExampleZone.space) throws(Problem) -> String {
        // Host names ({zone}-pNNN-rNNN-uNN) must stay one DNS label of at most 63 characters.
        guard Format.isLabel(zone), zone.count <= 40 else {
            throw Problem(description: "'\(zone)' is not a zone name: lowercase letters, digits and '-', at most 40 characters")
        }
        let plan = try layout(pods: pods, racks: racks, units: units, network: space)
        let services = Self.services(in: space)
        // The default network is not written, so the default zone stays what it always was.
        let networkOption = space == Self.space ? "" : " --network \(space)"
        let hostsPerPod = racks * units
        let mgmtPort = "swp\(units + 8)"
        var out = """
            # A generated zone: \(pods) pod(s) × \(racks) rack(s) × \(units) unit(s) = \(pods * hostsPerPod) hosts, as many
            # BMCs, and a ToR and a LoM switch per rack. Written by
            # `zonectl example --pods \(pods) --racks \(racks) --units \(units) --zone \(zone)\(networkOption)`.
            apiVersion: zoneboot/v1
            zone: \(zone)
            domain: \(zone).example.net

            naming:
              host: "{zone}-{pod}-r{rack:02}-u{unit:02}"   # location-based identity
              lom: "{host}-lom"                              # a BMC is named after its host
              switch: "{zone}-{pod}-{switch}"

            defaults:
              lease: 12h
              dns: [\(services.network.advanced(by: 53)!)]
              ntp: [\(services.network.advanced(by: 123)!)]
              boot-server: \(services.network.advanced(by: 10)!)

            pods:

            """
        out.reserveCapacity(out.utf8.count + pods * (600 + racks * 700))
        for (index, pod) in plan.enumerated() {
            let name = "p" + String(paddedTo: 2, index + 1)
            let serversGateway = pod.servers.network.advanced(by: 1)!
            let lomGateway = pod.lom.network.advanced(by: 1)!
            let mgmtGateway = pod.mgmt.network.advanced(by: 1)!
            out += """
                  # \(name): \(pod.aggregate)
                  - name: \(name)
                    relays: [\(serversGateway), \(lomGateway), \(mgmtGateway)]
                    networks:
                      servers: { subnet: \(pod.servers), gateway: \(serversGateway) }
                      lom:     { subnet: \(pod.lom), gateway: \(lomGateway) }
                      mgmt:    { subnet: \(pod.mgmt), gateway: \(mgmtGateway) }
                    switches:

                """
            for rack in 1...racks {
                let r = String(paddedTo: 2, rack)
                let first = 2 + (rack - 1) * units
                out += """
                          - name: tor-r\(r)
                            role: tor
                            remote-id: "\(name)-tor-r\(r)"
                            ports:
                              - { ports: swp1-swp\(units), rack: \(rack), units: 1-\(units), role: hypervisor, network: servers, address: \(pod.servers.network.advanced(by: first)!) }
                              - { ports: \(mgmtPort), device: lom-r\(r), network: mgmt, address: \(pod.mgmt.network.advanced(by: 2 * rack + 1)!) }
                          - name: lom-r\(r)
                            role: lom-switch
                            remote-id: "\(name)-lom-r\(r)"
                            ports:
                              - { ports: swp1-swp\(units), rack: \(rack), units: 1-\(units), role: lom, network: lom, address: \(pod.lom.network.advanced(by: first)!) }
                              - { ports: \(mgmtPort), device: tor-r\(r), network: mgmt, address: \(pod.mgmt.network.advanced(by: 2 * rack)!) }

                    """
            }
            let pool = pod.servers.network.advanced(by: 2 + hostsPerPod)!
            out += "    discovery: { network: servers, range: \(pool)-\(pool.advanced(by: discoverySize - 1)!), lease: 10m }\n\n"
        }
        out += """
            roles:
              hypervisor:
                boot: centos7-kvm
                chef: { run-list: ["role[hypervisor]"], environment: production,
                        attributes: { chef_client: { config: { chef_server_url: "https://chef.ams1.example.net/organizations/ams1" } } } }
                ansible: { groups: [hypervisors], vars: { kvm: true } }
                hooks: [chef-client-create]        # registers each host's own client key with Chef
              lom:
                hooks: [register-bmc]
              tor:
                ztp: cumulus
              lom-switch:
                ztp: cumulus

            profiles:
              centos7-kvm:
                ipxe: templates/centos7.ipxe          # rendered per host
                files:
                  ks.cfg: templates/centos7-ks.cfg    # served at /hosts/<name>/ks.cfg
                bootstrap-secrets:                    # minted per host, served once to its address
                  chef-client-key: { kind: rsa-key, ttl: 2h }

            hooks:
              register-bmc:
                on: [lease.acked]
                run: hooks/register-bmc              # gets the event as JSON on stdin
              chef-client-create:
                on: [bootstrap.issued]
                run: hooks/chef-client-create        # creates the host's Chef client with its public key

            """
        return out
    }

    /// The files the zone names, by path relative to the zone file: the same templates
    /// and hook as `zones/` (a test keeps them equal).
    public static let templates: [String: String] = [
        "templates/centos7.ipxe": centos7IPXE,
        "templates/centos7-ks.cfg": centos7Kickstart,
        "hooks/register-bmc": registerBMC,
        "hooks/chef-client-create": chefClientCreate,
    ]

    /// The paths of `templates` that are programs (mode 0755).
    public static let executables: Set<String> = ["hooks/register-bmc", "hooks/chef-client-create"]

    // MARK: Arithmetic

    /// The host bits of the smallest network with at least `count` addresses.
    static func bits(holding count: Int) -> Int {
        var bits = 0
        while (1 << bits) < count { bits += 1 }
        return bits
    }

    static func network(_ start: UInt32, _ hostBits: Int) -> IPv4Network {
        IPv4Network(containing: IPv4Address(start), prefixLength: 32 - hostBits)
    }

    // MARK: Files

    static let centos7IPXE = """
        #!ipxe
        # {{name}} ({{fqdn}}): {{pod}} rack {{rack}} unit {{unit}}, {{switch}} port {{port}}
        set base {{boot_url}}/files/centos7
        kernel ${base}/vmlinuz initrd=initrd.img inst.ks={{boot_url}}/hosts/{{name}}/ks.cfg ip={{address}}::{{gateway}}:{{netmask}}:{{name}}:eth0:none{{#dns}} nameserver={{.}}{{/dns}}
        initrd ${base}/initrd.img
        boot

        """

    static let centos7Kickstart = """
        # Kickstart for {{fqdn}}, rendered by ZoneBoot from the zone file.
        # Identity: {{pod}} rack {{rack}} unit {{unit}} on {{switch}}/{{port}}, role {{role}}.
        text
        url --url={{boot_url}}/files/centos7/os
        lang en_US.UTF-8
        keyboard us
        timezone UTC --utc
        network --bootproto=static --ip={{address}} --netmask={{netmask}} --gateway={{gateway}} --nameserver={{#dns}}{{.}}{{^last()}},{{/last()}}{{/dns}} --hostname={{fqdn}} --activate
        rootpw --lock
        zerombr
        clearpart --all --initlabel
        autopart --type=lvm
        bootloader --location=mbr
        reboot

        %packages
        @^minimal
        qemu-kvm
        libvirt
        %end

        %post --log=/root/zoneboot-post.log
        {{#chef}}
        # Hand the host to Chef on its first boot, from the installed system (not this
        # installer chroot): chef-client reads the node's first-boot JSON from ZoneBoot
        # (run_list, chef_environment, and the identity as node['zoneboot']).
        curl -fsS -o /tmp/chef.rpm {{boot_url}}/files/chef/chef.el7.x86_64.rpm && rpm -Uvh /tmp/chef.rpm && rm -f /tmp/chef.rpm
        mkdir -p /etc/chef
        cat > /etc/chef/client.rb <<'CLIENT_RB'
        chef_server_url "{{chef.attributes.chef_client.config.chef_server_url}}"
        node_name       "{{name}}"
        chef_license    "accept"
        CLIENT_RB
        # The host's own Chef client key, minted for it and served once to its address
        # (bootstrap-secrets in the zone); the chef-client-create hook registered its public key
        # with the Chef server. No validator key: nothing here can register another client.
        (umask 077 && curl -fsS -o /etc/chef/client.pem {{bootstrap.chef-client-key.url}})
        cat > /etc/systemd/system/zoneboot-handoff.service <<'UNIT'
        [Unit]
        Description=Hand {{name}} to Chef (ZoneBoot first boot)
        Wants=network-online.target
        After=network-online.target
        ConditionPathExists=!/var/lib/zoneboot/handoff.done

        [Service]
        Type=oneshot
        ExecStart=/usr/bin/chef-client --once -j {{boot_url}}/chef/nodes/{{name}}.json
        ExecStartPost=/usr/bin/mkdir -p /var/lib/zoneboot
        ExecStartPost=/usr/bin/touch /var/lib/zoneboot/handoff.done

        [Install]
        WantedBy=multi-user.target
        UNIT
        systemctl enable zoneboot-handoff.service
        {{/chef}}
        curl -fsS {{boot_url}}/hosts/{{name}}/booted || true
        %end

        """

    static let registerBMC = """
        #!/bin/sh
        # Example hook: receives the event as JSON on stdin (ZONEBOOT_EVENT_ID and the host's
        # fields in the environment) and appends it to a log next to the state. Registering BMCs
        # over Redfish is built in: `builtin: redfish-register` (docs/zone-format.md, Hooks).
        set -eu
        cat >> "${ZONEBOOT_STATE:-/tmp}/register-bmc.log"
        echo >> "${ZONEBOOT_STATE:-/tmp}/register-bmc.log"

        """

    static let chefClientCreate = #"""
        #!/usr/bin/env python3
        # Example hook for bootstrap.issued (validatorless Chef): a host fetched the client key the
        # zone minted for it; the event carries its public key (never the private one), so the
        # client is created on the Chef server with that key and no validator key exists anywhere.
        # A reinstalled or replaced host gets a new key: its old client is deleted first.
        # Without knife on PATH it keeps the public key next to the state and logs the commands.
        import json, os, shutil, subprocess, sys, tempfile

        event = json.load(sys.stdin)
        details = event.get("details", {})
        if event.get("type") != "bootstrap.issued" or details.get("kind") != "rsa-key" or not event.get("name"):
            sys.exit(0)
        name = event["name"]
        if shutil.which("knife"):
            with tempfile.NamedTemporaryFile("w", suffix=".pub") as key:
                key.write(details["public_key"])
                key.flush()
                subprocess.run(["knife", "client", "delete", "--yes", name], check=False)
                subprocess.run(["knife", "client", "create", name, "--public-key", key.name, "--disable-editing"], check=True)
        else:
            state = os.environ.get("ZONEBOOT_STATE", "/tmp")
            keys = os.path.join(state, "chef-client-keys")
            os.makedirs(keys, exist_ok=True)
            path = os.path.join(keys, name + ".pub")
            with open(path, "w") as key:
                key.write(details["public_key"])
            with open(os.path.join(state, "chef-client-create.log"), "a") as log:
                log.write("%s %s: knife client create %s --public-key %s\n" % (name, details.get("fingerprint", ""), name, path))

        """#
}
