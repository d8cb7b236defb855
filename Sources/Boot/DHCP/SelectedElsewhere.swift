/// Exchanges whose client chose another server's offer (a ToR pair: both hosts get every
/// DISCOVER and REQUEST through the relay), remembered briefly so that this exchange's own
/// DISCOVER, received before that REQUEST but decided after it, is not offered an address.
///
/// Why it happens: the admission queue decides REQUESTs before DISCOVERs under load, so a
/// loaded host can see a client's REQUEST (naming the other host) before the DISCOVER that
/// began the exchange; offering then would hold an address for a client that has moved on,
/// for the whole offer hold (60 s), and under a storm those held addresses empty the host's
/// blocks. Matched on the client's MAC and xid, and only for a DISCOVER received earlier than
/// the REQUEST: a client that starts over afterwards (even with the same xid) is answered.
///
/// Pure and bounded: at most `capacity` exchanges, the oldest forgotten first; an entry older
/// than `horizonNs` can no longer matter (the queue sheds what waited that long) and goes.
public struct SelectedElsewhere: Sendable {
    public static let capacity = 8192
    /// Longer than anything waits in the admission queue before it is shed as stale.
    public static let horizonNs: Int64 = 10_000_000_000

    private struct Exchange: Hashable {
        var mac: [UInt8]
        var xid: UInt32
    }

    /// Exchange → when its REQUEST naming another server was received (monotonic ns).
    private var selected: [Exchange: Int64] = [:]

    public init() {}

    public var count: Int { selected.count }

    /// The client's REQUEST, received at `receivedAt`, named another server.
    public mutating func record(mac: [UInt8], xid: UInt32, receivedAt: Int64) {
        if selected.count >= Self.capacity {
            selected = selected.filter { receivedAt - $0.value < Self.horizonNs }
            if selected.count >= Self.capacity {
                let kept = selected.sorted { $0.value > $1.value }.prefix(Self.capacity / 2)
                selected = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
            }
        }
        let exchange = Exchange(mac: mac, xid: xid)
        selected[exchange] = max(selected[exchange] ?? .min, receivedAt)
    }

    /// A DISCOVER received at `receivedAt` began an exchange its client has already settled
    /// with another server.
    public func overtakes(mac: [UInt8], xid: UInt32, receivedAt: Int64) -> Bool {
        guard let chosenAt = selected[Exchange(mac: mac, xid: xid)] else { return false }
        return receivedAt < chosenAt
    }
}
