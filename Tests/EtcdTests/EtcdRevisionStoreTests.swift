import Etcd
import Foundation
import Store
import TestSupport
import Testing
import Zone

private let source = ZoneSource(zoneFile: "z.yaml", text: "zone: a\n", files: ["t.ipxe": "#!ipxe\n"])

private func edited(_ n: Int) -> ZoneSource {
    var next = source
    next.text += "# edit \(n)\n"
    return next
}

/// The revision store's rules on etcd (the same as SQLite's), against an in-memory keyspace.
struct EtcdRevisionStoreTests {
    let etcd = InMemoryEtcd()
    let keys = EtcdZoneKeys(prefix: "/zoneboot/ams1")

    private func store(nonce: String = UUID().uuidString) -> EtcdRevisionStore {
        EtcdRevisionStore(kv: etcd, keys: keys, newNonce: { nonce })
    }

    private func append(_ store: EtcdRevisionStore, _ source: ZoneSource, basedOn: Int?) async throws -> RevisionSummary {
        try await store.append(source: source, zone: "a", author: "ops", message: nil, basedOn: basedOn, summary: "s", origin: .apply)
    }

    @Test func appendsInOrderAndReadsBackFromAnyHost() async throws {
        let hostA = store(), hostB = store()
        #expect(try await hostA.latest() == nil)
        #expect(try await append(hostA, source, basedOn: nil).id == 1)
        #expect(try await append(hostB, edited(2), basedOn: 1).id == 2)
        #expect(try await hostA.latest()?.summary.id == 2)
        #expect(try await hostA.latest()?.source == edited(2))
        #expect(try await hostB.revision(id: 1)?.source == source)
        #expect(try await hostA.revision(id: 3) == nil)
        #expect(try await hostB.history(limit: 10).map(\.id) == [2, 1])
        #expect(keys.head == Array("/zoneboot/ams1/revision/head".utf8))
    }

    /// Keys are zero-padded: revision 10 sorts after 9, and history's limit takes the newest.
    @Test func historyIsNewestFirstPastNine() async throws {
        let host = store()
        var base: Int?
        for n in 1...12 { base = try await append(host, edited(n), basedOn: base).id }
        #expect(try await host.history(limit: 3).map(\.id) == [12, 11, 10])
        #expect(try await host.history(limit: 100).map(\.id) == Array((1...12).reversed()))
    }

    @Test func aStaleBaseIsRefusedAndNothingIsWritten() async throws {
        let host = store()
        _ = try await append(host, source, basedOn: nil)
        let keysBefore = etcd.keyCount
        await #expect(throws: StoreError.staleBase(planned: nil, current: 1)) { try await append(host, edited(1), basedOn: nil) }
        await #expect(throws: StoreError.staleBase(planned: 5, current: 1)) { try await append(host, edited(1), basedOn: 5) }
        #expect(etcd.keyCount == keysBefore)
    }

    /// Another host commits between this host's read of the head and its transaction: the
    /// comparison on the head's mod_revision refuses this one (the admin API's 409).
    @Test func ofTwoHostsAppendingOnOneBaseTheTransactionLetsOneThrough() async throws {
        let hostB = store()
        _ = try await append(store(), source, basedOn: nil)
        // Host A's commit of revision 2 lands after B read the head and before B's transaction.
        let head = keys.head
        etcd.beforeNextTxn { etcd in
            etcd.putNow(key: head, value: Array(#"{"id":2,"nonce":"host-a"}"#.utf8))
        }
        await #expect(throws: StoreError.staleBase(planned: 1, current: 2)) { try await append(hostB, edited(2), basedOn: 1) }
        // B's record was not written.
        #expect(try await hostB.revision(id: 2) == nil)
    }

    /// A member dies after committing: the retry's answer is lost, the head's nonce shows it committed.
    @Test func anAppendWhoseAnswerWasLostIsFoundCommitted() async throws {
        let host = store(nonce: "mine")
        etcd.loseNextTxnAnswer()
        let applied = try await append(host, source, basedOn: nil)
        #expect(applied.id == 1)
        #expect(try await host.latest()?.summary == applied)
    }

    @Test func etcdOutOfReachIsUnavailableNamingTheEndpointsAndWritesNothing() async throws {
        let host = store()
        etcd.failing(.unreachable(endpoints: etcd.endpointList, lastError: "connection refused"))
        do {
            _ = try await append(host, source, basedOn: nil)
            Issue.record("an append with etcd down succeeded")
        } catch let error as StoreUnavailable {
            #expect(error.description.contains("http://198.18.255.1:2379, http://198.18.255.2:2379"))
            #expect(error.description.contains("connection refused"))
        }
        await #expect(throws: StoreUnavailable.self) { try await host.history(limit: 5) }
        etcd.failing(nil)
        #expect(etcd.keyCount == 0)
        #expect(try await append(host, source, basedOn: nil).id == 1)
    }

    @Test func anApplyWritesItsZoneAppliedToTheSharedOutboxInItsTransaction() async throws {
        let host = store()
        _ = try await append(host, source, basedOn: nil)
        await #expect(throws: StoreError.self) { try await append(host, source, basedOn: nil) }
        let outbox = EtcdOutboxKeys(keys)
        let events = try await etcd.range(.prefix(outbox.events)).kvs
        #expect(events.map(\.keyText) == [String(decoding: outbox.event(EtcdOutboxKeys.appliedName(revision: 1)), as: UTF8.self)])
        let record = try #require(EtcdOutboxPlan.decode(EtcdOutboxEvent.self, events[0].value))
        #expect(record.event.type == .zoneApplied && record.event.details["revision"] == "1")
        #expect(try await etcd.range(.prefix(outbox.due)).kvs.count == 1)
    }

    @Test func theCachedRevisionReadsBackWhole() async throws {
        let path = NSTemporaryDirectory() + "zoneboot-etcd-cache-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(EtcdRevisionCache.read(path: path) == nil)
        let host = store()
        _ = try await host.append(source: source, zone: "a", author: "ops", message: "why", basedOn: nil, summary: "s",
                                  origin: .rollback)
        let stored = try #require(try await host.latest())
        try EtcdRevisionCache.write(stored, path: path)
        #expect(EtcdRevisionCache.read(path: path) == stored)
    }
}
