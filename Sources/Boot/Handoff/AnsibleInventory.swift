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

    /// The hosts, as positions in `identities` in the order of their names. Hosts and groups
    /// are kept as positions, and each host's variables are made only as they are written:
    /// as values, the 200,000 hosts of a 100,000-host zone took more than a second to build
    /// (a dozen variables each, four group names hashed per host) before a byte was written.
    private let identities: [Identity]
    private let byName: [Int32]
    /// Sorted by name, without `all`: each group's hosts as indices into `byName` (so in
    /// name order), each once.
    private let groupTable: [(name: String, hosts: [Int32], children: [String])]
    /// Role → its `ansible.vars`, sorted by key, each key once.
    private let roleVars: [String: [ZoneValue.Member]]
    private let live: [String: HostLiveState]
    /// Variables of the group `all`, sorted by key.
    public let allVars: [ZoneValue.Member]

    public init(revision: ZoneRevision, live: [String: HostLiveState] = [:], selection: Selection = .all) {
        var roleVars: [String: [ZoneValue.Member]] = [:]
        var roleGroups: [String: [String]] = [:]
        for role in revision.spec.roles {
            let name = role.name.value
            roleVars[name] = Self.variables(of: role)
            roleGroups[name] = [Self.groupName(name)] + (role.ansible?.groups.map(\.value) ?? [])
        }
        let identities = selection == .seen ? revision.identities.filter { live[$0.name] != nil } : revision.identities
        let byName = identities.indices.map(Int32.init).sorted { identities[Int($0)].name < identities[Int($1)].name }
        var rank = [Int32](repeating: 0, count: identities.count)
        for (index, position) in byName.enumerated() { rank[Int(position)] = Int32(index) }

        // Groups by number while the hosts are sorted into them. Identities come in location
        // order, so a host's pod, rack and switch groups are mostly the last host's: those are
        // looked up by name only when they change.
        var groupNumbers: [String: Int] = [:]
        var members: [[Int32]] = []
        var children: [Set<String>] = []
        func group(_ name: String) -> Int {
            if let number = groupNumbers[name] { return number }
            groupNumbers[name] = members.count
            members.append([])
            children.append([])
            return members.count - 1
        }
        var roleGroupNumbers: [String: [Int]] = [:]
        // The groups of the host before: its pod's, its rack's and its switch's (-1: none yet).
        var last = (pod: "", podGroup: -1, rack: 0, rackGroup: -1, switch: "", switchGroup: -1)
        // The host before's role (nil: none yet) and its groups: a switch's hosts, together in
        // location order, mostly share one, so the role is looked up only when it changes.
        var lastRole: (role: String?, groups: [Int]) = (nil, [])
        for (position, identity) in identities.enumerated() {
            let host = rank[position]
            let location = identity.location
            if last.podGroup < 0 || last.pod != location.pod {
                last = (location.pod, group("pod_" + Self.groupName(location.pod)), 0, -1, "", -1)
            }
            if let rack = identity.rack {
                if last.rackGroup < 0 || last.rack != rack {
                    let rackGroup = Self.rackGroupName(pod: location.pod, rack: rack)
                    (last.rack, last.rackGroup) = (rack, group(rackGroup))
                    children[last.podGroup].insert(rackGroup)
                }
                members[last.rackGroup].append(host)
            } else {
                members[last.podGroup].append(host)
            }
            if last.switchGroup < 0 || last.switch != location.switch {
                (last.switch, last.switchGroup) = (location.switch, group(Self.groupName(location.pod + "_" + location.switch)))
            }
            members[last.switchGroup].append(host)
            if identity.role != lastRole.role {
                if roleGroupNumbers[identity.role] == nil {
                    roleGroupNumbers[identity.role] = (roleGroups[identity.role] ?? [Self.groupName(identity.role)]).map(group)
                }
                lastRole = (identity.role, roleGroupNumbers[identity.role]!)
            }
            for number in lastRole.groups { members[number].append(host) }
        }
        // `all` is Ansible's implicit top; a group named so by a role would merge into it.
        groupTable = groupNumbers.filter { $0.key != "all" }.sorted { $0.key < $1.key }.map { name, number in
            // A host is in a group once, though two of its roles' groups may name it.
            let sorted = members[number].sorted()
            let hosts = sorted.indices.filter { $0 == 0 || sorted[$0] != sorted[$0 - 1] }.map { sorted[$0] }
            return (name, hosts, children[number].sorted())
        }
        self.identities = identities
        self.byName = byName
        self.roleVars = roleVars
        self.live = live
        self.allVars = JSONWriter.sortedUnique(HostFacts.zone(revision))
    }

    public var hostCount: Int { byName.count }
    public var groupCount: Int { groupTable.count }

    /// Sorted by name.
    public var hosts: [Host] {
        let variables = HostVariablesByRole(roleVars)
        return byName.map { host(at: Int($0), variables) }
    }

    /// Group name → group; `all` is not among them.
    public var groups: [String: Group] {
        Dictionary(uniqueKeysWithValues: groupTable.map { group in
            (group.name, Group(hosts: group.hosts.map { identities[Int(byName[Int($0)])].name }, children: group.children))
        })
    }

    private func host(at position: Int, _ variables: HostVariablesByRole) -> Host {
        let identity = identities[position]
        return Host(name: identity.name, vars: variables[identity.role].members(of: identity, live: liveFacts(of: identity)))
    }

    /// How each role's hosts' variables are written, made for one rendering. Each part of one
    /// has its own: two cores reading the same tables bump the same reference counts, which
    /// made writing in two parts take nearly as long as in one.
    private struct HostVariablesByRole {
        private let byRole: [String: AnsibleHostVariables]
        /// A host of a role the zone does not define (never in a loaded zone): its facts alone.
        private let factsAlone = AnsibleHostVariables(roleVars: [])

        init(_ roleVars: [String: [ZoneValue.Member]]) {
            byRole = roleVars.mapValues(AnsibleHostVariables.init(roleVars:))
        }

        subscript(role: String) -> AnsibleHostVariables { byRole[role] ?? factsAlone }
    }

    /// A role's `ansible.vars`, sorted by key, each key once.
    private static func variables(of role: ZoneSpec.Role) -> [ZoneValue.Member] {
        JSONWriter.sortedUnique((role.ansible?.vars ?? []).map { .init($0.name.value, $0.value) })
    }

    /// One host's variables, as the whole inventory's `hostJSON(named:)` gives them, without
    /// making the inventory: what a host fetching its own (`/ansible/inventory/NAME`) costs,
    /// the same at 20 hosts and at 200,000. `live`: its latest lease's state, if any.
    public static func hostJSON(named name: String, in revision: ZoneRevision, live: HostLiveState?) -> [UInt8]? {
        guard let identity = revision.identity(named: name) else { return nil }
        let role = revision.spec.roles.first { $0.name.value == identity.role }
        var out = JSONWriter()
        AnsibleHostVariables(roleVars: role.map(variables) ?? []).write(of: identity, live: live?.facts ?? [], into: &out)
        out.raw("\n")
        return out.bytes
    }

    private func liveFacts(of identity: Identity) -> [ZoneValue.Member] {
        live.isEmpty ? [] : live[identity.name]?.facts ?? []
    }

    /// An identity fact's name as a host variable's, nil for none. Ansible reserves `name` and
    /// `port` (play keywords) and warns for every host that has them: the name is the
    /// inventory hostname itself (`inventory_hostname`), the port is `switch_port`.
    static func hostVariable(_ fact: String) -> String? {
        switch fact {
        case "name": nil
        case "port": "switch_port"
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

    /// One host (`--host NAME`): found by a search, made once.
    public func host(named name: String) -> Host? {
        identities.firstIndex { $0.name == name }.map { host(at: $0, HostVariablesByRole(roleVars)) }
    }

    /// Groups no other group has as a child: what `all` lists.
    public var topLevelGroups: [String] {
        let nested = Set(groupTable.flatMap(\.children))
        return groupTable.map(\.name).filter { !nested.contains($0) }
    }

    // MARK: Renderings

    /// Ansible's dynamic-inventory JSON, as `--list` prints it: one object, keys sorted,
    /// `_meta.hostvars` holding every host's variables.
    public func json() -> [UInt8] {
        let chunks = jsonChunks()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(chunks.reduce(0) { $0 + $1.count })
        for chunk in chunks { bytes += chunk }
        return bytes
    }

    /// `json()` in pieces to be written one after the other: 87 MB for 200,000 hosts need not
    /// be copied into one array to be written out.
    public func jsonChunks() -> [[UInt8]] {
        jsonChunks(parts: byName.count < 4096 ? 1 : Parts.cores)
    }

    /// `jsonChunks()`, its host variables written in `parts` parts, each on a core of its own.
    func jsonChunks(parts: Int) -> [[UInt8]] {
        let parts = max(1, min(parts, byName.count))
        // The host variables are most of the work (87 MB for 200,000 hosts): a large zone's
        // are written in parts, on every core.
        let hostvars = Parts.map(parts) { part in
            let range = byName.count * part / parts ..< byName.count * (part + 1) / parts
            var hostvars = JSONWriter(reservingCapacity: range.count * 450)
            let variables = HostVariablesByRole(roleVars)
            if part == 0 { hostvars.raw("{\"_meta\":{\"hostvars\":{") }
            for index in range {
                let identity = identities[Int(byName[index])]
                hostvars.key(identity.name, first: index == 0)
                variables[identity.role].write(of: identity, live: liveFacts(of: identity), into: &hostvars)
            }
            return hostvars.bytes
        }
        var out = JSONWriter(reservingCapacity: groupTable.count * 128 + hostCount * 24)
        out.raw("}},\"all\":{\"children\":")
        out.array(topLevelGroups) { $0.string($1) }
        out.raw(",\"vars\":")
        out.object(allVars)
        out.raw("}")
        for group in groupTable {
            out.key(group.name, first: false)
            out.raw("{")
            var first = true
            if !group.children.isEmpty {
                out.key("children", first: true)
                out.array(group.children) { $0.string($1) }
                first = false
            }
            if !group.hosts.isEmpty {
                out.key("hosts", first: first)
                out.array(group.hosts) { $0.string(identities[Int(byName[Int($1)])].name) }
            }
            out.raw("}")
        }
        out.raw("}\n")
        return hostvars + [out.bytes]
    }

    /// One host's variables, as `--host NAME` prints them; nil for a name not in the inventory.
    public func hostJSON(named name: String) -> [UInt8]? {
        guard let identity = identities.first(where: { $0.name == name }) else { return nil }
        var out = JSONWriter()
        AnsibleHostVariables(roleVars: roleVars[identity.role] ?? [])
            .write(of: identity, live: liveFacts(of: identity), into: &out)
        out.raw("\n")
        return out.bytes
    }

    /// The same inventory as a static YAML file for Ansible's `yaml` inventory plugin:
    /// each group under `all.children` naming its hosts and child groups (a rack inside
    /// its pod), host variables under `all.hosts`, zone-wide ones under `all.vars`.
    public func yaml() throws -> String {
        let groups = self.groups
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

}
