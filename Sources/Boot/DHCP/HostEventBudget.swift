import Zone

/// How many host.* events (replaced, discovered, miscabled) one port may write a minute.
///
/// Each of them lands in the outbox and may start hooks (a CMDB update, a Redfish
/// registration). A machine on one port that cycles its MAC or its vendor class would make
/// one per exchange; a real swap makes one. Past the budget the lease is still granted and
/// stored, only the event is left out, and counted.
public struct HostEventBudget: Sendable {
    /// Events per port per minute; 0 means no cap.
    public var perPortPerMinute: Int
    private var minute: Int64 = .min
    private var spent: [String: Int] = [:]

    public init(perPortPerMinute: Int = 6) {
        self.perPortPerMinute = perPortPerMinute
    }

    /// Takes the host.* events out of `events` that their port cannot afford; returns how many.
    public mutating func admit(_ events: inout [ZoneEvent], now: Int64) -> Int {
        guard perPortPerMinute > 0, events.contains(where: \.isAboutAHost) else { return 0 }
        if now / 60 != minute {
            minute = now / 60
            spent.removeAll(keepingCapacity: true)
        }
        let before = events.count
        events.removeAll { event in
            guard event.isAboutAHost else { return false }
            // A discovery lease's port is where it asked from; a relay that names no port
            // shares its pod's budget.
            let port = event.location?.description ?? event.pod
            let count = spent[port, default: 0] + 1
            spent[port] = count
            return count > perPortPerMinute
        }
        return before - events.count
    }
}

extension ZoneEvent {
    var isAboutAHost: Bool { [.hostReplaced, .hostDiscovered, .hostMiscabled].contains(type) }
}
