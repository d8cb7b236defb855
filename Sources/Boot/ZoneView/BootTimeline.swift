/// The steps of one network boot, in the order a host takes them.
public enum BootPhase: String, Sendable, Codable, CaseIterable, Comparable {
    /// A lease granted (not a renewal): the boot's first step.
    case dhcpAck = "dhcp_ack"
    /// The boot loader fetched over TFTP or HTTP (`/loaders/`, a TFTP transfer).
    case loaderFetched = "loader_fetched"
    /// The host's boot script or installer configuration fetched (`/hosts/<name>/<file>`).
    case scriptFetched = "script_fetched"
    /// `/hosts/<name>/booted`: the script ran to its end.
    case booted
    /// The host's hand-off data fetched: Ansible variables, Chef node JSON or bootstrap secrets.
    case handoff

    public static func < (a: BootPhase, b: BootPhase) -> Bool { a.rank < b.rank }

    private var rank: Int {
        switch self {
        case .dhcpAck: 0
        case .loaderFetched: 1
        case .scriptFetched: 2
        case .booted: 3
        case .handoff: 4
        }
    }
}

/// One host's current boot: the phases reached with their times, and a few recent notes
/// for the zone view's side panel. Pure: the server keeps one per host (`BootTimelineBook`)
/// and feeds it what its listeners saw.
public struct BootTimeline: Sendable, Hashable, Codable {
    public struct Step: Sendable, Hashable, Codable {
        public var phase: BootPhase
        /// Milliseconds since the epoch.
        public var atMs: Int64
        /// What was fetched or granted (`undionly.kpxe over tftp`, an address).
        public var detail: String
    }

    /// The machine the boot is of (`aa:bb:..`): a timeline of another machine does not
    /// colour a location its successor now holds.
    public var mac: String
    public private(set) var steps: [Step] = []
    /// The MAC this machine replaced at its location, when it did.
    public var replacedMAC: String?
    /// The newest notes first, at most `noteLimit`.
    public private(set) var notes: [Step] = []
    public private(set) var updatedMs: Int64 = 0

    public static let noteLimit = 12

    public init(mac: String) { self.mac = mac }

    public func reached(_ phase: BootPhase) -> Bool { steps.contains { $0.phase == phase } }

    /// The furthest phase reached.
    public var latest: BootPhase? { steps.last?.phase }

    /// Records `phase` at `atMs`. Returns the phase's duration in milliseconds (from the
    /// step before it) when it is newly reached and has a step before it; nil otherwise (a
    /// second script file, a marker fetched again, the first step seen). A phase is recorded
    /// once per boot: only its first time counts.
    @discardableResult
    public mutating func reach(_ phase: BootPhase, atMs: Int64, detail: String) -> Int64? {
        note(phase, atMs: atMs, detail: detail)
        guard !reached(phase) else { return nil }
        let before = steps.last { $0.phase < phase }
        steps.append(Step(phase: phase, atMs: atMs, detail: detail))
        steps.sort { $0.phase < $1.phase }
        return before.map { max(0, atMs - $0.atMs) }
    }

    /// A line for the side panel's recent events, kept even when the phase is not new.
    public mutating func note(_ phase: BootPhase, atMs: Int64, detail: String) {
        notes.insert(Step(phase: phase, atMs: atMs, detail: detail), at: 0)
        if notes.count > Self.noteLimit { notes.removeLast(notes.count - Self.noteLimit) }
        updatedMs = max(updatedMs, atMs)
    }

    /// A new boot of the same record: the steps start over, the notes stay.
    mutating func restart() {
        steps.removeAll()
        replacedMAC = nil
    }
}
