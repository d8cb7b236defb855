import Boot
import DHCPv4
import Foundation
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
        /// proxyDHCP: also listen on the PXE boot server port (4011) for clients' boot requests.
        public var bootServerPort: Int?

        public init(host: String, port: Int = 67, settings: DHCPSettings, rateLimit: RequestRateLimit = RequestRateLimit(),
                    bootServerPort: Int? = nil) {
            self.host = host
            self.port = port
            self.settings = settings
            self.rateLimit = rateLimit
            self.bootServerPort = bootServerPort
        }
    }

    /// Datagrams read per recvmmsg.
    static let readBatch = 32
    /// Room for about 25,000 queued requests.
    static let receiveBuffer = 8 << 20

    public let statistics: DHCPStatistics
    public let localAddress: SocketAddress?
    private let channels: [any Channel]
    private let writer: NIOThreadPool

    private init(channels: [any Channel], writer: NIOThreadPool, statistics: DHCPStatistics) {
        self.channels = channels
        self.writer = writer
        self.statistics = statistics
        localAddress = channels.first?.localAddress
    }

    /// Starts listening, deciding against the durable leases the directory holds.
    public static func start(_ configuration: Configuration, revisions: RevisionHolder, store: any LeaseStore,
                             directory: LeaseDirectory, group: any EventLoopGroup, logger: Logger) async throws -> DHCPServer {
        let leases = LeaseTable(directory.all)
        logger.info("loaded \(leases.count) leases from the store")
        let writer = NIOThreadPool(numberOfThreads: 1)
        writer.start()
        let statistics = DHCPStatistics()
        let loop = group.next()
        let settings = configuration.settings, rateLimit = configuration.rateLimit
        // One engine for the DHCP port and the boot server port: a proxy client's boot request
        // is placed by what its DISCOVER told.
        let engine = try await loop.submit {
            NIOLoopBound(DHCPEngine(loop: loop, revisions: revisions, store: store, directory: directory, leases: leases,
                                    settings: settings, rateLimit: rateLimit, writer: writer, statistics: statistics, logger: logger,
                                    clock: { Int64(Date().timeIntervalSince1970) }), eventLoop: loop)
        }.get()
        func bootstrap(bootServerPort: Bool) -> DatagramBootstrap {
            DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_broadcast), value: 1)
            // A storm is read in batches (recvmmsg), and replies of a batch leave together (sendmmsg).
            .channelOption(.datagramVectorReadMessageCount, value: DHCPServer.readBatch)
            .channelOption(.maxMessagesPerRead, value: 4)
            // A boot storm arrives all at once: let the kernel queue it rather than drop it
            // (capped by net.core.rmem_max; lifted below where the process may).
            .channelOption(.socketOption(.so_rcvbuf), value: DHCPServer.receiveBuffer)
            // Each datagram of a vector read gets an equal slice of this buffer: one byte more
            // than the largest message accepted, so an oversized datagram is seen as oversized
            // (and counted) instead of arriving cut to a shorter, different error.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(
                capacity: (DHCPMessage.maximumLength + 1) * DHCPServer.readBatch))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        DHCPChannelHandler(engine: engine.value, statistics: statistics, bootServerPort: bootServerPort))
                }
            }
        }
        do {
            let channel = try await bootstrap(bootServerPort: false).bind(host: configuration.host, port: configuration.port).get()
            // SO_RCVBUFFORCE passes net.core.rmem_max (CAP_NET_ADMIN); without it the capped size stays.
            let forced: Void? = try? await channel.setOption(
                ChannelOptions.Types.SocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: SO_RCVBUFFORCE)),
                value: SocketOptionValue(DHCPServer.receiveBuffer)).get()
            if forced == nil { logger.notice("receive buffer capped by net.core.rmem_max: a boot storm may be dropped and retried") }
            logger.info("DHCP listening on \(channel.localAddress.map { "\($0)" } ?? configuration.host)")
            var channels = [channel]
            if let port = configuration.bootServerPort {
                do {
                    channels.append(try await bootstrap(bootServerPort: true).bind(host: configuration.host, port: port).get())
                } catch {
                    try? await channel.close()
                    throw error
                }
                logger.info("proxyDHCP boot server listening on \(configuration.host):\(port)")
            }
            return DHCPServer(channels: channels, writer: writer, statistics: statistics)
        } catch {
            try? await writer.shutdownGracefully()
            throw error
        }
    }

    public func close() async {
        for channel in channels { try? await channel.close() }
        try? await writer.shutdownGracefully()
    }
}
