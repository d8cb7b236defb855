import Boot
import Etcd
import Foundation
import Zone

/// Where ZoneBoot keeps a zone in etcd: every key under one prefix (`--etcd-prefix`, one per
/// zone). Revisions here; the hook outbox (`EtcdOutboxKeys`, `outbox/`), discovery blocks and
/// lease records (EtcdDiscoveryBlockClaims.swift) take their own folders under the same prefix.
public struct EtcdZoneKeys: Sendable, Equatable {
    public let prefix: String

    public static let defaultPrefix = "/zoneboot/"

    /// `prefix` ends with "/" (one is added if missing).
    public init(prefix: String = EtcdZoneKeys.defaultPrefix) {
        self.prefix = prefix.hasSuffix("/") ? prefix : prefix + "/"
    }

    /// The running revision's number: what every host watches, and what an apply compares.
    public var head: [UInt8] { Array((prefix + "revision/head").utf8) }
    /// A revision's summary and source.
    public func record(_ id: Int) -> [UInt8] { Array((prefix + "revision/record/" + Self.padded(id)).utf8) }
    /// A revision's history line alone (history reads these, not the sources).
    public func summary(_ id: Int) -> [UInt8] { Array((prefix + "revision/summary/" + Self.padded(id)).utf8) }
    public var summaries: [UInt8] { Array((prefix + "revision/summary/").utf8) }

    /// Zero-padded, so that etcd's key order is the revisions' order.
    static func padded(_ id: Int) -> String {
        let digits = String(max(id, 0))
        return String(repeating: "0", count: max(0, 10 - digits.count)) + digits
    }
}

/// The head key's value: the revision's number, and the nonce of the append that wrote it
/// (how an append whose answer was lost learns that it did commit).
public struct EtcdRevisionHead: Sendable, Codable, Equatable {
    public var id: Int
    public var nonce: String

    public init(id: Int, nonce: String) {
        self.id = id
        self.nonce = nonce
    }

    public static func decode(_ value: [UInt8]) -> EtcdRevisionHead? {
        try? JSONDecoder().decode(EtcdRevisionHead.self, from: Data(value))
    }
}

/// A revision's record key: its history line and the source as applied.
struct EtcdRevisionRecord: Codable {
    var summary: RevisionSummary
    var source: ZoneSource
}

/// Revisions in etcd, shared by every host of the zone.
///
/// - An append is one transaction: it compares the head key's `mod_revision` with the one
///   read, and writes the record, the history line and the head together; a host that lost
///   the race gets `StoreError.staleBase` (the admin API's 409), as with SQLite.
/// - The head's nonce settles an append whose answer was lost (a member died after the
///   commit, the retry on another member fails the comparison): it is ours, so it committed.
/// - `zone.applied` is written to the zone's shared outbox (`EtcdEventOutbox`) by the same
///   transaction: an applied revision always has its event, delivered by one host.
/// - etcd out of reach: `StoreUnavailable`, naming the endpoints.
public final class EtcdRevisionStore: RevisionStore {
    public let keys: EtcdZoneKeys
    private let kv: any EtcdKV
    private let newNonce: @Sendable () -> String
    private let now: @Sendable () -> Date

    public init(kv: any EtcdKV, keys: EtcdZoneKeys,
                newNonce: @escaping @Sendable () -> String = { UUID().uuidString },
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.kv = kv
        self.keys = keys
        self.newNonce = newNonce
        self.now = now
    }

    /// The head: the running revision's number and the etcd revision that wrote it (nil: no revision yet).
    public func head() async throws -> (head: EtcdRevisionHead, modRevision: Int64, storeRevision: Int64)? {
        let answer = try await reach { try await self.kv.range(EtcdRangeRequest(key: self.keys.head)) }
        guard let kv = answer.kvs.first else { return nil }
        guard let head = EtcdRevisionHead.decode(kv.value) else {
            throw StoreError.cannotOpen(path: keys.prefix, reason: "the head key \(kv.keyText) holds no revision number")
        }
        return (head, kv.modRevision, answer.header.revision)
    }

    public func latest() async throws -> StoredRevision? {
        guard let current = try await head() else { return nil }
        return try await revision(id: current.head.id)
    }

    public func revision(id: Int) async throws -> StoredRevision? {
        let answer = try await reach { try await self.kv.range(EtcdRangeRequest(key: self.keys.record(id))) }
        guard let kv = answer.kvs.first else { return nil }
        guard let record = try? JSONDecoder().decode(EtcdRevisionRecord.self, from: Data(kv.value)) else {
            throw StoreError.cannotOpen(path: kv.keyText, reason: "the revision record does not decode")
        }
        return StoredRevision(summary: record.summary, source: record.source)
    }

    public func history(limit: Int) async throws -> [RevisionSummary] {
        let request = EtcdRangeRequest.prefix(keys.summaries, limit: Int64(max(limit, 1)), sortOrder: .descend)
        let answer = try await reach { try await self.kv.range(request) }
        return answer.kvs.compactMap { try? JSONDecoder().decode(RevisionSummary.self, from: Data($0.value)) }
    }

    public func append(source: ZoneSource, zone: String, author: String, message: String?, basedOn: Int?,
                       summary: String, origin: RevisionOrigin) async throws -> RevisionSummary {
        let current = try await head()
        guard current?.head.id == basedOn else { throw StoreError.staleBase(planned: basedOn, current: current?.head.id) }
        let id = (current?.head.id ?? 0) + 1
        let date = now()
        let applied = RevisionSummary(id: id, zone: zone, digest: source.digest, createdAt: ISO8601DateFormatter().string(from: date),
                                      author: author, message: message, basedOn: basedOn, summary: summary, origin: origin)
        let nonce = newNonce()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let event = ZoneEvent.zoneApplied(revision: id, zone: zone, author: author, summary: summary, basedOn: basedOn,
                                          at: Int64(date.timeIntervalSince1970))
        let transaction = EtcdTxnRequest(
            // An absent head compares as mod_revision 0: the first revision needs the key absent.
            compare: [EtcdCompare(key: keys.head, .modRevision(current?.modRevision ?? 0))],
            success: [
                .put(EtcdPutRequest(key: keys.record(id), value: Array(try encoder.encode(EtcdRevisionRecord(summary: applied, source: source))))),
                .put(EtcdPutRequest(key: keys.summary(id), value: Array(try encoder.encode(applied)))),
                .put(EtcdPutRequest(key: keys.head, value: Array(try encoder.encode(EtcdRevisionHead(id: id, nonce: nonce))))),
            ] + EtcdOutboxPlan.puts(name: EtcdOutboxKeys.appliedName(revision: id), event: event, batch: 0,
                                    nowMs: Int64(date.timeIntervalSince1970 * 1000), keys: EtcdOutboxKeys(keys)),
            failure: [.range(EtcdRangeRequest(key: keys.head))])
        do {
            let answer = try await reach { try await self.kv.txn(transaction) }
            if !answer.succeeded {
                // Lost the race, unless the winner is this append retried on another member.
                let winner = answer.responses.first.flatMap { response -> EtcdRevisionHead? in
                    guard case .range(let range) = response, let kv = range.kvs.first else { return nil }
                    return EtcdRevisionHead.decode(kv.value)
                }
                guard winner?.nonce == nonce else { throw StoreError.staleBase(planned: basedOn, current: winner?.id) }
            }
        } catch let unavailable as StoreUnavailable {
            // The answer was lost: the head tells whether the transaction committed.
            guard let after = try? await head(), after.head.nonce == nonce else { throw unavailable }
        }
        return applied
    }

    /// Runs one etcd exchange; etcd out of reach becomes `StoreUnavailable` naming the endpoints.
    private func reach<T>(_ exchange: @Sendable () async throws -> T) async throws -> T {
        do { return try await exchange() } catch let error as EtcdError {
            switch error {
            case .unreachable(let endpoints, let why):
                throw StoreUnavailable("etcd is unreachable (\(endpoints.joined(separator: ", "))): \(why)")
            case .requestTooLarge(let bytes, let limit):
                throw StoreError.cannotOpen(path: keys.prefix, reason: "the revision is \(bytes) bytes; etcd takes at most \(limit) in one request")
            default:
                throw StoreUnavailable("etcd (\(kv.endpointList.joined(separator: ", "))) failed: \(error)")
            }
        }
    }
}

/// The last revision this host ran from etcd, kept in its state directory: what it starts
/// with when etcd is out of reach at start (DHCP for declared ports needs only the revision).
public enum EtcdRevisionCache {
    public static func path(stateDirectory: String) -> String {
        (stateDirectory as NSString).appendingPathComponent("etcd-revision.json")
    }

    public static func read(path: String) -> StoredRevision? {
        guard let data = FileManager.default.contents(atPath: path),
              let record = try? JSONDecoder().decode(EtcdRevisionRecord.self, from: data) else { return nil }
        return StoredRevision(summary: record.summary, source: record.source)
    }

    /// Written whole or not at all (a temporary file renamed over the old one).
    public static func write(_ stored: StoredRevision, path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(EtcdRevisionRecord(summary: stored.summary, source: stored.source))
            .write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
