import Zone

/// Where each identity of a revision sits in the zone view, as parallel arrays in the
/// revision's order (the order of `LocationState.of(_:leases:timelines:now:)`): compact
/// for 20,500 identities, and sent once per revision; states then go as one character each.
public struct ZoneViewLayout: Sendable, Codable, Equatable {
    public var zone: String
    public var pods: [String]
    /// Per identity: its name, index into `pods`, rack and unit (0 when the zone gives
    /// none, e.g. a switch) and kind (`h` host, `b` BMC, `s` switch). Locations are the
    /// side panel's (`/v1/zone-view/hosts/<name>`): 20,500 of them would double the snapshot.
    public var names: [String]
    public var pod: [Int]
    public var rack: [Int]
    public var unit: [Int]
    public var kinds: String

    public init(_ revision: ZoneRevision) {
        zone = revision.zoneName
        var podIndex: [String: Int] = [:]
        var pods: [String] = [], names: [String] = [], pod: [Int] = [], rack: [Int] = [], unit: [Int] = []
        var kinds = ""
        for identity in revision.identities {
            let podName = identity.location.pod
            if podIndex[podName] == nil {
                podIndex[podName] = pods.count
                pods.append(podName)
            }
            names.append(identity.name)
            pod.append(podIndex[podName] ?? 0)
            rack.append(identity.rack ?? 0)
            unit.append(identity.unit ?? 0)
            let kind: Character = switch identity.kind {
            case .host: "h"
            case .bmc: "b"
            case .switch: "s"
            }
            kinds.append(kind)
        }
        self.pods = pods
        self.names = names
        self.pod = pod
        self.rack = rack
        self.unit = unit
        self.kinds = kinds
    }

    /// The states as the snapshot carries them: one `LocationState.code` per identity.
    public static func codes(_ states: [LocationState]) -> String { String(states.map(\.code)) }

    /// What changed from `old` to `new` as (index, code) pairs; nil when they are not of one
    /// layout (lengths differ): then a snapshot is due, not a delta.
    public static func changes(from old: [LocationState], to new: [LocationState]) -> [(index: Int, code: Character)]? {
        guard old.count == new.count else { return nil }
        var changes: [(index: Int, code: Character)] = []
        for index in new.indices where old[index] != new[index] { changes.append((index, new[index].code)) }
        return changes
    }
}
