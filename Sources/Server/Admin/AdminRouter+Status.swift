import AdminAPI
import Foundation
import Hummingbird
import Store

/// What `GET /v1/status` reads, each when asked: nothing is kept for it but the problems ring.
public struct StatusSources: Sendable {
    public var startedAt: Date
    /// Every bound listener (empty until all are bound).
    public var listeners: @Sendable () -> [ServerStatus.Listener]
    public var counters: ServerCounters
    public var outbox: (any EventOutbox)?
    public var problems: RecentProblems

    public init(startedAt: Date, listeners: @escaping @Sendable () -> [ServerStatus.Listener], counters: ServerCounters,
                outbox: (any EventOutbox)?, problems: RecentProblems) {
        self.startedAt = startedAt
        self.listeners = listeners
        self.counters = counters
        self.outbox = outbox
        self.problems = problems
    }

    /// The status as of `now`.
    func status(running: RunningRevision, now: Date) async throws -> ServerStatus {
        let dhcp = counters.dhcp.snapshot, tftp = counters.tftp.snapshot, hooks = counters.hooks.snapshot
        var dropped = dhcp.dropped
        for (reason, count) in dhcp.malformed { dropped["malformed: \(reason)", default: 0] += count }
        let waiting = try await outbox?.count(.undelivered), deadLetters = try await outbox?.count(.dead)
        return ServerStatus(
            running: running, startedAt: ISO8601DateFormatter().string(from: startedAt),
            uptimeSeconds: max(0, Int(now.timeIntervalSince(startedAt))), listeners: listeners(),
            dhcp: .init(received: dhcp.received, answered: dhcp.sent.values.reduce(0, +), dropped: dropped.values.reduce(0, +),
                        droppedByReason: dropped, commitFailures: dhcp.commitFailures),
            tftp: .init(transfersStarted: tftp.transfersStarted, transfersActive: tftp.transfersActive,
                        refused: tftp.refused.values.reduce(0, +)),
            hooks: .init(runs: hooks.runs, failures: hooks.failures, waiting: waiting ?? 0,
                         deadLetters: deadLetters ?? 0),
            recentProblems: problems.latest)
    }
}

/// `GET /v1/status` (a read): `ServerStatus`.
func addStatusRoute(to reads: RouterGroup<AdminRequestContext>, administrator: ZoneAdministrator, sources: StatusSources) {
    reads.get("/v1/status") { _, _ in
        let running = await administrator.current
        do { return json(try await sources.status(running: running, now: Date())) } catch {
            throw AdminHTTPError(.internalServerError, APIError(error: "\(error)"))
        }
    }
}
