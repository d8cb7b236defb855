import Addressing

/// Writes valid zones of any size, shaped like the example zone: per rack a ToR for
/// the hosts and a LoM switch for their BMCs, each managing the other's management
/// port; per pod a servers, a lom and a mgmt network, all inside 198.18.0.0/15.
public enum ExampleZone {
    public struct TooLarge: Error, CustomStringConvertible {
        public var description: String
    }

    /// 198.18.0.0/24 holds the zone's services (boot server, DNS, NTP); pods follow.
    // Constants and offsets inside 198.18.0.0/15 below cannot pass 255.255.255.255, so their unwraps hold.
    static let space = IPv4Network("198.18.0.0/15")!
    static let services = "198.18.0.0/24"

    public static func yaml(zone: String = "example", pods: Int, racks: Int, units: Int) throws(TooLarge) -> String {
        guard (1...999).contains(pods), (1...99).contains(racks), (1...200).contains(units) else {
            throw TooLarge(description: "pods must be 1…999, racks 1…99 and units 1…200")
        }
        guard Format.isLabel(zone) else { throw TooLarge(description: "'\(zone)' is not a valid zone name") }
        let hostsPerPod = racks * units
        let discovery = 50
        // Network, broadcast and gateway, plus the hosts (and the servers network's discovery range).
        let serversPrefix = prefix(holding: hostsPerPod + discovery + 3)
        let lomPrefix = prefix(holding: hostsPerPod + 3)
        let mgmtPrefix = prefix(holding: 2 * racks + 3)
        var next = IPv4Address(198, 18, 1, 0).value
        func allocate(_ prefix: Int) throws(TooLarge) -> IPv4Network {
            let size = UInt32(1) << UInt32(32 - prefix)
            let start = (next + size - 1) / size * size
            guard UInt64(start) + UInt64(size) - 1 <= UInt64(space.broadcast.value) else {
                throw TooLarge(description: "\(pods) pods of \(racks) racks × \(units) units do not fit in \(space)")
            }
            next = start + size
            return IPv4Network(containing: IPv4Address(start), prefixLength: prefix)
        }
        var out = """
            # A generated zone: \(pods) pod(s) × \(racks) rack(s) × \(units) unit(s) = \(pods * hostsPerPod) hosts,
            # as many BMCs, and a ToR and a LoM switch per rack. `zonectl example` wrote it.
            apiVersion: zoneboot/v1
            zone: \(zone)
            domain: \(zone).example.net

            naming:
              host: "{zone}-{pod}-r{rack:02}-u{unit:02}"
              lom: "{host}-lom"
              switch: "{zone}-{pod}-{switch}"

            defaults:
              lease: 12h
              dns: [198.18.0.53]
              ntp: [198.18.0.123]
              boot-server: 198.18.0.10

            pods:

            """
        let mgmtPort = "swp\(units + 8)"
        for p in 1...pods {
            let pod = "p" + String(paddedTo: 2, p)
            let servers = try allocate(serversPrefix), lom = try allocate(lomPrefix), mgmt = try allocate(mgmtPrefix)
            let serversGateway = servers.network.advanced(by: 1)!, lomGateway = lom.network.advanced(by: 1)!
            out += """
                  - name: \(pod)
                    relays: [\(serversGateway), \(lomGateway)]
                    networks:
                      servers: { subnet: \(servers), gateway: \(serversGateway) }
                      lom:     { subnet: \(lom), gateway: \(lomGateway) }
                      mgmt:    { subnet: \(mgmt), gateway: \(mgmt.network.advanced(by: 1)!) }
                    switches:

                """
            for r in 1...racks {
                let rack = String(paddedTo: 2, r)
                let first = (r - 1) * units
                let host = servers.network.advanced(by: 2 + first)!, bmc = lom.network.advanced(by: 2 + first)!
                let torMgmt = mgmt.network.advanced(by: 2 * r)!, lomMgmt = mgmt.network.advanced(by: 2 * r + 1)!
                out += """
                          - name: tor-r\(rack)
                            role: tor
                            remote-id: "\(pod)-tor-r\(rack)"
                            ports:
                              - { ports: swp1-swp\(units), rack: \(r), units: 1-\(units), role: hypervisor, network: servers, address: \(host) }
                              - { ports: \(mgmtPort), device: lom-r\(rack), network: mgmt, address: \(lomMgmt) }
                          - name: lom-r\(rack)
                            role: lom-switch
                            remote-id: "\(pod)-lom-r\(rack)"
                            ports:
                              - { ports: swp1-swp\(units), rack: \(r), units: 1-\(units), role: lom, network: lom, address: \(bmc) }
                              - { ports: \(mgmtPort), device: tor-r\(rack), network: mgmt, address: \(torMgmt) }

                    """
            }
            let poolStart = servers.network.advanced(by: 2 + hostsPerPod)!
            out += "    discovery: { network: servers, range: \(poolStart)-\(poolStart.advanced(by: discovery - 1)!), lease: 10m }\n\n"
        }
        out += """
            roles:
              hypervisor:
                boot: centos7-kvm
                chef: { run-list: ["role[hypervisor]"], environment: production }
                ansible: { groups: [hypervisors], vars: { kvm: true } }
              lom:
                hooks: [register-bmc]
              tor:
                ztp: cumulus
              lom-switch:
                ztp: cumulus

            profiles:
              centos7-kvm:
                ipxe: templates/centos7.ipxe
                files:
                  ks.cfg: templates/centos7-ks.cfg

            hooks:
              register-bmc:
                on: [lease.acked]
                run: hooks/register-bmc

            """
        return out
    }

    /// The smallest prefix whose network holds `count` addresses.
    static func prefix(holding count: Int) -> Int {
        var prefix = 30
        while prefix > 8 && (1 << (32 - prefix)) < count { prefix -= 1 }
        return prefix
    }
}
