import Addressing
import Boot
import DHCPv4
import Foundation
import Logging
import NIOCore
import NIOPosix
import Store
import Zone

/// The DHCP listener's core, confined to one event loop: decode, decide, make durable,
/// reply.
///
/// Decisions are made one at a time against the in-memory lease table, so two
/// requests never get the same discovery address. Their leases and events are
/// group-committed: while one transaction is being written, new decisions queue, and
/// the next transaction takes them all. A reply leaves only after its transaction
/// committed, so an ACK is never sent for a lease a crash could lose, and throughput
/// is not bounded by the disk's fsync rate.
final class DHCPEngine {
    private struct Pending {
        var leases: [Lease]
        var events: [DHCPEvent]
        var reply: OutgoingReply?
        /// What the table held at each of `leases`' addresses before they were applied.
        var undo: [(address: IPv4Address, previous: Lease?)] = []
    }

    private let loop: any EventLoop
    private let revisions: RevisionHolder
    private let store: any LeaseStore
    private let directory: LeaseDirectory
    private let settings: DHCPSettings
    private let writer: NIOThreadPool
    private let statistics: DHCPStatistics
    private let logger: Logger
    private let clock: @Sendable () -> Int64
    private var table: LeaseTable
    private var rateLimit: RequestRateLimit
    private var hostEvents: HostEventBudget
    private var pending: [Pending] = []
    private var committing = false
    /// Where replies leave: a UDP socket (relayed) or packet sockets (direct).
    private let sender: any ReplySender
    /// proxyDHCP: the boot server socket (port 4011); its requests are answered from it.
    private let bootServerSender: (any ReplySender)?

    /// Sends what was written since the last flush: several replies leave together.
    func flush() {
        sender.flush()
        bootServerSender?.flush()
    }

    /// At shutdown, once nothing reads the sockets any more.
    func closeSenders() {
        flush()
        sender.close()
        bootServerSender?.close()
    }

    init(loop: any EventLoop, revisions: RevisionHolder, store: any LeaseStore, directory: LeaseDirectory, leases: LeaseTable,
         settings: DHCPSettings, rateLimit: RequestRateLimit, hostEvents: HostEventBudget = HostEventBudget(),
         sender: any ReplySender, bootServerSender: (any ReplySender)? = nil, writer: NIOThreadPool,
         statistics: DHCPStatistics, logger: Logger, clock: @escaping @Sendable () -> Int64) {
        self.rateLimit = rateLimit
        self.hostEvents = hostEvents
        self.sender = sender
        self.bootServerSender = bootServerSender
        self.loop = loop
        self.revisions = revisions
        self.store = store
        self.directory = directory
        self.settings = settings
        self.writer = writer
        self.statistics = statistics
        self.logger = logger
        self.clock = clock
        table = leases
    }

    /// One datagram, with what the socket says of it: where it really came from (the IP
    /// source, the ingress port in direct mode) and which port it came to.
    func handle(_ bytes: [UInt8], ingressInterface: String?, sourceAddress: IPv4Address?, sourcePort: UInt16,
                onBootServerPort: Bool = false) {
        loop.preconditionInEventLoop()
        statistics.update { $0.received += 1 }
        let message: DHCPMessage
        do {
            message = try DHCPMessage(parsing: bytes)
        } catch {
            statistics.update { $0.malformed(error) }
            logger.debug("malformed datagram", metadata: ["reason": "\(error)"])
            return
        }
        guard let facts = RequestFacts(message: message, ingressInterface: ingressInterface, sourcePort: sourcePort,
                                       sourceAddress: sourceAddress, onBootServerPort: onBootServerPort) else {
            statistics.update { $0.dropped(DropReason.notAServerMessage) }
            return
        }
        if facts.discardedClientText > 0 { statistics.update { $0.clientTextDiscarded += facts.discardedClientText } }
        let now = clock()
        switch rateLimit.admit(mac: facts.mac, circuit: facts.circuitKey, now: now) {
        case .allow: break
        case .tooManyFromMAC:
            statistics.update { $0.dropped("rate-limited-mac") }
            return
        case .tooManyFromCircuit:
            statistics.update { $0.dropped("rate-limited-circuit") }
            return
        }
        var decision = DHCPPolicy.decide(facts, revision: revisions.current, leases: table, settings: settings, now: now)
        var reply: OutgoingReply?
        switch decision.outcome {
        case .drop(let reason):
            statistics.update { $0.dropped(reason) }
            logger.debug("dropped", metadata: ["reason": "\(reason.rawValue)", "mac": "\(facts.macText)"])
            return
        case .silent:
            statistics.update { $0.silent += 1 }
        case .reply(let message, let route):
            // A client's option 57 covers the IP and UDP headers (28 bytes) as well.
            reply = OutgoingReply(message: message, route: route, maximumSize: (facts.maximumMessageSize ?? 576) - 28,
                                  ingress: ingressInterface, onBootServerPort: onBootServerPort)
        }
        if let client = decision.proxyClient { table.remember(client, now: now) }
        if let binding = decision.proxyBinding { directory.record([binding]) }
        let suppressed = hostEvents.admit(&decision.events, now: now)
        if suppressed > 0 { statistics.update { $0.hostEventsSuppressed += suppressed } }
        // The next decision must see this one's leases, durable or not yet (a copy of a
        // request, forwarded and relayed, is then seen as done). An offer is a promise for a
        // moment: it reserves a discovery address in memory and is not worth an fsync; after
        // a crash the client's REQUEST is NAKed and it starts over. Bound, released and
        // declined leases are made durable before the reply, and taken back from the table
        // if the commit fails, so the client's retry is decided afresh, with its events.
        var item = Pending(leases: decision.leases.filter { $0.state != .offered }, events: decision.events, reply: reply)
        for lease in decision.leases {
            if lease.state != .offered { item.undo.append((lease.address, table.lease(address: lease.address))) }
            table.apply(lease)
        }
        if item.leases.isEmpty && item.events.isEmpty {
            if let reply { send(reply) }
            return
        }
        pending.append(item)
        commitIfIdle()
    }

    /// A failed batch leaves the table as if it had never been decided; requests decided
    /// after it (still queued) keep theirs, applied again on top.
    private func takeBack(_ batch: [Pending]) {
        for item in batch.reversed() {
            for (address, previous) in item.undo.reversed() { table.restore(address, to: previous) }
        }
        for index in pending.indices {
            pending[index].undo = pending[index].leases.map { ($0.address, table.lease(address: $0.address)) }
            for lease in pending[index].leases { table.apply(lease) }
        }
    }

    private func commitIfIdle() {
        guard !committing, !pending.isEmpty else { return }
        let batch = pending
        pending = []
        committing = true
        let leases = batch.flatMap(\.leases), events = batch.flatMap(\.events)
        let store = self.store
        writer.runIfActive(eventLoop: loop) {
            try store.commit(leases: leases, events: events)
        }.assumeIsolated().whenComplete { result in
            self.committing = false
            switch result {
            case .success:
                self.statistics.update {
                    $0.commits += 1
                    $0.leasesWritten += leases.count
                    $0.eventsWritten += events.count
                }
                self.directory.record(leases)
                for item in batch { if let reply = item.reply { self.send(reply) } }
                self.flush()
            case .failure(let error):
                // Nothing is sent for what is not durable; the clients will retry.
                self.takeBack(batch)
                self.statistics.update { $0.commitFailures += 1 }
                self.logger.error("lease commit failed; \(batch.count) replies withheld", metadata: ["error": "\(error)"])
            }
            self.commitIfIdle()
        }
    }

    private func send(_ reply: OutgoingReply) {
        let through = reply.onBootServerPort ? bootServerSender ?? sender : sender
        through.send(reply.message.serialized(maximumSize: reply.maximumSize), type: reply.message.messageType,
                     route: reply.route, ingress: reply.ingress)
    }
}

/// Hands each datagram to the engine. Replies do not go back through this channel: the
/// engine's sender writes the socket itself (see `DatagramReplySender`).
final class DHCPChannelHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let engine: DHCPEngine
    /// This socket is the proxy's boot server port (4011), not the DHCP port.
    private let bootServerPort: Bool

    init(engine: DHCPEngine, bootServerPort: Bool = false) {
        self.engine = engine
        self.bootServerPort = bootServerPort
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        engine.flush()
        context.fireChannelReadComplete()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        // A UDP socket does not know the switch port: relayed requests carry it in Option 82.
        engine.handle(Array(envelope.data.readableBytesView), ingressInterface: nil,
                      sourceAddress: envelope.remoteAddress.ipv4Address,
                      sourcePort: UInt16(clamping: envelope.remoteAddress.port ?? 68), onBootServerPort: bootServerPort)
    }
}
