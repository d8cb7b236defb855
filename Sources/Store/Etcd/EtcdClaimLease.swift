import Etcd
import Synchronization

/// When a host's claim lease is granted and renewed: pure, so the rule is tested without etcd.
public struct EtcdLeaseSchedule: Sendable, Equatable {
    public enum Step: Sendable, Equatable { case grant, renew(Int64), keep(Int64) }

    public let ttlSeconds: Int64
    /// The lease in use (nil: none yet, or it expired).
    public private(set) var lease: Int64?
    /// When it was last granted or renewed (ms).
    private var renewedMs: Int64 = .min

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

/// The etcd lease this host's outbox claims are attached to: granted on first use, renewed
/// as the hook runner polls, granted anew when it expired (its claims are then gone and other
/// hosts may take the events over).
public final class EtcdClaimLease: Sendable {
    private let leasing: any EtcdLeasing
    private let schedule: Mutex<EtcdLeaseSchedule>

    public init(leasing: any EtcdLeasing, ttlSeconds: Int64) {
        self.leasing = leasing
        self.schedule = Mutex(EtcdLeaseSchedule(ttlSeconds: ttlSeconds))
    }

    public var ttlSeconds: Int64 { schedule.withLock { $0.ttlSeconds } }

    /// The lease to claim under, renewed if due; throws when etcd cannot grant one.
    public func current(nowMs: Int64) async throws(EtcdError) -> Int64 {
        let step = schedule.withLock { $0.next(nowMs: nowMs) }
        do {
            switch step {
            case .keep(let lease):
                return lease
            case .grant:
                let answer = try await leasing.grantLease(ttlSeconds: ttlSeconds)
                schedule.withLock { $0.answered(answer, nowMs: nowMs) }
            case .renew(let lease):
                let answer = try await leasing.keepAlive(lease: lease)
                schedule.withLock { $0.answered(answer, nowMs: nowMs) }
            }
        } catch {
            schedule.withLock { $0.failed(nowMs: nowMs) }
            throw error
        }
        if let lease = schedule.withLock({ $0.lease }) { return lease }
        // Renewed too late: granted anew at once.
        let answer = try await leasing.grantLease(ttlSeconds: ttlSeconds)
        schedule.withLock { $0.answered(answer, nowMs: nowMs) }
        return answer.id
    }

    /// At a clean stop: the claims go at once, not after the TTL.
    public func revoke() async {
        guard let lease = schedule.withLock({ $0.lease }) else { return }
        try? await leasing.revokeLease(lease)
    }
}
