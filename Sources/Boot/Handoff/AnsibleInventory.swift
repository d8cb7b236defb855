import Yams
import Zone

/// A zone as Ansible sees it: every identity a host, grouped by role, pod, rack and
/// switch, with the identity and the role's `ansible.vars` as host variables.
///
/// `json()` is Ansible's dynamic-inventory JSON (`--list`, with `_meta.hostvars`, so
/// Ansible makes no per-host calls); `hostJSON(named:)` answers `--host NAME`; `yaml()`
/// is the same inventory as a static YAML file for Ansible's `yaml` plugin.
///
/// Groups, with names made valid for Ansible (letters, digits, `_`; `-` and anything
/// else become `_`, a leading digit gets a `_` before it):
/// - each role (`hypervisor`, `lom_switch`) and each of a role's `ansible.groups`;
/// - each pod, `pod_<pod>` (`pod_p01`): its racks are its children, identities in no
///   rack (switch management ports) are its hosts;
/// - each rack, `<pod>_r<rack, two digits>` (`p01_r01`);
/// - each switch, `<pod>_<switch>` (`p01_tor_a`): whatever is plugged into its ports.
/// Host variables: `ansible_host` (the address), the identity's facts (`HostFacts`:
/// fqdn, kind, pod, rack, unit, switch, role, profile, network...; the port as
/// `switch_port`, the name being the inventory hostname), the role's `ansible.vars`,
/// and the live state from leases. Zone-wide values (`zone`, `domain`, `dns`, `ntp`,
/// `boot_server`, `boot_url`) are variables of the group `all`.
public struct AnsibleInventory: Sendable {
    /// Which identities are hosts: all the zone defines, or those that took a lease.
    public enum Selection: String, Sendable, CaseIterable {
        case all, seen
    }

    public struct Host: Sendable, Hashable {
        public var name: String
        /// Sorted by key, each key once.
        public var vars: [ZoneValue.Member]
    }

    public struct Group: Sendable, Hashable {
        /// Sorted by name, as in the YAML rendering.
        public var hosts: [String] = []
        /// Sorted.
        public var children: [String] = []
    }

    /// Sorted by name.
    public let hosts: [Host]
    /// Group name → group; `all` is not among them.
    public let groups: [String: Group]
    /// Variables of the group `all`, sorted by key.
    public let allVars: [ZoneValue.Member]

    private let hostIndex: [String: Int]

    public init(revision: ZoneRevision, live: [String: HostLiveState] = [:], selection: Selection = .all) {
        var roleVars: [String: [ZoneValue.Member]] = [:]
        var roleGroups: [String: [String]] = [:]
        for role in revision.spec.roles {
            let name = role.name.value
            roleVars[name] = JSONWriter.sortedUnique((role.ansible?.vars ?? []).map { .init($0.name.value, $0.value) })
            roleGroups[name] = [Self.groupName(name)] + (role.ansible?.groups.map(\.value) ?? [])
        }
        var hosts: [Host] = []
        hosts.reserveCapacity(revision.identities.count)
        var members: [String: [String]] = [:]
        var children: [String: Set<String>] = [:]
        for identity in revision.identities {
            let state = live[identity.name]
            if selection == .seen && state == nil { continue }
            // Identity facts win over role variables of the same name (which the zone check
            // refuses anyway), the live state over both.
            var facts: [ZoneValue.Member] = []
            facts.reserveCapacity(20)
            for fact in HostFacts.identity(identity) {
                if fact.key == "address" { facts.append(.init("ansible_host", fact.value)) }
                if let variable = Self.hostVariable(fact) { facts.append(variable) }
            }
            facts.sort { $0.key < $1.key }
            let vars = JSONWriter.merged(roleVars[identity.role] ?? [], facts, state?.facts ?? [])
            hosts.append(Host(name: identity.name, vars: vars))

            let pod = identity.location.pod
            let podGroup = "pod_" + Self.groupName(pod)
            for group in roleGroups[identity.role] ?? [Self.groupName(identity.role)] {
                members[group, default: []].append(identity.name)
            }
            if let rack = identity.rack {
                let rackGroup = Self.rackGroupName(pod: pod, rack: rack)
                members[rackGroup, default: []].append(identity.name)
                children[podGroup, default: []].insert(rackGroup)
            } else {
                members[podGroup, default: []].append(identity.name)
            }
            members[Self.groupName(pod + "_" + identity.location.switch), default: []].append(identity.name)
        }
        hosts.sort { $0.name < $1.name }
        var groups: [String: Group] = [:]
        for (name, hostNames) in members {
            groups[name, default: Group()].hosts = Self.unique(hostNames).sorted()
        }
        for (name, kids) in children { groups[name, default: Group()].children = kids.sorted() }
        // `all` is Ansible's implicit top; a group named so by a role would merge into it.
        groups["all"] = nil
        self.hosts = hosts
        self.groups = groups
        self.allVars = JSONWriter.sortedUnique(HostFacts.zone(revision))
        var index: [String: Int] = [:]
        for (i, host) in hosts.enumerated() { index[host.name] = i }
        hostIndex = index
    }

    /// An identity fact as a host variable. Ansible reserves `name` and `port` (play
    /// keywords) and warns for every host that has them: the name is the inventory
    /// hostname itself (`inventory_hostname`), the port is `switch_port`.
    static func hostVariable(_ fact: ZoneValue.Member) -> ZoneValue.Member? {
        switch fact.key {
        case "name": nil
        case "port": .init("switch_port", fact.value)
        default: fact
        }
    }

    /// A name as Ansible accepts it for a group: letters, digits and `_`, not starting
    /// with a digit (Ansible would otherwise rewrite or warn about it).
    public static func groupName(_ text: String) -> String {
        var name = String(decoding: text.utf8.map { byte -> UInt8 in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"): byte
            default: UInt8(ascii: "_")
            }
        }, as: UTF8.self)
        if name.first.map({ $0.isASCII && $0.isNumber }) ?? true { name = "_" + name }
        return name
    }

    /// `p01_r01`: the pod and the rack, two digits at least.
    public static func rackGroupName(pod: String, rack: Int) -> String {
        groupName(pod) + "_r" + (rack < 10 && rack >= 0 ? "0\(rack)" : "\(rack)")
    }

    public func host(named name: String) -> Host? { hostIndex[name].map { hosts[$0] } }

    /// Groups no other group has as a child: what `all` lists.
    public var topLevelGroups: [String] {
        let nested = Set(groups.values.flatMap(\.children))
        return groups.keys.filter { !nested.contains($0) }.sorted()
    }

    // MARK: Renderings

    /// Ansible's dynamic-inventory JSON, as `--list` prints it: one object, keys sorted,
    /// `_meta.hostvars` holding every host's variables.
    public func json() -> [UInt8] {
        var out = JSONWriter(reservingCapacity: hosts.count * 640 + groups.count * 128)
        out.raw("{\"_meta\":{\"hostvars\":{")
        for (i, host) in hosts.enumerated() {
            out.key(host.name, first: i == 0)
            out.sortedObject(host.vars)
        }
        out.raw("}},\"all\":{\"children\":")
        out.array(topLevelGroups) { $0.string($1) }
        out.raw(",\"vars\":")
        out.object(allVars)
        out.raw("}")
        for name in groups.keys.sorted() {
            let group = groups[name]!
            out.key(name, first: false)
            out.raw("{")
            var first = true
            if !group.children.isEmpty {
                out.key("children", first: true)
                out.array(group.children) { $0.string($1) }
                first = false
            }
            if !group.hosts.isEmpty {
                out.key("hosts", first: first)
                out.array(group.hosts) { $0.string($1) }
            }
            out.raw("}")
        }
        out.raw("}\n")
        return out.bytes
    }

    /// One host's variables, as `--host NAME` prints them; nil for a name not in the inventory.
    public func hostJSON(named name: String) -> [UInt8]? {
        guard let host = host(named: name) else { return nil }
        var out = JSONWriter()
        out.sortedObject(host.vars)
        out.raw("\n")
        return out.bytes
    }

    /// The same inventory as a static YAML file for Ansible's `yaml` inventory plugin:
    /// each group under `all.children` naming its hosts and child groups (a rack inside
    /// its pod), host variables under `all.hosts`, zone-wide ones under `all.vars`.
    public func yaml() throws -> String {
        func definition(_ name: String) -> ZoneValue {
            let group = groups[name] ?? Group()
            var body: [ZoneValue.Member] = []
            if !group.children.isEmpty { body.append(.init("children", .object(group.children.map { .init($0, definition($0)) }))) }
            if !group.hosts.isEmpty { body.append(.init("hosts", .object(group.hosts.map { .init($0, .null) }))) }
            return .object(body)
        }
        // Yams writes each group and host on its own, indented into place: one tree of
        // the whole zone (400,000 nodes for 20,000 hosts) would take a gigabyte.
        var out = "# Ansible inventory written by `zonectl inventory --yaml`; regenerate it, do not edit.\nall:\n"
        func section(_ key: String, _ entries: [ZoneValue.Member]) throws {
            guard !entries.isEmpty else {
                out += "  \(key): {}\n"
                return
            }
            out += "  \(key):\n"
            for entry in entries {
                let text = try Yams.serialize(node: Self.yamlNode(.object([entry])))
                for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                    out += "    "
                    out += line
                    out += "\n"
                }
            }
        }
        try section("children", topLevelGroups.map { .init($0, definition($0)) })
        try section("hosts", hosts.map { .init($0.name, .object($0.vars)) })
        try section("vars", allVars)
        return out
    }

    /// A value as a YAML node that reads back as the same type: a string that YAML would
    /// read as something else (`"true"`, `"012"`, `"null"`) is quoted.
    static func yamlNode(_ value: ZoneValue) -> Node {
        switch value {
        case .null: return Node("null")
        case .bool(let b): return Node(b ? "true" : "false")
        case .int(let i): return Node(String(i))
        case .double(let d): return d.isFinite ? Node("\(d)", Tag(.float)) : Node("null")
        case .string(let s): return yamlString(s)
        case .array(let items): return Node(items.map(yamlNode))
        case .object(let members): return Node(members.map { (yamlString($0.key), yamlNode($0.value)) })
        // An inventory is read by control nodes and operators, not the host: never the content.
        case .secret(let secret): return yamlString(secret.redacted)
        }
    }

    private static func yamlString(_ text: String) -> Node {
        // Names like `tor-a` or `ams1-p01-r01-u07` cannot be read as anything but text;
        // anything else asks YAML's resolver.
        let plain = text.utf8.first.map { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0 | 0x20) } ?? false
            && text.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                     UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."): true
                default: false
                }
            }
            && !yamlWords.contains(text.lowercased())
        if plain { return Node(text) }
        return Resolver.default.resolveTag(of: Node(text)) == .str ? Node(text) : Node(text, Tag(.str), .singleQuoted)
    }

    /// Words YAML 1.1 readers (PyYAML, so Ansible) take for booleans or null.
    private static let yamlWords: Set<String> = ["y", "n", "yes", "no", "true", "false", "on", "off", "null"]

    private static func unique(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}
