import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// A router served on one address: the one way zonebootd runs an HTTP listener (boot files,
/// admin API). A `Service`: it binds when the service group runs it, reports the address it
/// got through `onListening`, and on graceful shutdown stops accepting and lets requests in
/// flight finish.
public struct HTTPListener<Context: RequestContext>: Service where Context.Source == ApplicationRequestContextSource {
    private let application: Application<RouterResponder<Context>>

    /// Its connections are admitted, timed and counted by `connections` (which listeners may
    /// share). `onListening` runs once the socket is bound, with the address it got (for port
    /// 0, the port the kernel chose).
    public init(router: Router<Context>, host: String, port: Int, connections: HTTPConnections,
                group: any EventLoopGroup, logger: Logger,
                onListening: @escaping @Sendable (SocketAddress?) async -> Void) {
        application = Application(
            router: router,
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
