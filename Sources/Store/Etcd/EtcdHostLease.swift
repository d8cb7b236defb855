import Etcd
import Synchronization

/// When a host's etcd lease (`EtcdHostLease`) is granted and renewed: pure, so the rule is tested without etcd.
public struct EtcdLeaseSchedule: Sendable, Equatable {
    public enum Step: Sendable, Equatable { case grant, renew(Int64), keep(Int64) }

    public let ttlSeconds: Int64
    /// The lease in use (nil: none yet, or it expired).
    public private(set) var lease: Int64?
    /// When it was last granted or renewed (ms).
    public private(set) var renewedMs: Int64 = .min

    public init(ttlSeconds: Int64) { self.ttlSeconds = max(2, ttlSeconds) }

    /// Renewed every third of the TTL: two renewals can fail before the lease expires.
    public func next(nowMs: Int64) -> Step {
        guard let lease else { return .grant }
        return nowMs - renewedMs >= ttlSeconds * 1000 / 3 ? .renew(lease) : .keep(lease)
    }

    /// etcd's answer to a grant or a renewal: a TTL of 0 is a lease that expired meanwhile
    /// (every claim under it is gone: the next step grants a new one).
    public mutating func answered(_ answer: EtcdLease, nowMs: Int64) {
        guard answer.ttl > 0 else {
            lease = nil
            return
        }
        lease = answer.id
        renewedMs = nowMs
    }

    /// A renewal that failed for longer than the TTL: the lease is taken as lost.
    public mutating func failed(nowMs: Int64) {
        if lease != nil, nowMs - renewedMs >= ttlSeconds * 1000 { lease = nil }
    }
}

/// This host's one etcd lease: its discovery blocks (`EtcdDiscoveryCoordinator`) and its
/// outbox claims (`EtcdEventOutbox`) are attached to it, so a host that dies lets go of both
/// after one TTL, and a clean stop of both at once. Granted on first use, renewed as its users
/// ask for it (every third of the TTL), granted anew when it expired (whatever was attached
/// is gone then: other hosts may take the events and blocks over).
///
/// One grant or renewal at a time: callers that find one under way wait for its answer, so
/// two users starting together never make two leases.
public final class EtcdHostLease: Sendable {
    private struct State {
        var schedule: EtcdLeaseSchedule
        var exchange: Task<Int64, any Error>?
        /// Revoked at a clean stop: never granted again.
        var closed = false
    }

    private let leasing: any EtcdLeasing
    private let state: Mutex<State>

    public init(leasing: any EtcdLeasing, ttlSeconds: Int64) {
        self.leasing = leasing
        self.state = Mutex(State(schedule: EtcdLeaseSchedule(ttlSeconds: ttlSeconds)))
    }

    public var ttlSeconds: Int64 { state.withLock { $0.schedule.ttlSeconds } }

    /// When the lease was last granted or renewed (ms, as given to `current`), nil before the
    /// first: a user that must stop before the lease may have expired reads it.
    public var renewedMs: Int64? { state.withLock { $0.schedule.lease == nil ? nil : $0.schedule.renewedMs } }

    /// The lease to attach keys to, renewed if due; throws when etcd cannot grant or renew it.
    public func current(nowMs: Int64) async throws(EtcdError) -> Int64 {
        enum Next { case lease(Int64), wait(Task<Int64, any Error>) }
        let next: Next = try state.withLock { state throws(EtcdError) in
            guard !state.closed else { throw EtcdError.server(code: 5, message: "this host's etcd lease was revoked at stop") }
            if let running = state.exchange { return .wait(running) }
            let step = state.schedule.next(nowMs: nowMs)
            if case .keep(let lease) = step { return .lease(lease) }
            let task = Task { [leasing] () async throws -> Int64 in
                try await self.exchange(step, nowMs: nowMs, leasing: leasing)
            }
            state.exchange = task
            return .wait(task)
        }
        let exchange: Task<Int64, any Error>
        switch next {
        case .lease(let lease): return lease
        case .wait(let task): exchange = task
        }
        do {
            return try await exchange.value
        } catch let error as EtcdError {
            throw error
        } catch {
            throw EtcdError.unreachable(endpoints: [], lastError: "\(error)")
        }
    }

    private func exchange(_ step: EtcdLeaseSchedule.Step, nowMs: Int64, leasing: any EtcdLeasing) async throws -> Int64 {
        defer { state.withLock { $0.exchange = nil } }
        do {
            switch step {
            case .keep(let lease):
                return lease
            case .grant:
                let answer = try await leasing.grantLease(ttlSeconds: ttlSeconds)
                state.withLock { $0.schedule.answered(answer, nowMs: nowMs) }
            case .renew(let lease):
                let answer = try await leasing.keepAlive(lease: lease)
                state.withLock { $0.schedule.answered(answer, nowMs: nowMs) }
            }
        } catch {
            state.withLock { $0.schedule.failed(nowMs: nowMs) }
            throw error
        }
        if let lease = state.withLock({ $0.schedule.lease }) { return lease }
        // Renewed too late: granted anew at once.
        let answer = try await leasing.grantLease(ttlSeconds: ttlSeconds)
        state.withLock { $0.schedule.answered(answer, nowMs: nowMs) }
        return answer.id
    }

    /// At a clean stop: what is attached goes at once, not after the TTL; no lease is granted after.
    public func revoke() async {
        guard let lease = state.withLock({ state -> Int64? in
            state.closed = true
            return state.schedule.lease
        }) else { return }
        try? await leasing.revokeLease(lease)
    }
}
