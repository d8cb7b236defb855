import Foundation

/// Why an etcd exchange failed.
public enum EtcdError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The answer is not the JSON the gateway sends (a proxy's page, a truncated body).
    case malformedResponse(String)
    /// etcd answered with an error (gRPC code and message): a bad request, a lease not found,
    /// no leader. Not retried on another member when the request itself is at fault.
    case server(code: Int, message: String)
    /// No member answered: every endpoint tried, each one's failure.
    case unreachable(endpoints: [String], lastError: String)
    /// The request is larger than etcd takes in one request (1.5 MiB by default).
    case requestTooLarge(bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .malformedResponse(let why): "etcd answered with something that is not an etcd v3 JSON answer: \(why)"
        case .server(let code, let message): "etcd refused the request: \(message) (code \(code))"
        case .unreachable(let endpoints, let lastError):
            "etcd is unreachable at \(endpoints.joined(separator: ", ")): \(lastError)"
        case .requestTooLarge(let bytes, let limit):
            "the request is \(bytes) bytes; etcd takes at most \(limit) bytes in one request"
        }
    }

    /// gRPC codes for which another member may answer (unavailable, deadline exceeded, aborted,
    /// internal, unknown: a member without a leader or quorum; cancelled: a member shutting down,
    /// whose gateway answers "grpc: the client connection is closing").
    public var isRetryableOnAnotherMember: Bool {
        switch self {
        case .server(let code, _): [1, 2, 4, 10, 13, 14].contains(code)
        case .malformedResponse, .unreachable: true
        case .requestTooLarge: false
        }
    }
}

/// The etcd v3 JSON gateway's encoding (`/v3/kv/range` and the rest): requests to bytes and
/// answers from bytes. Pure and total: any answer, however malformed, is a value or an `EtcdError`.
public enum EtcdCodec {
    // MARK: Paths

    public static let rangePath = "/v3/kv/range"
    public static let putPath = "/v3/kv/put"
    public static let txnPath = "/v3/kv/txn"
    public static let deleteRangePath = "/v3/kv/deleterange"
    public static let leaseGrantPath = "/v3/lease/grant"
    public static let leaseKeepAlivePath = "/v3/lease/keepalive"
    public static let leaseRevokePath = "/v3/lease/revoke"
    public static let watchPath = "/v3/watch"

    // MARK: Requests

    public static func encode(_ request: EtcdRangeRequest) -> [UInt8] { serialize(rangeObject(request)) }
    public static func encode(_ request: EtcdPutRequest) -> [UInt8] { serialize(putObject(request)) }
    public static func encode(_ request: EtcdDeleteRangeRequest) -> [UInt8] { serialize(deleteObject(request)) }

    public static func encode(_ request: EtcdTxnRequest) -> [UInt8] {
        serialize([
            "compare": request.compare.map(compareObject),
            "success": request.success.map(operationObject),
            "failure": request.failure.map(operationObject),
        ])
    }

    public static func encodeLeaseGrant(ttl: Int64) -> [UInt8] { serialize(["TTL": String(ttl)]) }
    public static func encodeLease(id: Int64) -> [UInt8] { serialize(["ID": String(id)]) }

    public static func encode(_ request: EtcdWatchRequest) -> [UInt8] {
        var create: [String: Any] = ["key": base64(request.key), "start_revision": String(request.startRevision)]
        if let end = request.rangeEnd { create["range_end"] = base64(end) }
        if request.prevKV { create["prev_kv"] = true }
        return serialize(["create_request": create])
    }

    // MARK: Answers

    public static func decodeRange(_ bytes: [UInt8]) throws(EtcdError) -> EtcdRangeResponse {
        try range(object(bytes))
    }

    public static func decodePut(_ bytes: [UInt8]) throws(EtcdError) -> EtcdPutResponse { try put(object(bytes)) }

    public static func decodeDeleteRange(_ bytes: [UInt8]) throws(EtcdError) -> EtcdDeleteRangeResponse {
        try deleteRange(object(bytes))
    }

    public static func decodeTxn(_ bytes: [UInt8]) throws(EtcdError) -> EtcdTxnResponse {
        let root = try object(bytes)
        var responses: [EtcdOperationResponse] = []
        for item in try root.array("responses") {
            guard let op = item as? [String: Any] else { throw .malformedResponse("a transaction response is not an object") }
            let one = JSONFields(op)
            if let range = try one.optionalObject("response_range") {
                responses.append(.range(try Self.range(range)))
            } else if let put = try one.optionalObject("response_put") {
                responses.append(.put(try Self.put(put)))
            } else if let delete = try one.optionalObject("response_delete_range") {
                responses.append(.deleteRange(try Self.deleteRange(delete)))
            } else {
                throw .malformedResponse("a transaction response of no known kind")
            }
        }
        return EtcdTxnResponse(header: try header(root), succeeded: try root.bool("succeeded"), responses: responses)
    }

    public static func decodeLease(_ bytes: [UInt8]) throws(EtcdError) -> EtcdLease {
        let root = try object(bytes)
        return try lease(root)
    }

    /// A keep-alive answer is a stream message: `{"result": {...}}`.
    public static func decodeKeepAlive(_ bytes: [UInt8]) throws(EtcdError) -> EtcdLease {
        let root = try streamResult(bytes)
        return try lease(root)
    }

    public static func decodeRevoke(_ bytes: [UInt8]) throws(EtcdError) -> EtcdHeader { try header(object(bytes)) }

    /// The error a non-200 answer's body names (`{"error": ..., "code": N, "message": ...}`), if it is one.
    public static func gatewayError(_ bytes: [UInt8]) -> EtcdError? {
        do throws(EtcdError) {
            _ = try object(bytes)
            return nil
        } catch {
            if case .server = error { return error }
            return nil
        }
    }

    /// One line of a watch stream.
    public static func decodeWatch(_ bytes: [UInt8]) throws(EtcdError) -> EtcdWatchResponse {
        let result = try streamResult(bytes)
        var events: [EtcdEvent] = []
        for item in try result.array("events") {
            guard let fields = item as? [String: Any] else { throw .malformedResponse("a watch event is not an object") }
            let event = JSONFields(fields)
            let kindText = try event.string("type") ?? "PUT"
            guard let kind = EtcdEvent.Kind(rawValue: kindText) else { throw .malformedResponse("a watch event of type \(kindText)") }
            guard let kv = try event.optionalObject("kv") else { throw .malformedResponse("a watch event without a key") }
            events.append(EtcdEvent(kind: kind, kv: try keyValue(kv), prevKV: try event.optionalObject("prev_kv").map(keyValue)))
        }
        return EtcdWatchResponse(header: try header(result), watchID: try result.int64("watch_id"),
                                 created: try result.bool("created"), canceled: try result.bool("canceled"),
                                 compactRevision: try result.int64("compact_revision"),
                                 cancelReason: try result.string("cancel_reason") ?? "", events: events)
    }

    // MARK: Pieces

    private static func rangeObject(_ request: EtcdRangeRequest) -> [String: Any] {
        var object: [String: Any] = ["key": base64(request.key)]
        if let end = request.rangeEnd { object["range_end"] = base64(end) }
        if request.limit != 0 { object["limit"] = String(request.limit) }
        if request.sortOrder != .none {
            object["sort_order"] = request.sortOrder.rawValue
            object["sort_target"] = request.sortTarget.rawValue
        }
        if request.keysOnly { object["keys_only"] = true }
        if request.countOnly { object["count_only"] = true }
        if request.minModRevision != 0 { object["min_mod_revision"] = String(request.minModRevision) }
        return object
    }

    private static func putObject(_ request: EtcdPutRequest) -> [String: Any] {
        var object: [String: Any] = ["key": base64(request.key), "value": base64(request.value)]
        if request.lease != 0 { object["lease"] = String(request.lease) }
        if request.prevKV { object["prev_kv"] = true }
        return object
    }

    private static func deleteObject(_ request: EtcdDeleteRangeRequest) -> [String: Any] {
        var object: [String: Any] = ["key": base64(request.key)]
        if let end = request.rangeEnd { object["range_end"] = base64(end) }
        if request.prevKV { object["prev_kv"] = true }
        return object
    }

    private static func compareObject(_ compare: EtcdCompare) -> [String: Any] {
        var object: [String: Any] = ["key": base64(compare.key), "result": compare.result.rawValue]
        switch compare.target {
        case .version(let value): object["target"] = "VERSION"; object["version"] = String(value)
        case .createRevision(let value): object["target"] = "CREATE"; object["create_revision"] = String(value)
        case .modRevision(let value): object["target"] = "MOD"; object["mod_revision"] = String(value)
        case .value(let value): object["target"] = "VALUE"; object["value"] = base64(value)
        case .lease(let value): object["target"] = "LEASE"; object["lease"] = String(value)
        }
        return object
    }

    private static func operationObject(_ operation: EtcdOperation) -> [String: Any] {
        switch operation {
        case .range(let request): ["request_range": rangeObject(request)]
        case .put(let request): ["request_put": putObject(request)]
        case .deleteRange(let request): ["request_delete_range": deleteObject(request)]
        }
    }

    private static func range(_ fields: JSONFields) throws(EtcdError) -> EtcdRangeResponse {
        var kvs: [EtcdKeyValue] = []
        for item in try fields.array("kvs") {
            guard let kv = item as? [String: Any] else { throw .malformedResponse("a key-value is not an object") }
            kvs.append(try keyValue(JSONFields(kv)))
        }
        return EtcdRangeResponse(header: try header(fields), kvs: kvs, more: try fields.bool("more"), count: try fields.int64("count"))
    }

    private static func put(_ fields: JSONFields) throws(EtcdError) -> EtcdPutResponse {
        EtcdPutResponse(header: try header(fields), prevKV: try fields.optionalObject("prev_kv").map(keyValue))
    }

    private static func deleteRange(_ fields: JSONFields) throws(EtcdError) -> EtcdDeleteRangeResponse {
        var previous: [EtcdKeyValue] = []
        for item in try fields.array("prev_kvs") {
            guard let kv = item as? [String: Any] else { throw .malformedResponse("a key-value is not an object") }
            previous.append(try keyValue(JSONFields(kv)))
        }
        return EtcdDeleteRangeResponse(header: try header(fields), deleted: try fields.int64("deleted"), prevKVs: previous)
    }

    private static func lease(_ fields: JSONFields) throws(EtcdError) -> EtcdLease {
        // A grant the server refused carries its reason in "error" with a 200 status.
        if let error = try fields.string("error"), !error.isEmpty { throw .server(code: 0, message: error) }
        return EtcdLease(id: try fields.int64("ID"), ttl: try fields.int64("TTL"))
    }

    private static func keyValue(_ fields: JSONFields) throws(EtcdError) -> EtcdKeyValue {
        EtcdKeyValue(key: try fields.bytes("key"), value: try fields.bytes("value"),
                     createRevision: try fields.int64("create_revision"), modRevision: try fields.int64("mod_revision"),
                     version: try fields.int64("version"), lease: try fields.int64("lease"))
    }

    private static func header(_ fields: JSONFields) throws(EtcdError) -> EtcdHeader {
        guard let header = try fields.optionalObject("header") else { return EtcdHeader() }
        return EtcdHeader(revision: try header.int64("revision"), memberID: try header.uint64("member_id"))
    }

    /// The top-level object; an `{"error": ..., "code": N}` answer becomes `EtcdError.server`.
    private static func object(_ bytes: [UInt8]) throws(EtcdError) -> JSONFields {
        guard !bytes.isEmpty else { throw .malformedResponse("an empty body") }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: Data(bytes), options: []) } catch {
            throw .malformedResponse("not JSON (\(bytes.count) bytes)")
        }
        guard let dictionary = parsed as? [String: Any] else { throw .malformedResponse("not a JSON object") }
        let fields = JSONFields(dictionary)
        if dictionary["code"] != nil {
            let message = try fields.string("message"), error = try fields.string("error")
            throw .server(code: Int(try fields.int64("code")), message: message ?? error ?? "no message")
        }
        return fields
    }

    /// A stream message: `{"result": {...}}`, or `{"error": {"grpc_code": N, "message": ...}}`.
    private static func streamResult(_ bytes: [UInt8]) throws(EtcdError) -> JSONFields {
        let root = try object(bytes)
        if let error = try root.optionalObject("error") {
            throw .server(code: Int(try error.int64("grpc_code")), message: try error.string("message") ?? "stream error")
        }
        guard let result = try root.optionalObject("result") else { throw .malformedResponse("a stream message without a result") }
        return result
    }

    private static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    private static func serialize(_ object: [String: Any]) -> [UInt8] {
        // Only strings, booleans, arrays and objects built above: serialization cannot fail.
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map { Array($0) } ?? Array("{}".utf8)
    }
}

/// Typed reads of one JSON object, absent fields as their proto3 zero value, wrong types as errors.
struct JSONFields {
    let values: [String: Any]

    init(_ values: [String: Any]) { self.values = values }

    func string(_ name: String) throws(EtcdError) -> String? {
        guard let value = values[name], !(value is NSNull) else { return nil }
        guard let text = value as? String else { throw .malformedResponse("\(name) is not a string") }
        return text
    }

    /// int64 fields come as JSON strings; numbers are accepted too.
    func int64(_ name: String) throws(EtcdError) -> Int64 {
        guard let value = values[name], !(value is NSNull) else { return 0 }
        if let text = value as? String {
            guard let number = Int64(text) else { throw .malformedResponse("\(name) is not a 64-bit integer") }
            return number
        }
        if let number = value as? NSNumber {
            let double = number.doubleValue
            guard double.rounded() == double, double >= -9.2e18, double <= 9.2e18 else {
                throw .malformedResponse("\(name) is not a 64-bit integer")
            }
            return number.int64Value
        }
        throw .malformedResponse("\(name) is not a 64-bit integer")
    }

    func uint64(_ name: String) throws(EtcdError) -> UInt64 {
        guard let value = values[name], !(value is NSNull) else { return 0 }
        if let text = value as? String {
            guard let number = UInt64(text) else { throw .malformedResponse("\(name) is not an unsigned 64-bit integer") }
            return number
        }
        throw .malformedResponse("\(name) is not an unsigned 64-bit integer")
    }

    func bool(_ name: String) throws(EtcdError) -> Bool {
        guard let value = values[name], !(value is NSNull) else { return false }
        guard let flag = value as? Bool else { throw .malformedResponse("\(name) is not a boolean") }
        return flag
    }

    func bytes(_ name: String) throws(EtcdError) -> [UInt8] {
        guard let text = try string(name) else { return [] }
        guard let data = Data(base64Encoded: text) else { throw .malformedResponse("\(name) is not base64") }
        return Array(data)
    }

    func array(_ name: String) throws(EtcdError) -> [Any] {
        guard let value = values[name], !(value is NSNull) else { return [] }
        guard let items = value as? [Any] else { throw .malformedResponse("\(name) is not an array") }
        return items
    }

    func optionalObject(_ name: String) throws(EtcdError) -> JSONFields? {
        guard let value = values[name], !(value is NSNull) else { return nil }
        guard let object = value as? [String: Any] else { throw .malformedResponse("\(name) is not an object") }
        return JSONFields(object)
    }
}

/// Splits a stream of bytes into newline-ended messages (how the gateway frames `/v3/watch`
/// and keep-alive answers), with a bound on one message's size.
public struct EtcdStreamFrames: Sendable {
    private var pending: [UInt8] = []
    public let maximumMessageSize: Int

    public init(maximumMessageSize: Int = 8 << 20) { self.maximumMessageSize = maximumMessageSize }

    /// The complete messages the bytes finish (empty lines skipped); an error once a message outgrows the bound.
    public mutating func append(_ bytes: some Sequence<UInt8>) throws(EtcdError) -> [[UInt8]] {
        pending.append(contentsOf: bytes)
        var messages: [[UInt8]] = []
        var start = pending.startIndex
        while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = Array(pending[start..<newline])
            if !line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { messages.append(line) }
            start = pending.index(after: newline)
        }
        pending.removeSubrange(pending.startIndex..<start)
        guard pending.count <= maximumMessageSize else {
            throw .malformedResponse("a stream message longer than \(maximumMessageSize) bytes")
        }
        return messages
    }
}
