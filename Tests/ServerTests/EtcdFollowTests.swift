import AdminAPI
import Foundation
import Hummingbird
import Logging
@testable import Server
import Store
import Synchronization
import TestSupport
import Testing
import Zone

/// A revision store a network away: SQLite underneath, out of reach on demand.
final class ReachableStore: RevisionStore {
    let sqlite: SQLiteRevisionStore
    let reachable = Mutex(true)

    init(_ sqlite: SQLiteRevisionStore) { self.sqlite = sqlite }

    private func check() throws {
        guard reachable.withLock({ $0 }) else { throw StoreUnavailable("etcd is unreachable (http://198.18.255.1:2379): connection refused") }
    }

    func latest() async throws -> StoredRevision? { try check(); return try sqlite.latest() }
    func revision(id: Int) async throws -> StoredRevision? { try check(); return try sqlite.revision(id: id) }
    func history(limit: Int) async throws -> [RevisionSummary] { try check(); return try sqlite.history(limit: limit) }
    func append(source: ZoneSource, zone: String, author: String, message: String?, basedOn: Int?, summary: String,
                origin: RevisionOrigin) async throws -> RevisionSummary {
        try check()
        return try sqlite.append(source: source, zone: zone, author: author, message: message, basedOn: basedOn,
                                 summary: summary, origin: origin)
    }
}

/// With etcd, a host runs revisions other hosts record (`follow`), and refuses changes
/// plainly while etcd is out of reach, serving on.
@Suite(.timeLimit(.minutes(2))) struct EtcdFollowTests {
    let state: URL
    let holder: RevisionHolder
    let store: ReachableStore
    let administrator: ZoneAdministrator
    let source: ZoneSource

    init() async throws {
        state = FileManager.default.temporaryDirectory.appendingPathComponent("zoneboot-follow-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        let logger = Logger(label: "test")
        store = ReachableStore(try SQLiteRevisionStore(stateDirectory: state.path))
        let (revision, summary) = try await ZoneAdministrator.startingRevision(zoneFile: exampleZonePath, from: store, logger: logger)
        holder = RevisionHolder(revision, id: summary.id)
        administrator = ZoneAdministrator(holder: holder, running: summary, store: store, leases: CommittedLeases([]),
                                          logger: logger, secretsFolder: zoneFolder(exampleZonePath))
        source = try ZoneLoader.source(path: exampleZonePath)
    }

    private func changed(_ dns: String) -> ZoneSource {
        var edited = source
        edited.text = edited.text.replacingOccurrences(of: "dns: [198.18.0.53]", with: "dns: [198.18.0.53, \(dns)]")
        return edited
    }

    /// What another host appended: recorded in the shared store, not applied here.
    private func recordedElsewhere(_ source: ZoneSource, basedOn: Int) throws -> StoredRevision {
        let summary = try store.sqlite.append(source: source, zone: "ams1", author: "host-a", message: nil, basedOn: basedOn,
                                              summary: "1 changed", origin: .apply)
        return StoredRevision(summary: summary, source: source)
    }

    @Test func aNewerRevisionIsSwappedInAndAnOlderOrTheSameIsNot() async throws {
        let second = try recordedElsewhere(changed("198.18.0.54"), basedOn: 1)
        #expect(await administrator.follow(second))
        #expect(await administrator.current.revision.id == 2)
        #expect(holder.currentWithID.id == 2)
        #expect(holder.current.source == second.source)
        #expect(!(await administrator.follow(second)))
        let first = try #require(try store.sqlite.revision(id: 1))
        #expect(!(await administrator.follow(first)))
        #expect(holder.current.source == second.source)
        // An apply here is based on the followed revision.
        let applied = try await administrator.apply(changed("198.18.0.55"), basedOn: 2, author: "b", message: nil, now: 0)
        #expect(applied.applied?.id == 3)
    }

    @Test func aRevisionThatDoesNotLoadHereIsNotSwappedIn() async throws {
        var broken = source
        broken.text += "\n? *undefined\n: x\n"
        let second = try recordedElsewhere(broken, basedOn: 1)
        #expect(!(await administrator.follow(second)))
        #expect(await administrator.current.revision.id == 1)
    }

    @Test func withTheStoreOutOfReachApplyAndRollbackAre503AndTheRevisionKeepsRunning() async throws {
        store.reachable.withLock { $0 = false }
        for attempt in 0..<2 {
            do {
                if attempt == 0 {
                    _ = try await administrator.apply(changed("198.18.0.54"), basedOn: 1, author: "b", message: nil, now: 0)
                } else {
                    _ = try await administrator.rollback(to: 1, basedOn: 1, author: "b", message: nil, now: 0)
                }
                Issue.record("a change went through with the store out of reach")
            } catch {
                guard case .unavailable = error else { Issue.record("\(error)"); continue }
                #expect(error.message.contains("http://198.18.255.1:2379"))
                #expect(AdminHTTPError(error).status == .serviceUnavailable)
            }
        }
        #expect(await administrator.current.revision.id == 1)
        #expect(holder.current.source == source)
        store.reachable.withLock { $0 = true }
        let applied = try await administrator.apply(changed("198.18.0.54"), basedOn: 1, author: "b", message: nil, now: 0)
        #expect(applied.applied?.id == 2)
    }
}
