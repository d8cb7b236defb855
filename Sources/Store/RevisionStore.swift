import Boot
import Foundation
import GRDB
import Zone

/// One applied revision of the zone.
public struct StoredRevision: Sendable, Equatable {
    public var summary: RevisionSummary
    /// The zone file and its templates as they were applied.
    public var source: ZoneSource

    public init(summary: RevisionSummary, source: ZoneSource) {
        self.summary = summary
        self.source = source
    }
}

/// How a revision came to be recorded.
public enum RevisionOrigin: String, Sendable, Codable {
    /// The `--zone` file: the first start, or a SIGHUP.
    case file
    /// `zonectl apply` (through the admin API, or offline on the state directory).
    case apply
    /// `zonectl rollback`: an earlier revision's source again.
    case rollback

    /// How a log line or a table names it.
    public var description: String {
        switch self {
        case .file: "the zone file"
        case .apply: "zonectl apply"
        case .rollback: "zonectl rollback"
        }
    }
}

/// A revision's history line.
public struct RevisionSummary: Sendable, Codable, Equatable {
    public var id: Int
    public var zone: String
    public var digest: String
    /// ISO 8601, UTC.
    public var createdAt: String
    public var author: String
    public var message: String?
    public var basedOn: Int?
    /// "3 added, 1 changed, 0 removed".
    public var summary: String
    /// Nil only in answers of servers older than the column.
    public var origin: RevisionOrigin?
}

/// Applied revisions, newest last. Revisions are never edited or deleted: a rollback
/// is a new revision with an old source.
///
/// Async: one implementation is a network away (`EtcdRevisionStore`); SQLite's synchronous
/// methods satisfy it as they are. A store that cannot be reached throws `StoreUnavailable`.
public protocol RevisionStore: Sendable {
    func latest() async throws -> StoredRevision?
    func revision(id: Int) async throws -> StoredRevision?
    func history(limit: Int) async throws -> [RevisionSummary]
    /// Records a new revision, refusing if the latest is no longer `basedOn` (someone
    /// applied in between: plan again).
    func append(source: ZoneSource, zone: String, author: String, message: String?, basedOn: Int?,
                summary: String, origin: RevisionOrigin) async throws -> RevisionSummary
}

/// The store is out of reach (etcd down or partitioned away): nothing was recorded; the
/// running revision keeps serving. The message names where the store was looked for.
public struct StoreUnavailable: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

extension SQLiteRevisionStore {
    /// An apply's revision (`zonectl apply`).
    public func append(source: ZoneSource, zone: String, author: String, message: String?, basedOn: Int?,
                       summary: String) throws -> RevisionSummary {
        try append(source: source, zone: zone, author: author, message: message, basedOn: basedOn, summary: summary,
                   origin: .apply)
    }
}

public final class SQLiteRevisionStore: RevisionStore {
    private let writer: any DatabaseWriter

    public convenience init(stateDirectory: String) throws {
        self.init(writer: try ZoneBootDatabase.open(stateDirectory: stateDirectory))
    }

    public init(writer: any DatabaseWriter) { self.writer = writer }

    public func latest() throws -> StoredRevision? {
        try writer.read { db in try Row.fetchOne(db, sql: "SELECT * FROM revision ORDER BY id DESC LIMIT 1").flatMap(Self.stored) }
    }

    public func revision(id: Int) throws -> StoredRevision? {
        try writer.read { db in try Row.fetchOne(db, sql: "SELECT * FROM revision WHERE id = ?", arguments: [id]).flatMap(Self.stored) }
    }

    public func history(limit: Int = 100) throws -> [RevisionSummary] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM revision ORDER BY id DESC LIMIT ?", arguments: [limit]).map(Self.summary)
        }
    }

    public func append(source: ZoneSource, zone: String, author: String, message: String?, basedOn: Int?,
                       summary: String, origin: RevisionOrigin) throws -> RevisionSummary {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(source), as: UTF8.self)
        let now = Date()
        let createdAt = ISO8601DateFormatter().string(from: now)
        return try writer.write { db in
            // Checked inside the write transaction: two applies cannot both pass it.
            let current = try Int.fetchOne(db, sql: "SELECT max(id) FROM revision")
            guard current == basedOn else { throw StoreError.staleBase(planned: basedOn, current: current) }
            let id = (current ?? 0) + 1
            try db.execute(sql: """
                INSERT INTO revision (id, zone, digest, created_at, author, message, based_on, summary, source, origin)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, zone, source.digest, createdAt, author, message, basedOn, summary, json, origin.rawValue])
            // The outbox learns of the new revision in the same transaction that records it.
            let applied = ZoneEvent.zoneApplied(revision: id, zone: zone, author: author, summary: summary,
                                                basedOn: basedOn, at: Int64(now.timeIntervalSince1970))
            try SQLiteEventOutbox.insert([applied], bodies: [try SQLiteEventOutbox.body(applied)], db)
            return RevisionSummary(id: id, zone: zone, digest: source.digest, createdAt: createdAt, author: author,
                                   message: message, basedOn: basedOn, summary: summary, origin: origin)
        }
    }

    private static func summary(_ row: Row) -> RevisionSummary {
        RevisionSummary(id: row["id"], zone: row["zone"], digest: row["digest"], createdAt: row["created_at"],
                        author: row["author"], message: row["message"], basedOn: row["based_on"], summary: row["summary"],
                        origin: (row["origin"] as String?).flatMap(RevisionOrigin.init(rawValue:)))
    }

    private static func stored(_ row: Row) -> StoredRevision? {
        let json: String = row["source"]
        guard let source = try? JSONDecoder().decode(ZoneSource.self, from: Data(json.utf8)) else { return nil }
        return StoredRevision(summary: summary(row), source: source)
    }
}
