import AdminAPI
import Foundation
import Logging
import Server
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Opens once every listener is bound. The counters file (which scripts and tests take as
/// "zonebootd is up") and the hook runner wait for it, so that neither acts for a server
/// that then fails to start. `opened` runs once, as it opens, with every listener's
/// endpoints: the "ready" line.
final class StartupGate: Sendable {
    /// One bound socket: what it serves (`dhcp`, `http`, `admin`, `tftp` ...) and where.
    struct Listening: Sendable, Equatable {
        var kind: String
        var endpoint: String
    }

    private struct State {
        var unbound = 0
        var listening: [Listening] = []
    }

    private let state = Mutex(State())
    private let opened: @Sendable ([Listening]) -> Void

    init(opened: @escaping @Sendable ([Listening]) -> Void = { _ in }) { self.opened = opened }

    /// One listener's part: reported bound once, and asked whether it was.
    final class Ticket: Sendable {
        private let gate: StartupGate
        private let done = Mutex(false)

        fileprivate init(gate: StartupGate) { self.gate = gate }

        var isBound: Bool { done.withLock { $0 } }

        /// `listening`: the endpoints this listener bound, for the "ready" line.
        func bound(_ listening: [Listening] = []) {
            guard done.withLock({ done in defer { done = true }; return !done }) else { return }
            let all = gate.state.withLock { state -> [Listening]? in
                state.unbound -= 1
                state.listening += listening
                return state.unbound == 0 ? state.listening : nil
            }
            if let all { gate.opened(all) }
        }
    }

    /// A ticket for a listener the gate waits for; take every ticket before the group runs.
    func expect() -> Ticket {
        state.withLock { $0.unbound += 1 }
        return Ticket(gate: self)
    }

    var isOpen: Bool { state.withLock { $0.unbound == 0 } }

    /// Every listener's endpoints once open; empty before.
    var listening: [Listening] { state.withLock { $0.unbound == 0 ? $0.listening : [] } }

    /// Returns once open; throws `CancellationError` when the group is cancelled meanwhile
    /// (a listener failed). Polled: start-up takes milliseconds and happens once.
    func wait() async throws {
        while !isOpen { try await Task.sleep(for: .milliseconds(5)) }
    }
}

extension Logger {
    /// The "ready" line: the revision, and every listener's endpoints under its kind (`dhcp=...`, `http=...`).
    func ready(_ listening: [StartupGate.Listening], revision: Int) {
        notice("ready", metadata: {
            var metadata: Logger.Metadata = ["revision": "\(revision)"]
            for kind in Set(listening.map(\.kind)) {
                metadata[kind] = .array(listening.filter { $0.kind == kind }.map { .string($0.endpoint) })
            }
            return metadata
        }())
    }
}

/// Why zonebootd could not start, naming what failed ("cannot listen for DHCP: ...").
struct StartupFailure: Error, CustomStringConvertible {
    let description: String
}

/// A server that binds in `start` and stops in `close` (DHCP, direct DHCP, TFTP) as a
/// `Service`: bound when the group runs it, closed on graceful shutdown or cancellation.
/// A failure to start is reported as `failure: error`.
final class BoundService<Running: Sendable>: Service {
    private let failure: String
    private let start: @Sendable () async throws -> Running
    private let close: @Sendable (Running) async -> Void
    private let ticket: StartupGate.Ticket
    private let listening: @Sendable (Running) -> [StartupGate.Listening]
    private let started = Mutex<Running?>(nil)

    /// `listening`: the endpoints a started server has bound, for the "ready" line.
    init(failure: String, gate: StartupGate, start: @escaping @Sendable () async throws -> Running,
         listening: @escaping @Sendable (Running) -> [StartupGate.Listening] = { _ in [] },
         close: @escaping @Sendable (Running) async -> Void) {
        self.failure = failure
        self.start = start
        self.close = close
        self.listening = listening
        ticket = gate.expect()
    }

    /// What `start` returned, once it did.
    var running: Running? { started.withLock { $0 } }

    func run() async throws {
        let running: Running
        do { running = try await start() } catch { throw StartupFailure(description: "\(failure): \(error)") }
        started.withLock { $0 = running }
        ticket.bound(listening(running))
        try? await gracefulShutdown()
        await close(running)
    }
}

/// An `HTTPListener` whose failure before it is bound is reported as `failure: error`.
struct HTTPService<Listener: Service>: Service {
    let listener: Listener
    let ticket: StartupGate.Ticket
    let failure: String

    func run() async throws {
        do { try await listener.run() } catch let error where !ticket.isBound {
            throw StartupFailure(description: "\(failure): \(error)")
        }
    }
}

/// Rewrites the counters files once everything listens, every second after, and once more
/// when it stops (last of all: it is the group's first service).
struct CountersReporter: Service {
    let gate: StartupGate
    /// Each writes one file.
    let writers: [@Sendable () -> Void]

    func run() async throws {
        try await gate.wait()
        while true {
            for write in writers { write() }
            if Task.isShuttingDownGracefully { return }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            // Cancelled (another service failed): no final write.
            if Task.isCancelled { return }
        }
    }
}

/// SIGHUP re-reads the admin token file (a removed token stops working; a broken file keeps
/// the tokens read before), then the zone file through the admin path (validate, plan, record, swap)
/// when the running revision came from it (`ZoneAdministrator.reload`);
/// logs "stopping" when the group shuts down (it is the group's last service: the first stopped).
/// `hangups` is trapped before anything listens: a SIGHUP sent once the server answers is never lost.
struct ReloadOnHangup: Service {
    let hangups: UnixSignalsSequence
    let administrator: ZoneAdministrator
    let zoneFile: String
    /// `--reload-overrides-api`: apply the file even over a revision of `zonectl apply` or rollback.
    let overridingAPI: Bool
    let tokens: AdminTokenFile?
    let logger: Logger

    func run() async throws {
        // Shutdown cancels zone loads in flight at once (a SIGHUP's here, or a plan the admin
        // listener would otherwise wait for): a huge plan must not hold SIGTERM up.
        await withGracefulShutdownHandler {
            for await _ in hangups.cancelOnGracefulShutdown() {
                SystemdNotify.shared.reloading()
                if let tokens { reloadTokens(tokens) }
                await administrator.reload(zoneFile: zoneFile, now: Int64(Date().timeIntervalSince1970),
                                           overridingAPI: overridingAPI)
                SystemdNotify.shared.reloaded(revision: await administrator.current.revision.id)
            }
        } onGracefulShutdown: { [administrator] in
            administrator.stopLoads()
        }
        if Task.isShuttingDownGracefully { logger.info("stopping") }
    }

    private func reloadTokens(_ file: AdminTokenFile) {
        do {
            let tokens = try file.reload()
            logger.notice("SIGHUP: re-read the token file \(file.path): \(tokens.count) token(s)")
        } catch {
            logger.error("SIGHUP: token file not re-read, the \(file.tokens.count) token(s) read before stay in use: \(error)")
        }
    }
}

/// The hook runner, once everything listens, until shutdown. Deliveries in progress then stay
/// claimed and run again after the next start (with --etcd, `atStop` gives up this host's
/// claims: another host runs them again at once).
struct HookRunnerService: Service {
    let runner: HookRunner
    let clients: HookHTTPClients
    let gate: StartupGate
    var atStop: @Sendable () async -> Void = {}

    func run() async throws {
        await cancelWhenGracefulShutdown { [gate, runner] in
            guard (try? await gate.wait()) != nil else { return }
            await runner.run()
        }
        await atStop()
        await clients.shutdown()
    }
}
