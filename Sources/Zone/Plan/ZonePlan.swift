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

extension ZonePlan {
    /// "3 added, 1 changed, 0 removed": how history describes a revision.
    public var summaryLine: String { "\(summary.add) added, \(summary.change) changed, \(summary.remove) removed" }
}
