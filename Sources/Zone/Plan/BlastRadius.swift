/// What a plan's setting changes do to machines: a `defaults.lease` edit is one changed
/// line in the zone file but a different DHCP answer for every machine of the zone, and a
/// plan must say so ("affects 1,200 hosts"), as it says what a template edit changes (its
/// unified diff, not two digests).
///
/// Computed from the settings that changed, not by rendering every machine twice: each
/// changed setting names which machines read it (all of them, a role's, a profile's, a
/// pod's) and for what; one pass over the new revision's identities counts them. Secret
/// values never reach it: settings arrive as a plan's fields, already redacted.
public struct BlastRadius: Sendable, Codable, Equatable {
    /// What a machine is given that a setting change can alter.
    public enum Output: String, Sendable, Codable, CaseIterable, Comparable {
        /// Its DHCP options (lease time, DNS, NTP, next-server, boot script URL), or whether it is answered at all.
        case dhcpAnswer = "dhcp_answer"
        /// What is served under `/hosts/<name>/`: its iPXE script, profile files, ZTP files.
        case bootFiles = "boot_files"
        /// Its Chef node JSON (run list, environment, attributes).
        case chefNode = "chef_node"
        /// Its entry in the Ansible inventory (groups, vars).
        case ansibleInventory = "ansible_inventory"
        /// The hooks that events about it run.
        case hooks

        public var label: String {
            switch self {
            case .dhcpAnswer: "DHCP answer"
            case .bootFiles: "boot files"
            case .chefNode: "Chef node JSON"
            case .ansibleInventory: "Ansible inventory"
            case .hooks: "hooks"
            }
        }

        /// Declaration order: what a machine gets first (its answer) first.
        var rank: Int {
            switch self {
            case .dhcpAnswer: 0
            case .bootFiles: 1
            case .chefNode: 2
            case .ansibleInventory: 3
            case .hooks: 4
            }
        }

        public static func < (a: Output, b: Output) -> Bool { a.rank < b.rank }
    }

    /// How many machines of each kind something reaches.
    public struct Reach: Sendable, Codable, Equatable {
        public var hosts = 0
        public var bmcs = 0
        public var switches = 0

        public var total: Int { hosts + bmcs + switches }

        mutating func count(_ kind: Identity.Kind) {
            switch kind {
            case .host: hosts += 1
            case .bmc: bmcs += 1
            case .switch: switches += 1
            }
        }
    }

    /// One changed setting (as the plan keys it, `zone ams1`, `role hypervisor`) and whom it reaches.
    public struct Effect: Sendable, Codable, Equatable {
        public var key: String
        public var outputs: [Output]
        public var reach: Reach
    }

    /// A template a changed profile uses, as a unified diff of its text.
    public struct TemplateDiff: Sendable, Codable, Equatable {
        public var path: String
        public var diff: [String]
    }

    /// The zone the plan replaces, when it is another zone than the plan's (a store of another
    /// site, a copied state directory): applying replaces every machine's identity.
    public var replacesZone: String?
    public var effects: [Effect]
    /// Machines reached by any of the effects, each counted once.
    public var reach: Reach
    /// Per output: how many machines get a different one.
    public var byOutput: [OutputReach]
    public var templates: [TemplateDiff]

    public struct OutputReach: Sendable, Codable, Equatable {
        public var output: Output
        public var reach: Reach
    }

    public var isEmpty: Bool { replacesZone == nil && effects.isEmpty && templates.isEmpty }

    /// `changes`: the plan's setting changes between `old` and `new`.
    public init(from old: ZoneRevision, to new: ZoneRevision, changes: [ZonePlan.Change]) {
        self.init(from: PlanBase(old), to: new, changes: changes)
    }

    /// Against a base loaded for a plan (`PlanBase`): only its spec and files are read.
    init(from old: PlanBase, to new: ZoneRevision, changes: [ZonePlan.Change]) {
        let oldZone = old.spec.zone.value
        replacesZone = oldZone == new.zoneName ? nil : oldZone
        let settings = changes.filter { !$0.isIdentity }
        let rules = settings.map(BlastRadiusRules.rules(for:))
        var effects = settings.map { Effect(key: $0.key, outputs: [], reach: Reach()) }
        var outputsByEffect = Array(repeating: BlastRadiusRules.Outputs(), count: effects.count)
        var total = Reach()
        // By output rank.
        var perOutput = Array(repeating: Reach(), count: Output.allCases.count)
        let machines = BlastRadiusRules.Machines(old: old.spec, new: new.spec)
        // Each machine is checked against the effects that can reach it: those that reach the
        // machines of one pod (a pod's relays) only against that pod's. A full-zone change of
        // 250 pods was 250 effects checked on each of 200,000 machines.
        let (general, byPod) = BlastRadiusRules.effectsByPod(rules)
        // Identities come pod by pod: each pod's list is looked up (and joined to the general
        // one) once per run of its identities.
        var pod: String?, reachable = general
        for identity in new.identities where !general.isEmpty || !byPod.isEmpty {
            if identity.location.pod != pod {
                pod = identity.location.pod
                reachable = general + (byPod[identity.location.pod] ?? [])
            }
            var reached = BlastRadiusRules.Outputs()
            for index in reachable {
                let outputs = rules[index].outputs(for: identity, machines)
                guard !outputs.isEmpty else { continue }
                effects[index].reach.count(identity.kind)
                outputsByEffect[index].formUnion(outputs)
                reached.formUnion(outputs)
            }
            guard !reached.isEmpty else { continue }
            total.count(identity.kind)
            for output in reached.list { perOutput[output.rank].count(identity.kind) }
        }
        for index in effects.indices { effects[index].outputs = outputsByEffect[index].list }
        self.effects = effects.filter { $0.reach.total > 0 }
        reach = total
        byOutput = Output.allCases.filter { perOutput[$0.rank].total > 0 }
            .map { OutputReach(output: $0, reach: perOutput[$0.rank]) }
        templates = Self.templateDiffs(settings, old: old.files, new: new.source.files)
    }

    /// The texts of every template whose digest a profile change shows, diffed.
    private static func templateDiffs(_ settings: [ZonePlan.Change], old: [String: String],
                                      new: [String: String]) -> [TemplateDiff] {
        let prefix = "template "
        let paths = Set(settings.filter { $0.kind == "profile" }.flatMap(\.fields).map(\.field)
            .filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) })
        return paths.sorted().compactMap { path in
            let diff = UnifiedDiff.lines(old[path] ?? "", new[path] ?? "", oldName: "a/\(path)", newName: "b/\(path)")
            return diff.isEmpty ? nil : TemplateDiff(path: path, diff: diff)
        }
    }
}

extension BlastRadius.Reach {
    /// "1200 hosts, 40 BMCs": the kinds reached, hosts first; "no machine" when none.
    public var phrase: String {
        let parts = [(hosts, "host", "hosts"), (bmcs, "BMC", "BMCs"), (switches, "switch", "switches")]
            .filter { $0.0 > 0 }.map { "\($0.0) \($0.0 == 1 ? $0.1 : $0.2)" }
        return parts.isEmpty ? "no machine" : parts.joined(separator: ", ")
    }
}

extension BlastRadius {
    var nilIfEmpty: BlastRadius? { isEmpty ? nil : self }
}
