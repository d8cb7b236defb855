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
    public var changes: Changes
    public var summary: Summary
    /// What the setting changes do to machines, and template diffs (`BlastRadius`); nil
    /// against an empty store, or when nothing beyond the listed identities changes.
    public var blastRadius: BlastRadius?

    public var hasChanges: Bool { !changes.isEmpty }

    /// Plans between two loaded revisions. Identities are compared as values, walking both
    /// revisions in location order: only those that differ are flattened into fields, so a
    /// one-host change to 200,000 identities flattens two of them, not 400,000.
    public init(from old: ZoneRevision?, fromRevision: Int?, to new: ZoneRevision) {
        self.init(against: old.map { PlanBase($0) }, fromRevision: fromRevision, to: new)
    }

    /// Plans against a base loaded for the plan (`PlanBase.load(source:reusing:)`), as
    /// `init(from:fromRevision:to:)` plans against the revision it stands for.
    public init(against old: PlanBase?, fromRevision: Int?, to new: ZoneRevision) {
        let settings = Self.changes(from: old.map { PlanResources.settings(of: $0.spec, files: $0.files) } ?? [:],
                                    to: PlanResources.settings(of: new))
        let before = old?.identities ?? []
        let same = old?.samePods ?? []
        let after = same.isEmpty ? new.identities : ZoneRevision.identities(new.identities, ofPods: { !same.contains($0) })
        // The identities that differ are kept as their positions on both sides, in location
        // order, the plan's order (only the settings are sorted): each change is written when
        // it is read (`Changes`).
        var positions: [Changes.Position] = []
        Self.walk(before, after) { i, j in
            if let i, let j, !PlanResources.identityDiffers(before[i], after[j]) { return }
            positions.append(Changes.Position(before: i.map(Int32.init) ?? -1, after: j.map(Int32.init) ?? -1))
        }
        self.init(zone: new.zoneName, fromRevision: fromRevision,
                  ordered: Changes(written: settings.sorted(by: PlanResources.order),
                                   identities: .init(before: before, after: after, positions: positions)))
        if let old { blastRadius = BlastRadius(from: old, to: new, changes: self.changes.settings).nilIfEmpty }
    }

    /// Calls `body` for each location whose identity is not the same in `before` and `after`
    /// (both in location order), in location order: with its position before (nil when added)
    /// and after (nil when removed).
    private static func walk(_ before: [Identity], _ after: [Identity], _ body: (Int?, Int?) -> Void) {
        var i = 0, j = 0
        while i < before.count || j < after.count {
            // Mostly the same location on both sides: equal strings are quicker to tell than the
            // order of different ones (ports compare by their numbers).
            if i < before.count, j < after.count, before[i].location == after[j].location {
                if before[i] != after[j] { body(i, j) }
                i += 1
                j += 1
            } else if j == after.count || (i < before.count && before[i].location < after[j].location) {
                body(i, nil)
                i += 1
            } else if i == before.count || after[j].location < before[i].location {
                body(nil, j)
                j += 1
            } else {
                // Locations that order neither way though their text differs (ports `swp01`, `swp1`).
                if before[i] != after[j] { body(i, j) }
                i += 1
                j += 1
            }
        }
    }

    /// Plans between flattened revisions.
    public init(from old: PlanSnapshot?, fromRevision: Int?, to new: PlanSnapshot) {
        self.init(zone: new.zone, fromRevision: fromRevision,
                  ordered: Changes(Self.changes(from: old?.resources ?? [:], to: new.resources).sorted(by: PlanResources.order)))
    }

    /// The changes between two sets of flattened resources, by key.
    private static func changes(from before: [String: PlanResource], to after: [String: PlanResource]) -> [Change] {
        Set(before.keys).union(after.keys).compactMap { change($0, from: before[$0], to: after[$0]) }
    }

    /// One resource's change, or nil when it did not change.
    static func change(_ key: String, from a: PlanResource?, to b: PlanResource?) -> Change? {
        guard let resource = b ?? a else { return nil }
        let fields = PlanResources.diff(a?.fields ?? [], b?.fields ?? [])
        let action: Action
        switch (a, b) {
        case (nil, _): action = .add
        case (_, nil): action = .remove
        default:
            guard !fields.isEmpty else { return nil }
            action = .change
        }
        return Change(action: action, kind: resource.kind, key: key, name: resource.name, pod: resource.pod,
                      switch: resource.switch, port: resource.port, fields: fields)
    }

    /// `changes` in the plan's order (`PlanResources.order`).
    private init(zone: String, fromRevision: Int?, ordered changes: Changes) {
        self.zone = zone
        self.fromRevision = fromRevision
        self.changes = changes
        summary = changes.summary
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

extension ZonePlan {
    /// "3 added, 1 changed, 0 removed": how history describes a revision.
    public var summaryLine: String { summary.line }

    /// The summary line of the plan against an empty store, without making it: every setting
    /// and identity is added. (Made, it was 200,000 flattened changes at a server's first start
    /// with 100,000 hosts, for one line of history.)
    public static func summaryLine(ofFirst revision: ZoneRevision) -> String {
        Summary(add: PlanResources.settings(of: revision).count + revision.identities.count).line
    }
}

extension ZonePlan.Summary {
    var line: String { "\(add) added, \(change) changed, \(remove) removed" }
}
