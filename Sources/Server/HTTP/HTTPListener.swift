import Hummingbird
import Logging
import NIOCore
import Synchronization

/// Runs a Hummingbird router on one address until its task is cancelled: the one way
/// zonebootd starts an HTTP listener (boot files, admin API).
enum HTTPListener {
    /// Returns once the listener is bound (with the address it got, for port 0) or
    /// throws why it could not start.
    static func start<Context: RequestContext>(router: Router<Context>, host: String, port: Int,
                                               group: any EventLoopGroup, logger: Logger)
        async throws -> (SocketAddress?, Task<Void, any Error>) where Context.Source == ApplicationRequestContextSource {
        let started = StartSignal()
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "zonebootd", reuseAddress: true),
            onServerRunning: { channel in started.finish(.success(channel.localAddress)) },
            eventLoopGroupProvider: .shared(group),
            logger: logger)
        let serving = Task {
            do {
                // zonebootd handles signals itself; the server stops when this task is cancelled.
                try await app.runService(gracefulShutdownSignals: [])
            } catch {
                started.finish(.failure(error))
                throw error
            }
        }
        return (try await started.wait(), serving)
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
