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

/// A running DHCPv4 listener on one address.
///
/// Relayed mode: answers relays on any address it is given, 127.0.0.1 included.
/// Direct mode, where the port a request came in on is its location, is `DirectDHCPServer`.
public final class DHCPServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var settings: DHCPSettings
        public var rateLimit: RequestRateLimit
        public var hostEvents: HostEventBudget
        /// proxyDHCP: also listen on the PXE boot server port (4011) for clients' boot requests.
        public var bootServerPort: Int?

        public init(host: String, port: Int = 67, settings: DHCPSettings, rateLimit: RequestRateLimit = RequestRateLimit(),
                    hostEvents: HostEventBudget = HostEventBudget(),
                    bootServerPort: Int? = nil) {
            self.host = host
            self.port = port
            self.settings = settings
            self.rateLimit = rateLimit
            self.hostEvents = hostEvents
            self.bootServerPort = bootServerPort
        }
    }

    /// Datagrams read per recvmmsg.
    static let readBatch = 32
    /// Room for about 25,000 queued requests.
    static let receiveBuffer = 8 << 20

    public let statistics: DHCPStatistics
    private let sockets: [DHCPSocket]
    private let engine: NIOLoopBound<DHCPEngine>
    private let writer: NIOThreadPool

    private init(sockets: [DHCPSocket], engine: NIOLoopBound<DHCPEngine>, writer: NIOThreadPool, statistics: DHCPStatistics) {
        self.sockets = sockets
        self.engine = engine
        self.writer = writer
        self.statistics = statistics
    }

    /// Starts listening, deciding against the durable leases the directory holds.
    public static func start(_ configuration: Configuration, revisions: RevisionHolder, store: any LeaseStore,
                             directory: LeaseDirectory, group: any EventLoopGroup, logger: Logger) async throws -> DHCPServer {
        guard let host = IPv4Address(configuration.host) else { throw DHCPListenError.notAnIPv4Address(configuration.host) }
        let leases = LeaseTable(directory.all)
        logger.info("loaded \(leases.count) leases from the store")
        let statistics = DHCPStatistics()
        let failureLog = SocketFailureLog(logger: logger)
        var opened = [try DHCPSocket.open(host, port: configuration.port, logger: logger)]
        if let port = configuration.bootServerPort {
            do {
                opened.append(try DHCPSocket.open(host, port: port, logger: logger))
            } catch {
                Glibc.close(opened[0].descriptor)
                throw error
            }
        }
        let sockets = opened
        let writer = NIOThreadPool(numberOfThreads: 1)
        writer.start()
        let loop = group.next()
        let settings = configuration.settings, rateLimit = configuration.rateLimit, hostEvents = configuration.hostEvents
        // One engine for the DHCP port and the boot server port: a proxy client's boot request
        // is placed by what its DISCOVER told. Replies leave through each socket's own sender.
        let engine = try await loop.submit {
            let senders = sockets.map { DatagramReplySender(descriptor: $0.descriptor, statistics: statistics, failureLog: failureLog) }
            return NIOLoopBound(DHCPEngine(loop: loop, revisions: revisions, store: store, directory: directory, leases: leases,
                                           settings: settings, rateLimit: rateLimit, hostEvents: hostEvents, sender: senders[0],
                                           bootServerSender: senders.count > 1 ? senders[1] : nil, writer: writer,
                                           statistics: statistics, logger: logger,
                                           clock: { Int64(Date().timeIntervalSince1970) }), eventLoop: loop)
        }.get()
        let server = DHCPServer(sockets: sockets, engine: engine, writer: writer, statistics: statistics)
        @Sendable func bootstrap(bootServerPort: Bool) -> DatagramBootstrap {
            DatagramBootstrap(group: loop)
            // A storm is read in batches (recvmmsg); its replies leave together (sendmmsg).
            .channelOption(.datagramVectorReadMessageCount, value: DHCPServer.readBatch)
            .channelOption(.maxMessagesPerRead, value: 4)
            // Each datagram of a vector read gets an equal slice of this buffer: one byte more
            // than the largest message accepted, so an oversized datagram is seen as oversized
            // (and counted) instead of arriving cut to a shorter, different error.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(
                capacity: (DHCPMessage.maximumLength + 1) * DHCPServer.readBatch))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DHCPChannelHandler(engine: engine.value, bootServerPort: bootServerPort))
                }
            }
        }
        do {
            for (index, socket) in sockets.enumerated() {
                try await socket.attach(statistics: statistics) { bootstrap(bootServerPort: index > 0) }
            }
        } catch {
            await server.close()
            throw error
        }
        logger.info("DHCP listening on \(configuration.host):\(configuration.port)")
        if let port = configuration.bootServerPort { logger.info("proxyDHCP boot server listening on \(configuration.host):\(port)") }
        return server
    }

    public func close() async {
        for socket in sockets { await socket.stop() }
        // The sockets are closed by their senders, on the engine's loop, after every reply it wrote.
        let engine = self.engine
        try? await engine.eventLoop.submit { engine.value.closeSenders() }.get()
        try? await writer.shutdownGracefully()
    }
}
