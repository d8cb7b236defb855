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

    /// Every block claimed in `pod`, with the etcd lease it is bound to; keys that name no
    /// address are skipped (someone else's key under the prefix).
    public func claimed(pod: String) async throws(EtcdError) -> [IPv4Address: Int64] {
        let folder = keys.discoveryBlocks(pod: pod)
        let answer = try await kv.range(.prefix(folder))
        var claims: [IPv4Address: Int64] = [:]
        for entry in answer.kvs {
            guard let first = IPv4Address(String(decoding: entry.key.dropFirst(folder.count), as: UTF8.self)) else { continue }
            claims[first] = entry.lease
        }
        return claims
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
