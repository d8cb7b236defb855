import AdminAPI
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Zone

/// A router served on one address: the one way zonebootd runs an HTTP listener (boot files,
/// admin API). A `Service`: it binds when the service group runs it, reports the address it
/// got through `onListening`, and on graceful shutdown stops accepting and lets requests in
/// flight finish.
public struct HTTPListener<Context: RequestContext>: Service where Context.Source == ApplicationRequestContextSource {
    private let application: Application<RequestLogResponder<RouterResponder<Context>>>

    /// Its connections are admitted, timed and counted by `connections` (which listeners may
    /// share); with `tls`, every connection is HTTPS (the handshake counts toward the request
    /// timeout). `onListening` runs once the socket is bound, with the address it got (for port
    /// 0, the port the kernel chose).
    public init(router: Router<Context>, host: String, port: Int, connections: HTTPConnections,
                group: any EventLoopGroup, logger: Logger, tls: ListenerTLS? = nil,
                onListening: @escaping @Sendable (SocketAddress?) async -> Void) {
        application = Application(
            responder: RequestLogResponder(base: router.buildResponder(), logger: logger),
            server: connections.serverBuilder(logger: logger, tls: tls),
            // A burst of connections waits in the kernel's queue until admitted or refused,
            // rather than being dropped there (a dropped SYN costs a client a second or more).
            configuration: .init(address: .hostname(host, port: port), serverName: "zonebootd",
                                 backlog: max(256, min(connections.limits.maxConnections, 4096)), reuseAddress: true),
            onServerRunning: { channel in await onListening(channel.localAddress) },
            eventLoopGroupProvider: .shared(group),
            logger: logger)
    }

    public func run() async throws { try await application.run() }
}

/// A listener's TLS: its certificate chain and key (PEM), and with a client CA, mutual TLS
/// (a client without a certificate that CA signed is refused in the handshake). Read and
/// checked once, before anything listens; the key file must be an `OwnerOnlyFile`.
public struct ListenerTLS: Sendable {
    /// Why the files cannot be used, naming the file and the fix.
    public struct Problem: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    let context: NIOSSLContext
    /// Whether clients must present a certificate the client CA signed.
    public let requiresClientCertificate: Bool

    public init(certificateFile: String, keyFile: String, clientCAFile: String? = nil) throws(Problem) {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificateFile) } catch {
            throw Problem(description: "cannot use the TLS certificate \(certificateFile): \(Self.reason(error))")
        }
        guard !chain.isEmpty else {
            throw Problem(description: "the TLS certificate file \(certificateFile) holds no PEM certificate")
        }
        let keyBytes: [UInt8]
        switch OwnerOnlyFile.contents(path: keyFile, maximumSize: 1 << 20) {
        case .success(let bytes): keyBytes = bytes
        case .failure(let problem): throw Problem(description: problem.message("the TLS key file", keyFile))
        }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem) } catch {
            throw Problem(description: "the TLS key file \(keyFile) holds no PEM private key zonebootd can read: \(Self.reason(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                                     privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        if let clientCAFile {
            let authorities: [NIOSSLCertificate]
            do { authorities = try NIOSSLCertificate.fromPEMFile(clientCAFile) } catch {
                throw Problem(description: "cannot use the client CA \(clientCAFile): \(Self.reason(error))")
            }
            guard !authorities.isEmpty else {
                throw Problem(description: "the client CA file \(clientCAFile) holds no PEM certificate")
            }
            // A server verifies the client's chain; there is no host name to check it against.
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .certificates(authorities)
        }
        do { context = try NIOSSLContext(configuration: configuration) } catch {
            throw Problem(description: "cannot use the TLS certificate \(certificateFile) with the key \(keyFile): "
                          + "\(Self.reason(error)) (do they belong together?)")
        }
        requiresClientCertificate = clientCAFile != nil
    }

    private static func reason(_ error: any Error) -> String { "\(error)" }
}

extension HTTPConnections {
    /// `serverBuilder(logger:)`, with TLS first on every connection when `tls` is given.
    func serverBuilder(logger: Logger, tls: ListenerTLS?) -> HTTPServerBuilder {
        guard let tls else { return serverBuilder(logger: logger) }
        return HTTPServerBuilder { responder in
            TLSServerChannel(base: GuardedHTTP1Channel(http: HTTP1Channel(responder: responder), connections: self,
                                                       logger: logger),
                             context: tls.context)
        }
    }
}

/// A child channel with NIO's TLS server handler before everything `base` sets up.
struct TLSServerChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let context: NIOSSLContext

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return base.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async { await base.handle(value: value, logger: logger) }
}

/// Each request's debug line: method, path, status, time to the response head, client.
/// Never the query or a header: tokens travel there.
struct RequestLogResponder<Base: HTTPResponder>: HTTPResponder where Base.Context: RequestContext {
    let base: Base
    let logger: Logger

    func respond(to request: Request, context: Base.Context) async throws -> Response {
        guard logger.logLevel <= .debug else { return try await base.respond(to: request, context: context) }
        let started = ContinuousClock.now
        do {
            let response = try await base.respond(to: request, context: context)
            log(request, context, status: response.status.code, since: started)
            return response
        } catch {
            log(request, context, status: (error as? any HTTPResponseError)?.status.code ?? 500, since: started)
            throw error
        }
    }

    private func log(_ request: Request, _ context: Base.Context, status: Int, since started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        let microseconds = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        var metadata: Logger.Metadata = [
            "method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(status)",
            "duration": "\(microseconds)us",
        ]
        if let client = (context as? any PeerAddressRequestContext)?.clientAddress { metadata["client"] = "\(client)" }
        logger.debug("HTTP request", metadata: metadata)
    }
}
