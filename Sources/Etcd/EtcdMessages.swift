/// The etcd v3 messages ZoneBoot uses, as typed values. Keys and values are bytes (the JSON
/// gateway carries them base64); revisions, lease IDs and counts are 64-bit. A field proto3
/// leaves at its zero value is absent from the gateway's JSON: decoding fills it with zero.

/// What every answer carries: the store's revision when it was served.
public struct EtcdHeader: Sendable, Equatable {
    public var revision: Int64
    public var memberID: UInt64

    public init(revision: Int64 = 0, memberID: UInt64 = 0) {
        self.revision = revision
        self.memberID = memberID
    }
}

/// One key with its value and the revisions that made it.
public struct EtcdKeyValue: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
    public var createRevision: Int64
    public var modRevision: Int64
    public var version: Int64
    /// The etcd lease the key is attached to (0: none).
    public var lease: Int64

    public init(key: [UInt8], value: [UInt8], createRevision: Int64 = 0, modRevision: Int64 = 0, version: Int64 = 0,
                lease: Int64 = 0) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }

    public var keyText: String { String(decoding: key, as: UTF8.self) }
}

extension Array where Element == UInt8 {
    /// The end of the range of every key that starts with these bytes (etcd's `range_end` for a prefix).
    public var prefixRangeEnd: [UInt8] {
        var end = self
        while let last = end.last {
            if last < 0xFF {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        // Every byte 0xFF (or empty): to the end of the keyspace.
        return [0]
    }
}

public struct EtcdRangeRequest: Sendable, Equatable {
    public enum SortOrder: String, Sendable { case none = "NONE", ascend = "ASCEND", descend = "DESCEND" }
    public enum SortTarget: String, Sendable { case key = "KEY", version = "VERSION", create = "CREATE", mod = "MOD", value = "VALUE" }

    public var key: [UInt8]
    /// Nil: the one key.
    public var rangeEnd: [UInt8]?
    /// 0: no limit.
    public var limit: Int64
    public var sortOrder: SortOrder
    public var sortTarget: SortTarget
    public var keysOnly: Bool
    public var countOnly: Bool
    /// Only keys written at or after this revision (0: every key): what changed since a read.
    public var minModRevision: Int64

    public init(key: [UInt8], rangeEnd: [UInt8]? = nil, limit: Int64 = 0, sortOrder: SortOrder = .none,
                sortTarget: SortTarget = .key, keysOnly: Bool = false, countOnly: Bool = false, minModRevision: Int64 = 0) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.limit = limit
        self.sortOrder = sortOrder
        self.sortTarget = sortTarget
        self.keysOnly = keysOnly
        self.countOnly = countOnly
        self.minModRevision = minModRevision
    }

    /// Every key under `prefix` (written at or after `minModRevision`, when given).
    public static func prefix(_ prefix: [UInt8], limit: Int64 = 0, sortOrder: SortOrder = .none, minModRevision: Int64 = 0) -> Self {
        EtcdRangeRequest(key: prefix, rangeEnd: prefix.prefixRangeEnd, limit: limit, sortOrder: sortOrder, minModRevision: minModRevision)
    }
}

public struct EtcdRangeResponse: Sendable, Equatable {
    public var header: EtcdHeader
    public var kvs: [EtcdKeyValue]
    /// More keys matched than `limit` let through.
    public var more: Bool
    public var count: Int64

    public init(header: EtcdHeader = EtcdHeader(), kvs: [EtcdKeyValue] = [], more: Bool = false, count: Int64 = 0) {
        self.header = header
        self.kvs = kvs
        self.more = more
        self.count = count
    }
}

public struct EtcdPutRequest: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
    /// 0: no lease.
    public var lease: Int64
    public var prevKV: Bool

    public init(key: [UInt8], value: [UInt8], lease: Int64 = 0, prevKV: Bool = false) {
        self.key = key
        self.value = value
        self.lease = lease
        self.prevKV = prevKV
    }
}

public struct EtcdPutResponse: Sendable, Equatable {
    public var header: EtcdHeader
    public var prevKV: EtcdKeyValue?

    public init(header: EtcdHeader = EtcdHeader(), prevKV: EtcdKeyValue? = nil) {
        self.header = header
        self.prevKV = prevKV
    }
}

public struct EtcdDeleteRangeRequest: Sendable, Equatable {
    public var key: [UInt8]
    public var rangeEnd: [UInt8]?
    public var prevKV: Bool

    public init(key: [UInt8], rangeEnd: [UInt8]? = nil, prevKV: Bool = false) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.prevKV = prevKV
    }
}

public struct EtcdDeleteRangeResponse: Sendable, Equatable {
    public var header: EtcdHeader
    public var deleted: Int64
    public var prevKVs: [EtcdKeyValue]

    public init(header: EtcdHeader = EtcdHeader(), deleted: Int64 = 0, prevKVs: [EtcdKeyValue] = []) {
        self.header = header
        self.deleted = deleted
        self.prevKVs = prevKVs
    }
}

/// One condition of a transaction, on one key. A key that does not exist compares as if its
/// revisions, version and lease were 0 (so `modRevision == 0` means "absent").
public struct EtcdCompare: Sendable, Equatable {
    public enum Target: Sendable, Equatable {
        case version(Int64)
        case createRevision(Int64)
        case modRevision(Int64)
        case value([UInt8])
        case lease(Int64)
    }

    public enum Result: String, Sendable { case equal = "EQUAL", greater = "GREATER", less = "LESS", notEqual = "NOT_EQUAL" }

    public var key: [UInt8]
    public var target: Target
    public var result: Result

    public init(key: [UInt8], _ target: Target, _ result: Result = .equal) {
        self.key = key
        self.target = target
        self.result = result
    }
}

/// One operation of a transaction's branch.
public enum EtcdOperation: Sendable, Equatable {
    case range(EtcdRangeRequest)
    case put(EtcdPutRequest)
    case deleteRange(EtcdDeleteRangeRequest)
}

/// One operation's answer, in the order of the branch that ran.
public enum EtcdOperationResponse: Sendable, Equatable {
    case range(EtcdRangeResponse)
    case put(EtcdPutResponse)
    case deleteRange(EtcdDeleteRangeResponse)
}

/// If every comparison holds, `success` runs, else `failure`: atomically, at one revision.
public struct EtcdTxnRequest: Sendable, Equatable {
    /// etcd takes at most this many comparisons, and operations in a branch, in one
    /// transaction (its `--max-txn-ops`, 128 by default).
    public static let maximumOperations = 128

    /// `items` cut in order into runs of at most `maximumOperations`: one transaction each.
    public static func batches<Items: RandomAccessCollection>(_ items: Items) -> [Items.SubSequence] where Items.Index == Int {
        stride(from: items.startIndex, to: items.endIndex, by: maximumOperations).map {
            items[$0..<min($0 + maximumOperations, items.endIndex)]
        }
    }

    public var compare: [EtcdCompare]
    public var success: [EtcdOperation]
    public var failure: [EtcdOperation]

    public init(compare: [EtcdCompare], success: [EtcdOperation], failure: [EtcdOperation] = []) {
        self.compare = compare
        self.success = success
        self.failure = failure
    }
}

public struct EtcdTxnResponse: Sendable, Equatable {
    public var header: EtcdHeader
    public var succeeded: Bool
    public var responses: [EtcdOperationResponse]

    public init(header: EtcdHeader = EtcdHeader(), succeeded: Bool, responses: [EtcdOperationResponse] = []) {
        self.header = header
        self.succeeded = succeeded
        self.responses = responses
    }
}

/// An etcd lease: keys attached to it are deleted when it expires (its holder stopped renewing).
public struct EtcdLease: Sendable, Equatable {
    public var id: Int64
    /// Seconds left.
    public var ttl: Int64

    public init(id: Int64, ttl: Int64) {
        self.id = id
        self.ttl = ttl
    }
}

/// A watch on one key or range, from a revision on (0: from now).
public struct EtcdWatchRequest: Sendable, Equatable {
    public var key: [UInt8]
    public var rangeEnd: [UInt8]?
    public var startRevision: Int64
    public var prevKV: Bool

    public init(key: [UInt8], rangeEnd: [UInt8]? = nil, startRevision: Int64 = 0, prevKV: Bool = false) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.startRevision = startRevision
        self.prevKV = prevKV
    }
}

public struct EtcdEvent: Sendable, Equatable {
    public enum Kind: String, Sendable { case put = "PUT", delete = "DELETE" }
    public var kind: Kind
    public var kv: EtcdKeyValue
    public var prevKV: EtcdKeyValue?

    public init(kind: Kind, kv: EtcdKeyValue, prevKV: EtcdKeyValue? = nil) {
        self.kind = kind
        self.kv = kv
        self.prevKV = prevKV
    }
}

/// One message of a watch stream: its creation, events, or its end.
public struct EtcdWatchResponse: Sendable, Equatable {
    public var header: EtcdHeader
    public var watchID: Int64
    public var created: Bool
    public var canceled: Bool
    /// Set when the start revision was compacted away: watch again from a fresh read.
    public var compactRevision: Int64
    public var cancelReason: String
    public var events: [EtcdEvent]

    public init(header: EtcdHeader = EtcdHeader(), watchID: Int64 = 0, created: Bool = false, canceled: Bool = false,
                compactRevision: Int64 = 0, cancelReason: String = "", events: [EtcdEvent] = []) {
        self.header = header
        self.watchID = watchID
        self.created = created
        self.canceled = canceled
        self.compactRevision = compactRevision
        self.cancelReason = cancelReason
        self.events = events
    }
}
