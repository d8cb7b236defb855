import CPacketSocket
import Foundation
import NIOCore
import Synchronization
import TFTP

/// The sockets of the running transfers, so that closing the server ends them.
final class TFTPTransferSockets: Sendable {
    private let state = Mutex<(stopped: Bool, sockets: Set<Int32>)>((false, []))

    /// Registers a transfer's socket; false once the server is closing.
    func add(_ socket: Int32) -> Bool {
        state.withLock { state in
            guard !state.stopped else { return false }
            state.sockets.insert(socket)
            return true
        }
    }

    /// Unregisters and closes the socket (under the lock: `stopAll` never touches a reused number).
    func close(_ socket: Int32) {
        state.withLock { state in
            state.sockets.remove(socket)
            _ = Glibc.close(socket)
        }
    }

    var isStopped: Bool { state.withLock { $0.stopped } }

    /// Wakes every transfer blocked in `recv` (it returns 0 after a shutdown) and admits no more.
    func stopAll() {
        state.withLock { state in
            state.stopped = true
            for socket in state.sockets { _ = shutdown(socket, Int32(SHUT_RDWR)) }
        }
    }
}

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

/// One transfer on its own thread, on a blocking socket connected to the client.
///
/// Lock-step TFTP is bound by round trips, so what counts is the work per block between
/// the ACK arriving and the next DATA leaving: here that is one `recv` that the ACK wakes
/// directly and one `send` (a window is one `sendmmsg`), with no readiness poll, no event
/// loop wakeup and no allocation. The wait for the ACK is the socket's receive timeout,
/// set to the state machine's deadline (re-set only when it moves by more than 2 ms, so a
/// steady transfer makes no `setsockopt` per block). The machine decides everything else.
final class TFTPTransferRunner {
    private var transfer: TFTPTransfer
    private var content: ReadAheadContent
    private let socket: Int32
    private let statistics: TFTPStatistics
    private let sockets: TFTPTransferSockets
    /// The packets being sent, back to back; reused, so a steady transfer allocates nothing.
    private var packets: ByteBuffer
    private var lengths: [Int] = []
    private var received: [UInt8]
    /// Packets of the current window whose bytes an upstream has not delivered yet, retried every 5 ms.
    private var deferred: [TFTPTransfer.Outgoing] = []
    private var deferredIsRetransmission = false
    private var deferredRetryAt: Int64?
    /// The receive timeout set on the socket, in milliseconds (negative: none yet).
    private var receiveTimeout: Int64 = -1
    // Kept here and added to the shared counters once, when the transfer ends.
    private var blocksSent = 0
    private var blocksRetransmitted = 0
    private var bytesSent: UInt64 = 0

    init(transfer: TFTPTransfer, content: any TFTPContent, socket: Int32, statistics: TFTPStatistics, sockets: TFTPTransferSockets) {
        let negotiation = transfer.negotiation
        self.transfer = transfer
        self.content = ReadAheadContent(content, blockSize: negotiation.blockSize)
        self.socket = socket
        self.statistics = statistics
        self.sockets = sockets
        packets = ByteBufferAllocator().buffer(capacity: (4 + negotiation.blockSize) * negotiation.windowSize)
        lengths.reserveCapacity(negotiation.windowSize)
        // An ACK is 4 bytes; an ERROR's message is read up to this much.
        received = [UInt8](repeating: 0, count: 2048)
    }

    /// Runs the transfer to its end; returns why it ended, for the counters.
    func run() -> String {
        let reason = loop()
        content.close()
        let blocks = blocksSent, retransmitted = blocksRetransmitted, bytes = bytesSent
        statistics.update { counters in
            counters.transfersEnded[reason, default: 0] += 1
            counters.blocksSent += blocks
            counters.blocksRetransmitted += retransmitted
            counters.bytesSent += bytes
        }
        return reason
    }

    private func loop() -> String {
        var actions = transfer.handle(.start(now: monotonicMilliseconds()))
        while true {
            if let ignored = actions.ignored { statistics.ignored(ignored.rawValue) }
            if !actions.send.isEmpty {
                // A new send list is the machine's current window: anything still deferred is superseded.
                deferred = []
                deferredRetryAt = nil
                if let failure = send(actions.send, isRetransmission: actions.isRetransmission) { return failure }
            }
            if let outcome = actions.outcome { return outcome.reason }
            guard let deadline = transfer.deadline else { return "closed" }

            let now = monotonicMilliseconds()
            let wake = min(deadline, deferredRetryAt ?? deadline)
            setReceiveTimeout(max(wake - now, 1))
            let count = received.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                let error = errno
                guard error == EAGAIN || error == EWOULDBLOCK || error == EINTR else {
                    // ECONNREFUSED: an ICMP port unreachable came back, the client is gone.
                    return sockets.isStopped ? "closed" : "socket-error"
                }
                let now = monotonicMilliseconds()
                if let retryAt = deferredRetryAt, now >= retryAt {
                    let packets = deferred
                    deferred = []
                    deferredRetryAt = nil
                    if let failure = send(packets, isRetransmission: deferredIsRetransmission) { return failure }
                    actions = TFTPTransfer.Actions()
                } else {
                    actions = transfer.handle(.tick(now: now))
                }
                continue
            }
            // After a shutdown by `stopAll`, recv says 0; an empty datagram from the client is garbage.
            if count == 0, sockets.isStopped { return "closed" }
            actions = handle(received: count)
        }
    }

    /// The machine's answer to one datagram from the client (the socket is connected: it is theirs).
    private func handle(received count: Int) -> TFTPTransfer.Actions {
        // The common case, an ACK, is read without building a packet.
        if count >= 4, received[0] == 0, UInt16(received[1]) == TFTPOpcode.acknowledgement.rawValue {
            let block = UInt16(received[2]) << 8 | UInt16(received[3])
            return transfer.handle(.acknowledgement(block: block, now: monotonicMilliseconds()))
        }
        switch try? TFTPPacket(parsing: Array(received[0..<count])) {
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
    private func send(_ outgoing: [TFTPTransfer.Outgoing], isRetransmission: Bool) -> String? {
        packets.clear()
        lengths.removeAll(keepingCapacity: true)
        var failure: String?
        packets: for (position, item) in outgoing.enumerated() {
            let start = packets.writerIndex
            switch item {
            case .optionAcknowledgement(let options):
                packets.writeBytes(TFTPPacket.optionAcknowledgement(options).serialized())
            case .data(let block, _, let offset, let count):
                packets.writeInteger(TFTPOpcode.data.rawValue)
                packets.writeInteger(block)
                do {
                    try content.read(offset: offset, count: count, into: &packets)
                } catch TFTPContentError.notYetAvailable {
                    // Still filling from the upstream: send what is there, the rest shortly.
                    packets.moveWriterIndex(to: start)
                    deferred = Array(outgoing[position...])
                    deferredIsRetransmission = isRetransmission
                    deferredRetryAt = monotonicMilliseconds() + 5
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
        return flush() ? nil : (sockets.isStopped ? "closed" : "socket-error")
    }

    /// Puts the built packets on the wire; false when the socket refuses (the client is gone).
    private func flush() -> Bool {
        guard !lengths.isEmpty else { return true }
        let socket = self.socket
        return packets.withUnsafeReadableBytes { bytes in
            guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return true }
            if lengths.count == 1 {
                while true {
                    if Glibc.send(socket, base, lengths[0], 0) >= 0 { return true }
                    if errno != EINTR { return false }
                }
            }
            return lengths.withUnsafeBufferPointer { lengths in
                zb_udp_send_batch(socket, base, lengths.baseAddress, lengths.count) == 0
            }
        }
    }

    private func send(error packet: TFTPPacket) {
        let bytes = packet.serialized()
        _ = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, 0) }
    }

    private func setReceiveTimeout(_ milliseconds: Int64) {
        guard receiveTimeout < 0 || abs(milliseconds - receiveTimeout) > 2 else { return }
        var value = timeval(tv_sec: Int(milliseconds / 1000), tv_usec: Int(milliseconds % 1000) * 1000)
        if setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size)) == 0 {
            receiveTimeout = milliseconds
        }
    }
}
