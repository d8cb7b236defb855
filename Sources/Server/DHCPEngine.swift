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
/// reply. One engine serves every DHCP socket of the process (each `--listen` address,
/// the proxy boot server port, the direct-mode packet sockets), so there is one lease
/// table, one rate limit and one host-event budget, and one writer makes them durable.
///
/// Each datagram goes: parse → facts → rate limit → `DHCPPolicy.decide` → apply to the
/// in-memory lease table → group commit (`GroupCommit`) → send. Decisions are made one at
/// a time against the table, so two requests never get the same discovery address. A
/// reply whose decision has durable leases or events leaves only after its transaction
/// committed, so an ACK is never sent for a lease a crash could lose.
final class DHCPEngine {
    private struct Pending {
        var leases: [Lease]
        var events: [ZoneEvent]
        var reply: OutgoingReply?
        /// What the table held at each of `leases`' addresses before they were applied.
        var undo: [(address: IPv4Address, previous: Lease?)] = []
        /// The info lines to log once the leases are durable (none when info is off).
        var log: [LeaseLog.Line] = []
    }

    private let loop: any EventLoop
    private let revisions: RevisionHolder
    private let store: any DurableLeaseStore
    let directory: CommittedLeases
    private let settings: DHCPSettings
    private let writer: NIOThreadPool
    private let statistics: Counters<DHCPCounters>
    private let logger: Logger
    let clock: @Sendable () -> Int64
    /// Read and fed by the etcd discovery coordination too (`DHCPEngine+Discovery.swift`).
    var table: InMemoryLeaseTable
    /// Told when a DISCOVER found no free address in this host's discovery blocks (etcd): the
    /// claimer then claims more at once instead of at its next look.
    var discoveryRanShort: (@Sendable () -> Void)?
    private var rateLimit: RequestRateLimit
    private var hostEvents: HostEventBudget
    /// Exchanges settled with another host: their DISCOVERs, decided late, are not offered.
    private var selectedElsewhere = SelectedElsewhere()
    private var commits: GroupCommit<Pending>
    /// Transactions start at most this often unless `commits.batchLimit` items wait (see `GroupCommit`).
    private let commitInterval: TimeAmount
    /// When the last transaction started; nil before the first.
    private var lastWriteStarted: NIODeadline?
    /// The task that ends the current commit interval, cancelled when a write starts first.
    private var intervalEnd: Scheduled<Void>?
    private var dropLog = DropLogBudget()
    /// Where replies leave, one per socket: a reply leaves through the sender of the socket
    /// its request came in on (`DatagramOrigin.socket` is an index here).
    private let senders: [any ReplySender]
    /// Where the replies of committed requests (ACKs) leave, one per socket as `senders`:
    /// on the commit thread, as soon as their transaction committed.
    private let committedSenders: CommitThreadSenders

    /// Sends what was written since the last flush: several replies leave together.
    func flush() {
        for sender in senders { sender.flush() }
    }

    /// At shutdown, once nothing reads the sockets any more.
    func closeSenders() {
        flush()
        for sender in senders { sender.close() }
    }

    init(loop: any EventLoop, revisions: RevisionHolder, store: any DurableLeaseStore, directory: CommittedLeases, leases: InMemoryLeaseTable,
         settings: DHCPSettings, rateLimit: RequestRateLimit, hostEvents: HostEventBudget = HostEventBudget(),
         senders: [any ReplySender], committedSenders: CommitThreadSenders, writer: NIOThreadPool,
         commitInterval: Swift.Duration = .zero,
         statistics: Counters<DHCPCounters>, logger: Logger, clock: @escaping @Sendable () -> Int64) {
        self.rateLimit = rateLimit
        self.hostEvents = hostEvents
        self.commitInterval = TimeAmount(commitInterval)
        commits = GroupCommit(spacesWrites: commitInterval > .zero)
        self.senders = senders
        self.committedSenders = committedSenders
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

    /// One datagram, with what its socket says of it. Returns whether it is answered (a reply
    /// decided, sent now or once its leases are durable): the admission queue's pacing counts
    /// only answered new exchanges, so that requests dropped here (a flooding port's, a
    /// spoofed relay's) never use up what is left for the others.
    @discardableResult
    func handle(_ bytes: [UInt8], from origin: DatagramOrigin) -> Bool {
        loop.preconditionInEventLoop()
        statistics.update { $0.received += 1 }
        let message: DHCPMessage
        do {
            message = try DHCPMessage(parsing: bytes)
        } catch {
            statistics.update { $0.malformed(error) }
            noteDrop(error.reason, "malformed datagram dropped",
                     ["from": "\(origin.sourceAddress.map { "\($0)" } ?? "?"):\(origin.sourcePort)", "detail": "\(error)"])
            return false
        }
        statistics.update { $0.receivedByType[message.messageType?.name ?? "unknown", default: 0] += 1 }
        guard let facts = RequestFacts(message: message, ingressInterface: origin.ingressInterface, sourcePort: origin.sourcePort,
                                       sourceAddress: origin.sourceAddress, onBootServerPort: origin.onBootServerPort) else {
            statistics.update { $0.dropped(DropReason.notAServerMessage) }
            noteDrop(DropReason.notAServerMessage.rawValue, "request dropped",
                     ["from": "\(origin.sourceAddress.map { "\($0)" } ?? "?"):\(origin.sourcePort)"])
            return false
        }
        logger.debug("received", metadata: LeaseLog.received(facts, from: origin))
        if facts.discardedClientText > 0 { statistics.update { $0.clientTextDiscarded += facts.discardedClientText } }
        let now = clock()
        if let limited = rateLimit.admit(mac: facts.mac, circuit: facts.circuitKey, now: now) {
            statistics.update { $0.dropped(limited) }
            noteDrop(limited.rawValue, "request dropped", LeaseLog.received(facts, from: origin))
            return false
        }
        if facts.messageType == .discover, origin.receivedAt != 0,
           selectedElsewhere.overtakes(mac: facts.mac, xid: facts.xid, receivedAt: origin.receivedAt) {
            statistics.update { $0.dropped(DropReason.otherServerSelected) }
            noteDrop(DropReason.otherServerSelected.rawValue, "request dropped", LeaseLog.received(facts, from: origin))
            return false
        }
        let (revision, revisionID) = revisions.currentWithID
        // The input (and its reference to the table) ends with this statement: the table is
        // then uniquely held again, and applying the decision does not copy it.
        var decision = DHCPPolicy.decide(DecisionInput(facts: facts, revision: revision, leases: table,
                                                       settings: settings, now: now))
        var reply: OutgoingReply?
        switch decision.outcome {
        case .drop(let reason):
            statistics.update { $0.dropped(reason) }
            if reason == .poolExhausted { discoveryRanShort?() }
            if reason == .otherServerSelected, origin.receivedAt != 0 {
                selectedElsewhere.record(mac: facts.mac, xid: facts.xid, receivedAt: origin.receivedAt)
            }
            noteDrop(reason.rawValue, "request dropped", LeaseLog.received(facts, from: origin))
            for withdrawn in decision.leases { table.apply(withdrawn) }
            return false
        case .silent:
            statistics.update { $0.silent += 1 }
        case .reply(let message, let route):
            reply = OutgoingReply(message: message, route: route, maximumSize: decision.maximumReplySize,
                                  ingress: origin.ingressInterface, socket: origin.socket)
        }
        if let client = decision.proxyClient { table.remember(client, now: now) }
        if let binding = decision.proxyBinding { directory.record([binding]) }
        let suppressed = hostEvents.admit(&decision.events, now: now)
        if suppressed > 0 { statistics.update { $0.hostEventsSuppressed += suppressed } }
        // The next decision must see this one's leases, durable or not yet (a copy of a
        // request, forwarded and relayed, is then seen as done); the durable ones are taken
        // back if their commit fails.
        let durable = decision.durableLeases
        var item = Pending(leases: durable, events: decision.events, reply: reply)
        for lease in durable { item.undo.append((lease.address, table.lease(address: lease.address))) }
        if logger.logLevel <= .info && !durable.isEmpty {
            item.log = LeaseLog.lines(durable, previous: item.undo, facts: facts, revision: revision, revisionID: revisionID,
                                      now: now)
        }
        for lease in decision.leases { table.apply(lease) }
        if item.leases.isEmpty && item.events.isEmpty {
            if let reply { send(reply) }
            return reply != nil
        }
        perform(commits.submit(item))
        return reply != nil
    }

    private func perform(_ actions: [GroupCommit<Pending>.Action]) {
        for action in actions {
            switch action {
            case .write(let batch):
                intervalEnd?.cancel()
                intervalEnd = nil
                write(batch)
            case .writeWhenIntervalEnds:
                let waited = lastWriteStarted.map { NIODeadline.now() - $0 } ?? commitInterval
                if waited >= commitInterval {
                    perform(commits.intervalEnded())
                } else {
                    intervalEnd = loop.assumeIsolated().scheduleTask(in: commitInterval - waited) {
                        self.intervalEnd = nil
                        self.perform(self.commits.intervalEnded())
                    }
                }
            case .send(let batch):
                // The directory has the batch's leases, and the clients their replies, already
                // (`write`). Logged once sent: a line says what the client was told, never a
                // lease a crash could lose.
                for item in batch {
                    for line in item.log { logger.info("\(line.message)", metadata: line.metadata) }
                }
            case .takeBack(let failed, let reapply):
                // Nothing is sent for what is not durable; the clients will retry, and are
                // decided afresh against a table as if the failed batch had never been.
                for item in failed.reversed() {
                    for (address, previous) in item.undo.reversed() { table.restore(address, to: previous) }
                }
                // Requests decided after it keep theirs, applied again on top.
                let again = reapply.map { item in
                    var item = item
                    item.undo = item.leases.map { ($0.address, table.lease(address: $0.address)) }
                    for lease in item.leases { table.apply(lease) }
                    return item
                }
                perform(commits.reapplied(again))
            }
        }
    }

    private func write(_ batch: [Pending]) {
        lastWriteStarted = .now()
        let leases = batch.flatMap(\.leases), events = batch.flatMap(\.events)
        let replies = batch.compactMap(\.reply)
        let store = self.store, directory = self.directory, committedSenders = self.committedSenders, logger = self.logger
        writer.runIfActive(eventLoop: loop) {
            try store.commit(leases: leases, events: events)
            // Published, and the replies sent, by the commit thread: in a boot storm the
            // directory (with the boot timelines it feeds) and the ACKs were a sixth of the
            // DHCP loop's work, the loop being the storm's bottleneck and this thread mostly
            // waiting for fsync. The directory has the leases before any reply leaves.
            directory.record(leases)
            committedSenders.send(replies, logger: logger)
        }.assumeIsolated().whenComplete { result in
            switch result {
            case .success:
                self.statistics.update {
                    $0.commits += 1
                    $0.leasesWritten += leases.count
                    $0.eventsWritten += events.count
                }
            case .failure(let error):
                self.statistics.update { $0.commitFailures += 1 }
                self.logger.error("lease commit failed; \(batch.count) replies withheld", metadata: ["error": "\(error)"])
            }
            let succeeded = if case .success = result { true } else { false }
            self.perform(self.commits.committed(succeeded))
        }
    }

    /// A datagram dropped before it was read (the admission queue shed it): counted as
    /// received and dropped, and logged like the engine's own drops.
    func dropUnanswered(_ reason: DropReason, from origin: DatagramOrigin) {
        statistics.update {
            $0.received += 1
            $0.dropped(reason)
        }
        noteDrop(reason.rawValue, "request dropped", ["from": "\(origin.sourceAddress.map { "\($0)" } ?? "?"):\(origin.sourcePort)"])
    }

    /// Counted already; logged as `DropLogBudget` allows: the first of each reason with its
    /// details, then one "more dropped" line per reason at most every 10 s.
    private func noteDrop(_ reason: String, _ message: String, _ details: @autoclosure () -> Logger.Metadata) {
        guard logger.logLevel <= .info else { return }
        switch dropLog.admit(reason, nowMs: monotonicMilliseconds()) {
        case .log:
            var metadata = details()
            metadata["reason"] = "\(reason)"
            logger.info("\(message)", metadata: metadata)
        case .suppressed(let summaryInMs?):
            loop.assumeIsolated().scheduleTask(in: .milliseconds(summaryInMs)) {
                let count = self.dropLog.summary(reason, nowMs: monotonicMilliseconds())
                guard count > 0 else { return }
                self.logger.info("more dropped", metadata: [
                    "reason": "\(reason)", "count": "\(count)", "interval": "\(self.dropLog.intervalMs / 1000)s",
                ])
            }
        case .suppressed(nil):
            break
        }
    }

    private func send(_ reply: OutgoingReply) {
        senders[reply.socket].send(reply, logger: logger)
    }
}

/// The engine's senders for the replies of committed requests, used only on its writer's one
/// thread (`NIOThreadPool(numberOfThreads: 1)`), with each transaction, and closed once that
/// thread has stopped: the unchecked `Sendable` is that confinement.
final class CommitThreadSenders: @unchecked Sendable {
    private let senders: [any ReplySender]

    init(_ senders: [any ReplySender]) { self.senders = senders }

    func send(_ replies: [OutgoingReply], logger: Logger) {
        guard !replies.isEmpty else { return }
        for reply in replies { senders[reply.socket].send(reply, logger: logger) }
        for sender in senders { sender.flush() }
    }

    /// At shutdown, once the writer's thread has stopped.
    func close() {
        for sender in senders { sender.close() }
    }
}

/// Where a datagram came from, as its socket tells.
struct DatagramOrigin {
    /// The engine's sender for the socket it came in on: its reply leaves there.
    var socket: Int
    /// Direct mode: the switch port it came in on (its location).
    var ingressInterface: String?
    /// The IP source: where it really came from, whatever giaddr claims.
    var sourceAddress: IPv4Address?
    var sourcePort: UInt16
    /// It came to the proxy's boot server port (4011), not the DHCP port.
    var onBootServerPort = false
    /// When the kernel received it (monotonic ns, `AdmissionGate.now`); 0: not known.
    var receivedAt: Int64 = 0
}
