import Boot

/// Durable leases and the events that describe them.
///
/// `commit` makes a batch durable in one transaction before it returns: the server
/// sends no ACK for a lease that a crash could lose, and writes events in the same
/// transaction as the leases they describe (the hooks' outbox).
public protocol LeaseStore: Sendable {
    func loadLeases() throws -> [Lease]
    func commit(leases: [Lease], events: [DHCPEvent]) throws
}
