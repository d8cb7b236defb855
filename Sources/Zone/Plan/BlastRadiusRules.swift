/// Which machines read which setting, and into what: the one place a plan's setting change
/// becomes "affects N hosts (what)". It follows how the server builds each output:
/// `IdentityAnswer` (DHCP: zone defaults, the profile's iPXE script, a switch role's ZTP and
/// installer), `HostFiles` (templates see the zone, the identity, the role's Chef and
/// Ansible data), `ChefNode` and the Ansible inventory (zone facts for every machine, the
/// role's data for its own), hooks by role.
enum BlastRadiusRules {
    typealias Output = BlastRadius.Output

    /// The roles that matter to more than their own machines, from both revisions: a role
    /// that loses its Chef data changes its nodes as much as one that gains it.
    struct Machines {
        var switchZTPRoles: Set<String> = []
        var rolesByHook: [String: Set<String>] = [:]

        init(old: ZoneSpec, new: ZoneSpec) {
            for role in new.roles where role.ztp != nil { switchZTPRoles.insert(role.name.value) }
            for role in old.roles + new.roles {
                for hook in role.hooks { rolesByHook[hook.value, default: []].insert(role.name.value) }
            }
        }

        /// Served files: a boot profile's, or a ZTP switch's built-in ones.
        func hasFiles(_ identity: Identity) -> Bool {
            identity.profile != nil || (identity.kind == .switch && switchZTPRoles.contains(identity.role))
        }
    }

    enum Selector {
        case all
        case withFiles
        case role(String)
        case roleWithFiles(String)
        case profile(String)
        case pod(String)
        case hook(String)

        func matches(_ identity: Identity, _ machines: Machines) -> Bool {
            switch self {
            case .all: true
            case .withFiles: machines.hasFiles(identity)
            case .role(let name): identity.role == name
            case .roleWithFiles(let name): identity.role == name && machines.hasFiles(identity)
            case .profile(let name): identity.profile == name
            case .pod(let name): identity.location.pod == name
            case .hook(let name): machines.rolesByHook[name]?.contains(identity.role) ?? false
            }
        }
    }

    /// Outputs as bits: the count runs over every identity, so no set is built per machine.
    struct Outputs: OptionSet {
        var rawValue: UInt8

        init(rawValue: UInt8) { self.rawValue = rawValue }

        init(_ outputs: [Output]) {
            rawValue = outputs.reduce(0) { $0 | 1 << $1.rank }
        }

        var list: [Output] { Output.allCases.filter { rawValue & 1 << $0.rank != 0 } }
    }

    struct Rule {
        var selector: Selector
        var outputs: Outputs

        init(selector: Selector, outputs: [Output]) {
            self.selector = selector
            self.outputs = Outputs(outputs)
        }
    }

    /// The rules of one changed setting: what each of its changed fields reaches.
    struct Rules {
        var rules: [Rule]

        func outputs(for identity: Identity, _ machines: Machines) -> Outputs {
            var outputs = Outputs()
            for rule in rules where !outputs.isSuperset(of: rule.outputs) && rule.selector.matches(identity, machines) {
                outputs.formUnion(rule.outputs)
            }
            return outputs
        }
    }

    /// The effects (by index in `rules`) that can reach a machine: `general`, any machine;
    /// `byPod`, only the machines of one pod (every rule selects that pod). Effects without a
    /// rule reach none and are in neither.
    static func effectsByPod(_ rules: [Rules]) -> (general: [Int], byPod: [String: [Int]]) {
        var general: [Int] = []
        var byPod: [String: [Int]] = [:]
        for (index, effect) in rules.enumerated() where !effect.rules.isEmpty {
            let pods = Set(effect.rules.compactMap { rule -> String? in
                if case .pod(let name) = rule.selector { return name }
                return nil
            })
            if pods.count == 1, effect.rules.allSatisfy({ if case .pod = $0.selector { true } else { false } }) {
                byPod[pods.first!, default: []].append(index)
            } else {
                general.append(index)
            }
        }
        return (general, byPod)
    }

    static func rules(for change: ZonePlan.Change) -> Rules {
        Rules(rules: change.fields.flatMap { rules(kind: change.kind, name: change.name, field: $0.field) })
    }

    /// Identity fields (names, addresses, gateways) are not here: the plan lists every
    /// machine whose identity changes, one by one.
    private static func rules(kind: String, name: String, field: String) -> [Rule] {
        switch kind {
        case "zone":
            switch field {
            case "defaults.lease":
                return [Rule(selector: .all, outputs: [.dhcpAnswer])]
            case "domain", "defaults.dns", "defaults.ntp", "defaults.boot-server":
                // Zone facts: in every answer, every node JSON, the inventory's `all` vars and templates.
                return [Rule(selector: .all, outputs: [.dhcpAnswer, .chefNode, .ansibleInventory]),
                        Rule(selector: .withFiles, outputs: [.bootFiles])]
            default:
                return []
            }
        case "pod":
            // Which relays are trusted decides whether the pod's machines are answered at all.
            return field == "relays" || field == "relay-sources" ? [Rule(selector: .pod(name), outputs: [.dhcpAnswer])] : []
        case "role":
            if field == "hooks" { return [Rule(selector: .role(name), outputs: [.hooks])] }
            if field.hasPrefix("chef.") {
                return [Rule(selector: .role(name), outputs: [.chefNode]), Rule(selector: .roleWithFiles(name), outputs: [.bootFiles])]
            }
            if field.hasPrefix("ansible.") {
                return [Rule(selector: .role(name), outputs: [.ansibleInventory]),
                        Rule(selector: .roleWithFiles(name), outputs: [.bootFiles])]
            }
            // boot, ztp, installer: what the role's machines are pointed at and served.
            return [Rule(selector: .role(name), outputs: [.dhcpAnswer]), Rule(selector: .roleWithFiles(name), outputs: [.bootFiles])]
        case "profile":
            // The iPXE script decides whether the answer names a boot script at all.
            return field == "ipxe" ? [Rule(selector: .profile(name), outputs: [.dhcpAnswer, .bootFiles])]
                : [Rule(selector: .profile(name), outputs: [.bootFiles])]
        case "hook":
            return [Rule(selector: .hook(name), outputs: [.hooks])]
        default:
            return []
        }
    }
}
