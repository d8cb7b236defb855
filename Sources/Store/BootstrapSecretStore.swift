import Addressing
import Boot
import Foundation
import GRDB
import Zone

/// Bootstrap secrets' states (BootstrapSecretRecord): never a secret, only its fingerprint.
public protocol BootstrapSecretStore: Sendable {
    func record(host: String, name: String) throws -> BootstrapSecretRecord?
    /// The host's records, by name.
    func records(host: String) throws -> [BootstrapSecretRecord]
    /// Every record, by host and name.
    func all() throws -> [BootstrapSecretRecord]
    /// Writes issues decided on the records read: each only if its row is still at the
    /// generation before it (or absent); returns how many were written.
    @discardableResult
    func issue(_ records: [BootstrapSecretRecord]) throws -> Int
    /// Records `served` and writes `event` in one flushed transaction, only if the row is
    /// still `expected` (nil: absent); false when another fetch or issue came first.
    func serve(_ served: BootstrapSecretRecord, expected: BootstrapSecretRecord?, event: ZoneEvent?) throws -> Bool
    /// Deletes the host's records (only `name`'s, where given), so that the next render of its
    /// install config issues new secrets: the same machine's reinstall. Returns how many.
    func forget(host: String, name: String?) throws -> Int
}

public final class SQLiteBootstrapSecretStore: BootstrapSecretStore {
    private let writer: any DatabaseWriter

    public init(writer: any DatabaseWriter) { self.writer = writer }

    public convenience init(stateDirectory: String) throws {
        self.init(writer: try ZoneBootDatabase.open(stateDirectory: stateDirectory))
    }

    public func record(host: String, name: String) throws -> BootstrapSecretRecord? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM bootstrap_secret WHERE host = ? AND name = ?",
                             arguments: [host, name]).map(Self.decode)
        }
    }

    public func records(host: String) throws -> [BootstrapSecretRecord] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM bootstrap_secret WHERE host = ? ORDER BY name", arguments: [host])
                .map(Self.decode)
        }
    }

    public func all() throws -> [BootstrapSecretRecord] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM bootstrap_secret ORDER BY host, name").map(Self.decode)
        }
    }

    @discardableResult
    public func issue(_ records: [BootstrapSecretRecord]) throws -> Int {
        guard !records.isEmpty else { return 0 }
        // Losing an issue to a power cut only issues it again on the next render.
        return try writer.writeWithoutFlush { db in
            var written = 0
            for record in records where try Self.put(record, replacingGeneration: record.generation - 1, db) {
                written += 1
            }
            return written
        }
    }

    public func serve(_ served: BootstrapSecretRecord, expected: BootstrapSecretRecord?, event: ZoneEvent?) throws -> Bool {
        let events = event.map { [$0] } ?? []
        let bodies = try events.map(SQLiteEventOutbox.body)
        // Flushed: a secret once served must stay used after a crash, or it could be served twice.
        return try writer.write { db in
            guard try Self.put(served, replacingGeneration: expected?.generation ?? 0, expectedState: expected?.state, db)
            else { return false }
            try SQLiteEventOutbox.insert(events, bodies: bodies, db)
            return true
        }
    }

    public func forget(host: String, name: String?) throws -> Int {
        try writer.write { db in
            try db.execute(sql: "DELETE FROM bootstrap_secret WHERE host = ? AND name = coalesce(?, name)",
                           arguments: [host, name])
            return db.changesCount
        }
    }

    /// Inserts (generation 0: no row may exist) or replaces the row at `replacingGeneration`
    /// (and `expectedState`, where given); false when the row is not what was expected.
    private static func put(_ record: BootstrapSecretRecord, replacingGeneration previous: Int,
                            expectedState: BootstrapSecretRecord.State? = nil, _ db: Database) throws -> Bool {
        let values: StatementArguments = [record.kind.rawValue, record.state.rawValue, record.generation, record.issuedAt,
                                          record.expiresAt, record.mac, record.servedAt,
                                          record.servedTo.map { Int64($0.value) }, record.fingerprint]
        if previous == 0 {
            try db.execute(sql: """
                INSERT OR IGNORE INTO bootstrap_secret (host, name, kind, state, generation, issued_at, expires_at, mac,
                                                        served_at, served_to, fingerprint)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [record.host, record.name] + values)
        } else {
            try db.execute(sql: """
                UPDATE bootstrap_secret SET kind = ?, state = ?, generation = ?, issued_at = ?, expires_at = ?, mac = ?,
                                            served_at = ?, served_to = ?, fingerprint = ?
                WHERE host = ? AND name = ? AND generation = ? AND state = coalesce(?, state)
                """, arguments: values + [record.host, record.name, previous, expectedState?.rawValue])
        }
        return db.changesCount == 1
    }

    private static func decode(_ row: Row) -> BootstrapSecretRecord {
        let servedTo: Int64? = row["served_to"]
        return BootstrapSecretRecord(
            host: row["host"], name: row["name"],
            kind: BootstrapSecretKind(rawValue: row["kind"]) ?? .token,
            state: BootstrapSecretRecord.State(rawValue: row["state"]) ?? .used,
            generation: row["generation"], issuedAt: row["issued_at"], expiresAt: row["expires_at"], mac: row["mac"],
            servedAt: row["served_at"], servedTo: servedTo.map { IPv4Address(UInt32(clamping: $0)) },
            fingerprint: row["fingerprint"])
    }
}
