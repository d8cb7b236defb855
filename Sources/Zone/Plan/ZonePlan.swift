/// What changes when a zone replaces the running one: every identity by location,
/// and the zone's settings, each compared field by field.
///
/// One mechanism for everything: each resource is flattened to ordered fields, and
/// two sets of resources are diffed by key.
public struct ZonePlan: Sendable, Codable, Equatable {
    public enum Action: String, Sendable, Codable { case add, change, remove }

    public struct FieldChange: Sendable, Codable, Equatable {
        public var field: String
        public var old: String?
        public var new: String?
    }

    public struct Change: Sendable, Codable, Equatable {
        public var action: Action
        /// `host`, `bmc`, `switch` (identities) or `zone`, `pod`, `role`, `profile`, `hook` (settings).
        public var kind: String
        /// The location (`p01/tor-a/swp7`) for identities, `role hypervisor` for settings.
        public var key: String
        public var name: String
        public var pod: String?
        public var `switch`: String?
        public var port: String?
        public var fields: [FieldChange]

        public var isIdentity: Bool { port != nil }
    }

    public struct Summary: Sendable, Codable, Equatable {
        public var add = 0
        public var change = 0
        public var remove = 0
    }

    public var formatVersion = 1
    public var zone: String
    /// The revision this plan was made against; nil for an empty store.
    public var fromRevision: Int?
    public var changes: [Change]
    public var summary: Summary

    public var hasChanges: Bool { !changes.isEmpty }

    public init(from old: ZoneRevision?, fromRevision: Int?, to new: ZoneRevision) {
        self.init(from: old.map(PlanSnapshot.init), fromRevision: fromRevision, to: PlanSnapshot(new))
    }

    /// Plans between flattened revisions: a server keeps its running revision's snapshot,
    /// so each plan flattens only the new zone.
    public init(from old: PlanSnapshot?, fromRevision: Int?, to new: PlanSnapshot) {
        zone = new.zone
        self.fromRevision = fromRevision
        let before = old?.resources ?? [:]
        let after = new.resources
        var changes: [Change] = []
        for key in Set(before.keys).union(after.keys) {
            let a = before[key], b = after[key]
            guard let resource = b ?? a else { continue }
            let fields = PlanResources.diff(a?.fields ?? [], b?.fields ?? [])
            let action: Action
            switch (a, b) {
            case (nil, _): action = .add
            case (_, nil): action = .remove
            default:
                guard !fields.isEmpty else { continue }
                action = .change
            }
            changes.append(Change(action: action, kind: resource.kind, key: key, name: resource.name, pod: resource.pod,
                                  switch: resource.switch, port: resource.port, fields: fields))
        }
        self.changes = changes.sorted(by: PlanResources.order)
        var summary = Summary()
        for change in changes {
            switch change.action {
            case .add: summary.add += 1
            case .change: summary.change += 1
            case .remove: summary.remove += 1
            }
        }
        self.summary = summary
    }
}

/// A revision flattened into the resources a plan compares.
public struct PlanSnapshot: Sendable {
    let zone: String
    let resources: [String: PlanResource]

    public init(_ revision: ZoneRevision) {
        zone = revision.zoneName
        resources = PlanResources.of(revision)
    }
}

/// A resource flattened for diffing.
struct PlanResource: Sendable {
    var kind: String
    var name: String
    var pod: String?
    var `switch`: String?
    var port: String?
    var location: Location?
    var fields: [(String, String)]
}

enum PlanResources {
    /// Settings sort before identities; identities by location, as the zone reads.
    static func order(_ a: ZonePlan.Change, _ b: ZonePlan.Change) -> Bool {
        let rank = ["zone": 0, "pod": 1, "role": 2, "profile": 3, "hook": 4]
        if a.isIdentity != b.isIdentity { return !a.isIdentity }
        if !a.isIdentity { return (rank[a.kind] ?? 9, a.key) < (rank[b.kind] ?? 9, b.key) }
        let la = Location(pod: a.pod ?? "", switch: a.switch ?? "", port: a.port ?? "")
        let lb = Location(pod: b.pod ?? "", switch: b.switch ?? "", port: b.port ?? "")
        return la < lb
    }

    static func diff(_ old: [(String, String)], _ new: [(String, String)]) -> [ZonePlan.FieldChange] {
        let oldMap = Dictionary(old, uniquingKeysWith: { a, _ in a })
        let newMap = Dictionary(new, uniquingKeysWith: { a, _ in a })
        var order = new.map(\.0)
        for (key, _) in old where newMap[key] == nil { order.append(key) }
        return order.compactMap { key in
            oldMap[key] == newMap[key] ? nil : ZonePlan.FieldChange(field: key, old: oldMap[key], new: newMap[key])
        }
    }

    static func of(_ revision: ZoneRevision) -> [String: PlanResource] {
        var resources: [String: PlanResource] = [:]
        for identity in revision.identities {
            var fields: [(String, String)] = [
                ("name", identity.name), ("fqdn", identity.fqdn), ("address", identity.address.description),
                ("netmask", identity.netmask.description), ("network", identity.network), ("role", identity.role),
            ]
            if let gateway = identity.gateway { fields.append(("gateway", gateway.description)) }
            if let profile = identity.profile { fields.append(("profile", profile)) }
            if let rack = identity.rack { fields.append(("rack", String(rack))) }
            if let unit = identity.unit { fields.append(("unit", String(unit))) }
            if let host = identity.managedHost { fields.append(("manages", host)) }
            if let device = identity.device { fields.append(("device", device)) }
            let l = identity.location
            resources[l.description] = PlanResource(kind: identity.kind.rawValue, name: identity.name, pod: l.pod,
                                                    switch: l.switch, port: l.port, location: l, fields: fields)
        }
        let spec = revision.spec
        func setting(_ kind: String, _ name: String, _ fields: [(String, String)]) {
            resources["\(kind) \(name)"] = PlanResource(kind: kind, name: name, fields: fields)
        }
        var zoneFields: [(String, String)] = [
            ("domain", spec.domain.value), ("naming.host", spec.naming.host.value.text),
            ("naming.lom", spec.naming.lom.value.text), ("naming.switch", spec.naming.switch.value.text),
            ("defaults.lease", spec.defaults.lease.value.description),
            ("defaults.dns", spec.defaults.dns.map(\.value.description).joined(separator: ", ")),
            ("defaults.ntp", spec.defaults.ntp.map(\.value.description).joined(separator: ", ")),
        ]
        if let server = spec.defaults.bootServer { zoneFields.append(("defaults.boot-server", server.value.description)) }
        setting("zone", spec.zone.value, zoneFields)
        for pod in spec.pods {
            var fields: [(String, String)] = [("relays", pod.relays.map(\.value.description).joined(separator: ", "))]
            if !pod.relaySources.isEmpty {
                fields.append(("relay-sources", pod.relaySources.map(\.value.description).joined(separator: ", ")))
            }
            for network in pod.networks {
                fields.append(("networks.\(network.name.value).subnet", network.subnet.value.description))
                if let gateway = network.gateway { fields.append(("networks.\(network.name.value).gateway", gateway.value.description)) }
            }
            for sw in pod.switches {
                if let role = sw.role { fields.append(("switches.\(sw.name.value).role", role.value)) }
                if let rid = sw.remoteID { fields.append(("switches.\(sw.name.value).remote-id", rid.value)) }
            }
            if let d = pod.discovery {
                fields.append(("discovery.network", d.network.value))
                fields.append(("discovery.range", d.range.value.description))
                if let lease = d.lease { fields.append(("discovery.lease", lease.value.description)) }
            }
            setting("pod", pod.name.value, fields)
        }
        for role in spec.roles {
            var fields: [(String, String)] = []
            if let boot = role.boot { fields.append(("boot", boot.value)) }
            if let ztp = role.ztp { fields.append(("ztp", ztp.value.rawValue)) }
            if let installer = role.installer { fields.append(("installer", installer.value.description)) }
            if !role.hooks.isEmpty { fields.append(("hooks", role.hooks.map(\.value).joined(separator: ", "))) }
            if let chef = role.chef {
                fields.append(("chef.run-list", chef.runList.map(\.value).joined(separator: ", ")))
                if let env = chef.environment { fields.append(("chef.environment", env.value)) }
                fields.append(("chef.attributes", json(chef.attributes)))
            }
            if let ansible = role.ansible {
                fields.append(("ansible.groups", ansible.groups.map(\.value).joined(separator: ", ")))
                fields.append(("ansible.vars", json(.object(ansible.vars.map { .init($0.name.value, $0.value) }))))
            }
            setting("role", role.name.value, fields)
        }
        for profile in spec.profiles {
            var fields: [(String, String)] = []
            var templates: [String] = []
            if let ipxe = profile.ipxe {
                fields.append(("ipxe", ipxe.value))
                templates.append(ipxe.value)
            }
            for file in profile.files {
                fields.append(("files.\(file.name.value)", file.template.value))
                templates.append(file.template.value)
            }
            // A template edit changes what hosts get without changing the zone file.
            for path in templates {
                fields.append(("template \(path)", revision.source.files[path].map { ZoneSource.fnv1a([$0]) } ?? "missing"))
            }
            setting("profile", profile.name.value, fields)
        }
        for hook in spec.hooks {
            var fields = [("on", hook.on.map(\.value.rawValue).joined(separator: ", "))]
            if let run = hook.run { fields.append(("run", run.value)) }
            if let url = hook.url { fields.append(("url", url.value)) }
            if let builtin = hook.builtin { fields.append(("builtin", builtin.value.rawValue)) }
            if let timeout = hook.timeout { fields.append(("timeout", timeout.value.description)) }
            if let credentials = hook.credentials { fields.append(("credentials", credentials.value)) }
            if let tls = hook.tls { fields.append(("tls", tls.value.rawValue)) }
            setting("hook", hook.name.value, fields)
        }
        return resources
    }

    private static func json(_ value: ZoneValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .double(let d): String(d)
        case .string(let s): "\"\(s)\""
        case .array(let items): "[" + items.map(json).joined(separator: ", ") + "]"
        case .object(let members): "{" + members.map { "\"\($0.key)\": \(json($0.value))" }.joined(separator: ", ") + "}"
        }
    }
}

extension ZonePlan {
    /// "3 added, 1 changed, 0 removed": how history describes a revision.
    public var summaryLine: String { "\(summary.add) added, \(summary.change) changed, \(summary.remove) removed" }
}
