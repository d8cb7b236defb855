import Boot

/// Durable leases and the events that describe them.
///
/// `commit` makes a batch durable in one transaction before it returns: the server
/// sends no ACK for a lease that a crash could lose, and writes events in the same
/// transaction as the leases they describe (the hooks' outbox).
public protocol DurableLeaseStore: Sendable {
    func loadLeases() throws -> [Lease]
    func commit(leases: [Lease], events: [ZoneEvent]) throws
}

/// Bound leases past their expiry, reported once each: what the hook runner's expiry sweep
/// reads, so that it can be driven without a database.
public protocol LeaseExpiryReporting: Sendable {
    /// Marks up to `limit` bound leases past their expiry (not reported for that expiry yet)
    /// as reported, writing `event`'s result for each (nil: none) in the same transaction.
    /// Returns how many events were written.
    @discardableResult
    func reportExpiredLeases(now: Int64, limit: Int, event: (Lease) -> ZoneEvent?) throws -> Int
}

extension SQLiteLeaseStore: LeaseExpiryReporting {}
