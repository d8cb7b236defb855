/// etcd's lease calls, apart from the key-value ones: what a holder of claims needs (a claim
/// key attached to a lease vanishes when its holder stops renewing). `EtcdClient` does them
/// over the network; a test's in-memory double does them without one.
public protocol EtcdLeasing: Sendable {
    func grantLease(ttlSeconds: Int64) async throws(EtcdError) -> EtcdLease
    /// One renewal; a TTL of 0 in the answer means the lease had already expired.
    func keepAlive(lease id: Int64) async throws(EtcdError) -> EtcdLease
    func revokeLease(_ id: Int64) async throws(EtcdError)
}

extension EtcdClient: EtcdLeasing {}
