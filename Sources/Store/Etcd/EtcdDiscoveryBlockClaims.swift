import Addressing
import Etcd
import Foundation

extension EtcdZoneKeys {
    /// Every block claimed in `pod`'s discovery range: `discovery/blocks/<pod>/<first address>`.
    public func discoveryBlocks(pod: String) -> [UInt8] { Array((prefix + "discovery/blocks/\(pod)/").utf8) }
    public func discoveryBlock(pod: String, first: IPv4Address) -> [UInt8] { discoveryBlocks(pod: pod) + Array("\(first)".utf8) }
    /// Every lease record: `leases/<address>`.
    public var leaseRecords: [UInt8] { Array((prefix + "leases/").utf8) }
    public func leaseRecord(_ address: IPv4Address) -> [UInt8] { leaseRecords + Array("\(address)".utf8) }
}

/// Discovery blocks claimed in etcd (the I/O of `DiscoveryBlocks`): a block key is created
/// only if absent, bound to the claiming host's etcd lease, so etcd deletes it (the block
/// returns to the pool) when that host stops renewing its lease.
public struct EtcdDiscoveryBlockClaims: Sendable {
    public let keys: EtcdZoneKeys
    private let kv: any EtcdKV

    public init(kv: any EtcdKV, keys: EtcdZoneKeys) {
        self.kv = kv
        self.keys = keys
    }

    /// Every block claimed in `pod`; keys that name no address are skipped (someone else's key
    /// under the prefix).
    public func claimed(pod: String) async throws(EtcdError) -> [IPv4Address: EtcdBlockClaim] {
        let folder = keys.discoveryBlocks(pod: pod)
        let answer = try await kv.range(.prefix(folder))
        var claims: [IPv4Address: EtcdBlockClaim] = [:]
        for entry in answer.kvs {
            guard let first = IPv4Address(String(decoding: entry.key.dropFirst(folder.count), as: UTF8.self)) else { continue }
            claims[first] = EtcdBlockClaim(lease: entry.lease, host: String(decoding: entry.value, as: UTF8.self),
                                           modRevision: entry.modRevision)
        }
        return claims
    }

    /// Moves `claims` (blocks claimed by an earlier run of this host, whose etcd lease it no
    /// longer renews: it was killed, or crashed) to `lease`, each only if it is unchanged since
    /// it was read (not expired, not taken by another host meanwhile), 128 to a transaction
    /// (etcd's `--max-txn-ops`), each transaction all or none. A restarted host so keeps its
    /// blocks, and the addresses it gave from them, instead of leaving them stranded until the
    /// old lease's TTL runs out. Returns the blocks moved.
    public func takeBack(pod: String, claims: [IPv4Address: EtcdBlockClaim], lease: Int64, host: String) async throws(EtcdError) -> [IPv4Address] {
        let blocks = claims.sorted { $0.key < $1.key }
        var moved: [IPv4Address] = []
        for chunk in EtcdTxnRequest.batches(blocks) {
            let keys = chunk.map { self.keys.discoveryBlock(pod: pod, first: $0.key) }
            let answer = try await kv.txn(EtcdTxnRequest(
                compare: zip(keys, chunk).map { EtcdCompare(key: $0, .modRevision($1.value.modRevision)) },
                success: keys.map { .put(EtcdPutRequest(key: $0, value: Array(host.utf8), lease: lease)) }))
            if answer.succeeded { moved += chunk.map(\.key) }
        }
        return moved
    }

    /// Claims the blocks at `firsts` for the holder of etcd lease `lease`, all or none, in one
    /// transaction (one etcd write however many: `host` is written as each one's value, for
    /// operators); false when another host holds one of them already.
    public func claim(pod: String, firsts: [IPv4Address], lease: Int64, host: String) async throws(EtcdError) -> Bool {
        guard !firsts.isEmpty else { return true }
        let keys = firsts.map { self.keys.discoveryBlock(pod: pod, first: $0) }
        let answer = try await kv.txn(EtcdTxnRequest(
            compare: keys.map { EtcdCompare(key: $0, .createRevision(0)) },
            success: keys.map { .put(EtcdPutRequest(key: $0, value: Array(host.utf8), lease: lease)) }))
        return answer.succeeded
    }
}

/// One claimed block as etcd holds it.
public struct EtcdBlockClaim: Sendable, Equatable {
    /// The etcd lease it is bound to (the claiming run of its host).
    public var lease: Int64
    /// The host that claimed it (its server identifier).
    public var host: String
    public var modRevision: Int64

    public init(lease: Int64, host: String, modRevision: Int64) {
        self.lease = lease
        self.host = host
        self.modRevision = modRevision
    }
}
