import Addressing
import Boot
import Foundation
import GRDB
import Zone

/// An event claimed for delivery.
public struct OutboxEntry: Sendable, Equatable {
    /// The idempotency key hooks see.
    public var id: Int64
    public var event: ZoneEvent
    /// Tries so far, this one included.
    public var attempt: Int
    /// Hooks that already took this event in an earlier try: not run again.
    public var doneHooks: Set<String>

    public init(id: Int64, event: ZoneEvent, attempt: Int, doneHooks: Set<String>) {
        self.id = id
        self.event = event
        self.attempt = attempt
        self.doneHooks = doneHooks
    }
}

/// How one delivery try ended.
public enum DeliveryOutcome: Sendable, Equatable {
    case delivered
    /// Some hook failed: try again from `atMs` (Unix ms).
    case retry(atMs: Int64, error: String)
    /// Out of tries: kept as a dead letter until `zonectl events retry`.
    case dead(error: String)
}

/// How one claimed event's try ended.
public struct DeliveryResult: Sendable, Equatable {
    public var id: Int64
    /// Hooks that took the event in this try: not run for it again.
    public var succeeded: [String]
    public var outcome: DeliveryOutcome
    /// Why a hook took the event without acting on it (redfish-register skipped a machine that
    /// is no recognized BMC): kept in `last_error` of a delivered event, for `zonectl events`.
    public var note: String?

    public init(id: Int64, succeeded: [String], outcome: DeliveryOutcome, note: String? = nil) {
        self.id = id
        self.succeeded = succeeded
        self.outcome = outcome
        self.note = note
    }
}

/// One event as operators see it.
public struct EventRecord: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable {
        case pending, delivering, delivered, dead
    }

    public var id: Int64
    public var type: String
    /// Unix s.
    public var at: Int64
    public var name: String?
    public var address: String?
    public var mac: String?
    public var state: State
    public var attempts: Int
    public var nextAttemptMs: Int64?
    public var deliveredAt: Int64?
    public var deadAt: Int64?
    public var lastError: String?
}

/// The outbox's delivery side: events are written by the lease store in the same
/// transaction as the leases they describe; the hook runner claims them, runs the
/// hooks, and records how that went.
///
/// One runner per database: a claim is exclusive while its process lives, and every
/// claim left by a process that died is released on startup, so an event whose hook
/// was interrupted is delivered again (at least once).
public protocol EventOutbox: Sendable {
    /// Makes every claimed-but-unfinished event due again; returns how many. Call once at startup.
    func releaseClaims() throws -> Int
    /// Claims up to `limit` due events, oldest due first, counting a try for each. Due
    /// events of the `settling` types (those no hook subscribes to) are first marked
    /// delivered in the same transaction, without being read: the result a try would have.
    func claimDue(nowMs: Int64, limit: Int, settling: Set<HookEvent>) async throws -> [OutboxEntry]
    /// Records how claimed events' tries ended, all in one transaction.
    func finish(_ results: [DeliveryResult], nowMs: Int64) async throws
    /// Writes events that no lease change carries (bmc.discovered).
    func append(_ events: [ZoneEvent]) throws
    /// Newest first.
    func events(_ filter: EventFilter, limit: Int) async throws -> [EventRecord]
    /// How many events the filter holds (`zonectl status`: the hook backlog).
    func count(_ filter: EventFilter) async throws -> Int
    /// Makes a dead letter due now with a fresh count of tries; false if `id` is no dead letter.
    func retry(id: Int64, nowMs: Int64) async throws -> Bool
    /// Deletes up to `limit` events delivered before `cutoff` (Unix s), oldest first; returns
    /// how many. Undelivered events and dead letters are never deleted: they wait for the operator.
    func pruneDelivered(before cutoff: Int64, limit: Int) async throws -> Int
}

public enum EventFilter: String, Sendable, CaseIterable {
    case all, undelivered, dead
}


public final class SQLiteEventOutbox: EventOutbox {
    private let writer: any DatabaseWriter
    /// Rung after every transaction that wrote an event, through any store sharing the
    /// database (a lease commit's events, an append, a retry, the runner's own claims).
    public let writes = OutboxDoorbell()
    private let observation: AnyDatabaseCancellable

    public init(writer: any DatabaseWriter) {
        self.writer = writer
        // Starting it only reads the schema, which the database was opened with. Were it to
        // fail, the runner's once-a-second look still finds every event: late, never lost.
        observation = DatabaseRegionObservation(tracking: Table("event"))
            .start(in: writer, onError: { _ in }, onChange: { [writes] _ in writes.ring() })
    }

    public convenience init(stateDirectory: String) throws {
        self.init(writer: try ZoneBootDatabase.open(stateDirectory: stateDirectory))
    }

    public func releaseClaims() throws -> Int {
        try writer.writeWithoutFlush { db in
            try db.execute(sql: """
                UPDATE event SET claimed_ms = NULL
                WHERE claimed_ms IS NOT NULL AND delivered_at IS NULL AND dead_at IS NULL
                """)
            return db.changesCount
        }
    }

    public func claimDue(nowMs: Int64, limit: Int, settling: Set<HookEvent> = []) throws -> [OutboxEntry] {
        let decoder = JSONDecoder()
        let due = """
            SELECT id, body, attempts, done_hooks FROM event
            WHERE delivered_at IS NULL AND dead_at IS NULL AND claimed_ms IS NULL AND next_attempt_ms <= ?
            ORDER BY next_attempt_ms, id LIMIT ?
            """
        // Polled several times a second: a read when nothing is due keeps the write lock,
        // which the DHCP path's commits need, free.
        guard try writer.read({ db in try Row.fetchOne(db, sql: due, arguments: [nowMs, 1]) }) != nil else { return [] }
        return try writer.writeWithoutFlush { db in
            if !settling.isEmpty {
                // A boot storm writes a host.* event per machine, and most zones hook none of
                // them: settled here with one statement, not decoded and finished one by one.
                let types = settling.map(\.rawValue).sorted()
                let marks = databaseQuestionMarks(count: types.count)
                try db.execute(sql: """
                    UPDATE event SET delivered_at = ?, attempts = attempts + 1
                    WHERE delivered_at IS NULL AND dead_at IS NULL AND claimed_ms IS NULL AND next_attempt_ms <= ?
                      AND type IN (\(marks))
                    """, arguments: StatementArguments([nowMs / 1000, nowMs] as [Int64]) + StatementArguments(types))
            }
            let rows = try Row.fetchAll(db, sql: due, arguments: [nowMs, limit])
            let claim = try db.cachedStatement(sql: "UPDATE event SET claimed_ms = ?, attempts = attempts + 1 WHERE id = ?")
            var entries: [OutboxEntry] = []
            for row in rows {
                let id: Int64 = row["id"]
                let body: String = row["body"]
                guard let event = try? decoder.decode(ZoneEvent.self, from: Data(body.utf8)) else {
                    // Written by a version that encoded events otherwise: no hook could read it.
                    try db.execute(sql: "UPDATE event SET dead_at = ?, last_error = ? WHERE id = ?",
                                   arguments: [nowMs / 1000, "the event's body cannot be decoded", id])
                    continue
                }
                try claim.execute(arguments: [nowMs, id])
                let done: String = row["done_hooks"]
                entries.append(OutboxEntry(id: id, event: event, attempt: (row["attempts"] as Int) + 1,
                                           doneHooks: Set(done.split(separator: "\n").map(String.init))))
            }
            return entries
        }
    }

    public func finish(_ results: [DeliveryResult], nowMs: Int64) throws {
        guard !results.isEmpty else { return }
        try writer.writeWithoutFlush { db in
            for result in results {
                let done = try String.fetchOne(db, sql: "SELECT done_hooks FROM event WHERE id = ?", arguments: [result.id]) ?? ""
                let hooks = Set(done.split(separator: "\n").map(String.init)).union(result.succeeded).sorted()
                    .joined(separator: "\n")
                switch result.outcome {
                case .delivered:
                    try db.execute(sql: """
                        UPDATE event SET claimed_ms = NULL, delivered_at = ?, done_hooks = ?, last_error = ? WHERE id = ?
                        """, arguments: [nowMs / 1000, hooks, result.note, result.id])
                case .retry(let at, let error):
                    try db.execute(sql: """
                        UPDATE event SET claimed_ms = NULL, next_attempt_ms = ?, done_hooks = ?, last_error = ? WHERE id = ?
                        """, arguments: [at, hooks, error, result.id])
                case .dead(let error):
                    try db.execute(sql: """
                        UPDATE event SET claimed_ms = NULL, dead_at = ?, done_hooks = ?, last_error = ? WHERE id = ?
                        """, arguments: [nowMs / 1000, hooks, error, result.id])
                }
            }
        }
    }

    public func append(_ events: [ZoneEvent]) throws {
        let bodies = try events.map(Self.body)
        try writer.write { db in try Self.insert(events, bodies: bodies, db) }
    }

    public func count(_ filter: EventFilter) throws -> Int {
        try writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM event WHERE \(Self.condition(filter))") ?? 0 }
    }

    private static func condition(_ filter: EventFilter) -> String {
        switch filter {
        case .all: "1"
        case .undelivered: "delivered_at IS NULL AND dead_at IS NULL"
        case .dead: "dead_at IS NOT NULL"
        }
    }

    public func events(_ filter: EventFilter, limit: Int) throws -> [EventRecord] {
        let condition = Self.condition(filter)
        let decoder = JSONDecoder()
        return try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM event WHERE \(condition) ORDER BY id DESC LIMIT ?",
                             arguments: [limit]).map { row in
                let body: String = row["body"]
                let event = try? decoder.decode(ZoneEvent.self, from: Data(body.utf8))
                let delivered: Int64? = row["delivered_at"], dead: Int64? = row["dead_at"], claimed: Int64? = row["claimed_ms"]
                let state: EventRecord.State = delivered != nil ? .delivered : dead != nil ? .dead : claimed != nil ? .delivering : .pending
                return EventRecord(id: row["id"], type: row["type"], at: row["at"], name: event?.name,
                                   address: event?.address.description, mac: event?.mac, state: state,
                                   attempts: row["attempts"], nextAttemptMs: state == .pending ? row["next_attempt_ms"] : nil,
                                   deliveredAt: delivered, deadAt: dead, lastError: row["last_error"])
            }
        }
    }

    public func retry(id: Int64, nowMs: Int64) throws -> Bool {
        try writer.write { db in
            try db.execute(sql: """
                UPDATE event SET dead_at = NULL, attempts = 0, next_attempt_ms = ?, claimed_ms = NULL
                WHERE id = ? AND dead_at IS NOT NULL
                """, arguments: [nowMs, id])
            return db.changesCount == 1
        }
    }

    public func pruneDelivered(before cutoff: Int64, limit: Int) throws -> Int {
        // Ids are AUTOINCREMENT: deleting the newest row never lets a later event reuse its
        // id, which hooks take as the idempotency key.
        try writer.writeWithoutFlush { db in
            try db.execute(sql: """
                DELETE FROM event WHERE id IN (
                    SELECT id FROM event
                    WHERE delivered_at IS NOT NULL AND delivered_at < ? AND dead_at IS NULL AND claimed_ms IS NULL
                    ORDER BY id LIMIT ?)
                """, arguments: [cutoff, max(0, limit)])
            return db.changesCount
        }
    }

    /// The one encoding of an event's body: what hooks and `zonectl events` read back.
    static func body(_ event: ZoneEvent) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(event), as: UTF8.self)
    }

    static func insert(_ events: [ZoneEvent], bodies: [String], _ db: Database) throws {
        let insert = try db.cachedStatement(sql: "INSERT INTO event (type, at, body) VALUES (?, ?, ?)")
        for (event, body) in zip(events, bodies) {
            try insert.execute(arguments: [event.type.rawValue, event.at, body])
        }
    }
}
