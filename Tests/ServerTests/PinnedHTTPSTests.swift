import Foundation
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

/// An HTTPS responder on 127.0.0.1 with a certificate made by openssl, as a BMC with its own key.
private struct Responder {
    let channel: Channel
    let seen: Seen
    let fingerprint: String
    var port: Int { channel.localAddress?.port ?? 0 }

    static func start(in folder: URL, name: String) async throws -> Responder {
        let cert = folder.appendingPathComponent("\(name).crt").path, key = folder.appendingPathComponent("\(name).key").path
        _ = try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                         "-subj", "/CN=\(name)", "-keyout", key, "-out", cert])
        // `sha256 Fingerprint=AB:CD:...` (OpenSSL 3) or `SHA256 Fingerprint=...`.
        let printed = try openssl(["x509", "-noout", "-fingerprint", "-sha256", "-in", cert])
        let fingerprint = String(printed.split(separator: "=", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
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
        return Responder(channel: channel, seen: seen, fingerprint: fingerprint)
    }

    static func openssl(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw PinnedHTTPSTests.Failure(what: "openssl \(arguments[0])") }
        return String(decoding: data, as: UTF8.self)
    }
}

/// The pin is checked in the handshake: the first certificate is trusted and pinned, the
/// pinned one is accepted, and another is refused before a byte of the request (with its
/// Authorization header) is written.
@Suite struct PinnedHTTPSTests {
    struct Failure: Error { var what: String }

    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("zoneboot-pin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    private func get(_ client: PinnedHTTPS) async throws -> (status: UInt, body: [UInt8]) {
        try await client.exchange(.GET, "/redfish/v1/", body: nil, headers: [("Authorization", "Basic c2VjcmV0")],
                                  timeoutSeconds: 10)
    }

    @Test func theFirstCertificateIsPinnedAndAnotherGetsNothing() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let bmc = try await Responder.start(in: folder, name: "bmc")
        let impostor = try await Responder.start(in: folder, name: "impostor")
        defer {
            bmc.channel.close(promise: nil)
            impostor.channel.close(promise: nil)
        }
        #expect(bmc.fingerprint.count == 95 && bmc.fingerprint != impostor.fingerprint)

        let first = PinnedHTTPS(address: "127.0.0.1", port: bmc.port, pinned: nil)
        let answer = try await get(first)
        #expect(answer.status == 200 && answer.body == Array(#"{"ok":true}"#.utf8))
        // Trusted on first use: the pin is the certificate openssl made, as openssl prints it.
        #expect(first.fingerprint == bmc.fingerprint)

        let again = PinnedHTTPS(address: "127.0.0.1", port: bmc.port, pinned: bmc.fingerprint)
        #expect(try await get(again).status == 200)
        #expect(bmc.seen.paths == ["/redfish/v1/", "/redfish/v1/"])

        let refused = PinnedHTTPS(address: "127.0.0.1", port: impostor.port, pinned: bmc.fingerprint)
        do {
            _ = try await get(refused)
            Issue.record("a certificate other than the pinned one was accepted")
        } catch let changed as PinnedHTTPS.CertificateChanged {
            #expect(changed.pinned == bmc.fingerprint && changed.presented == impostor.fingerprint)
        }
        #expect(impostor.seen.paths.isEmpty)
        #expect(impostor.seen.bytes == 0, "the impostor decrypted \(impostor.seen.bytes) bytes of the request")
    }
}
