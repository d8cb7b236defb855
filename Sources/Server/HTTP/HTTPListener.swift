import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A Hummingbird router serving one address: the one way zonebootd runs an HTTP listener
/// (boot files, admin API).
final class HTTPListener: Sendable {
    /// The address it got (for port 0, the port the kernel chose).
    let localAddress: SocketAddress?
    private let services: ServiceGroup
    private let task: Task<Void, any Error>

    private init(localAddress: SocketAddress?, services: ServiceGroup, task: Task<Void, any Error>) {
        self.localAddress = localAddress
        self.services = services
        self.task = task
    }

    /// Returns once the listener is bound, or throws why it could not start. Its connections
    /// are admitted, timed and counted by `connections` (which listeners may share).
    static func start<Context: RequestContext>(router: Router<Context>, host: String, port: Int,
                                               connections: HTTPConnections, group: any EventLoopGroup, logger: Logger)
        async throws -> HTTPListener where Context.Source == ApplicationRequestContextSource {
        let started = StartSignal()
        let app = Application(
            router: router,
            server: connections.serverBuilder(logger: logger),
            // A burst of connections waits in the kernel's queue until admitted or refused,
            // rather than being dropped there (a dropped SYN costs a client a second or more).
            configuration: .init(address: .hostname(host, port: port), serverName: "zonebootd",
                                 backlog: max(256, min(connections.limits.maxConnections, 4096)), reuseAddress: true),
            onServerRunning: { channel in started.finish(.success(channel.localAddress)) },
            eventLoopGroupProvider: .shared(group),
            logger: logger)
        // zonebootd handles signals itself; `close` shuts the listener down gracefully.
        let services = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let serving = Task {
            do {
                try await services.run()
            } catch {
                started.finish(.failure(error))
                throw error
            }
        }
        return HTTPListener(localAddress: try await started.wait(), services: services, task: serving)
    }

    /// Stops accepting, lets requests in flight finish, then returns.
    func close() async {
        await services.triggerGracefulShutdown()
        _ = try? await task.value
    }
}

/// The first of "listening" or "failed to start", whichever the server task reports,
/// and whether it comes before or after someone waits for it.
final class StartSignal: Sendable {
    private enum State {
        case waiting(CheckedContinuation<SocketAddress?, any Error>?)
        case done(Result<SocketAddress?, any Error>)
    }
    private let state = Mutex(State.waiting(nil))

    func finish(_ result: Result<SocketAddress?, any Error>) {
        let waiter: CheckedContinuation<SocketAddress?, any Error>? = state.withLock { state in
            guard case .waiting(let continuation) = state else { return nil }
            state = .done(result)
            return continuation
        }
        waiter?.resume(with: result)
    }

    func wait() async throws -> SocketAddress? {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<SocketAddress?, any Error>? = state.withLock { state in
                switch state {
                case .waiting: state = .waiting(continuation); return nil
                case .done(let result): return result
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
