import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
@testable import Server
import Synchronization
import Testing

/// What a responder got: request paths, and every byte TLS decrypted for it.
private final class Seen: Sendable {
    private let box = Mutex<(paths: [String], bytes: Int)>(([], 0))
    func add(bytes: Int) { box.withLock { $0.bytes += bytes } }
    func add(path: String) { box.withLock { $0.paths.append(path) } }
    var paths: [String] { box.withLock { $0.paths } }
    var bytes: Int { box.withLock { $0.bytes } }
}

/// Counts the plaintext that reaches the HTTP decoder: zero means nothing of a request arrived.
private final class PlaintextCounter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let seen: Seen
    init(_ seen: Seen) { self.seen = seen }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        seen.add(bytes: unwrapInboundIn(data).readableBytes)
        context.fireChannelRead(data)
    }
}

/// Answers every request `200 {"ok":true}`.
private final class Answer: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let seen: Seen
    init(_ seen: Seen) { self.seen = seen }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            seen.add(path: head.uri)
        case .body:
            break
        case .end:
            let body = ByteBuffer(string: #"{"ok":true}"#)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: String(body.readableBytes))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))),
                          promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

/// A BMC's identity: a self-signed P-256 certificate and key, made once with
/// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500 -subj /CN=<name>`,
/// and its SHA-256 as `openssl x509 -noout -fingerprint -sha256` printed it: the expected pin comes
/// from another implementation than the one under test, and the test needs no openssl to run.
private struct Identity {
    var certificate: String
    var key: String
    var fingerprint: String

    static let bmc = Identity(certificate: """
        -----BEGIN CERTIFICATE-----
        MIIBcjCCARmgAwIBAgIUM1JA/Blv3EojczFJMNro4yUleekwCgYIKoZIzj0EAwIw
        DjEMMAoGA1UEAwwDYm1jMCAXDTI2MTIwNTIyMTI0NVoYDzIxMjYxMTExMjIxMjQ1
        WjAOMQwwCgYDVQQDDANibWMwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATlsKYK
        A79vthQKVAyykyHZ3jej/jj6rVGXEdlSyABt+yK33I62mdyYummvLdt8vkeCxeSk
        tS3BkATKPZfT2EQEo1MwUTAdBgNVHQ4EFgQUuozf4Y0qsCu+wz5EwvWEEsFEdoYw
        HwYDVR0jBBgwFoAUuozf4Y0qsCu+wz5EwvWEEsFEdoYwDwYDVR0TAQH/BAUwAwEB
        /zAKBggqhkjOPQQDAgNHADBEAiB6mRUw12N85f3eol+3J/0OkUxdwNuPH8nUEF1u
        QnoLuQIgPQ0FhmAPTboLfvOyku/HMSAL2eNoQ3KPM617nXyBunk=
        -----END CERTIFICATE-----
        """, key: """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgg4mXHubcBJEXminT
        ty7erC5l/6lRZBDddqClmt4wed2hRANCAATlsKYKA79vthQKVAyykyHZ3jej/jj6
        rVGXEdlSyABt+yK33I62mdyYummvLdt8vkeCxeSktS3BkATKPZfT2EQE
        -----END PRIVATE KEY-----
        """, fingerprint: "4E:65:7A:6E:94:BB:88:18:EC:1A:36:97:F2:5E:07:E4:3C:30:24:27:88:B2:AC:4A:5D:C0:F7:9B:9F:E8:5B:F2")

    static let impostor = Identity(certificate: """
        -----BEGIN CERTIFICATE-----
        MIIBfjCCASOgAwIBAgIUacRCyptgn4mnByoH96zoFzVIiHUwCgYIKoZIzj0EAwIw
        EzERMA8GA1UEAwwIaW1wb3N0b3IwIBcNMjYxMjA1MjIxMjQ1WhgPMjEyNjExMTEy
        MjEyNDVaMBMxETAPBgNVBAMMCGltcG9zdG9yMFkwEwYHKoZIzj0CAQYIKoZIzj0D
        AQcDQgAEBkDCAQe9CdnoOijuMRw4PUJCGOt+LSeWievb46hdmLGul8v0sreJLy5z
        yhT4csouE7H2sU9KvcpAyZlVYld+yaNTMFEwHQYDVR0OBBYEFNNdbIHNKdDrRNV1
        zWMylToajE4eMB8GA1UdIwQYMBaAFNNdbIHNKdDrRNV1zWMylToajE4eMA8GA1Ud
        EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAKrLkWJluPsoIlgxP8kkgl6A
        5A7Nh2B1c8XYV/lEZAOTAiEAjaq5NpUF/o1fFv/qfzPOpd8FoAmn3NPmOR/obfof
        K+s=
        -----END CERTIFICATE-----
        """, key: """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgyjRnqd6Mzi08KA7f
        DvtnxUh/Arm9QxGxbEEXIg568oShRANCAAQGQMIBB70J2eg6KO4xHDg9QkIY634t
        J5aJ69vjqF2Ysa6Xy/Syt4kvLnPKFPhyyi4TsfaxT0q9ykDJmVViV37J
        -----END PRIVATE KEY-----
        """, fingerprint: "83:4E:8F:9A:86:2C:F7:CC:B9:6D:C3:F1:BC:B0:67:C9:4D:97:40:8F:B6:79:B0:11:4E:3E:AC:56:88:18:0A:43")
}

/// An HTTPS responder on 127.0.0.1, as a BMC with its own certificate.
private struct Responder {
    let channel: Channel
    let seen: Seen
    var port: Int { channel.localAddress?.port ?? 0 }

    static func start(_ identity: Identity) async throws -> Responder {
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(identity.certificate.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.key.utf8), format: .pem)))
        let context = try NIOSSLContext(configuration: tls)
        let seen = Seen()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.addHandler(PlaintextCounter(seen))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Answer(seen))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return Responder(channel: channel, seen: seen)
    }
}

/// The pin is checked in the handshake: the first certificate is trusted and pinned, the
/// pinned one is accepted, and another is refused before a byte of the request (with its
/// Authorization header) is written.
@Suite struct PinnedHTTPSTests {
    private func get(_ client: PinnedHTTPS) async throws -> (status: UInt, body: [UInt8]) {
        try await client.exchange(.GET, "/redfish/v1/", body: nil, headers: [("Authorization", "Basic c2VjcmV0")],
                                  timeoutSeconds: 10)
    }

    @Test func theFirstCertificateIsPinnedAndAnotherGetsNothing() async throws {
        let bmc = try await Responder.start(.bmc)
        let impostor = try await Responder.start(.impostor)
        defer {
            bmc.channel.close(promise: nil)
            impostor.channel.close(promise: nil)
        }

        let first = PinnedHTTPS(address: "127.0.0.1", port: bmc.port, pinned: nil)
        let answer = try await get(first)
        #expect(answer.status == 200 && answer.body == Array(#"{"ok":true}"#.utf8))
        // Trusted on first use: the pin is the certificate's SHA-256 as openssl prints it.
        #expect(first.fingerprint == Identity.bmc.fingerprint)

        let again = PinnedHTTPS(address: "127.0.0.1", port: bmc.port, pinned: Identity.bmc.fingerprint)
        #expect(try await get(again).status == 200)
        #expect(bmc.seen.paths == ["/redfish/v1/", "/redfish/v1/"])

        let refused = PinnedHTTPS(address: "127.0.0.1", port: impostor.port, pinned: Identity.bmc.fingerprint)
        do {
            _ = try await get(refused)
            Issue.record("a certificate other than the pinned one was accepted")
        } catch let changed as PinnedHTTPS.CertificateChanged {
            #expect(changed.pinned == Identity.bmc.fingerprint && changed.presented == Identity.impostor.fingerprint)
        }
        #expect(impostor.seen.paths.isEmpty)
        #expect(impostor.seen.bytes == 0, "the impostor decrypted \(impostor.seen.bytes) bytes of the request")
    }
}
