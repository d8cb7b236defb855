import AsyncHTTPClient
import Boot
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// HTTPS to one BMC whose certificate is pinned (trust on first use), for redfish-register
/// with `tls: accept-self-signed`.
///
/// The pin is checked in the TLS handshake (NIOSSL's custom verification callback, which
/// replaces the CA check: BMCs' factory certificates are self-signed). A request is written
/// only after the handshake, so a peer that presents another certificate never receives one
/// byte of it, the credentials included. async-http-client takes no verification callback,
/// hence this connection of our own: one request per connection, `Connection: close`.
final class PinnedHTTPS: RedfishTransport, Sendable {
    let address: String
    let port: Int
    private let trust: Mutex<Trust>

    private struct Trust {
        /// The pin, or the certificate the first connection presented where there was none:
        /// every later connection of this registration must present that one.
        var expected: String?
        /// What a refused connection presented.
        var refused: String?
    }

    /// Another certificate than `pinned` was presented; nothing was sent.
    struct CertificateChanged: Error, CustomStringConvertible {
        var pinned: String
        var presented: String
        var description: String { "certificate changed: pinned SHA-256 \(pinned), presented \(presented): refused, nothing sent" }
    }

    init(address: String, port: Int = 443, pinned: String?) {
        self.address = address
        self.port = port
        self.trust = Mutex(Trust(expected: pinned, refused: nil))
    }

    /// The fingerprint the requests were made under: the pin, or the certificate trusted on first use.
    var fingerprint: String? { trust.withLock { $0.expected } }

    /// The fingerprint of a presented certificate of the leaf's DER bytes.
    static func fingerprint(der: [UInt8]) -> String { CertificatePin.fingerprint(sha256: SHA256.hash(data: der)) }

    /// Decides one handshake: on the event loop, once per connection.
    private func verify(_ chain: [NIOSSLCertificate]) -> NIOSSLVerificationResult {
        guard let leaf = chain.first, let der = try? leaf.toDERBytes() else { return .failed }
        let presented = Self.fingerprint(der: der)
        return trust.withLock { trust in
            switch CertificatePin.decide(presented: presented, pinned: trust.expected) {
            case .trustOnFirstUse:
                trust.expected = presented
                return .certificateVerified
            case .matches:
                return .certificateVerified
            case .changed:
                trust.refused = presented
                return .failed
            }
        }
    }

    func exchange(_ method: HTTPMethod, _ path: String, body: [UInt8]?, headers: [(String, String)],
                  timeoutSeconds: Int) async throws -> (status: UInt, body: [UInt8]) {
        do {
            return try await exchangeOnce(method, path, body: body, headers: headers, timeoutSeconds: timeoutSeconds)
        } catch {
            // The handshake's failure reaches us as whatever NIOSSL or the channel threw; the
            // callback's note says whether it was the pin.
            let (pinned, presented) = trust.withLock { ($0.expected, $0.refused) }
            if let pinned, let presented { throw CertificateChanged(pinned: pinned, presented: presented) }
            throw error
        }
    }

    private func exchangeOnce(_ method: HTTPMethod, _ path: String, body: [UInt8]?, headers: [(String, String)],
                              timeoutSeconds: Int) async throws -> (status: UInt, body: [UInt8]) {
        var tls = TLSConfiguration.makeClientConfiguration()
        // Not `.none`: with it the callback is never called. The callback replaces the chain
        // check, and an IP address has no name to check.
        tls.certificateVerification = .noHostnameVerification
        let context = try NIOSSLContext(configuration: tls)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(Int64(min(timeoutSeconds, 5))))
            .connect(host: address, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = try NIOSSLClientHandler(
                        context: context, serverHostname: nil,
                        customVerificationCallback: { [self] chain, promise in promise.succeed(self.verify(chain)) })
                    try channel.pipeline.syncOperations.addHandler(handler)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        // The whole exchange is bounded: closing the channel ends the response stream.
        let deadline = channel.channel.eventLoop.scheduleTask(in: .seconds(Int64(timeoutSeconds))) { [channel] in
            channel.channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        return try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
            head.headers.add(name: "Host", value: address)
            head.headers.add(name: "Accept", value: "application/json")
            head.headers.add(name: "Connection", value: "close")
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            if let body {
                head.headers.add(name: "Content-Type", value: "application/json")
                head.headers.add(name: "Content-Length", value: String(body.count))
            }
            var parts: [HTTPClientRequestPart] = [.head(head)]
            if let body { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
            parts.append(.end(nil))
            // One write: an embedded server (sushy-static, BMCs on HTTP/1.0) answers and closes as
            // soon as it has the head, and a write still pending then fails although the answer
            // is in. So a failed write is only the error if no answer comes.
            var writeError: (any Error)?
            do {
                try await outbound.write(contentsOf: parts)
            } catch {
                writeError = error
            }
            var status: UInt?
            var received: [UInt8] = []
            do {
                for try await part in inbound {
                    switch part {
                    case .head(let response):
                        status = response.status.code
                    case .body(let chunk):
                        received += chunk.readableBytesView
                        guard received.count <= 1 << 20 else {
                            throw HookHTTPError(description: "\(method) \(path): response over 1 MiB")
                        }
                    case .end:
                        guard let status else { break }
                        return (status, received)
                    }
                }
            } catch let error as NIOSSLError where error == .uncleanShutdown {
                // As in HTTPClient.json: embedded servers end a body by closing TCP without
                // close_notify; the body may be short, and JSON readers check that it parses.
                if let status { return (status, received) }
                throw writeError ?? error
            } catch {
                throw writeError ?? error
            }
            if let writeError { throw writeError }
            throw HookHTTPError(description: "\(method) \(path): the connection closed before a response")
        }
    }
}

/// How redfish-register talks to a BMC: one request to a path on its service.
protocol RedfishTransport: Sendable {
    var address: String { get }
    func exchange(_ method: HTTPMethod, _ path: String, body: [UInt8]?, headers: [(String, String)],
                  timeoutSeconds: Int) async throws -> (status: UInt, body: [UInt8])
}

/// `tls: verify`: async-http-client with the system's CAs (no pin: the CA is the trust).
struct VerifiedHTTPS: RedfishTransport {
    let client: HTTPClient
    let address: String

    func exchange(_ method: HTTPMethod, _ path: String, body: [UInt8]?, headers: [(String, String)],
                  timeoutSeconds: Int) async throws -> (status: UInt, body: [UInt8]) {
        try await client.json(method, "https://\(address)\(path)", body: body, headers: headers,
                                     timeoutSeconds: timeoutSeconds)
    }
}
