import Addressing
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

        /// One fact's value, typed: a `ZoneValue` for templates and Chef (`zoneValue`), written
        /// to an inventory's JSON as it is (`JSONWriter.fact`), with no text made for it first.
        public enum Value: Sendable, Equatable {
            case text(String)
            case address(IPv4Address)
            case network(IPv4Network)
            case number(Int)

            public var zoneValue: ZoneValue {
                switch self {
                case .text(let text): .string(text)
                case .address(let address): .string(address.description)
                case .network(let network): .string(network.description)
                case .number(let number): .int(number)
                }
            }
        }

        /// Its value for `identity`, nil where the identity has none.
        public func value(of identity: Identity) -> ZoneValue? { fact(of: identity)?.zoneValue }

        /// Its typed value for `identity`, nil where the identity has none.
        public func fact(of identity: Identity) -> Value? {
            switch self {
            case .name: .text(identity.name)
            case .fqdn: .text(identity.fqdn)
            case .kind: .text(identity.kind.rawValue)
            case .address: .address(identity.address)
            case .netmask: .address(identity.netmask)
            case .prefixLength: .number(identity.subnet.prefixLength)
            case .network: .text(identity.network)
            case .subnet: .network(identity.subnet)
            case .pod: .text(identity.location.pod)
            case .switch: .text(identity.location.switch)
            case .port: .text(identity.location.port)
            case .role: .text(identity.role)
            case .gateway: identity.gateway.map { .address($0) }
            case .rack: identity.rack.map { .number($0) }
            case .unit: identity.unit.map { .number($0) }
            case .profile: identity.profile.map { .text($0) }
            case .host: identity.managedHost.map { .text($0) }
            case .device: identity.device.map { .text($0) }
            }
        }
    }
}
