import Zone

/// Where each identity of a revision sits in the zone view, as parallel arrays in the
/// revision's order (the order of `LocationState.of(_:leases:timelines:now:)`): compact
/// for 20,500 identities, and sent once per revision; states then go as one character each.
public struct ZoneViewLayout: Sendable, Codable, Equatable {
    public var zone: String
    public var pods: [String]
    /// Per identity: its name, index into `pods`, rack and unit (0 when the zone gives
    /// none, e.g. a switch), kind (`h` host, `b` BMC, `s` switch) and location.
    public var names: [String]
    public var pod: [Int]
    public var rack: [Int]
    public var unit: [Int]
    public var kinds: String
    public var locations: [String]

    public init(_ revision: ZoneRevision) {
        zone = revision.zoneName
        var podIndex: [String: Int] = [:]
        var pods: [String] = []
        (names, pod, rack, unit, locations) = ([], [], [], [], [])
        var kinds = ""
        for identity in revision.identities {
            let index = podIndex[identity.location.pod] ?? {
                pods.append(identity.location.pod)
                podIndex[identity.location.pod] = pods.count - 1
                return pods.count - 1
            }()
            names.append(identity.name)
            pod.append(index)
            rack.append(identity.rack ?? 0)
            unit.append(identity.unit ?? 0)
            locations.append(identity.location.description)
            kinds.append(switch identity.kind {
            case .host: "h"
            case .bmc: "b"
            case .switch: "s"
            })
        }
        self.pods = pods
        self.kinds = kinds
    }

    /// The states as the snapshot carries them: one `LocationState.code` per identity.
    public static func codes(_ states: [LocationState]) -> String { String(states.map(\.code)) }

    /// What changed from `old` to `new` as (index, code) pairs; nil when they are not of one
    /// layout (lengths differ): then a snapshot is due, not a delta.
    public static func changes(from old: [LocationState], to new: [LocationState]) -> [(index: Int, code: Character)]? {
        guard old.count == new.count else { return nil }
        return zip(old, new).enumerated().compactMap { index, pair in pair.0 == pair.1 ? nil : (index, pair.1.code) }
    }
}
