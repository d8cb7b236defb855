import Addressing
import Boot
import DHCPv4
import Foundation
import Glibc
import Logging
import NIOCore
import NIOPosix
import Store
import Zone

/// The process's DHCPv4 service: every DHCP socket it listens on, served by one engine.
///
/// Relayed mode answers relays on each `--listen` address (127.0.0.1 included), and in
/// proxyDHCP mode also on the PXE boot server port. Direct mode, where the switch port a
/// request came in on is its location, adds a packet socket per port (`DirectPorts`).
/// All of them decide against one lease table, so two sockets never offer the same
/// discovery address, and share one rate limit, one host-event budget and one writer.
public final class DHCPServer: Sendable {
    public struct Configuration: Sendable {
        /// The addresses to listen on for relayed requests (`--listen`), each on `port`.
        public var hosts: [String]
        public var port: Int
        public var settings: DHCPSettings
        public var rateLimit: RequestRateLimit
        public var hostEvents: HostEventBudget
        /// proxyDHCP: also listen on the PXE boot server port (4011) for clients' boot requests.
        public var bootServerPort: Int?
        /// Direct mode: the switch ports answered through packet sockets (`settings.directSwitch`
        /// names the switch); none in relayed mode.
        public var directInterfaces: [String]
        /// Hosts on etcd: the discovery blocks to start with (none held, not available until
        /// the coordinator has claimed some); nil: one host, whole ranges.
        public var discoveryBlocks: DiscoveryBlocks?
        /// Lease transactions start at most this often unless `commitBatchLimit` leases wait
        /// (`GroupCommit`): one fsync then serves every request of the interval. Zero: each
        /// starts as soon as the last one ended.
        public var commitInterval: Swift.Duration

        /// Requests whose leases are written at once, without waiting for the commit
        /// interval's end.
        public static let commitBatchLimit = 16
        /// `zonebootd --commit-interval-ms`'s default. At 1,000 DORA/s, 10 ms spent 175–190 µs
        /// of CPU per DORA against 5 ms's 212–215 (Kea 212–218, the same hour): each commit's
        /// fsync and thread wake-ups cost about 300 µs. ACK p50 5.9 ms, against clients that
        /// wait 4 s; from 1,600/s up the batch limit, not the interval, starts transactions.
        public static let defaultCommitIntervalMs = 10

        public init(hosts: [String], port: Int = 67, settings: DHCPSettings, rateLimit: RequestRateLimit = RequestRateLimit(),
                    hostEvents: HostEventBudget = HostEventBudget(),
                    bootServerPort: Int? = nil, directInterfaces: [String] = [], discoveryBlocks: DiscoveryBlocks? = nil,
                    commitInterval: Swift.Duration = .zero) {
            self.hosts = hosts
            self.port = port
            self.settings = settings
            self.rateLimit = rateLimit
            self.hostEvents = hostEvents
            self.bootServerPort = bootServerPort
            self.directInterfaces = directInterfaces
            self.discoveryBlocks = discoveryBlocks
            self.commitInterval = commitInterval
        }
    }

    /// Datagrams read per recvmmsg (`AdmittingChannelHandler`).
    static let readBatch = 32
    /// recvmmsg calls per socket and turn of the loop: between two chunks of work
    /// (`AdmissionGate.chunk`) a socket is read well ahead of what arrives, so requests wait
    /// in the admission queue, which orders and sheds, rather than in the kernel's buffer.
    static let readsPerTurn = 16
    /// Room for about 25,000 queued requests: a boot storm waits here rather than being
    /// dropped and retried. `AdmissionQueue` keeps sustained overload from aging in it.
    static let receiveBuffer = 8 << 20

    public let statistics: Counters<DHCPCounters>
    /// What it listens on, for the "ready" line: `dhcp` and `boot_server` endpoints, `direct` ports.
    public let listening: [(kind: String, endpoint: String)]
    private let sockets: [DHCPSocket]
    private let direct: DirectPorts?
    let engine: NIOLoopBound<DHCPEngine>
    private let writer: NIOThreadPool
    /// The engine's commit thread's senders, closed once that thread has stopped.
    private let committedSenders: CommitThreadSenders

    private init(sockets: [DHCPSocket], direct: DirectPorts?, engine: NIOLoopBound<DHCPEngine>, writer: NIOThreadPool,
                 committedSenders: CommitThreadSenders, statistics: Counters<DHCPCounters>,
                 listening: [(kind: String, endpoint: String)]) {
        self.listening = listening
        self.sockets = sockets
        self.direct = direct
        self.engine = engine
        self.writer = writer
        self.committedSenders = committedSenders
        self.statistics = statistics
    }

    /// One UDP socket to open, and what it is.
    private struct Endpoint {
        var host: IPv4Address
        var port: Int
        var bootServerPort: Bool
    }

    /// Binds every socket and starts answering, deciding against the durable leases the
    /// directory holds. Throws, with nothing left open, when one cannot be bound.
    public static func start(_ configuration: Configuration, revisions: RevisionHolder, store: any DurableLeaseStore,
                             directory: CommittedLeases, counters statistics: Counters<DHCPCounters> = Counters(DHCPCounters()),
                             group: any EventLoopGroup, logger: Logger) async throws -> DHCPServer {
        var endpoints: [Endpoint] = []
        for text in configuration.hosts {
            guard let host = IPv4Address(text) else { throw DHCPListenError.notAnIPv4Address(text) }
            endpoints.append(Endpoint(host: host, port: configuration.port, bootServerPort: false))
            if let port = configuration.bootServerPort { endpoints.append(Endpoint(host: host, port: port, bootServerPort: true)) }
        }
        var opened: [DHCPSocket] = []
        // The commit thread writes ACKs to the same sockets through descriptors of its own,
        // each closed by its sender once that thread has stopped.
        var duplicates: [Int32] = []
        let direct: DirectPorts?
        do {
            for endpoint in endpoints { opened.append(try DHCPSocket.open(endpoint.host, port: endpoint.port, logger: logger)) }
            for (endpoint, socket) in zip(endpoints, opened) {
                let copy = dup(socket.descriptor)
                guard copy >= 0 else { throw DHCPListenError.cannotDuplicate("\(endpoint.host):\(endpoint.port)", errno: errno) }
                duplicates.append(copy)
            }
            direct = configuration.directInterfaces.isEmpty ? nil : try DirectPorts(interfaces: configuration.directInterfaces)
        } catch {
            for socket in opened { Glibc.close(socket.descriptor) }
            for copy in duplicates { Glibc.close(copy) }
            throw error
        }
        let sockets = opened
        let leases = {
            var table = InMemoryLeaseTable(directory.all)
            table.discoveryBlocks = configuration.discoveryBlocks
            return table
        }()
        logger.info("loaded \(leases.count) leases from the store")
        let failureLog = SocketFailureLog(logger: logger)
        let committedSenders = CommitThreadSenders(
            duplicates.map { DatagramReplySender(descriptor: $0, statistics: statistics, failureLog: failureLog) }
                + (direct.map { [$0.sender(serverAddress: configuration.settings.serverIdentifier, statistics: statistics,
                                           failureLog: failureLog)] } ?? []))
        let writer = NIOThreadPool(numberOfThreads: 1)
        writer.start()
        let loop = group.next()
        let settings = configuration.settings, rateLimit = configuration.rateLimit, hostEvents = configuration.hostEvents
        let commitInterval = configuration.commitInterval
        // Sender i answers socket i; the direct ports share the last one, which picks the
        // port by the request's ingress interface.
        let (engine, gate) = try await loop.submit {
            var senders: [any ReplySender] = sockets.map {
                DatagramReplySender(descriptor: $0.descriptor, statistics: statistics, failureLog: failureLog)
            }
            if let direct {
                senders.append(direct.sender(serverAddress: settings.serverIdentifier, statistics: statistics, failureLog: failureLog))
            }
            let engine = DHCPEngine(loop: loop, revisions: revisions, store: store, directory: directory, leases: leases,
                                    settings: settings, rateLimit: rateLimit, hostEvents: hostEvents, senders: senders,
                                    committedSenders: committedSenders, writer: writer, commitInterval: commitInterval,
                                    statistics: statistics, logger: logger,
                                    clock: { Int64(Date().timeIntervalSince1970) })
            return (NIOLoopBound(engine, eventLoop: loop), NIOLoopBound(AdmissionGate(engine: engine, loop: loop), eventLoop: loop))
        }.get()
        let listening = endpoints.map { ($0.bootServerPort ? "boot_server" : "dhcp", "\($0.host):\($0.port)") }
            + configuration.directInterfaces.map { ("direct", $0) }
        let server = DHCPServer(sockets: sockets, direct: direct, engine: engine, writer: writer,
                                committedSenders: committedSenders, statistics: statistics, listening: listening)
        @Sendable func bootstrap(socket: Int, descriptor: Int32, bootServerPort: Bool) -> DatagramBootstrap {
            DatagramBootstrap(group: loop)
            // NIO reads one datagram when the socket is readable; the handler reads the rest
            // of a storm in batches (recvmmsg), with their receive times. Replies leave
            // together (sendmmsg).
            .channelOption(.maxMessagesPerRead, value: 1)
            // One byte more than the largest message accepted, so an oversized datagram is
            // seen as oversized (and counted) instead of arriving cut to a shorter, different error.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: AdmittingChannelHandler.stride))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        AdmittingChannelHandler(gate: gate.value, socket: socket, descriptor: descriptor, bootServerPort: bootServerPort))
                }
            }
        }
        do {
            for (index, socket) in sockets.enumerated() {
                let bootServerPort = endpoints[index].bootServerPort, descriptor = socket.descriptor
                try await socket.attach(statistics: statistics) {
                    bootstrap(socket: index, descriptor: descriptor, bootServerPort: bootServerPort)
                }
            }
        } catch {
            await server.close()
            throw error
        }
        for endpoint in endpoints {
            if endpoint.bootServerPort {
                logger.info("proxyDHCP boot server listening on \(endpoint.host):\(endpoint.port)")
            } else {
                logger.info("DHCP listening on \(endpoint.host):\(endpoint.port)")
            }
        }
        if let direct {
            direct.startReading(gate: gate, socket: sockets.count, statistics: statistics, failureLog: failureLog)
            logger.info("DHCP direct on \(configuration.directInterfaces.joined(separator: ", ")) as \(settings.directSwitch.map { "\($0.pod)/\($0.switch)" } ?? "?")")
        }
        return server
    }

    public func close() async {
        for socket in sockets { await socket.stop() }
        await direct?.stop()
        // The sockets are closed by their senders, on the engine's loop, after every reply it wrote.
        let engine = self.engine
        try? await engine.eventLoop.submit { engine.value.closeSenders() }.get()
        try? await writer.shutdownGracefully()
        committedSenders.close()
    }
}
