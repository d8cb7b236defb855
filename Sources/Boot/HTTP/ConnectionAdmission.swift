/// Which TCP connections an HTTP listener keeps, so that strangers holding connections
/// open cannot keep a host from fetching its files:
///
/// - one source address holds at most `maxPerSource` connections; more are refused;
/// - all sources together hold at most `maxConnections`; at that cap a new connection
///   takes the place of the one that has been idle longest (connected or kept alive with
///   no request in progress), and is refused only when every connection is busy.
///
/// A host sends its request as soon as it connects, so the idle connections evicted first
/// are the ones that sat longest without asking anything. Time is a caller's monotonic
/// clock in any unit; the policy only compares instants.
public struct ConnectionAdmission<Connection: Hashable, Source: Hashable> {
    public enum Decision: Equatable {
        case admitted
        /// Admitted in place of this connection, which the caller closes.
        case admittedEvicting(Connection)
        /// Its source already holds `maxPerSource` connections.
        case refusedSourceFull
        /// `maxConnections` are open and none of them is idle.
        case refusedFull
    }

    public let maxConnections: Int
    public let maxPerSource: Int
    private var open: [Connection: Entry] = [:]
    private var perSource: [Source: Int] = [:]

    private struct Entry {
        let source: Source
        /// Since when no request is in progress; nil while one is.
        var idleSince: UInt64?
    }

    /// Limits below 1 are taken as 1: a listener always serves someone.
    public init(maxConnections: Int, maxPerSource: Int) {
        self.maxConnections = max(maxConnections, 1)
        self.maxPerSource = max(maxPerSource, 1)
    }

    public var count: Int { open.count }

    public func connections(from source: Source) -> Int { perSource[source, default: 0] }

    /// A connection just accepted; it starts idle (no request yet). Admitting a connection
    /// already admitted changes nothing.
    public mutating func admit(_ connection: Connection, from source: Source, now: UInt64) -> Decision {
        guard open[connection] == nil else { return .admitted }
        guard perSource[source, default: 0] < maxPerSource else { return .refusedSourceFull }
        var evicted: Connection?
        if open.count >= maxConnections {
            guard let victim = longestIdle() else { return .refusedFull }
            closed(victim)
            evicted = victim
        }
        open[connection] = Entry(source: source, idleSince: now)
        perSource[source, default: 0] += 1
        return evicted.map(Decision.admittedEvicting) ?? .admitted
    }

    /// A request began arriving: the connection is not evicted until it is idle again.
    public mutating func busy(_ connection: Connection) {
        open[connection]?.idleSince = nil
    }

    /// The last answer went out and no request is in progress.
    public mutating func idle(_ connection: Connection, now: UInt64) {
        guard open[connection] != nil, open[connection]?.idleSince == nil else { return }
        open[connection]?.idleSince = now
    }

    /// The connection is gone (closed by either side, or evicted); unknown ones are ignored.
    public mutating func closed(_ connection: Connection) {
        guard let entry = open.removeValue(forKey: connection) else { return }
        let remaining = perSource[entry.source, default: 1] - 1
        perSource[entry.source] = remaining > 0 ? remaining : nil
    }

    private func longestIdle() -> Connection? {
        var oldest: (connection: Connection, since: UInt64)?
        for (connection, entry) in open {
            guard let since = entry.idleSince else { continue }
            if let current = oldest, current.since <= since { continue }
            oldest = (connection, since)
        }
        return oldest?.connection
    }
}
