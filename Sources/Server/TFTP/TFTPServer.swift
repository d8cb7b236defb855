import Addressing
import Foundation
import Logging
import NIOCore
import NIOPosix
import TFTP

/// A running TFTP server on one address: the well-known port takes requests, and each
/// transfer gets its own ephemeral socket (its transfer ID, RFC 1350), its own timer and
/// a slot in the admission limits until it ends.
public final class TFTPServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var limits: TFTPLimits
        public var maximumRetries: Int
        /// Transfers running at once, in total and per client address; more are refused with an ERROR.
        public var maximumTransfers: Int
        public var maximumTransfersPerClient: Int

        public init(host: String, port: Int = 69, limits: TFTPLimits = TFTPLimits(), maximumRetries: Int = 5,
                    maximumTransfers: Int = 1024, maximumTransfersPerClient: Int = 16) {
            self.host = host
            self.port = port
            self.limits = limits
            self.maximumRetries = maximumRetries
            self.maximumTransfers = maximumTransfers
            self.maximumTransfersPerClient = maximumTransfersPerClient
        }
    }

    public let statistics: TFTPStatistics
    public let localAddress: SocketAddress?
    private let channel: any Channel

    private init(channel: any Channel, statistics: TFTPStatistics) {
        self.channel = channel
        self.statistics = statistics
        localAddress = channel.localAddress
    }

    public static func start(_ configuration: Configuration, content: any TFTPContentSource, statistics: TFTPStatistics = TFTPStatistics(),
                             group: any EventLoopGroup, logger: Logger) async throws -> TFTPServer {
        let admission = TFTPAdmission(maximumTotal: configuration.maximumTransfers,
                                      maximumPerClient: configuration.maximumTransfersPerClient)
        let bootstrap = DatagramBootstrap(group: group.next())
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // A boot storm's requests arrive at once: let the kernel queue them (capped by net.core.rmem_max).
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            // A request with options fits easily; one byte more than a block shows an oversized one.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65536))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        try TFTPRequestHandler(configuration: configuration, content: content, admission: admission,
                                           statistics: statistics, group: group, logger: logger))
                }
            }
        let channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        logger.info("TFTP listening on \(channel.localAddress.map { "\($0)" } ?? configuration.host)")
        return TFTPServer(channel: channel, statistics: statistics)
    }

    public func close() async {
        try? await channel.close()
    }
}

extension SocketAddress {
    /// The IPv4 address as a number (0 for anything else).
    var ipv4Value: UInt32 {
        if case .v4(let address) = self { return UInt32(bigEndian: address.address.sin_addr.s_addr) }
        return 0
    }
}

func monotonicMilliseconds() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }

/// The well-known port: parses requests, refuses what is not served, starts transfers.
final class TFTPRequestHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let configuration: TFTPServer.Configuration
    private let content: any TFTPContentSource
    private let admission: TFTPAdmission
    private let statistics: TFTPStatistics
    private let group: any EventLoopGroup
    private let logger: Logger
    /// Where transfer sockets bind: the listening address, any port (resolved once, not per transfer).
    private let transferAddress: SocketAddress

    init(configuration: TFTPServer.Configuration, content: any TFTPContentSource, admission: TFTPAdmission,
         statistics: TFTPStatistics, group: any EventLoopGroup, logger: Logger) throws {
        transferAddress = try SocketAddress.makeAddressResolvingHost(configuration.host, port: 0)
        self.configuration = configuration
        self.content = content
        self.admission = admission
        self.statistics = statistics
        self.group = group
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let client = envelope.remoteAddress
        statistics.update { $0.received += 1 }
        let packet: TFTPPacket
        do {
            packet = try TFTPPacket(parsing: Array(envelope.data.readableBytesView))
        } catch {
            statistics.update { $0.malformed[error.reason, default: 0] += 1 }
            // An unknown opcode is answered (RFC 1350 error 4); other garbage is dropped unanswered,
            // so the port cannot be used to reflect traffic at a forged source.
            if case .unknownOpcode = error { refuse(context, client, .illegalOperation, "illegal TFTP operation", reason: nil) }
            return
        }
        switch packet {
        case .readRequest(let request):
            start(context, request, client: client)
        case .writeRequest:
            refuse(context, client, .accessViolation, "this server only sends files", reason: "write-request")
        case .error:
            // Never answer an ERROR (RFC 1350): two servers would bounce them forever.
            statistics.ignored("error-on-listener")
        case .data, .acknowledgement, .optionAcknowledgement:
            // These belong to a transfer's own port; ACK floods at port 69 cost one count each.
            statistics.ignored("\(packet.opcode)-on-listener")
        }
    }

    private func start(_ context: ChannelHandlerContext, _ request: TFTPRequest, client: SocketAddress) {
        let mode = request.mode.lowercased()
        // netascii is served byte for byte, as most boot servers do: boot files are binary.
        guard mode == "octet" || mode == "netascii" else {
            return refuse(context, client, .illegalOperation, "unsupported mode \(request.mode)", reason: "mode")
        }
        let path: String
        switch TFTPPath.normalize(request.filename) {
        case .success(let normalized): path = normalized
        case .failure(let problem): return refuse(context, client, .accessViolation, "access violation", reason: problem.reason)
        }
        let clientValue = client.ipv4Value
        if let busy = admission.admit(clientValue) {
            return refuse(context, client, .notDefined, "server busy, try again", reason: busy)
        }
        content.open(path, client: IPv4Address(clientValue), on: context.eventLoop)
            .hop(to: context.eventLoop).assumeIsolated()
            .whenComplete { [self] result in
                switch result {
                case .success(let file):
                    begin(request, path: path, file: file, client: client)
                case .failure(let error):
                    admission.release(clientValue)
                    switch error as? TFTPContentError ?? .notFound {
                    case .notFound: refuse(context, client, .fileNotFound, "file not found", reason: "not-found")
                    case let other: refuse(context, client, .accessViolation, "access violation", reason: other.reason)
                    }
                }
            }
    }

    /// Starts the transfer of an opened file on a new socket.
    private func begin(_ request: TFTPRequest, path: String, file: any TFTPContent, client: SocketAddress) {
        let clientValue = client.ipv4Value
        let negotiation = TFTPNegotiation(options: request.options, fileSize: file.size, limits: configuration.limits)
        let transfer = TFTPTransfer(fileSize: file.size, negotiation: negotiation, maximumRetries: configuration.maximumRetries)
        statistics.update { counters in
            counters.transfersStarted += 1
            counters.transfersActive += 1
            for option in negotiation.ignored { counters.ignoredOptions["\(option.name.lowercased()):\(option.reason)", default: 0] += 1 }
        }
        logger.debug("TFTP \(client) reads \(path) (\(file.size) bytes, blksize \(negotiation.blockSize), window \(negotiation.windowSize))")
        let statistics = self.statistics, admission = self.admission, logger = self.logger
        let release: @Sendable () -> Void = {
            admission.release(clientValue)
            statistics.update { $0.transfersActive -= 1 }
        }
        DatagramBootstrap(group: group.next())
            // A whole window goes out in one burst.
            .channelOption(.socketOption(.so_sndbuf), value: 1 << 20)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2048))
            // A transfer's peer sends one ACK per window and waits: one read per wakeup, so no
            // second recvmsg that would only say EAGAIN.
            .channelOption(.maxMessagesPerRead, value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        TFTPTransferHandler(transfer: transfer, content: ReadAheadContent(file, blockSize: negotiation.blockSize),
                                            client: client, statistics: statistics, onEnd: release))
                }
            }
            .bind(to: transferAddress)
            // Connected to the client, as tftpd-hpa does: the kernel keeps other senders off this
            // transfer ID (they get ICMP port unreachable) and sends without a per-packet route lookup.
            .flatMap { channel in
                channel.connect(to: client).flatMapError { error in
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(error)
                }.map { channel }
            }
            .whenComplete { result in
                switch result {
                case .success(let channel): channel.pipeline.fireUserInboundEventTriggered(TFTPTransferHandler.Start())
                case .failure(let error):
                logger.error("TFTP: no socket for a transfer to \(client): \(error)")
                logger.error("TFTP: no socket for a transfer to \(client): \(error)")
                file.close()
                release()
                statistics.update { $0.transfersEnded["no-socket", default: 0] += 1 }
                }
            }
    }

    private func refuse(_ context: ChannelHandlerContext, _ client: SocketAddress, _ code: TFTPErrorCode, _ message: String, reason: String?) {
        if let reason { statistics.refused(reason) } else { statistics.refused("illegal-operation") }
        let bytes = TFTPPacket.error(code, message).serialized()
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: client, data: context.channel.allocator.buffer(bytes: bytes))),
                              promise: nil)
    }
}

/// One transfer on its own socket: feeds the state machine, sends what it asks, keeps its timer.
final class TFTPTransferHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = ByteBuffer

    private var transfer: TFTPTransfer
    private var content: ReadAheadContent
    private let client: SocketAddress
    private let statistics: TFTPStatistics
    private let onEnd: @Sendable () -> Void
    private var timer: Scheduled<Void>?
    private var timerDeadline: Int64?
    private var ended = false
    /// Packets of the current window whose bytes an upstream has not delivered yet.
    private var deferred: [TFTPTransfer.Outgoing] = []
    private var deferredRetry: Scheduled<Void>?
    // Kept here and added to the shared counters once, when the transfer ends.
    private var blocksSent = 0
    private var blocksRetransmitted = 0
    private var bytesSent: UInt64 = 0

    init(transfer: TFTPTransfer, content: ReadAheadContent, client: SocketAddress, statistics: TFTPStatistics,
         onEnd: @escaping @Sendable () -> Void) {
        self.transfer = transfer
        self.content = content
        self.client = client
        self.statistics = statistics
        self.onEnd = onEnd
    }

    /// Sent once the socket is connected to the client: the transfer begins.
    struct Start {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is Start else { return context.fireUserInboundEventTriggered(event) }
        perform(transfer.handle(.start(now: monotonicMilliseconds())), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(context: context, reason: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A send refused by the kernel (the client's port closed): the client is gone.
        end(context: context, reason: "socket-error")
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The socket is connected: everything read comes from the client.
        let envelope = unwrapInboundIn(data)
        let event: TFTPTransfer.Event
        var buffer = envelope.data
        // The common case, an ACK, is read without building a packet.
        if buffer.readableBytes >= 4, buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) == TFTPOpcode.acknowledgement.rawValue {
            buffer.moveReaderIndex(forwardBy: 2)
            event = .acknowledgement(block: buffer.readInteger(as: UInt16.self)!, now: monotonicMilliseconds())
        } else {
            switch try? TFTPPacket(parsing: Array(buffer.readableBytesView)) {
            case .error(let code, let message)?: event = .clientError(code: code, message: message)
            case .some(let packet): return statistics.ignored("\(packet.opcode)-in-transfer")
            case nil: return statistics.ignored("malformed-in-transfer")
            }
        }
        perform(transfer.handle(event), context: context)
    }

    private func perform(_ actions: TFTPTransfer.Actions, context: ChannelHandlerContext) {
        if let ignored = actions.ignored { statistics.ignored(ignored.rawValue) }
        if !actions.send.isEmpty {
            // A new send list is the machine's current window: anything still deferred is superseded.
            deferred = []
            send(actions.send, isRetransmission: actions.isRetransmission, context: context)
        }
        if ended { return }
        if let outcome = actions.outcome { return end(context: context, reason: outcome.reason) }
        armTimer(context: context)
    }

    private func send(_ packets: [TFTPTransfer.Outgoing], isRetransmission: Bool, context: ChannelHandlerContext) {
        do {
            packets: for (position, outgoing) in packets.enumerated() {
                var buffer: ByteBuffer
                switch outgoing {
                case .optionAcknowledgement(let options):
                    buffer = context.channel.allocator.buffer(bytes: TFTPPacket.optionAcknowledgement(options).serialized())
                case .data(let block, _, let offset, let count):
                    buffer = context.channel.allocator.buffer(capacity: 4 + count)
                    buffer.writeInteger(TFTPOpcode.data.rawValue)
                    buffer.writeInteger(block)
                    do {
                        try content.read(offset: offset, count: count, into: &buffer)
                    } catch TFTPContentError.notYetAvailable {
                        // Still filling from the upstream: send what is there, the rest shortly.
                        deferred = Array(packets[position...])
                        scheduleDeferred(context: context, isRetransmission: isRetransmission)
                        break packets
                    }
                    blocksSent += 1
                    bytesSent += UInt64(count)
                    if isRetransmission { blocksRetransmitted += 1 }
                }
                context.write(wrapOutboundOut(buffer), promise: nil)
            }
            context.flush()
        } catch {
            context.flush()
            let bytes = TFTPPacket.error(.notDefined, "read error").serialized()
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
            end(context: context, reason: "read-failed")
        }
    }

    private func scheduleDeferred(context: ChannelHandlerContext, isRetransmission: Bool) {
        guard deferredRetry == nil else { return }
        deferredRetry = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(5)) { [self] in
            deferredRetry = nil
            guard !ended, !deferred.isEmpty else { return }
            let packets = deferred
            deferred = []
            send(packets, isRetransmission: isRetransmission, context: context)
        }
    }

    /// One timer per transfer, moved only when the machine's deadline comes earlier than it:
    /// most ACKs push the deadline later, and a timer that fires early just re-arms.
    private func armTimer(context: ChannelHandlerContext) {
        guard let deadline = transfer.deadline else {
            timer?.cancel()
            timer = nil
            timerDeadline = nil
            return
        }
        if let timerDeadline, timerDeadline <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(
            deadline: .uptimeNanoseconds(UInt64(max(deadline, 0)) * 1_000_000)
        ) { [self] in
            timer = nil
            timerDeadline = nil
            guard !ended else { return }
            perform(transfer.handle(.tick(now: monotonicMilliseconds())), context: context)
        }
    }

    private func end(context: ChannelHandlerContext, reason: String?) {
        guard !ended else { return }
        ended = true
        timer?.cancel()
        timer = nil
        deferredRetry?.cancel()
        deferredRetry = nil
        content.close()
        let blocks = blocksSent, retransmitted = blocksRetransmitted, bytes = bytesSent
        statistics.update { counters in
            counters.transfersEnded[reason ?? "closed", default: 0] += 1
            counters.blocksSent += blocks
            counters.blocksRetransmitted += retransmitted
            counters.bytesSent += bytes
        }
        onEnd()
        context.close(promise: nil)
    }
}
