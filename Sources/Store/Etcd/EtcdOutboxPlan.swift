import Boot
import Etcd
import Foundation

/// Where the shared outbox lives under a zone's prefix. An event has one name (`<origin>/<n>`:
/// the host that wrote it and its local id, or `revision/<id>` for a zone.applied) under
/// three folders:
/// - `outbox/events/<name>`: the event, written once when it reaches etcd and rewritten once,
///   when it is delivered; its create revision gives the idempotency key (`EtcdOutboxPlan.eventID`).
/// - `outbox/due/<name>`: its delivery state while it is undelivered (tries, when the next is
///   due, the hooks that took it, a dead letter's time); deleted once it is delivered.
/// - `outbox/claims/<name>`: which host is delivering it, attached to that host's etcd lease,
///   so that it vanishes when the host dies and another takes the event over.
public struct EtcdOutboxKeys: Sendable, Equatable {
    public let zone: EtcdZoneKeys

    public init(_ zone: EtcdZoneKeys) { self.zone = zone }

    public var events: [UInt8] { Array((zone.prefix + "outbox/events/").utf8) }
    public var due: [UInt8] { Array((zone.prefix + "outbox/due/").utf8) }
    public var claims: [UInt8] { Array((zone.prefix + "outbox/claims/").utf8) }

    public func event(_ name: String) -> [UInt8] { events + Array(name.utf8) }
    public func due(_ name: String) -> [UInt8] { due + Array(name.utf8) }
    public func claim(_ name: String) -> [UInt8] { claims + Array(name.utf8) }

    /// The event's name in a key of `folder`, nil for a key elsewhere.
    public func name(of key: [UInt8], in folder: [UInt8]) -> String? {
        guard key.starts(with: folder) else { return nil }
        return String(decoding: key.dropFirst(folder.count), as: UTF8.self)
    }

    /// A host's local event `id`, by the host's identity: zero-padded so key order is write order.
    public static func name(origin: String, localID: Int64) -> String {
        let digits = String(max(localID, 0))
        return origin + "/" + String(repeating: "0", count: max(0, 19 - digits.count)) + digits
    }

    /// The zone.applied event of revision `id`, written in the transaction that appends it.
    public static func appliedName(revision id: Int) -> String { "revision/" + EtcdZoneKeys.padded(id) }
}

/// `outbox/events/<name>`'s value.
public struct EtcdOutboxEvent: Sendable, Codable, Equatable {
    /// Its place among the events its transaction wrote (part of its id).
    public var batch: Int
    public var event: ZoneEvent
    public var delivered: Delivered?

    public struct Delivered: Sendable, Codable, Equatable {
        /// Unix s.
        public var at: Int64
        public var attempts: Int
        public var note: String?
    }

    public init(batch: Int, event: ZoneEvent, delivered: Delivered? = nil) {
        self.batch = batch
        self.event = event
        self.delivered = delivered
    }
}

/// `outbox/due/<name>`'s value: an undelivered event's delivery state.
public struct EtcdOutboxDue: Sendable, Codable, Equatable {
    public var nextAttemptMs: Int64
    public var attempts: Int
    public var doneHooks: [String]
    public var lastError: String?
    /// Unix s; set: a dead letter, claimed by nobody until `zonectl events retry`.
    public var deadAt: Int64?

    public init(nextAttemptMs: Int64, attempts: Int = 0, doneHooks: [String] = [], lastError: String? = nil, deadAt: Int64? = nil) {
        self.nextAttemptMs = nextAttemptMs
        self.attempts = attempts
        self.doneHooks = doneHooks
        self.lastError = lastError
        self.deadAt = deadAt
    }
}

/// The shared outbox's rules, without etcd: which events a host may claim, what a claim and
/// the end of a try write, how an event's idempotency key is made. `EtcdEventOutbox` runs them.
public enum EtcdOutboxPlan {
    /// At most this many events in one transaction (etcd's `--max-txn-ops` is 128 by default,
    /// and each event takes two puts); also the factor of `eventID`.
    public static let batchLimit = 50

    /// The idempotency key hooks see: unique in the zone, the same on every host and every
    /// try (the event key's create revision never changes; the events one transaction wrote
    /// are told apart by their place in it).
    public static func eventID(createRevision: Int64, batch: Int) -> Int64 {
        createRevision &* 100 &+ Int64(min(max(batch, 0), 99))
    }

    /// An undelivered event as a host reads it before claiming.
    public struct Candidate: Sendable, Equatable {
        public var name: String
        public var due: EtcdOutboxDue
        /// The due key's mod revision: the claim holds only if nobody changed it since.
        public var modRevision: Int64

        public init(name: String, due: EtcdOutboxDue, modRevision: Int64) {
            self.name = name
            self.due = due
            self.modRevision = modRevision
        }
    }

    /// Up to `limit` events to claim now: due, no dead letter, claimed by no live host (a claim
    /// of a host that died went with its etcd lease); the longest due first, then by name.
    public static func claimable(_ candidates: [Candidate], claimed: Set<String>, nowMs: Int64, limit: Int) -> [Candidate] {
        candidates.filter { $0.due.deadAt == nil && $0.due.nextAttemptMs <= nowMs && !claimed.contains($0.name) }
            .sorted { ($0.due.nextAttemptMs, $0.name) < ($1.due.nextAttemptMs, $1.name) }
            .prefix(max(0, limit)).map { $0 }
    }

    /// The claim: the claim key created with the host's lease only if absent, and the due key
    /// unchanged since it was read (not delivered, retried or claimed meanwhile); a try is counted.
    /// The event's record is read in the same transaction.
    public static func claim(_ candidate: Candidate, host: String, lease: Int64, keys: EtcdOutboxKeys) -> EtcdTxnRequest {
        var due = candidate.due
        due.attempts += 1
        return EtcdTxnRequest(
            compare: [EtcdCompare(key: keys.claim(candidate.name), .createRevision(0)),
                      EtcdCompare(key: keys.due(candidate.name), .modRevision(candidate.modRevision))],
            success: [.put(EtcdPutRequest(key: keys.claim(candidate.name), value: Array(host.utf8), lease: lease)),
                      .put(EtcdPutRequest(key: keys.due(candidate.name), value: encode(due))),
                      .range(EtcdRangeRequest(key: keys.event(candidate.name)))])
    }

    /// How a try ended, written only while the claim is still this host's (its lease alive): a
    /// host whose lease expired mid-hook finds its claim gone and writes nothing; the host that
    /// took the event over delivers it again with the same key.
    public static func finish(name: String, record: EtcdOutboxEvent, due: EtcdOutboxDue, result: DeliveryResult,
                              lease: Int64, nowMs: Int64, keys: EtcdOutboxKeys) -> EtcdTxnRequest {
        var due = due
        due.doneHooks = Array(Set(due.doneHooks).union(result.succeeded)).sorted()
        var operations: [EtcdOperation] = [.deleteRange(EtcdDeleteRangeRequest(key: keys.claim(name)))]
        switch result.outcome {
        case .delivered:
            var delivered = record
            delivered.delivered = .init(at: nowMs / 1000, attempts: due.attempts, note: result.note)
            operations += [.deleteRange(EtcdDeleteRangeRequest(key: keys.due(name))),
                           .put(EtcdPutRequest(key: keys.event(name), value: encode(delivered)))]
        case .retry(let at, let error):
            due.nextAttemptMs = at
            due.lastError = error
            operations.append(.put(EtcdPutRequest(key: keys.due(name), value: encode(due))))
        case .dead(let error):
            due.deadAt = nowMs / 1000
            due.lastError = error
            operations.append(.put(EtcdPutRequest(key: keys.due(name), value: encode(due))))
        }
        return EtcdTxnRequest(compare: [EtcdCompare(key: keys.claim(name), .lease(lease))], success: operations)
    }

    /// Hands events to etcd, each created only if absent: an event written again (its host
    /// died after the transaction, before marking it handed over locally) is not made twice.
    public static func append(_ events: [(name: String, event: ZoneEvent)], nowMs: Int64, keys: EtcdOutboxKeys) -> EtcdTxnRequest {
        var compare: [EtcdCompare] = []
        var success: [EtcdOperation] = []
        for (batch, item) in events.prefix(batchLimit).enumerated() {
            compare.append(EtcdCompare(key: keys.event(item.name), .createRevision(0)))
            success += puts(name: item.name, event: item.event, batch: batch, nowMs: nowMs, keys: keys)
        }
        return EtcdTxnRequest(compare: compare, success: success)
    }

    /// The two keys of a new event: its record and its due state.
    public static func puts(name: String, event: ZoneEvent, batch: Int, nowMs: Int64, keys: EtcdOutboxKeys) -> [EtcdOperation] {
        [.put(EtcdPutRequest(key: keys.event(name), value: encode(EtcdOutboxEvent(batch: batch, event: event)))),
         .put(EtcdPutRequest(key: keys.due(name), value: encode(EtcdOutboxDue(nextAttemptMs: nowMs))))]
    }

    /// An event as `zonectl events` shows it.
    public static func record(id: Int64, event: EtcdOutboxEvent, due: EtcdOutboxDue?, claimed: Bool) -> EventRecord {
        let state: EventRecord.State = event.delivered != nil ? .delivered
            : due?.deadAt != nil ? .dead : claimed ? .delivering : .pending
        return EventRecord(id: id, type: event.event.type.rawValue, at: event.event.at, name: event.event.name,
                           address: event.event.address.description, mac: event.event.mac, state: state,
                           attempts: event.delivered?.attempts ?? due?.attempts ?? 0,
                           nextAttemptMs: state == .pending ? due?.nextAttemptMs : nil,
                           deliveredAt: event.delivered?.at, deadAt: due?.deadAt,
                           lastError: event.delivered != nil ? event.delivered?.note : due?.lastError)
    }

    static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // The values here are plain structs of strings and numbers: encoding cannot fail.
        return (try? Array(encoder.encode(value))) ?? []
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) -> T? {
        try? JSONDecoder().decode(type, from: Data(bytes))
    }
}
