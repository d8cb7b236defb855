import Boot
import CPacketSocket
import NIOCore

/// Between the DHCP sockets and the engine, on the engine's loop: every datagram read
/// waits in one `AdmissionQueue` and the engine is fed from it a chunk at a time, so that
/// the sockets are read again (and the queue ordered again) between chunks. What the queue
/// sheds is counted as `stale` and never answered.
final class AdmissionGate {
    struct Waiting {
        var bytes: [UInt8]
        var origin: DatagramOrigin
    }

    /// Requests handled between two reads of the sockets: a few milliseconds of work.
    static let chunk = 64

    private let engine: DHCPEngine
    private let loop: any EventLoop
    private var queue: AdmissionQueue<Waiting>
    /// A `serve` is scheduled on the loop.
    private var scheduled = false

    init(engine: DHCPEngine, loop: any EventLoop, limits: AdmissionQueue<Waiting>.Limits = .init()) {
        self.engine = engine
        self.loop = loop
        queue = AdmissionQueue(limits: limits)
    }

    /// Queues a datagram the kernel received at `receivedAt` (monotonic ns). Call `serve`
    /// once the read that brought it is over.
    func admit(_ bytes: [UInt8], from origin: DatagramOrigin, receivedAt: Int64) {
        loop.preconditionInEventLoop()
        if let pushedOut = queue.push(Waiting(bytes: bytes, origin: origin), kind: AdmissionKind(datagram: bytes),
                                      receivedAt: receivedAt) {
            engine.dropUnanswered(.stale, from: pushedOut.origin)
        }
    }

    /// Hands the engine up to a chunk of requests in the queue's order, sends their replies,
    /// and comes back after the loop's next turn (its reads) while any wait.
    func serve() {
        loop.preconditionInEventLoop()
        let now = Self.now()
        var served = 0
        while served < Self.chunk,
              let next = queue.pop(now: now, shed: { engine.dropUnanswered(.stale, from: $0.origin) }) {
            engine.handle(next.bytes, from: next.origin)
            served += 1
        }
        engine.flush()
        guard !queue.isEmpty, !scheduled else { return }
        scheduled = true
        loop.assumeIsolated().execute {
            self.scheduled = false
            self.serve()
        }
    }

    /// The clock `receivedAt` is on.
    static func now() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds) }
}

/// Reads a DHCP socket into the gate. Replies do not go back through this channel: the
/// engine's sender for this socket writes it itself (see `DatagramReplySender`).
final class AdmittingChannelHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let gate: AdmissionGate
    /// The engine's sender for this socket.
    private let socket: Int
    /// The socket itself, whose kernel timestamps say how long each datagram waited there.
    private let descriptor: Int32
    /// This socket is the proxy's boot server port (4011), not the DHCP port.
    private let bootServerPort: Bool

    init(gate: AdmissionGate, socket: Int, descriptor: Int32, bootServerPort: Bool = false) {
        self.gate = gate
        self.socket = socket
        self.descriptor = descriptor
        self.bootServerPort = bootServerPort
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        // NIO reads in batches (recvmmsg); the kernel's stamp is that of the batch's newest
        // datagram, so a wait is never overestimated.
        let receivedAt = AdmissionGate.now() - zb_udp_age_of_last_read(descriptor)
        // A UDP socket does not know the switch port: relayed requests carry it in Option 82.
        gate.admit(Array(envelope.data.readableBytesView),
                   from: DatagramOrigin(socket: socket, sourceAddress: envelope.remoteAddress.ipv4Address,
                                        sourcePort: UInt16(clamping: envelope.remoteAddress.port ?? 68),
                                        onBootServerPort: bootServerPort),
                   receivedAt: receivedAt)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        gate.serve()
        context.fireChannelReadComplete()
    }
}
