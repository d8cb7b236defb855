import Boot
import Prometheus
import Store

/// The DHCP engine's durable store with each commit timed into `zoneboot_dhcp4_commit_duration_seconds`:
/// the engine stays unaware of metrics.
public struct TimedLeaseStore: DurableLeaseStore {
    let base: any DurableLeaseStore
    let durations: DurationHistogram

    public init(_ base: any DurableLeaseStore, durations: DurationHistogram) {
        self.base = base
        self.durations = durations
    }

    public func loadLeases() throws -> [Lease] { try base.loadLeases() }

    public func commit(leases: [Lease], events: [ZoneEvent]) throws {
        let started = ContinuousClock.now
        defer { durations.record(ContinuousClock.now - started) }
        try base.commit(leases: leases, events: events)
    }
}
