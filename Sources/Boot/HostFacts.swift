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
        var facts: [ZoneValue.Member] = [
            .init("name", .string(identity.name)),
            .init("fqdn", .string(identity.fqdn)),
            .init("kind", .string(identity.kind.rawValue)),
            .init("address", .string(identity.address.description)),
            .init("netmask", .string(identity.netmask.description)),
            .init("prefix_length", .int(identity.subnet.prefixLength)),
            .init("network", .string(identity.network)),
            .init("subnet", .string(identity.subnet.description)),
            .init("pod", .string(identity.location.pod)),
            .init("switch", .string(identity.location.switch)),
            .init("port", .string(identity.location.port)),
            .init("role", .string(identity.role)),
        ]
        if let gateway = identity.gateway { facts.append(.init("gateway", .string(gateway.description))) }
        if let rack = identity.rack { facts.append(.init("rack", .int(rack))) }
        if let unit = identity.unit { facts.append(.init("unit", .int(unit))) }
        if let profile = identity.profile { facts.append(.init("profile", .string(profile))) }
        if let host = identity.managedHost { facts.append(.init("host", .string(host))) }
        if let device = identity.device { facts.append(.init("device", .string(device))) }
        return facts
    }
}
