import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// The key-value operations a store built on etcd needs: what `EtcdClient` does over the
/// network, and what a test's in-memory double does without one.
public protocol EtcdKV: Sendable {
    func range(_ request: EtcdRangeRequest) async throws(EtcdError) -> EtcdRangeResponse
    func put(_ request: EtcdPutRequest) async throws(EtcdError) -> EtcdPutResponse
    func deleteRange(_ request: EtcdDeleteRangeRequest) async throws(EtcdError) -> EtcdDeleteRangeResponse
    func txn(_ request: EtcdTxnRequest) async throws(EtcdError) -> EtcdTxnResponse
    /// The endpoints, for messages ("etcd is unreachable at ...").
    var endpointList: [String] { get }
}

/// An etcd v3 client over the JSON gateway (`/v3/...`, served by etcd 3.4 on its client URLs)
/// with AsyncHTTPClient: no generated code. Several members: a request that fails for want of
/// a member (no connection, a timeout, a member without a leader) is sent to the next one, and
/// the member that answered is asked first next time.
public final class EtcdClient: EtcdKV, Sendable {
    /// etcd's default `--max-request-bytes` (1.5 MiB).
    public static let maximumRequestBytes = 1_572_864

    public let endpoints: [String]
    public var endpointList: [String] { endpoints }
    private let client: HTTPClient
    /// The member asked first.
    private let preferred = Mutex(0)
    private let requestTimeout: TimeAmount
    private let isShutDown = Atomic(false)

    /// `endpoints`: `http://host:port` or `https://host:port` client URLs. `tls`: the CA and
    /// client certificate for https members (nil: the system's trust, no client certificate).
    public init(endpoints: [String], tls: TLSConfiguration? = nil, connectTimeout: TimeAmount = .seconds(2),
                requestTimeout: TimeAmount = .seconds(5)) {
        self.endpoints = endpoints.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls ?? TLSConfiguration.makeClientConfiguration())
        configuration.timeout = .init(connect: connectTimeout)
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.requestTimeout = requestTimeout
    }

    public func shutdown() async {
        guard !isShutDown.exchange(true, ordering: .relaxed) else { return }
        try? await client.shutdown()
    }

    /// A client dropped without `shutdown` (a start that failed after connecting) shuts its HTTP
    /// client down itself: AsyncHTTPClient traps on a client freed while running.
    deinit {
        guard !isShutDown.load(ordering: .relaxed) else { return }
        let client = self.client
        Task { try? await client.shutdown() }
    }

    // MARK: KV

    public func range(_ request: EtcdRangeRequest) async throws(EtcdError) -> EtcdRangeResponse {
        try EtcdCodec.decodeRange(await call(EtcdCodec.rangePath, EtcdCodec.encode(request)))
    }

    public func put(_ request: EtcdPutRequest) async throws(EtcdError) -> EtcdPutResponse {
        try EtcdCodec.decodePut(await call(EtcdCodec.putPath, EtcdCodec.encode(request)))
    }

    public func deleteRange(_ request: EtcdDeleteRangeRequest) async throws(EtcdError) -> EtcdDeleteRangeResponse {
        try EtcdCodec.decodeDeleteRange(await call(EtcdCodec.deleteRangePath, EtcdCodec.encode(request)))
    }

    public func txn(_ request: EtcdTxnRequest) async throws(EtcdError) -> EtcdTxnResponse {
        try EtcdCodec.decodeTxn(await call(EtcdCodec.txnPath, EtcdCodec.encode(request)))
    }

    // MARK: Leases

    public func grantLease(ttlSeconds: Int64) async throws(EtcdError) -> EtcdLease {
        try EtcdCodec.decodeLease(await call(EtcdCodec.leaseGrantPath, EtcdCodec.encodeLeaseGrant(ttl: ttlSeconds)))
    }

    /// One renewal (the gateway answers a keep-alive request with one stream message); a TTL of
    /// 0 in the answer means the lease had already expired.
    public func keepAlive(lease id: Int64) async throws(EtcdError) -> EtcdLease {
        let body = try await call(EtcdCodec.leaseKeepAlivePath, EtcdCodec.encodeLease(id: id))
        var frames = EtcdStreamFrames()
        guard let first = try frames.append(body + [UInt8(ascii: "\n")]).first else {
            throw .malformedResponse("an empty keep-alive answer")
        }
        return try EtcdCodec.decodeKeepAlive(first)
    }

    public func revokeLease(_ id: Int64) async throws(EtcdError) {
        _ = try EtcdCodec.decodeRevoke(await call(EtcdCodec.leaseRevokePath, EtcdCodec.encodeLease(id: id)))
    }

    // MARK: Watch

    /// A watch on one member (the first of them that accepts it): each message as it arrives.
    /// The sequence ends with an error when the member goes away or cancels the watch; the
    /// caller watches again from the last revision it saw (`EtcdWatchResponse.header.revision + 1`).
    public func watch(_ request: EtcdWatchRequest) -> AsyncThrowingStream<EtcdWatchResponse, any Error> {
        let body = EtcdCodec.encode(request)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let response = try await self.open(EtcdCodec.watchPath, body)
                    var frames = EtcdStreamFrames()
                    for try await buffer in response.body {
                        for message in try frames.append(buffer.readableBytesView) {
                            let decoded = try EtcdCodec.decodeWatch(message)
                            continuation.yield(decoded)
                            if decoded.canceled {
                                throw EtcdError.server(code: 1, message: "watch cancelled: \(decoded.cancelReason)")
                            }
                        }
                    }
                    continuation.finish(throwing: EtcdError.malformedResponse("the watch stream ended"))
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    // MARK: Transport

    /// POSTs `body` to the members in turn, from the preferred one, until one answers.
    private func call(_ path: String, _ body: [UInt8]) async throws(EtcdError) -> [UInt8] {
        guard body.count <= Self.maximumRequestBytes else {
            throw .requestTooLarge(bytes: body.count, limit: Self.maximumRequestBytes)
        }
        let first = preferred.withLock { $0 }
        var lastError = EtcdError.unreachable(endpoints: endpoints, lastError: "no endpoint")
        for step in 0..<endpoints.count {
            let index = (first + step) % endpoints.count
            do {
                let answer = try await exchange(endpoints[index] + path, body)
                preferred.withLock { $0 = index }
                return answer
            } catch let error where !error.isRetryableOnAnotherMember {
                throw error
            } catch {
                lastError = error
            }
        }
        // Named by every member tried, with the last one's reason.
        if case .unreachable(_, let why) = lastError { throw .unreachable(endpoints: endpoints, lastError: why) }
        throw .unreachable(endpoints: endpoints, lastError: lastError.description)
    }

    private func exchange(_ url: String, _ body: [UInt8]) async throws(EtcdError) -> [UInt8] {
        do {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await client.execute(request, timeout: requestTimeout)
            let buffer = try await response.body.collect(upTo: 64 << 20)
            let bytes = Array(buffer.readableBytesView)
            guard response.status == .ok else {
                // The gateway's error body names the gRPC code; anything else is a proxy's page.
                if let error = EtcdCodec.gatewayError(bytes) { throw error }
                throw EtcdError.malformedResponse("HTTP \(response.status.code) from \(url)")
            }
            return bytes
        } catch let error as EtcdError {
            throw error
        } catch {
            throw .unreachable(endpoints: [url], lastError: "\(error)")
        }
    }

    /// Opens a streaming POST on the first member that accepts it.
    private func open(_ path: String, _ body: [UInt8]) async throws -> HTTPClientResponse {
        let first = preferred.withLock { $0 }
        var failures: [String] = []
        for step in 0..<endpoints.count {
            let index = (first + step) % endpoints.count
            var request = HTTPClientRequest(url: endpoints[index] + path)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
            do {
                // A watch lives as long as the process: no deadline on the whole exchange.
                let response = try await client.execute(request, deadline: .distantFuture)
                guard response.status == .ok else {
                    failures.append("HTTP \(response.status.code)")
                    continue
                }
                preferred.withLock { $0 = index }
                return response
            } catch {
                failures.append("\(error)")
            }
        }
        throw EtcdError.unreachable(endpoints: endpoints, lastError: failures.last ?? "no endpoint")
    }
}
