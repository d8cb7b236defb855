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

/// How a revision is flattened for a plan, one function per resource kind, and how two
/// flattened resources are compared and ordered.
enum PlanResources {
    /// Settings sort before identities; identities by location, as the zone reads.
    static func order(_ a: ZonePlan.Change, _ b: ZonePlan.Change) -> Bool {
        func rank(_ kind: String) -> Int {
            switch kind {
            case "zone": 0
            case "pod": 1
            case "role": 2
            case "profile": 3
            case "hook": 4
            default: 9
            }
        }
        if a.isIdentity != b.isIdentity { return !a.isIdentity }
        if !a.isIdentity { return (rank(a.kind), a.key) < (rank(b.kind), b.key) }
        let la = Location(pod: a.pod ?? "", switch: a.switch ?? "", port: a.port ?? "")
        let lb = Location(pod: b.pod ?? "", switch: b.switch ?? "", port: b.port ?? "")
        return la < lb
    }

    /// The fields that differ: `new`'s in its order, then those only `old` has; a field named
    /// twice counts by its first. An identity's dozen fields are searched in place (two
    /// dictionaries per identity were most of a 200,000-change plan's time); longer lists, a
    /// pod's two fields per switch, are looked up in dictionaries.
    static func diff(_ old: [(String, String)], _ new: [(String, String)]) -> [ZonePlan.FieldChange] {
        let small = old.count <= 32 && new.count <= 32
        let oldMap = small ? [:] : Dictionary(old, uniquingKeysWith: { a, _ in a })
        let newMap = small ? [:] : Dictionary(new, uniquingKeysWith: { a, _ in a })
        func oldValue(_ key: String) -> String? { small ? old.first { $0.0 == key }?.1 : oldMap[key] }
        func newValue(_ key: String) -> String? { small ? new.first { $0.0 == key }?.1 : newMap[key] }
        var changes: [ZonePlan.FieldChange] = []
        for (key, _) in new {
            let (was, now) = (oldValue(key), newValue(key))
            if was != now { changes.append(ZonePlan.FieldChange(field: key, old: was, new: now)) }
        }
        for (key, value) in old where newValue(key) == nil {
            changes.append(ZonePlan.FieldChange(field: key, old: oldValue(key) ?? value, new: nil))
        }
        return changes
    }

    /// Every resource of a revision by key: identities by location (`p01/tor-a/swp7`),
    /// settings as `kind name` (`role hypervisor`). A later resource with the same key
    /// replaces an earlier one, in the order below.
    static func of(_ revision: ZoneRevision) -> [String: PlanResource] {
        var resources: [String: PlanResource] = [:]
        for identity in revision.identities { resources[identity.location.description] = self.identity(identity) }
        resources.merge(settings(of: revision)) { _, setting in setting }
        return resources
    }

    /// The zone's settings (everything but identities) by key.
    static func settings(of revision: ZoneRevision) -> [String: PlanResource] {
        settings(of: revision.spec, files: revision.source.files)
    }

    /// `files`: the revision's template texts by path.
    static func settings(of spec: ZoneSpec, files: [String: String]) -> [String: PlanResource] {
        var resources: [String: PlanResource] = [:]
        var settings = [zone(spec)]
        settings += spec.pods.map(pod)
        settings += spec.roles.map(role)
        settings += spec.profiles.map { profile($0, templates: files) }
        settings += spec.hooks.map(hook)
        for setting in settings { resources["\(setting.kind) \(setting.name)"] = setting }
        return resources
    }

    /// The fields of an identity, in `identity(_:)`'s order: each with its text, and whether
    /// two identities agree on it, told without writing either text.
    private static let identityFields: [(name: String, text: @Sendable (Identity) -> String?,
                                         same: @Sendable (Identity, Identity) -> Bool)] = [
        ("name", { $0.name }, { $0.name == $1.name }),
        ("fqdn", { $0.fqdn }, { $0.fqdn == $1.fqdn }),
        ("address", { $0.address.description }, { $0.address == $1.address }),
        ("netmask", { $0.netmask.description }, { $0.netmask == $1.netmask }),
        ("network", { $0.network }, { $0.network == $1.network }),
        ("role", { $0.role }, { $0.role == $1.role }),
        ("gateway", { $0.gateway?.description }, { $0.gateway == $1.gateway }),
        ("profile", { $0.profile }, { $0.profile == $1.profile }),
        ("rack", { $0.rack.map { String($0) } }, { $0.rack == $1.rack }),
        ("unit", { $0.unit.map { String($0) } }, { $0.unit == $1.unit }),
        ("manages", { $0.managedHost }, { $0.managedHost == $1.managedHost }),
        ("device", { $0.device }, { $0.device == $1.device }),
    ]

    /// `diff(identity(old).fields, identity(new).fields)`, without flattening either: only
    /// the fields that differ are written (200,000 changed identities flattened two lists of a
    /// dozen strings each).
    static func identityChanges(from old: Identity, to new: Identity) -> [ZonePlan.FieldChange] {
        var changes: [ZonePlan.FieldChange] = []
        var gone: [ZonePlan.FieldChange] = []
        for field in identityFields where !field.same(old, new) {
            if let now = field.text(new) {
                changes.append(ZonePlan.FieldChange(field: field.name, old: field.text(old), new: now))
            } else if let was = field.text(old) {
                gone.append(ZonePlan.FieldChange(field: field.name, old: was, new: nil))
            }
        }
        return gone.isEmpty ? changes : changes + gone
    }

    /// Whether `identityChanges(from:to:)` has anything to say, told without writing it.
    static func identityDiffers(_ old: Identity, _ new: Identity) -> Bool {
        identityFields.contains { !$0.same(old, new) }
    }

    static func identity(_ identity: Identity) -> PlanResource {
        let fields = identityFields.compactMap { field in field.text(identity).map { (field.name, $0) } }
        let l = identity.location
        return PlanResource(kind: identity.kind.rawValue, name: identity.name, pod: l.pod,
                            switch: l.switch, port: l.port, location: l, fields: fields)
    }

    static func zone(_ spec: ZoneSpec) -> PlanResource {
        var fields: [(String, String)] = [
            ("domain", spec.domain.value), ("naming.host", spec.naming.host.value.text),
            ("naming.lom", spec.naming.lom.value.text), ("naming.switch", spec.naming.switch.value.text),
            ("defaults.lease", spec.defaults.lease.value.description),
            ("defaults.dns", spec.defaults.dns.map(\.value.description).joined(separator: ", ")),
            ("defaults.ntp", spec.defaults.ntp.map(\.value.description).joined(separator: ", ")),
        ]
        if let server = spec.defaults.bootServer { fields.append(("defaults.boot-server", server.value.description)) }
        return PlanResource(kind: "zone", name: spec.zone.value, fields: fields)
    }

    static func pod(_ pod: ZoneSpec.Pod) -> PlanResource {
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
        return PlanResource(kind: "pod", name: pod.name.value, fields: fields)
    }

    static func role(_ role: ZoneSpec.Role) -> PlanResource {
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
        return PlanResource(kind: "role", name: role.name.value, fields: fields)
    }

    /// `templates`: the revision's template texts by path, whose digests the profile carries.
    static func profile(_ profile: ZoneSpec.Profile, templates: [String: String]) -> PlanResource {
        var fields: [(String, String)] = []
        var paths: [String] = []
        if let ipxe = profile.ipxe {
            fields.append(("ipxe", ipxe.value))
            paths.append(ipxe.value)
        }
        for file in profile.files {
            fields.append(("files.\(file.name.value)", file.template.value))
            paths.append(file.template.value)
        }
        for secret in profile.bootstrapSecrets {
            fields.append(("bootstrap-secrets.\(secret.name.value)", "\(secret.kind.value.rawValue), ttl \(secret.ttl.value)"))
        }
        // A template edit changes what hosts get without changing the zone file.
        for path in paths {
            fields.append(("template \(path)", templates[path].map { ZoneSource.fnv1a([$0]) } ?? "missing"))
        }
        return PlanResource(kind: "profile", name: profile.name.value, fields: fields)
    }

    static func hook(_ hook: ZoneSpec.Hook) -> PlanResource {
        var fields = [("on", hook.on.map(\.value.rawValue).joined(separator: ", "))]
        if let run = hook.run { fields.append(("run", run.value)) }
        if let url = hook.url { fields.append(("url", ZoneSpec.Hook.redactedURL(url.value))) }
        if let builtin = hook.builtin { fields.append(("builtin", builtin.value.rawValue)) }
        if let timeout = hook.timeout { fields.append(("timeout", timeout.value.description)) }
        if let credentials = hook.credentials { fields.append(("credentials", credentials.value)) }
        if let tls = hook.tls { fields.append(("tls", tls.value.rawValue)) }
        if let password = hook.password { fields.append(("password", password.value.rawValue)) }
        return PlanResource(kind: "hook", name: hook.name.value, fields: fields)
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
        // The digest shows that it changed; the content never reaches a plan.
        case .secret(let secret): secret.redacted
        }
    }
}
