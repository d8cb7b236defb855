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

    /// Claims the block at `first` for the holder of etcd lease `lease` (`host` is written as
    /// its value, for operators); false when another host holds it already.
    public func claim(pod: String, first: IPv4Address, lease: Int64, host: String) async throws(EtcdError) -> Bool {
        let key = keys.discoveryBlock(pod: pod, first: first)
        let answer = try await kv.txn(EtcdTxnRequest(
            compare: [EtcdCompare(key: key, .createRevision(0))],
            success: [.put(EtcdPutRequest(key: key, value: Array(host.utf8), lease: lease))]))
        return answer.succeeded
    }
}
