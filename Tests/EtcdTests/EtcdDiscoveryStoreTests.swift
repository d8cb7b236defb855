import Addressing
import Boot
import Etcd
import Foundation
import Store
import Synchronization
import TestSupport
import Testing
import Zone

/// A local store that keeps what it committed.
private final class LocalStore: DurableLeaseStore {
    let leases = Mutex<[Lease]>([])
    func loadLeases() throws -> [Lease] { leases.withLock { $0 } }
    func commit(leases: [Lease], events: [ZoneEvent]) throws { self.leases.withLock { $0 += leases } }
}

private func lease(_ last: UInt8, declared: Bool) -> Lease {
    Lease(address: IPv4Address(198, 18, 16, last), mac: [2, 0, 0, 0, 0, last], clientID: nil, pod: "p01",
          location: declared ? Location(pod: "p01", switch: "tor-a", port: "swp\(last)") : nil, name: declared ? "h\(last)" : nil,
          state: .bound, expiresAt: 2_000_000_000, updatedAt: 1_800_000_000)
}

/// Runs a commit on a thread of its own, as the DHCP writer's thread pool does: a commit
/// waits for etcd, and must not hold one of the few threads Swift's concurrency runs on.
private func commit(_ records: EtcdLeaseRecords, _ leases: [Lease]) async throws {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        Thread.detachNewThread {
            continuation.resume(with: Result { try records.commit(leases: leases, events: []) })
        }
    }
}

@Suite struct EtcdDiscoveryStoreTests {
    let etcd = InMemoryEtcd()
    let keys = EtcdZoneKeys(prefix: "/zb/lab/")

    @Test func aBlockIsClaimedByOneHostOnlyUnderItsLease() async throws {
        let claims = EtcdDiscoveryBlockClaims(kv: etcd, keys: keys)
        let first = IPv4Address(198, 18, 16, 200)
        #expect(try await claims.claim(pod: "p01", firsts: [first], lease: 7, host: "198.18.0.10"))
        #expect(try await !claims.claim(pod: "p01", firsts: [first], lease: 8, host: "198.18.0.11"))
        #expect(try await claims.claim(pod: "p01", firsts: [IPv4Address(198, 18, 16, 216)], lease: 8, host: "198.18.0.11"))
        #expect(try await claims.claimed(pod: "p01").mapValues(\.lease) == [first: 7, IPv4Address(198, 18, 16, 216): 8])
        // Several in one transaction, all or none: one of them held already, none is taken.
        let more = [IPv4Address(198, 18, 16, 232), IPv4Address(198, 18, 16, 248)]
        let written = try await etcd.range(.prefix(keys.discoveryBlocks(pod: "p01"))).header.revision
        #expect(try await !claims.claim(pod: "p01", firsts: more + [first], lease: 8, host: "198.18.0.11"))
        #expect(try await claims.claimed(pod: "p01").count == 2)
        #expect(try await claims.claim(pod: "p01", firsts: more, lease: 8, host: "198.18.0.11"))
        #expect(try await claims.claimed(pod: "p01").mapValues(\.lease) == [first: 7, IPv4Address(198, 18, 16, 216): 8, more[0]: 8, more[1]: 8])
        #expect(try await claims.claimed(pod: "p01")[first]?.host == "198.18.0.10")
        #expect(try await etcd.range(.prefix(keys.discoveryBlocks(pod: "p01"))).header.revision == written + 1)
        #expect(try await claims.claimed(pod: "p02").isEmpty)
        let key = try await etcd.range(EtcdRangeRequest(key: keys.discoveryBlock(pod: "p01", first: first)))
        #expect(key.kvs.first?.keyText == "/zb/lab/discovery/blocks/p01/198.18.16.200")
    }

    @Test func aRestartedHostTakesBackItsBlocksOnlyAsTheyWereRead() async throws {
        let claims = EtcdDiscoveryBlockClaims(kv: etcd, keys: keys)
        let old = try await etcd.grantLease(ttlSeconds: 10).id
        let blocks = [IPv4Address(198, 18, 16, 200), IPv4Address(198, 18, 16, 216)]
        #expect(try await claims.claim(pod: "p01", firsts: blocks, lease: old, host: "198.18.0.10"))
        // The host restarts (killed: the old lease still runs) and reads what it held.
        let new = try await etcd.grantLease(ttlSeconds: 10).id
        let earlier = try await claims.claimed(pod: "p01")
        #expect(try await claims.takeBack(pod: "p01", claims: earlier, lease: new, host: "198.18.0.10") == blocks)
        #expect(try await claims.claimed(pod: "p01").mapValues(\.lease) == [blocks[0]: new, blocks[1]: new])
        // The old lease expiring no longer takes them away.
        etcd.expireLease(old)
        #expect(try await claims.claimed(pod: "p01").count == 2)
        // A stale read moves nothing: the blocks changed since (here: taken back already).
        #expect(try await claims.takeBack(pod: "p01", claims: earlier, lease: old, host: "198.18.0.10").isEmpty)
        #expect(try await claims.claimed(pod: "p01").mapValues(\.lease) == [blocks[0]: new, blocks[1]: new])
    }

    @Test func moreBlocksThanOneTransactionTakesAreTakenBackInSeveral() async throws {
        let claims = EtcdDiscoveryBlockClaims(kv: etcd, keys: keys)
        let old = try await etcd.grantLease(ttlSeconds: 10).id
        let range = IPv4Range("198.18.32.0-198.18.63.255")!
        let all = DiscoveryBlocks(blockSize: 16).blocks(of: range)
        #expect(all.count == 512)
        for start in stride(from: 0, to: all.count, by: 32) {
            #expect(try await claims.claim(pod: "p01", firsts: Array(all[start..<start + 32]), lease: old, host: "198.18.0.10"))
        }
        let new = try await etcd.grantLease(ttlSeconds: 10).id
        let moved = try await claims.takeBack(pod: "p01", claims: try await claims.claimed(pod: "p01"), lease: new, host: "198.18.0.10")
        #expect(moved == all)
        #expect(try await claims.claimed(pod: "p01").values.allSatisfy { $0.lease == new })
    }

    @Test func aDiscoveryLeaseIsInEtcdBeforeItsCommitReturns() async throws {
        let local = LocalStore()
        let records = EtcdLeaseRecords(local: local, kv: etcd, keys: keys, host: "198.18.0.10") { _ in }
        try await commit(records, [lease(200, declared: false), lease(7, declared: true)])
        let read = try await EtcdLeaseRecords.all(kv: etcd, keys: keys)
        #expect(Set(read.records.map(\.lease.address)) == [IPv4Address(198, 18, 16, 200), IPv4Address(198, 18, 16, 7)])
        #expect(read.records.allSatisfy { $0.host == "198.18.0.10" })
        let inBlock = try await EtcdLeaseRecords.records(kv: etcd, keys: keys,
                                                         addresses: [IPv4Address(198, 18, 16, 200), IPv4Address(198, 18, 16, 201)])
        #expect(inBlock.map(\.lease) == [lease(200, declared: false)])
    }

    @Test func withEtcdOutOfReachADiscoveryCommitFailsAndADeclaredOneDoesNot() async throws {
        let local = LocalStore()
        let failures = Mutex<[String?]>([])
        let records = EtcdLeaseRecords(local: local, kv: etcd, keys: keys, host: "198.18.0.10") { failure in
            failures.withLock { $0.append(failure) }
        }
        etcd.failing(.unreachable(endpoints: etcd.endpointList, lastError: "connection refused"))
        await #expect(throws: EtcdError.self) { try await commit(records, [lease(200, declared: false)]) }
        try await commit(records, [lease(7, declared: true)])
        #expect(local.leases.withLock { $0.map(\.address) } == [IPv4Address(198, 18, 16, 200), IPv4Address(198, 18, 16, 7)])
        // The declared record follows in the background: its failure is told once...
        try await until { failures.withLock { $0.count } == 1 }
        #expect(failures.withLock { $0.count } == 1 && failures.withLock { $0[0] } != nil)
        // ...and its return once: the record left behind is written when etcd answers again,
        // with no new commit to carry it.
        etcd.failing(nil)
        try await until { failures.withLock { $0.count } == 2 }
        #expect(failures.withLock { $0[1] } == nil)
        let read = try await EtcdLeaseRecords.all(kv: etcd, keys: keys)
        #expect(read.records.map(\.lease) == [lease(7, declared: true)])
    }

    @Test func aDeclaredRecordLeftBehindNeverOverwritesANewerOneFromAnotherHost() async throws {
        let failures = Mutex<[String?]>([])
        let records = EtcdLeaseRecords(local: LocalStore(), kv: etcd, keys: keys, host: "198.18.0.10") { failure in
            failures.withLock { $0.append(failure) }
        }
        etcd.failing(.unreachable(endpoints: etcd.endpointList, lastError: "connection refused"))
        try await commit(records, [lease(7, declared: true), lease(9, declared: true)])
        try await until { failures.withLock { $0.count } == 1 }
        // Meanwhile the other host renewed the client of .7 (a newer lease) and wrote its record.
        etcd.failing(nil)
        var renewed = lease(7, declared: true)
        renewed.updatedAt += 60
        let other = EtcdLeaseRecords(local: LocalStore(), kv: etcd, keys: keys, host: "198.18.0.11") { _ in }
        try await commit(other, [lease(200, declared: false), renewed])
        try await until { failures.withLock { $0.count } == 2 }
        let read = try await EtcdLeaseRecords.all(kv: etcd, keys: keys)
        #expect(Dictionary(uniqueKeysWithValues: read.records.map { ($0.lease.address, $0.host) })
            == [IPv4Address(198, 18, 16, 7): "198.18.0.11", IPv4Address(198, 18, 16, 9): "198.18.0.10",
                IPv4Address(198, 18, 16, 200): "198.18.0.11"])
        #expect(read.records.first { $0.lease.address == IPv4Address(198, 18, 16, 7) }?.lease == renewed)
    }

    @Test func recordsAreReadAgainOnlyWhereTheyChangedSinceTheLastRead() async throws {
        let records = EtcdLeaseRecords(local: LocalStore(), kv: etcd, keys: keys, host: "198.18.0.10") { _ in }
        try await commit(records, [lease(200, declared: false), lease(201, declared: false)])
        let first = try await EtcdLeaseRecords.all(kv: etcd, keys: keys)
        #expect(first.records.count == 2)
        #expect(try await EtcdLeaseRecords.all(kv: etcd, keys: keys, since: first.revision).records.isEmpty)
        var renewed = lease(201, declared: false)
        renewed.updatedAt += 60
        try await commit(records, [renewed, lease(202, declared: false)])
        let changed = try await EtcdLeaseRecords.all(kv: etcd, keys: keys, since: first.revision)
        #expect(Set(changed.records.map(\.lease)) == [renewed, lease(202, declared: false)])
        #expect(changed.revision > first.revision)
    }

    /// Waits (bounded) for the background writer; what it waits for is asserted after.
    private func until(_ condition: () -> Bool) async throws {
        for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
    }
}
