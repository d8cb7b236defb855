import Zone

/// What ZoneBoot knows about one identity, as typed key-value pairs: the one place
/// where an identity becomes data for someone else. Templates, the Ansible inventory
/// and the Chef node JSON all read it, so a host is described the same way to each.
///
/// Keys are snake_case (they become Mustache variables, Ansible host vars and Chef
/// attributes) and are the names `HandoffNames.identityVariables` reserves.
public enum HostFacts {
    /// Zone-wide values, the same for every host: `zone`, `domain`, `dns`, `ntp`,
    /// `boot_server`, `boot_url` (the last two where `defaults.boot-server` is set).
    public static func zone(_ revision: ZoneRevision) -> [ZoneValue.Member] {
        let defaults = revision.spec.defaults
        var facts: [ZoneValue.Member] = [
            .init("zone", .string(revision.zoneName)),
            .init("domain", .string(revision.spec.domain.value)),
            .init("dns", .array(defaults.dns.map { .string($0.value.description) })),
            .init("ntp", .array(defaults.ntp.map { .string($0.value.description) })),
        ]
        if let server = defaults.bootServer { facts.append(.init("boot_server", .string(server.value.description))) }
        if let base = HostFiles.baseURL(revision) { facts.append(.init("boot_url", .string(base))) }
        return facts
    }

    /// The identity itself: who and where it is. Optional parts (gateway, rack, unit,
    /// profile, the host a BMC manages, a switch's own name) only where they exist.
    public static func identity(_ identity: Identity) -> [ZoneValue.Member] {
        IdentityFact.allCases.compactMap { fact in fact.value(of: identity).map { .init(fact.key, $0) } }
    }

    /// The facts of `identity(_:)`, in the order it lists them. What writes 200,000 hosts'
    /// facts (the inventory) plans their keys' order once from these, not per host.
    public enum IdentityFact: String, CaseIterable, Sendable {
        case name, fqdn, kind, address, netmask, prefixLength = "prefix_length", network, subnet, pod, `switch`, port, role
        case gateway, rack, unit, profile, host, device

        public var key: String { rawValue }

        /// Its value for `identity`, nil where the identity has none.
        public func value(of identity: Identity) -> ZoneValue? {
            switch self {
            case .name: .string(identity.name)
            case .fqdn: .string(identity.fqdn)
            case .kind: .string(identity.kind.rawValue)
            case .address: .string(identity.address.description)
            case .netmask: .string(identity.netmask.description)
            case .prefixLength: .int(identity.subnet.prefixLength)
            case .network: .string(identity.network)
            case .subnet: .string(identity.subnet.description)
            case .pod: .string(identity.location.pod)
            case .switch: .string(identity.location.switch)
            case .port: .string(identity.location.port)
            case .role: .string(identity.role)
            case .gateway: identity.gateway.map { .string($0.description) }
            case .rack: identity.rack.map { .int($0) }
            case .unit: identity.unit.map { .int($0) }
            case .profile: identity.profile.map { .string($0) }
            case .host: identity.managedHost.map { .string($0) }
            case .device: identity.device.map { .string($0) }
            }
        }
    }
}
