import CPacketSocket
import Foundation
import NIOCore
import Synchronization
import TFTP

/// A UDP socket bound to `local` (port 0: a fresh transfer ID) and connected to `remote`,
/// as tftpd-hpa does: the kernel keeps other senders off it (they get ICMP port unreachable)
/// and sends without a per-packet route lookup. Returns the descriptor or errno.
func openTransferSocket(local: SocketAddress, remote: SocketAddress) -> Result<Int32, TFTPSocketError> {
    let family = local.protocol == .inet6 ? AF_INET6 : AF_INET
    let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return .failure(TFTPSocketError(call: "socket", errno: errno)) }
    // A whole window goes out in one burst.
    var sendBuffer: Int32 = 1 << 20
    _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sendBuffer, socklen_t(MemoryLayout<Int32>.size))
    if local.withSockAddr({ bind(fd, $0, socklen_t($1)) }) != 0 {
        defer { _ = Glibc.close(fd) }
        return .failure(TFTPSocketError(call: "bind", errno: errno))
    }
    if remote.withSockAddr({ connect(fd, $0, socklen_t($1)) }) != 0 {
        defer { _ = Glibc.close(fd) }
        return .failure(TFTPSocketError(call: "connect", errno: errno))
    }
    return .success(fd)
}

struct TFTPSocketError: Error, CustomStringConvertible {
    var call: String
    var errno: Int32
    var description: String { "\(call): \(String(cString: strerror(errno)))" }
}

/// Runs transfers for the server: each of a few threads (one per core) waits in one
/// `epoll_wait` on the sockets of all its transfers, each connected to its client, as
/// tftpd-hpa's are.
///
/// Why not a thread per transfer: in a boot storm hundreds of lock-step transfers run at
/// once, and with a thread each, every block cost a context switch into that thread and
/// back (measured: about a quarter of all CPU). A worker wakes once for every ACK that
/// arrived meanwhile. Why not NIO channels: the work per block is one `recv` and one
/// `send` (a window is one `sendmsg` through UDP GSO) with no allocation, where a channel adds a
/// pipeline, a promise and a buffer per datagram.
final class TFTPTransferWorker: Sendable {
    /// A transfer handed to the worker: its machine, its file, its socket, and what to do at the end.
    struct Assignment: Sendable {
        var transfer: TFTPTransfer
        var content: any TFTPContent
        /// The worker's from `assign` on: it closes the socket when the transfer ends.
        var socket: Int32
        /// Its place in the admission table: once evicted, the worker ends the transfer.
        var slot: TFTPSlot
        /// Called on the worker's thread the first time the client acknowledges anything.
        var acknowledged: @Sendable () -> Void
        /// Called on the worker's thread once the transfer has ended (and its socket is closed), with why.
        var ended: @Sendable (String) -> Void
    }

    private let inbox = Mutex<(stopped: Bool, assignments: [Assignment])>((false, []))
    private let readiness: Int32
    private let wakeup: Int32
    private let statistics: Counters<TFTPCounters>
    /// Set (before a wakeup) when some slot was evicted: the worker looks for its evicted transfers.
    private let evictionPending = Atomic<Bool>(false)
    private static let wakeupToken = UInt64.max

    /// Starts the worker's thread.
    init(statistics: Counters<TFTPCounters>) throws(TFTPSocketError) {
        let readiness = zb_readiness_create()
        guard readiness >= 0 else { throw TFTPSocketError(call: "epoll_create1", errno: -readiness) }
        let wakeup = zb_wakeup_create()
        guard wakeup >= 0 else {
            _ = Glibc.close(readiness)
            throw TFTPSocketError(call: "eventfd", errno: -wakeup)
        }
        let added = zb_readiness_add(readiness, wakeup, Self.wakeupToken)
        guard added == 0 else {
            _ = Glibc.close(readiness)
            _ = Glibc.close(wakeup)
            throw TFTPSocketError(call: "epoll_ctl", errno: -added)
        }
        self.readiness = readiness
        self.wakeup = wakeup
        self.statistics = statistics
        let thread = Thread { [self] in
            // Named in the kernel, so that `top -H` and perf show the workers (Foundation's
            // `Thread.name` does not get there).
            zb_name_this_thread("tftp-transfers")
            run()
        }
        thread.start()
    }

    /// Hands a transfer to the worker; false once it is stopping (the caller still owns it).
    func assign(_ assignment: Assignment) -> Bool {
        let accepted = inbox.withLock { inbox in
            guard !inbox.stopped else { return false }
            inbox.assignments.append(assignment)
            return true
        }
        if accepted { zb_wakeup_signal(wakeup) }
        return accepted
    }

    /// Makes the worker end any transfer of its own whose slot was evicted.
    func endEvicted() {
        evictionPending.store(true, ordering: .releasing)
        zb_wakeup_signal(wakeup)
    }

    /// Ends every transfer ("closed") and the thread.
    func stop() {
        inbox.withLock { $0.stopped = true }
        zb_wakeup_signal(wakeup)
    }

    private struct Running {
        var runner: TFTPTransferRunner
        var socket: Int32
        var slot: TFTPSlot
        var ended: @Sendable (String) -> Void
    }

    private func run() {
        var slots: [Running?] = []
        var freeSlots: [Int] = []
        var tokens = [UInt64](repeating: 0, count: 256)
        // Where each datagram is read: an ACK is 4 bytes; an ERROR's message is read up to this much.
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 1)
        defer { scratch.deallocate() }
        // No transfer needs the clock before this. A deadline only moves later when an ACK
        // comes, so this stays a lower bound; a scan past it recomputes it.
        var nextScan = Int64.max

        func end(_ slot: Int, _ reason: String) {
            guard let running = slots[slot] else { return }
            slots[slot] = nil
            freeSlots.append(slot)
            _ = zb_readiness_remove(readiness, running.socket)
            _ = Glibc.close(running.socket)
            running.runner.finish(reason)
            running.ended(reason)
        }
        func admit(_ assignment: Assignment, now: Int64) {
            let runner = TFTPTransferRunner(transfer: assignment.transfer, content: assignment.content, socket: assignment.socket,
                                            statistics: statistics, acknowledged: assignment.acknowledged)
            let slot = freeSlots.popLast() ?? slots.count
            if slot == slots.count { slots.append(nil) }
            slots[slot] = Running(runner: runner, socket: assignment.socket, slot: assignment.slot, ended: assignment.ended)
            guard zb_readiness_add(readiness, assignment.socket, UInt64(slot)) == 0 else { return end(slot, "socket-error") }
            // Evicted while it was on its way here: the flag was set before any wakeup that could miss it.
            if assignment.slot.isEvicted { return end(slot, "evicted") }
            switch slots[slot]?.runner.start(now: now) {
            case .end(let reason)?: end(slot, reason)
            case .wait(let until)?: nextScan = min(nextScan, until)
            case nil: break
            }
        }

        while true {
            let waitFrom = monotonicMilliseconds()
            let timeout = nextScan == .max ? -1 : Int32(clamping: max(0, nextScan - waitFrom))
            let ready = tokens.withUnsafeMutableBufferPointer { zb_readiness_wait(readiness, $0.baseAddress, Int32($0.count), timeout) }
            var stopping = ready < 0
            // One reading of the clock serves every datagram of this wake, even a run of
            // eager reads: it times retransmissions of a second or more, and a read per block
            // was a tenth of a lock-step transfer's time in user space.
            let now = monotonicMilliseconds()
            for index in 0..<Int(max(ready, 0)) {
                let token = tokens[index]
                if token == Self.wakeupToken {
                    zb_wakeup_clear(wakeup)
                    let (stopped, assignments) = inbox.withLock { inbox in
                        defer { inbox.assignments = [] }
                        return (inbox.stopped, inbox.assignments)
                    }
                    for assignment in assignments { admit(assignment, now: now) }
                    if evictionPending.exchange(false, ordering: .acquiringAndReleasing) {
                        for slot in slots.indices where slots[slot]?.slot.isEvicted == true { end(slot, "evicted") }
                    }
                    stopping = stopping || stopped
                    continue
                }
                let slot = Int(token)
                guard slot < slots.count else { continue }
                // In place, through optional chaining on the table's element: the runner is a
                // value, so its state is reached without copying it and without the
                // exclusivity checks a class's stored properties pay on every access.
                switch slots[slot]?.runner.readable(into: scratch, now: now) {
                case .end(let reason)?: end(slot, reason)
                case .wait(let until)?: nextScan = min(nextScan, until)
                case nil: break
                }
            }
            if stopping {
                for slot in slots.indices { end(slot, "closed") }
                _ = Glibc.close(readiness)
                _ = Glibc.close(wakeup)
                return
            }
            if now >= nextScan {
                nextScan = .max
                for slot in slots.indices {
                    switch slots[slot]?.runner.timer(now: now) {
                    case .end(let reason)?: end(slot, reason)
                    case .wait(let until)?: nextScan = min(nextScan, until)
                    case nil: break
                    }
                }
            }
        }
    }
}

/// One transfer's I/O around its state machine, driven by its worker: `start`, then
/// `readable` when the socket has a datagram and `timer` when the time it asked for has come;
/// each returns what comes `Next`: a wait, or the end and why. The machine decides
/// retransmission, backoff, duplicate ACKs and reaping; this only moves bytes. A value kept in
/// its worker's table and changed in place there.
struct TFTPTransferRunner {
    private var transfer: TFTPTransfer
    private var content: ReadAheadContent
    private let socket: Int32
    private let statistics: Counters<TFTPCounters>
    /// The packets being sent, back to back; reused, so a steady transfer allocates nothing.
    private var packets: ByteBuffer
    private var lengths: [Int] = []
    /// Packets of the current window, from the one whose bytes an upstream has not delivered
    /// yet on, sent at `retryAt` (5 ms later, and again until they are there).
    private var deferred: (packets: TFTPTransfer.Sends, from: Int, isRetransmission: Bool, retryAt: Int64)?
    // Kept here and added to the shared counters once, when the transfer ends.
    private var blocksSent = 0
    private var blocksRetransmitted = 0
    private var bytesSent: UInt64 = 0
    private let acknowledged: @Sendable () -> Void
    private var reportedAcknowledgement = false

    init(transfer: TFTPTransfer, content: any TFTPContent, socket: Int32, statistics: Counters<TFTPCounters>,
         acknowledged: @escaping @Sendable () -> Void) {
        let negotiation = transfer.negotiation
        self.transfer = transfer
        self.acknowledged = acknowledged
        self.content = ReadAheadContent(content, blockSize: negotiation.blockSize)
        self.socket = socket
        self.statistics = statistics
        packets = ByteBufferAllocator().buffer(capacity: (4 + negotiation.blockSize) * negotiation.windowSize)
        lengths.reserveCapacity(negotiation.windowSize)
    }

    /// What the worker does with the transfer after a call: wait for a datagram, or for the
    /// time given (`Int64.max`: no timer), or end it, for the reason given.
    enum Next: Equatable {
        case wait(until: Int64)
        case end(String)
    }

    /// Returned instead of a stored deadline, so that the worker never reads the runner
    /// outside a call that changes it in place (a read would copy it).
    private var next: Next { .wait(until: min(transfer.deadline ?? .max, deferred?.retryAt ?? .max)) }

    mutating func start(now: Int64) -> Next {
        perform(transfer.handle(.start(now: now))).map(Next.end) ?? next
    }

    /// Reads a datagram and answers it (the socket is level-triggered: another one keeps it
    /// ready). When the client's next ACK is usually back by the time the answer has been
    /// sent, it is read right away, without a round through `epoll_wait`, at most
    /// `eagerReadsPerWake` times before the worker's other transfers get their turn.
    /// `scratch` is the worker's, for the datagram.
    mutating func readable(into scratch: UnsafeMutableRawBufferPointer, now: Int64) -> Next {
        var reads = 0
        while true {
            let count = zb_udp_receive_one(socket, scratch.baseAddress?.assumingMemoryBound(to: UInt8.self), scratch.count)
            if count < 0 {
                if reads > 0 { eagerRead.missed() }
                if count == -Int(EAGAIN) || count == -Int(EWOULDBLOCK) { return next }
                // ECONNREFUSED: an ICMP port unreachable came back, the client is gone.
                return .end("socket-error")
            }
            if reads > 0 { eagerRead.found() }
            if let reason = perform(handle(UnsafeRawBufferPointer(rebasing: scratch[..<Int(count)]), now: now)) { return .end(reason) }
            reads += 1
            guard reads < Self.eagerReadsPerWake, eagerRead.shouldTry() else { return next }
        }
    }

    /// Bounds how long one transfer keeps its worker from the others and from the timers.
    private static let eagerReadsPerWake = 64
    private var eagerRead = EagerRead()

    /// Does what is due by `now`: a deferred window's retry, the machine's tick.
    mutating func timer(now: Int64) -> Next {
        if let waiting = deferred, now >= waiting.retryAt {
            deferred = nil
            if let failure = send(waiting.packets, from: waiting.from, isRetransmission: waiting.isRetransmission) {
                return .end(failure)
            }
        }
        if let deadline = transfer.deadline, now >= deadline, let reason = perform(transfer.handle(.tick(now: now))) {
            return .end(reason)
        }
        return next
    }

    /// Adds the transfer's counts to the shared counters and closes its file.
    func finish(_ reason: String) {
        content.close()
        let blocks = blocksSent, retransmitted = blocksRetransmitted, bytes = bytesSent
        statistics.update { counters in
            counters.transfersEnded[reason, default: 0] += 1
            counters.blocksSent += blocks
            counters.blocksRetransmitted += retransmitted
            counters.bytesSent += bytes
        }
    }

    /// Carries out what the machine asked; returns why the transfer ends if it does.
    private mutating func perform(_ actions: TFTPTransfer.Actions) -> String? {
        if let ignored = actions.ignored { statistics.ignored(ignored.rawValue) }
        if !reportedAcknowledgement && transfer.hasProgressed {
            reportedAcknowledgement = true
            acknowledged()
        }
        if !actions.send.isEmpty {
            // A new send list is the machine's current window: anything still deferred is superseded.
            deferred = nil
            if let failure = send(actions.send, isRetransmission: actions.isRetransmission) { return failure }
        }
        if let outcome = actions.outcome { return outcome.reason }
        return transfer.deadline == nil ? "closed" : nil
    }

    /// The machine's answer to one datagram from the client (the socket is connected: it is theirs).
    private mutating func handle(_ received: UnsafeRawBufferPointer, now: Int64) -> TFTPTransfer.Actions {
        // The common case, an ACK, is read without building a packet.
        if received.count >= 4, received[0] == 0, UInt16(received[1]) == TFTPOpcode.acknowledgement.rawValue {
            let block = UInt16(received[2]) << 8 | UInt16(received[3])
            return transfer.handle(.acknowledgement(block: block, now: now))
        }
        switch try? TFTPPacket(parsing: Array(received)) {
        case .error(let code, let message)?:
            return transfer.handle(.clientError(code: code, message: message))
        case .some(let packet):
            statistics.ignored("\(packet.opcode)-in-transfer")
        case nil:
            statistics.ignored("malformed-in-transfer")
        }
        return TFTPTransfer.Actions()
    }

    /// Sends what the machine asked, as one batch; returns why the transfer ends if it must.
    private mutating func send(_ outgoing: TFTPTransfer.Sends, from first: Int = 0, isRetransmission: Bool) -> String? {
        // Emptied, keeping its storage: the reader index never moves (the bytes are read in
        // place by `flush`), and `clear()` would check the storage is unique, per block.
        packets.moveWriterIndex(to: packets.readerIndex)
        lengths.removeAll(keepingCapacity: true)
        var failure: String?
        packets: for position in first..<outgoing.endIndex {
            let start = packets.writerIndex
            switch outgoing[position] {
            case .optionAcknowledgement(let options):
                packets.writeBytes(TFTPPacket.optionAcknowledgement(options).serialized())
            case .data(let block, _, let offset, let count):
                // Opcode and block number in one write: each write checks the buffer's storage.
                packets.writeInteger(UInt32(TFTPOpcode.data.rawValue) << 16 | UInt32(block))
                do {
                    try content.read(offset: offset, count: count, into: &packets)
                } catch TFTPContentError.notYetAvailable {
                    // Still filling from the upstream: send what is there, the rest shortly.
                    packets.moveWriterIndex(to: start)
                    deferred = (outgoing, position, isRetransmission, monotonicMilliseconds() + 5)
                    break packets
                } catch {
                    packets.moveWriterIndex(to: start)
                    failure = "read-failed"
                    break packets
                }
                blocksSent += 1
                bytesSent += UInt64(count)
                if isRetransmission { blocksRetransmitted += 1 }
            }
            lengths.append(packets.writerIndex - start)
        }
        if let failure {
            // What was read goes out, then the client is told.
            _ = flush()
            send(error: TFTPPacket.error(.notDefined, "read error"))
            return failure
        }
        return flush() ? nil : "socket-error"
    }

    /// Puts the built packets on the wire; false when the socket refuses (the client is gone).
    private func flush() -> Bool {
        guard !lengths.isEmpty else { return true }
        let socket = self.socket
        return packets.withUnsafeReadableBytes { bytes in
            guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return true }
            if lengths.count == 1 { return zb_udp_send_one(socket, base, lengths[0]) == 0 }
            return lengths.withUnsafeBufferPointer { lengths in
                // A window through UDP GSO: one pass through the stack and, on loopback, one
                // wakeup of the client for the lot. A kernel or device that cannot segment
                // says so once, and windows go out by `sendmmsg` from then on (the part
                // already sent goes again: a client ignores blocks it has).
                if Self.segmentation.load(ordering: .relaxed) {
                    let result = zb_udp_send_segmented(socket, base, lengths.baseAddress, lengths.count)
                    if result == 0 { return true }
                    guard result == -EIO || result == -EINVAL || result == -ENOPROTOOPT else { return false }
                    Self.segmentation.store(false, ordering: .relaxed)
                }
                return zb_udp_send_batch(socket, base, lengths.baseAddress, lengths.count) == 0
            }
        }
    }

    /// False once the kernel refused UDP_SEGMENT.
    private static let segmentation = Atomic<Bool>(true)

    private func send(error packet: TFTPPacket) {
        let bytes = packet.serialized()
        _ = bytes.withUnsafeBufferPointer { zb_udp_send_one(socket, $0.baseAddress, $0.count) }
    }
}

/// The server's workers, one per core, taking transfers in turn.
final class TFTPTransferWorkers: Sendable {
    private let workers: [TFTPTransferWorker]
    private let next = Atomic<Int>(0)

    init(statistics: Counters<TFTPCounters>) throws(TFTPSocketError) {
        var workers: [TFTPTransferWorker] = []
        do {
            for _ in 0..<max(1, ProcessInfo.processInfo.activeProcessorCount) {
                workers.append(try TFTPTransferWorker(statistics: statistics))
            }
        } catch {
            for worker in workers { worker.stop() }
            throw error
        }
        self.workers = workers
    }

    /// False once the server is closing.
    func assign(_ assignment: TFTPTransferWorker.Assignment) -> Bool {
        let turn = next.add(1, ordering: .relaxed).oldValue
        return workers[turn % workers.count].assign(assignment)
    }

    /// Every worker ends its transfers whose slots were evicted.
    func endEvicted() {
        for worker in workers { worker.endEvicted() }
    }

    func stop() {
        for worker in workers { worker.stop() }
    }
}

/// Whether to read a transfer's socket again right after answering it. That read finds the
/// client's next ACK when client and server share a CPU (the send hands the CPU to the client,
/// which answers before the server runs again) or the client answers within a system call's
/// time; then it saves an `epoll_wait` per block, a third of the system calls of a lock-step
/// transfer. When the read finds nothing, it cost a system call, so after a miss the next
/// tries are spaced out, 1, 2, 4 ... up to 64 answers apart, and a hit makes every answer try again.
struct EagerRead {
    private var skip = 0
    private var spacing = 0

    /// Called after each answer: true when this one should try.
    mutating func shouldTry() -> Bool {
        if skip == 0 { return true }
        skip -= 1
        return false
    }

    mutating func found() { spacing = 0 }

    mutating func missed() {
        spacing = min(max(1, spacing * 2), 64)
        skip = spacing
    }
}
