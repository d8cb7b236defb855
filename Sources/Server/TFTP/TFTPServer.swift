import Addressing
import Foundation
import Logging
import NIOCore
import NIOPosix
import TFTP

/// A running TFTP server on one address: the well-known port takes requests (an event
/// loop of `group`), and each transfer gets its own ephemeral socket (its transfer ID,
/// RFC 1350), served by one of a few worker threads (`TFTPTransferWorker`), and a slot in
/// the admission limits until it ends.
public final class TFTPServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var limits: TFTPLimits
        public var maximumRetries: Int
        /// Transfers running at once, in total and per client address; more are refused with an
        /// ERROR, once no never-acknowledged transfer is left to evict (see `TFTPAdmissionTable`).
        public var maximumTransfers: Int
        public var maximumTransfersPerClient: Int
        /// The longest a transfer lives without progress, whatever timeout its client asked.
        public var progressLimitMilliseconds: Int64
        /// Bytes the running transfers' buffers (a window of packets and a read-ahead chunk each)
        /// may hold together; windows are granted smaller to fit.
        public var bufferBudget: Int

        public init(host: String, port: Int = 69, limits: TFTPLimits = TFTPLimits(), maximumRetries: Int = 5,
                    maximumTransfers: Int = 1024, maximumTransfersPerClient: Int = 16,
                    progressLimitMilliseconds: Int64 = TFTPTransfer.defaultProgressLimitMilliseconds,
                    bufferBudget: Int = 256 << 20) {
            self.host = host
            self.port = port
            self.limits = limits
            self.maximumRetries = maximumRetries
            self.maximumTransfers = maximumTransfers
            self.maximumTransfersPerClient = maximumTransfersPerClient
            self.progressLimitMilliseconds = progressLimitMilliseconds
            self.bufferBudget = bufferBudget
        }
    }

    public let statistics: Counters<TFTPCounters>
    public let localAddress: SocketAddress?
    private let channel: any Channel
    private let workers: TFTPTransferWorkers

    private init(channel: any Channel, statistics: Counters<TFTPCounters>, workers: TFTPTransferWorkers) {
        self.channel = channel
        self.statistics = statistics
        self.workers = workers
        localAddress = channel.localAddress
    }

    public static func start(_ configuration: Configuration, content: any TFTPContentSource, statistics: Counters<TFTPCounters> = Counters(TFTPCounters()),
                             group: any EventLoopGroup, logger: Logger) async throws -> TFTPServer {
        let admission = TFTPAdmission(maximumTotal: configuration.maximumTransfers,
                                      maximumPerClient: configuration.maximumTransfersPerClient,
                                      bufferBudget: configuration.bufferBudget)
        let workers = try TFTPTransferWorkers(statistics: statistics)
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
                                               statistics: statistics, workers: workers, logger: logger))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        } catch {
            workers.stop()
            throw error
        }
        logger.info("TFTP listening on \(channel.localAddress?.endpointText ?? configuration.host)")
        return TFTPServer(channel: channel, statistics: statistics, workers: workers)
    }

    /// Where it listens, as `127.0.0.1:69`.
    public var endpoint: String { channel.localAddress?.endpointText ?? "?" }

    /// Stops taking requests and ends the running transfers.
    public func close() async {
        try? await channel.close()
        workers.stop()
    }
}

/// The coarse monotonic clock in milliseconds. Its tick (1–4 ms) is far below what it times
/// (retransmissions after a second or more, log rates per second), and it is read without the
/// time-stamp counter, which matters at one read per wake of a TFTP worker (often one per block).
func monotonicMilliseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

/// The well-known port: parses requests, refuses what is not served, starts transfers.
final class TFTPRequestHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let configuration: TFTPServer.Configuration
    private let content: any TFTPContentSource
    private let admission: TFTPAdmission
    private let statistics: Counters<TFTPCounters>
    private let workers: TFTPTransferWorkers
    private let logger: Logger
    /// Where transfer sockets bind: the listening address, any port (resolved once, not per transfer).
    private let transferAddress: SocketAddress

    init(configuration: TFTPServer.Configuration, content: any TFTPContentSource, admission: TFTPAdmission,
         statistics: Counters<TFTPCounters>, workers: TFTPTransferWorkers, logger: Logger) throws {
        transferAddress = try SocketAddress.makeAddressResolvingHost(configuration.host, port: 0)
        self.configuration = configuration
        self.content = content
        self.admission = admission
        self.statistics = statistics
        self.workers = workers
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
        if let refusal = configuration.limits.refusal(of: request.options) {
            return refuse(context, client, .optionNegotiationRefused, "option negotiation refused", reason: refusal.rawValue)
        }
        let clientValue = client.ipv4Value
        // The buffers a window needs do not depend on the file: what the options ask is known now.
        let asked = TFTPNegotiation(options: request.options, fileSize: 0, limits: configuration.limits)
        let slot: TFTPSlot, grantedBytes: Int
        switch admission.admit(clientValue, wantedBytes: ReadAheadContent.chunkBytes + asked.windowBytes,
                               minimumBytes: ReadAheadContent.chunkBytes + TFTPNegotiation.minimumWindowBytes) {
        case .failure(let busy):
            return refuse(context, client, .notDefined, "server busy, try again", reason: busy.rawValue)
        case .success(let admitted):
            (slot, grantedBytes) = (admitted.slot, admitted.bytes)
            if admitted.evicted > 0 {
                statistics.update { $0.transfersEvicted += admitted.evicted }
                workers.endEvicted()
            }
        }
        content.open(path, client: IPv4Address(clientValue), on: context.eventLoop)
            .hop(to: context.eventLoop).assumeIsolated()
            .whenComplete { [self] result in
                switch result {
                case .success(let file):
                    begin(request, path: path, file: file, client: client, slot: slot, grantedBytes: grantedBytes)
                case .failure(let error):
                    admission.release(slot)
                    switch error as? TFTPContentError ?? .notFound {
                    case .notFound: refuse(context, client, .fileNotFound, "file not found", reason: "not-found")
                    case let other: refuse(context, client, .accessViolation, other.clientMessage, reason: other.reason)
                    }
                }
            }
    }

    /// Starts the transfer of an opened file on a new socket.
    private func begin(_ request: TFTPRequest, path: String, file: any TFTPContent, client: SocketAddress,
                       slot: TFTPSlot, grantedBytes: Int) {
        let negotiation = TFTPNegotiation(options: request.options, fileSize: file.size, limits: configuration.limits,
                                          windowByteBudget: grantedBytes - ReadAheadContent.chunkBytes)
        admission.shrink(slot, to: ReadAheadContent.chunkBytes + negotiation.windowBytes)
        let transfer = TFTPTransfer(fileSize: file.size, negotiation: negotiation, maximumRetries: configuration.maximumRetries,
                                    progressLimitMilliseconds: configuration.progressLimitMilliseconds)
        let bytesInUse = admission.bytesInUse
        statistics.update { counters in
            counters.transfersStarted += 1
            counters.transfersActive += 1
            counters.bufferBytesInUse = bytesInUse
            if negotiation.reducedToBudget { counters.windowsReducedToBudget += 1 }
            for option in negotiation.ignored { counters.ignoredOptions[option.counterKey, default: 0] += 1 }
        }
        logger.debug("TFTP \(client) reads \(path) (\(file.size) bytes, blksize \(negotiation.blockSize), window \(negotiation.windowSize))")
        let statistics = self.statistics, admission = self.admission, logger = self.logger
        let release: @Sendable () -> Void = {
            admission.release(slot)
            let bytesInUse = admission.bytesInUse
            statistics.update { counters in
                counters.transfersActive -= 1
                counters.bufferBytesInUse = bytesInUse
            }
        }
        let abandon = { (reason: String) in
            file.close()
            release()
            statistics.update { $0.transfersEnded[reason, default: 0] += 1 }
        }
        // Evicted while its file was opening (an upstream fetch can take a while).
        if slot.isEvicted { return abandon("evicted") }
        let socket: Int32
        switch openTransferSocket(local: transferAddress, remote: client) {
        case .success(let opened):
            socket = opened
        case .failure(let error):
            logger.error("TFTP: no socket for a transfer to \(client): \(error)")
            return abandon("no-socket")
        }
        let assignment = TFTPTransferWorker.Assignment(transfer: transfer, content: file, socket: socket, slot: slot,
                                                       acknowledged: { admission.acknowledged(slot) }) { reason in
            release()
            logger.debug("TFTP \(client) \(path): \(reason)")
        }
        guard workers.assign(assignment) else {
            // The server is closing.
            _ = Glibc.close(socket)
            return abandon("closed")
        }
    }

    private func refuse(_ context: ChannelHandlerContext, _ client: SocketAddress, _ code: TFTPErrorCode, _ message: String, reason: String?) {
        if let reason { statistics.refused(reason) } else { statistics.refused("illegal-operation") }
        let bytes = TFTPPacket.error(code, message).serialized()
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: client, data: context.channel.allocator.buffer(bytes: bytes))),
                              promise: nil)
    }
}
