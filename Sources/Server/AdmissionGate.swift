import Addressing
import Boot
import CPacketSocket
import DHCPv4
import NIOCore

/// Between the DHCP sockets and the engine, on the engine's loop: every datagram read
/// waits in one `AdmissionQueue` and the engine is fed from it a chunk at a time, so that
/// the sockets are read again (and the queue ordered again) between chunks. What the queue
/// sheds is counted as `stale` and never answered.
final class AdmissionGate {
    struct Waiting {
        var bytes: [UInt8]
        var origin: DatagramOrigin
        var kind: AdmissionKind
    }

    /// Requests handled between two reads of the sockets: a few milliseconds of work.
    static let chunk = 64

    private let engine: DHCPEngine
    private let loop: any EventLoop
    private var queue: AdmissionQueue<Waiting>
    /// A `serve` is scheduled on the loop.
    private var scheduled = false
    /// Each socket's reader (`AdmittingChannelHandler.readWaiting`), by socket: `serve` reads
    /// every socket before each chunk, because the loop runs a task that schedules another
    /// before it polls again, and what waits in a socket must be seen to be ordered and shed.
    private var readers: [Int: () -> Void] = [:]

    init(engine: DHCPEngine, loop: any EventLoop, limits: AdmissionQueue<Waiting>.Limits = .init()) {
        self.engine = engine
        self.loop = loop
        queue = AdmissionQueue(limits: limits)
    }

    /// Queues a datagram the kernel received at `receivedAt` (monotonic ns). Call `serve`
    /// once the read that brought it is over.
    func admit(_ bytes: [UInt8], from origin: DatagramOrigin, receivedAt: Int64) {
        loop.preconditionInEventLoop()
        var origin = origin
        origin.receivedAt = receivedAt
        let kind = AdmissionKind(datagram: bytes)
        if let pushedOut = queue.push(Waiting(bytes: bytes, origin: origin, kind: kind), kind: kind, receivedAt: receivedAt) {
            engine.dropUnanswered(.stale, from: pushedOut.origin)
        }
    }

    /// The reader of socket `socket`, replacing any earlier one (a channel put back on it).
    func setReader(socket: Int, _ read: @escaping () -> Void) {
        readers[socket] = read
    }

    /// Reads what waits in every socket, hands the engine up to a chunk of requests in the
    /// queue's order, sends their replies, and comes back while any wait. `emptied`: a socket
    /// whose reader has just read it to the end, which is not read again (at a low rate each
    /// request is a turn of its own, and that read found nothing every time).
    func serve(emptied: Int? = nil) {
        loop.preconditionInEventLoop()
        for (socket, read) in readers where socket != emptied { read() }
        let now = Self.now()
        var served = 0
        while served < Self.chunk,
              let next = queue.pop(now: now, shed: { engine.dropUnanswered(.stale, from: $0.origin) }) {
            if !engine.handle(next.bytes, from: next.origin), next.kind == .starting { queue.startWentUnanswered() }
            served += 1
        }
        engine.flush()
        guard !queue.isEmpty, !scheduled else { return }
        scheduled = true
        // Paced (only new exchanges waiting, as many started as are due): back when the next
        // are due, or when a read brings a request.
        if let until = queue.pacedUntil(now: now) {
            loop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(UInt64(max(until, 0)))) {
                self.scheduled = false
                self.serve()
            }
            return
        }
        loop.assumeIsolated().execute {
            self.scheduled = false
            self.serve()
        }
    }

    /// The clock `receivedAt` is on.
    static func now() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds) }
}

/// Reads a DHCP socket into the gate, each datagram with how long it waited in the
/// socket. NIO tells when the socket is readable and reads one datagram; the handler reads
/// the rest itself (`zb_udp_receive_batch`), because NIO drops the kernel's receive
/// timestamps. Replies do not go back through this channel: the engine's sender for this
/// socket writes it itself (see `DatagramReplySender`).
final class AdmittingChannelHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    /// Room for one datagram: one byte more than the largest message accepted, so an
    /// oversized datagram is seen as oversized (and counted) instead of cut to a shorter error.
    static let stride = DHCPMessage.maximumLength + 1

    private let gate: AdmissionGate
    /// The engine's sender for this socket.
    private let socket: Int
    /// The socket itself (NIO reads a duplicate of it).
    private let descriptor: Int32
    /// This socket is the proxy's boot server port (4011), not the DHCP port.
    private let bootServerPort: Bool
    private var buffer = [UInt8](repeating: 0, count: AdmittingChannelHandler.stride * DHCPServer.readBatch)
    private var lengths = [Int](repeating: 0, count: DHCPServer.readBatch)
    private var addresses = [UInt32](repeating: 0, count: DHCPServer.readBatch)
    private var ports = [UInt16](repeating: 0, count: DHCPServer.readBatch)
    private var ages = [Int64](repeating: 0, count: DHCPServer.readBatch)

    init(gate: AdmissionGate, socket: Int, descriptor: Int32, bootServerPort: Bool = false) {
        self.gate = gate
        self.socket = socket
        self.descriptor = descriptor
        self.bootServerPort = bootServerPort
    }

    func handlerAdded(context: ChannelHandlerContext) {
        gate.setReader(socket: socket) { [weak self] in self?.readWaiting() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        // A UDP socket does not know the switch port: relayed requests carry it in Option 82.
        let origin = DatagramOrigin(socket: socket, sourceAddress: envelope.remoteAddress.ipv4Address,
                                    sourcePort: UInt16(clamping: envelope.remoteAddress.port ?? 68), onBootServerPort: bootServerPort)
        readWaiting(after: (Array(envelope.data.readableBytesView), origin))
    }

    /// The last `readWaiting` found the socket empty before its last batch was full.
    private var emptied = false

    /// Reads up to `readsPerTurn` batches waiting in the socket into the gate, after `first`,
    /// the datagram NIO read (if any).
    func readWaiting(after first: (bytes: [UInt8], origin: DatagramOrigin)? = nil) {
        var first = first
        emptied = false
        for _ in 0..<DHCPServer.readsPerTurn {
            let count = readBatch()
            let now = AdmissionGate.now()
            // NIO's datagram came before the others: it waited at least as long as the next
            // one. Alone, it arrived since the last read, which counts as now.
            if let datagram = first {
                gate.admit(datagram.bytes, from: datagram.origin, receivedAt: now - (count > 0 ? ages[0] : 0))
                first = nil
            }
            for index in 0..<count {
                let start = index * Self.stride
                gate.admit(Array(buffer[start..<start + lengths[index]]),
                           from: DatagramOrigin(socket: socket, sourceAddress: IPv4Address(addresses[index]),
                                                sourcePort: ports[index], onBootServerPort: bootServerPort),
                           receivedAt: now - ages[index])
            }
            if count < DHCPServer.readBatch {
                emptied = true
                break
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        gate.serve(emptied: emptied ? socket : nil)
        context.fireChannelReadComplete()
    }

    /// Reads up to a batch of what waits on the socket; how many (none on an error: NIO's
    /// own read sees it and reports it).
    private func readBatch() -> Int {
        let descriptor = self.descriptor, batch = DHCPServer.readBatch
        let count = buffer.withUnsafeMutableBufferPointer { buffer in
            lengths.withUnsafeMutableBufferPointer { lengths in
                addresses.withUnsafeMutableBufferPointer { addresses in
                    ports.withUnsafeMutableBufferPointer { ports in
                        ages.withUnsafeMutableBufferPointer { ages in
                            zb_udp_receive_batch(descriptor, buffer.baseAddress, Self.stride, batch, lengths.baseAddress,
                                                 addresses.baseAddress, ports.baseAddress, ages.baseAddress)
                        }
                    }
                }
            }
        }
        return max(0, Int(count))
    }
}
