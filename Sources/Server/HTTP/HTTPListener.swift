import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// A router served on one address: the one way zonebootd runs an HTTP listener (boot files,
/// admin API). A `Service`: it binds when the service group runs it, reports the address it
/// got through `onListening`, and on graceful shutdown stops accepting and lets requests in
/// flight finish.
public struct HTTPListener<Context: RequestContext>: Service where Context.Source == ApplicationRequestContextSource {
    private let application: Application<RequestLogResponder<RouterResponder<Context>>>

    /// Its connections are admitted, timed and counted by `connections` (which listeners may
    /// share). `onListening` runs once the socket is bound, with the address it got (for port
    /// 0, the port the kernel chose).
    public init(router: Router<Context>, host: String, port: Int, connections: HTTPConnections,
                group: any EventLoopGroup, logger: Logger,
                onListening: @escaping @Sendable (SocketAddress?) async -> Void) {
        application = Application(
            responder: RequestLogResponder(base: router.buildResponder(), logger: logger),
            server: connections.serverBuilder(logger: logger),
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
