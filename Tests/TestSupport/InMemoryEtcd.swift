import Etcd
import Synchronization

/// An etcd keyspace in memory with etcd's revision and comparison rules, for the stores built
/// on `EtcdKV` (the real etcd is met in the e2e tests). Failures are injected one call at a time.
public final class InMemoryEtcd: EtcdKV, Sendable {
    private struct State {
        var keys: [[UInt8]: EtcdKeyValue] = [:]
        var revision: Int64 = 1
        var failing: EtcdError?
        var loseNextTxnAnswer = false
        var beforeNextTxn: (@Sendable (InMemoryEtcd) -> Void)?
        var liveLeases: Set<Int64> = []
        var lastLease: Int64 = 0x1000
    }

    private let state = Mutex(State())
    public let endpointList = ["http://198.18.255.1:2379", "http://198.18.255.2:2379"]

    public init() {}

    /// Every call fails with `error` until `failing(nil)`.
    public func failing(_ error: EtcdError?) { state.withLock { $0.failing = error } }

    /// The next transaction commits, then its caller gets `unreachable` (a member died after the commit).
    public func loseNextTxnAnswer() { state.withLock { $0.loseNextTxnAnswer = true } }

    /// Runs once, just before the next transaction is evaluated (another host's write in between).
    public func beforeNextTxn(_ action: @escaping @Sendable (InMemoryEtcd) -> Void) { state.withLock { $0.beforeNextTxn = action } }

    /// A write by someone else, at once (from inside `beforeNextTxn`).
    public func putNow(key: [UInt8], value: [UInt8]) {
        state.withLock { state in
            state.revision += 1
            _ = Self.put(EtcdPutRequest(key: key, value: value), in: &state)
        }
    }

    public var storeRevision: Int64 { state.withLock { $0.revision } }
    public var keyCount: Int { state.withLock { $0.keys.count } }

    public func range(_ request: EtcdRangeRequest) async throws(EtcdError) -> EtcdRangeResponse {
        try state.withLock { state throws(EtcdError) in
            if let failing = state.failing { throw failing }
            return Self.range(request, in: state)
        }
    }

    public func put(_ request: EtcdPutRequest) async throws(EtcdError) -> EtcdPutResponse {
        try state.withLock { state throws(EtcdError) in
            if let failing = state.failing { throw failing }
            state.revision += 1
            let previous = Self.put(request, in: &state)
            return EtcdPutResponse(header: EtcdHeader(revision: state.revision), prevKV: request.prevKV ? previous : nil)
        }
    }

    public func deleteRange(_ request: EtcdDeleteRangeRequest) async throws(EtcdError) -> EtcdDeleteRangeResponse {
        try state.withLock { state throws(EtcdError) in
            if let failing = state.failing { throw failing }
            state.revision += 1
            let deleted = Self.delete(request, in: &state)
            return EtcdDeleteRangeResponse(header: EtcdHeader(revision: state.revision), deleted: Int64(deleted.count),
                                           prevKVs: request.prevKV ? deleted : [])
        }
    }

    public func txn(_ request: EtcdTxnRequest) async throws(EtcdError) -> EtcdTxnResponse {
        let before = state.withLock { state in defer { state.beforeNextTxn = nil }; return state.beforeNextTxn }
        before?(self)
        return try state.withLock { state throws(EtcdError) in
            if let failing = state.failing { throw failing }
            // As etcd's --max-txn-ops (128 by default) refuses it.
            let limit = EtcdTxnRequest.maximumOperations
            if request.compare.count > limit || request.success.count > limit || request.failure.count > limit {
                throw EtcdError.server(code: 3, message: "etcdserver: too many operations in txn request")
            }
            let holds = request.compare.allSatisfy { Self.holds($0, in: state) }
            let operations = holds ? request.success : request.failure
            if operations.contains(where: { if case .range = $0 { false } else { true } }) { state.revision += 1 }
            var responses: [EtcdOperationResponse] = []
            for operation in operations {
                switch operation {
                case .range(let range): responses.append(.range(Self.range(range, in: state)))
                case .put(let put):
                    _ = Self.put(put, in: &state)
                    responses.append(.put(EtcdPutResponse(header: EtcdHeader(revision: state.revision))))
                case .deleteRange(let delete):
                    let deleted = Self.delete(delete, in: &state)
                    responses.append(.deleteRange(EtcdDeleteRangeResponse(header: EtcdHeader(revision: state.revision),
                                                                          deleted: Int64(deleted.count))))
                }
            }
            if state.loseNextTxnAnswer {
                state.loseNextTxnAnswer = false
                throw .unreachable(endpoints: endpointList, lastError: "connection reset after the request was sent")
            }
            return EtcdTxnResponse(header: EtcdHeader(revision: state.revision), succeeded: holds, responses: responses)
        }
    }

    private static func selected(_ key: [UInt8], _ rangeEnd: [UInt8]?, in state: State) -> [EtcdKeyValue] {
        guard let rangeEnd else { return state.keys[key].map { [$0] } ?? [] }
        let toEnd = rangeEnd == [0]
        return state.keys.values.filter { $0.key.lexicographicallyPrecedes(key) == false && (toEnd || $0.key.lexicographicallyPrecedes(rangeEnd)) }
            .sorted { $0.key.lexicographicallyPrecedes($1.key) }
    }

    private static func range(_ request: EtcdRangeRequest, in state: State) -> EtcdRangeResponse {
        var found = selected(request.key, request.rangeEnd, in: state).filter { $0.modRevision >= request.minModRevision }
        if request.sortOrder == .descend { found.reverse() }
        let count = Int64(found.count)
        let limited = request.limit > 0 ? Array(found.prefix(Int(request.limit))) : found
        return EtcdRangeResponse(header: EtcdHeader(revision: state.revision), kvs: request.countOnly ? [] : limited,
                                 more: limited.count < found.count, count: count)
    }

    private static func put(_ request: EtcdPutRequest, in state: inout State) -> EtcdKeyValue? {
        let previous = state.keys[request.key]
        state.keys[request.key] = EtcdKeyValue(key: request.key, value: request.value,
                                               createRevision: previous?.createRevision ?? state.revision,
                                               modRevision: state.revision, version: (previous?.version ?? 0) + 1,
                                               lease: request.lease)
        return previous
    }

    private static func delete(_ request: EtcdDeleteRangeRequest, in state: inout State) -> [EtcdKeyValue] {
        let deleted = selected(request.key, request.rangeEnd, in: state)
        for kv in deleted { state.keys[kv.key] = nil }
        return deleted
    }

    /// An absent key compares as all zeros (and never equal by value), as etcd does.
    private static func holds(_ compare: EtcdCompare, in state: State) -> Bool {
        let kv = state.keys[compare.key]
        let order: Int
        switch compare.target {
        case .version(let value): order = Self.order(kv?.version ?? 0, value)
        case .createRevision(let value): order = Self.order(kv?.createRevision ?? 0, value)
        case .modRevision(let value): order = Self.order(kv?.modRevision ?? 0, value)
        case .lease(let value): order = Self.order(kv?.lease ?? 0, value)
        case .value(let value):
            guard let kv else { return false }
            order = kv.value == value ? 0 : (kv.value.lexicographicallyPrecedes(value) ? -1 : 1)
        }
        switch compare.result {
        case .equal: return order == 0
        case .notEqual: return order != 0
        case .greater: return order > 0
        case .less: return order < 0
        }
    }

    private static func order(_ a: Int64, _ b: Int64) -> Int { a == b ? 0 : (a < b ? -1 : 1) }
}

/// Leases as etcd keeps them, without a clock: a test ends one with `expireLease`, which
/// deletes the keys attached to it, as etcd does when the holder stops renewing.
extension InMemoryEtcd: EtcdLeasing {
    public func grantLease(ttlSeconds: Int64) async throws(EtcdError) -> EtcdLease {
        try state.withLock { state throws(EtcdError) in
            if let failing = state.failing { throw failing }
            state.lastLease += 1
            state.liveLeases.insert(state.lastLease)
            return EtcdLease(id: state.lastLease, ttl: ttlSeconds)
        }
    }

    public func keepAlive(lease id: Int64) async throws(EtcdError) -> EtcdLease {
        try state.withLock { state throws(EtcdError) in
            if let failing = state.failing { throw failing }
            return EtcdLease(id: id, ttl: state.liveLeases.contains(id) ? 10 : 0)
        }
    }

    public func revokeLease(_ id: Int64) async throws(EtcdError) { expireLease(id) }

    /// The lease's holder stopped renewing (it died): its keys go, as after its TTL.
    public func expireLease(_ id: Int64) {
        state.withLock { state in
            state.liveLeases.remove(id)
            state.revision += 1
            for kv in state.keys.values where kv.lease == id { state.keys[kv.key] = nil }
        }
    }

    public var liveLeaseCount: Int { state.withLock { $0.liveLeases.count } }
}
