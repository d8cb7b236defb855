import Boot
import Etcd
import Foundation
import Synchronization
import Zone

/// The hook outbox shared by every host of a zone in etcd (`--etcd`): each event's hooks run
/// on one host at a time, with one idempotency key wherever they run.
///
/// - Events are written as without etcd: in the host's SQLite outbox, in the transaction of the
///   leases they describe (an ACK never waits for etcd). Each poll hands the host's new events
///   to etcd, 50 to a transaction, each created only if absent, then marks them handed over
///   locally. etcd out of reach: they wait in the local outbox, due again a second later, and
///   nothing is lost; events no hook subscribes to are settled locally and never reach etcd.
/// - A host claims an event with a transaction that creates its claim key attached to the
///   host's etcd lease, only if no claim exists and its due state is unchanged; it runs the
///   hooks, then records the outcome only if the claim is still its own. A host that dies
///   mid-hook stops renewing its lease: after the TTL the claim is gone and another host takes
///   the event (the next try, same key). A receiver that counts by key sees each effect once.
/// - zone.applied is written by the revision's own transaction (`EtcdRevisionStore`).
public final class EtcdEventOutbox: EventOutbox {
    /// A claim this host holds, until its try is recorded.
    private struct Claimed {
        var name: String
        var record: EtcdOutboxEvent
        var due: EtcdOutboxDue
        var lease: Int64
    }

    private struct State {
        var claimed: [Int64: Claimed] = [:]
        /// Tries that ended but could not be recorded yet (etcd out of reach): recorded first next time.
        var unrecorded: [DeliveryResult] = []
        /// No etcd poll before this (ms): nothing was due at the last one.
        var nextPollMs: Int64 = .min
        /// etcd failures are reported (thrown) once per `quietMs`, not on every poll.
        var quietUntilMs: Int64 = .min
    }

    /// How long after finding nothing due the shared folders are read again.
    public static let idlePollMs: Int64 = 100
    static let quietMs: Int64 = 30_000

    public let keys: EtcdOutboxKeys
    public let origin: String
    private let local: SQLiteEventOutbox
    private let kv: any EtcdKV
    private let lease: EtcdHostLease
    private let state = Mutex(State())

    /// `origin`: this host's identity in the zone (`EtcdHostIdentity`), naming the events it hands over.
    public init(local: SQLiteEventOutbox, kv: any EtcdKV, lease: EtcdHostLease, keys: EtcdOutboxKeys, origin: String) {
        self.local = local
        self.kv = kv
        self.lease = lease
        self.keys = keys
        self.origin = origin
    }

    /// Claims of an earlier run of this host are attached to its old lease and go with it after
    /// the TTL; the local claims of a handing over that a crash interrupted are made due again.
    public func releaseClaims() throws -> Int { try local.releaseClaims() }

    public func claimDue(nowMs: Int64, limit: Int, settling: Set<HookEvent>) async throws -> [OutboxEntry] {
        do {
            try await handOver(nowMs: nowMs, settling: settling)
            let lease = try await lease.current(nowMs: nowMs)
            guard limit > 0, state.withLock({ nowMs >= $0.nextPollMs }) else { return [] }
            let entries = try await claim(nowMs: nowMs, limit: limit, lease: lease)
            if entries.isEmpty { state.withLock { $0.nextPollMs = nowMs + Self.idlePollMs } }
            return entries
        } catch {
            try report(error, nowMs: nowMs)
            return []
        }
    }

    /// The host's events from its local outbox to etcd (see the type's comment).
    private func handOver(nowMs: Int64, settling: Set<HookEvent>) async throws {
        for _ in 0..<4 {
            let entries = try local.claimDue(nowMs: nowMs, limit: EtcdOutboxPlan.batchLimit, settling: settling)
            guard !entries.isEmpty else { return }
            let named = entries.map { (name: EtcdOutboxKeys.name(origin: origin, localID: $0.id), event: $0.event) }
            do {
                if try await !kv.txn(EtcdOutboxPlan.append(named, nowMs: nowMs, keys: keys)).succeeded {
                    // Some are there already (handed over before a crash): the others one by one.
                    for item in named { _ = try await kv.txn(EtcdOutboxPlan.append([item], nowMs: nowMs, keys: keys)) }
                }
            } catch {
                try local.finish(entries.map { DeliveryResult(id: $0.id, succeeded: [], outcome: .retry(atMs: nowMs + 1000, error: "\(error)")) },
                                 nowMs: nowMs)
                throw error
            }
            try local.finish(entries.map { DeliveryResult(id: $0.id, succeeded: [], outcome: .delivered, note: "handed to etcd") },
                             nowMs: nowMs)
            state.withLock { $0.nextPollMs = .min }
        }
    }

    private func claim(nowMs: Int64, limit: Int, lease: Int64) async throws -> [OutboxEntry] {
        let claims = try await kv.range(EtcdRangeRequest(key: keys.claims, rangeEnd: keys.claims.prefixRangeEnd, keysOnly: true))
        // Polled several times a second while a backlog lasts: a few more than the claimed
        // ones and the free slots, not the whole backlog (in name order: a backlog larger than
        // this is served from its first names on, each host the same).
        let due = try await kv.range(.prefix(keys.due, limit: Int64(claims.kvs.count + 4 * limit + 100)))
        let candidates = due.kvs.compactMap { kv -> EtcdOutboxPlan.Candidate? in
            guard let name = keys.name(of: kv.key, in: keys.due),
                  let state = EtcdOutboxPlan.decode(EtcdOutboxDue.self, kv.value) else { return nil }
            return EtcdOutboxPlan.Candidate(name: name, due: state, modRevision: kv.modRevision)
        }
        let claimed = Set(claims.kvs.compactMap { keys.name(of: $0.key, in: keys.claims) })
        try await releaseOrphans(claims.kvs, lease: lease)
        var entries: [OutboxEntry] = []
        for candidate in EtcdOutboxPlan.claimable(candidates, claimed: claimed, nowMs: nowMs, limit: limit) {
            var answer = EtcdTxnResponse(succeeded: false)
            var failure: EtcdError?
            do {
                answer = try await kv.txn(EtcdOutboxPlan.claim(candidate, host: origin, lease: lease, keys: keys))
            } catch {
                failure = error
            }
            if let failure {
                // The ones claimed so far go to the runner; a claim whose answer was lost is an orphan for the next poll.
                if entries.isEmpty { throw failure }
                break
            }
            // Lost to another host, or changed since it was read: not ours.
            guard answer.succeeded else { continue }
            var due = candidate.due
            due.attempts += 1
            guard case .range(let read)? = answer.responses.last, let stored = read.kvs.first,
                  let record = EtcdOutboxPlan.decode(EtcdOutboxEvent.self, stored.value) else {
                // No hook could read it: a dead letter at once, as the SQLite outbox does.
                due.deadAt = nowMs / 1000
                due.lastError = "the event's record is missing or cannot be decoded"
                _ = try await kv.txn(EtcdTxnRequest(compare: [], success: [
                    .put(EtcdPutRequest(key: keys.due(candidate.name), value: EtcdOutboxPlan.encode(due))),
                    .deleteRange(EtcdDeleteRangeRequest(key: keys.claim(candidate.name)))]))
                continue
            }
            let id = EtcdOutboxPlan.eventID(createRevision: stored.createRevision, batch: record.batch)
            state.withLock { $0.claimed[id] = Claimed(name: candidate.name, record: record, due: due, lease: lease) }
            entries.append(OutboxEntry(id: id, event: record.event, attempt: due.attempts, doneHooks: Set(due.doneHooks)))
        }
        return entries
    }

    /// Claims on this host's lease that it does not know of (a claim that committed while its
    /// answer was lost): released, else they would stay claimed as long as the host lives.
    private func releaseOrphans(_ claims: [EtcdKeyValue], lease: Int64) async throws {
        let known = Set(state.withLock { $0.claimed.values.map(\.name) })
        for claim in claims where claim.lease == lease {
            guard let name = keys.name(of: claim.key, in: keys.claims), !known.contains(name) else { continue }
            _ = try await kv.txn(EtcdTxnRequest(compare: [EtcdCompare(key: claim.key, .lease(lease))],
                                                success: [.deleteRange(EtcdDeleteRangeRequest(key: claim.key))]))
        }
    }

    public func finish(_ results: [DeliveryResult], nowMs: Int64) async throws {
        let pending = state.withLock { state in
            defer { state.unrecorded = [] }
            return state.unrecorded + results
        }
        guard !pending.isEmpty else { return }
        for (index, result) in pending.enumerated() {
            guard let claimed = state.withLock({ $0.claimed[result.id] }) else { continue }
            let transaction = EtcdOutboxPlan.finish(name: claimed.name, record: claimed.record, due: claimed.due, result: result,
                                                    lease: claimed.lease, nowMs: nowMs, keys: keys)
            do {
                // Not succeeded: the claim went with an expired lease; the host that took the
                // event over records it.
                _ = try await kv.txn(transaction)
                state.withLock { $0.claimed[result.id] = nil }
            } catch {
                state.withLock { $0.unrecorded = Array(pending[index...]) + $0.unrecorded }
                try report(error, nowMs: nowMs)
                return
            }
        }
    }

    /// Events no lease change carries (bmc.discovered) go through the local outbox too.
    public func append(_ events: [ZoneEvent]) throws { try local.append(events) }

    public func events(_ filter: EventFilter, limit: Int) async throws -> [EventRecord] {
        let view = try await shared()
        var found: [(name: String, kv: EtcdKeyValue)] = []
        switch filter {
        case .all:
            let answer = try await kv.range(EtcdRangeRequest(key: keys.events, rangeEnd: keys.events.prefixRangeEnd,
                                                             limit: Int64(max(limit, 1)), sortOrder: .descend, sortTarget: .create))
            found = answer.kvs.compactMap { kv in keys.name(of: kv.key, in: keys.events).map { (name: $0, kv: kv) } }
        case .undelivered, .dead:
            let names = view.due.filter { ($0.value.deadAt != nil) == (filter == .dead) }.keys.sorted()
            found = try await read(names)
        }
        return found.compactMap { name, kv -> EventRecord? in
            guard let record = EtcdOutboxPlan.decode(EtcdOutboxEvent.self, kv.value) else { return nil }
            return EtcdOutboxPlan.record(id: EtcdOutboxPlan.eventID(createRevision: kv.createRevision, batch: record.batch),
                                         event: record, due: view.due[name], claimed: view.claimed.contains(name))
        }.sorted { $0.id > $1.id }.prefix(max(0, limit)).map { $0 }
    }

    public func count(_ filter: EventFilter) async throws -> Int {
        switch filter {
        case .all:
            return Int(try await kv.range(EtcdRangeRequest(key: keys.events, rangeEnd: keys.events.prefixRangeEnd, countOnly: true)).count)
        case .undelivered, .dead:
            return try await shared().due.values.filter { ($0.deadAt != nil) == (filter == .dead) }.count
        }
    }

    public func retry(id: Int64, nowMs: Int64) async throws -> Bool {
        let answer = try await kv.range(.prefix(keys.due))
        for kv in answer.kvs {
            guard let name = keys.name(of: kv.key, in: keys.due), var due = EtcdOutboxPlan.decode(EtcdOutboxDue.self, kv.value),
                  due.deadAt != nil, let stored = try await read([name]).first?.kv,
                  let record = EtcdOutboxPlan.decode(EtcdOutboxEvent.self, stored.value),
                  EtcdOutboxPlan.eventID(createRevision: stored.createRevision, batch: record.batch) == id else { continue }
            due.deadAt = nil
            due.attempts = 0
            due.nextAttemptMs = nowMs
            return try await self.kv.txn(EtcdTxnRequest(
                compare: [EtcdCompare(key: kv.key, .modRevision(kv.modRevision))],
                success: [.put(EtcdPutRequest(key: kv.key, value: EtcdOutboxPlan.encode(due)))])).succeeded
        }
        return false
    }

    /// The local outbox's handed-over events, and the zone's delivered ones from the oldest:
    /// an old undelivered event among them is kept (it waits for delivery or the operator).
    public func pruneDelivered(before cutoff: Int64, limit: Int) async throws -> Int {
        _ = try local.pruneDelivered(before: cutoff, limit: limit)
        let oldest = try await kv.range(EtcdRangeRequest(key: keys.events, rangeEnd: keys.events.prefixRangeEnd,
                                                         limit: Int64(max(1, min(limit, 1000))), sortOrder: .ascend, sortTarget: .create))
        let old = oldest.kvs.filter { kv in
            guard let at = EtcdOutboxPlan.decode(EtcdOutboxEvent.self, kv.value)?.delivered?.at else { return false }
            return at < cutoff
        }
        var deleted = 0
        for batch in EtcdTxnRequest.batches(old) {
            // Delivered records are never written again: deleted unless changed since read.
            let answer = try await kv.txn(EtcdTxnRequest(compare: batch.map { EtcdCompare(key: $0.key, .modRevision($0.modRevision)) },
                                                         success: batch.map { EtcdOperation.deleteRange(EtcdDeleteRangeRequest(key: $0.key)) }))
            if answer.succeeded { deleted += batch.count }
        }
        return deleted
    }

    /// The undelivered events' states by name, and the names claimed by a live host.
    private func shared() async throws -> (due: [String: EtcdOutboxDue], claimed: Set<String>) {
        let due = try await kv.range(.prefix(keys.due))
        let claims = try await kv.range(EtcdRangeRequest(key: keys.claims, rangeEnd: keys.claims.prefixRangeEnd, keysOnly: true))
        var states: [String: EtcdOutboxDue] = [:]
        for kv in due.kvs {
            if let name = keys.name(of: kv.key, in: keys.due), let state = EtcdOutboxPlan.decode(EtcdOutboxDue.self, kv.value) {
                states[name] = state
            }
        }
        return (states, Set(claims.kvs.compactMap { keys.name(of: $0.key, in: keys.claims) }))
    }

    /// The event records of `names`, as many reads to a transaction as etcd takes.
    private func read(_ names: [String]) async throws -> [(name: String, kv: EtcdKeyValue)] {
        var found: [(name: String, kv: EtcdKeyValue)] = []
        for batch in EtcdTxnRequest.batches(names) {
            let answer = try await kv.txn(EtcdTxnRequest(compare: [], success: batch.map { EtcdOperation.range(EtcdRangeRequest(key: keys.event($0))) }))
            for (name, response) in zip(batch, answer.responses) {
                if case .range(let range) = response, let kv = range.kvs.first { found.append((name: name, kv: kv)) }
            }
        }
        return found
    }

    /// etcd out of reach while polling: thrown (and logged by the runner) once per `quietMs`.
    private func report(_ error: any Error, nowMs: Int64) throws {
        let loud = state.withLock { state in
            guard nowMs >= state.quietUntilMs else { return false }
            state.quietUntilMs = nowMs + Self.quietMs
            return true
        }
        if loud { throw error }
    }

    /// At a clean stop: this host's claims go at once, and the events it was delivering are
    /// taken by another host without waiting for the TTL.
    public func releaseLease() async { await lease.revoke() }
}

/// This host's identity in the zone's shared outbox: made once, kept in its state directory.
public enum EtcdHostIdentity {
    public static func load(stateDirectory: String) throws -> String {
        let path = (stateDirectory as NSString).appendingPathComponent("etcd-host-id")
        if let data = FileManager.default.contents(atPath: path) {
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty, !text.contains("/") { return text }
        }
        let made = UUID().uuidString.lowercased()
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        try Data((made + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        return made
    }
}
