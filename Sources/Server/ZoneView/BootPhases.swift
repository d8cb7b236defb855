import Addressing
import Boot
import Foundation
import Prometheus
import Synchronization

/// Each host's boot as the listeners see it (`BootTimelineBook`, in memory, bounded), with
/// each phase's duration into `zoneboot_boot_phase_seconds{phase}`. Fed by the committed
/// leases (the DHCP ACK), the boot HTTP router and TFTP (loader, script, `booted`, hand-off);
/// read by the zone view. Lost on restart, like any in-memory timeline: leases are not.
public final class BootPhases: Sendable {
    private let book: Mutex<BootTimelineBook>
    private let leases: CommittedLeases
    private let histograms: [BootPhase: DurationHistogram]
    /// Bumped on every change a view could show (a lease or a step): the zone view
    /// recomputes its states only when this moved.
    private let changes = Atomic<Int>(0)

    public init(leases: CommittedLeases, metrics: ServerMetrics?, limit: Int = 100_000) {
        book = Mutex(BootTimelineBook(limit: limit))
        self.leases = leases
        histograms = metrics?.bootPhaseHistograms ?? [:]
        leases.observe { [weak self] committed in self?.committed(committed) }
    }

    /// The number of changes so far.
    public var version: Int { changes.load(ordering: .acquiring) }

    public func timeline(of host: String) -> BootTimeline? { book.withLock { $0[host] } }

    /// Every host's timeline at once (one lock), for computing every state.
    public var timelines: [String: BootTimeline] { book.withLock { $0.timelines } }

    func committed(_ committed: [CommittedLeases.Change]) {
        let atMs = Self.nowMs()
        book.withLock { book in
            for change in committed { book.committed(change.lease, previous: change.previous, atMs: atMs) }
        }
        changes.add(1, ordering: .releasing)
    }

    /// The holder of `client`'s lease fetched what `phase` stands for. Nothing is recorded
    /// for a client that holds no active lease of an identity.
    public func fetched(_ phase: BootPhase, from client: IPv4Address, detail: String) {
        let atMs = Self.nowMs()
        guard let lease = leases.lease(address: client), let host = lease.name, lease.isActive(at: atMs / 1000) else { return }
        let measured = book.withLock { $0.fetched(phase, host: host, mac: MAC.text(lease.mac), atMs: atMs, detail: detail) }
        changes.add(1, ordering: .releasing)
        if let measured { histograms[measured.phase]?.record(.milliseconds(measured.milliseconds)) }
    }

    private static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
