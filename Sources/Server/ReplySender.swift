import Addressing
import Boot
import CPacketSocket
import DHCPv4
import Foundation
import Glibc
import Logging
import Synchronization

/// A reply as decided, waiting for its lease to be durable.
struct OutgoingReply: Sendable {
    var message: DHCPMessage
    var route: ReplyRoute
    /// The client's limit (option 57 less the IP and UDP headers), 548 by default.
    var maximumSize: Int
    /// The interface the request came in on, where that is known (direct mode).
    var ingress: String?
    /// The engine's sender for the socket the request came in on: the reply leaves there
    /// (a proxyDHCP boot server request is answered from port 4011, where the client expects it).
    var socket: Int
}

/// Where the engine's replies leave. Each is used on one thread only: the engine's event
/// loop, or its commit thread (`CommitThreadSenders`).
protocol ReplySender: AnyObject {
    func send(_ bytes: [UInt8], type: DHCPMessageType?, route: ReplyRoute, ingress: String?)
    func flush()
    /// No more replies: release what the sender owns.
    func close()
}

extension ReplySender {
    /// A decided reply, serialized to the client's size limit; leaves at the next `flush`.
    func send(_ reply: OutgoingReply, logger: Logger) {
        logger.debug("sent", metadata: LeaseLog.sent(reply.message, route: reply.route))
        send(reply.message.serialized(maximumSize: reply.maximumSize), type: reply.message.messageType,
             route: reply.route, ingress: reply.ingress)
    }
}

/// Relayed mode: the listener's UDP socket, written directly. Replies of a batch leave in
/// one `sendmmsg`, each to its own destination; one the kernel refuses (port 0, an
/// unreachable network, a full buffer) is that reply's failure, counted by its errno, and
/// never the socket's: NIO closes a datagram channel on most write errors, and with it
/// every later answer, so replies do not go through NIO's channel at all.
final class DatagramReplySender: ReplySender {
    /// A descriptor of the listener's socket this sender owns (NIO reads through another).
    let descriptor: Int32
    private let statistics: Counters<DHCPCounters>
    private let failureLog: SocketFailureLog
    private var bytes: [UInt8] = []
    private var lengths: [Int] = []
    private var addresses: [UInt32] = []
    private var ports: [UInt16] = []
    private var types: [DHCPMessageType?] = []
    private var closed = false

    init(descriptor: Int32, statistics: Counters<DHCPCounters>, failureLog: SocketFailureLog) {
        self.descriptor = descriptor
        self.statistics = statistics
        self.failureLog = failureLog
    }

    func send(_ bytes: [UInt8], type: DHCPMessageType?, route: ReplyRoute, ingress: String?) {
        let (address, port) = Self.destination(for: route)
        self.bytes.append(contentsOf: bytes)
        lengths.append(bytes.count)
        addresses.append(address.value)
        ports.append(port)
        types.append(type)
    }

    func flush() {
        guard !lengths.isEmpty else { return }
        defer {
            bytes.removeAll(keepingCapacity: true)
            lengths.removeAll(keepingCapacity: true)
            addresses.removeAll(keepingCapacity: true)
            ports.removeAll(keepingCapacity: true)
            types.removeAll(keepingCapacity: true)
        }
        var errors = [Int32](repeating: 0, count: lengths.count)
        if closed {
            for index in errors.indices { errors[index] = EBADF }
        } else {
            bytes.withUnsafeBufferPointer { base in
                zb_udp_send_each(descriptor, base.baseAddress, lengths, addresses, ports, lengths.count, &errors)
            }
        }
        let types = self.types
        statistics.update { counters in
            for (type, error) in zip(types, errors) {
                if error == 0 { counters.sent(type) } else { counters.sendFailed(SendFailure.reason(error)) }
            }
        }
        for (index, error) in errors.enumerated() where error != 0 {
            failureLog.note(error, to: "\(IPv4Address(addresses[index])):\(ports[index])")
        }
    }

    /// Closes the descriptor; later replies count as failed. On the engine's loop.
    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(descriptor)
    }

    /// Where a route's datagram goes. A UDP socket cannot reach a client that has no
    /// address yet except by broadcast; direct mode's packet sockets can.
    static func destination(for route: ReplyRoute) -> (IPv4Address, UInt16) {
        switch route {
        case .relay(let giaddr, let port): (giaddr, port)
        case .unicast(let address, let port): (address, port)
        case .broadcast, .hardware: (IPv4Address(0xFFFF_FFFF), 68)
        }
    }
}

/// Why a reply did not leave, as a fixed set of names (a counters key never grows with
/// what strangers send).
enum SendFailure {
    static func reason(_ error: Int32) -> String {
        switch error {
        case ENETUNREACH: "network-unreachable"
        case EHOSTUNREACH: "host-unreachable"
        case EINVAL: "invalid-argument"
        case EACCES, EPERM: "not-permitted"
        case EAGAIN: "send-buffer-full"
        case EMSGSIZE: "message-too-large"
        case ENOBUFS, ENOMEM: "no-buffer-space"
        case EADDRNOTAVAIL: "address-not-available"
        case ECONNREFUSED: "connection-refused"
        case ENETDOWN, ENODEV, ENXIO: "interface-down"
        case EBADF: "socket-closed"
        default: "other"
        }
    }
}

/// Logs socket failures (sends and reads) at a bounded rate: the first of each reason at once, then at most one
/// line per reason every ten seconds, saying how many there were meanwhile.
final class SocketFailureLog: Sendable {
    private let rate = BoundedLogRate()
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func note(_ error: Int32, to destination: String) {
        guard let since = due(SendFailure.reason(error)) else { return }
        logger.warning("a DHCP reply could not be sent; the listener goes on", metadata: [
            "reason": "\(SendFailure.reason(error))", "errno": "\(String(cString: strerror(error)))", "to": "\(destination)",
            "unlogged_since_last": "\(since)",
        ])
    }

    func noteReceive(_ error: Int32, on port: String) {
        guard let since = due("receive-" + SendFailure.reason(error)) else { return }
        logger.warning("reading a DHCP port failed; trying again", metadata: [
            "port": "\(port)", "errno": "\(String(cString: strerror(error)))", "unlogged_since_last": "\(since)",
        ])
    }

    private func due(_ reason: String) -> Int? { rate.due(reason) }
}

/// Direct mode: each reply is framed (IPv4/UDP) and leaves through the packet socket of
/// the port its request came in on, to the client's MAC where it has no address yet.
final class PacketReplySender: ReplySender {
    private let ports: [String: PacketPort]
    private let serverAddress: IPv4Address
    private let statistics: Counters<DHCPCounters>
    private let failureLog: SocketFailureLog

    init(ports: [String: PacketPort], serverAddress: IPv4Address, statistics: Counters<DHCPCounters>, failureLog: SocketFailureLog) {
        self.ports = ports
        self.serverAddress = serverAddress
        self.statistics = statistics
        self.failureLog = failureLog
    }

    func send(_ bytes: [UInt8], type: DHCPMessageType?, route: ReplyRoute, ingress: String?) {
        guard let ingress, let port = ports[ingress] else {
            statistics.update { $0.sendFailed("no-such-port") }
            return
        }
        let broadcastMAC: [UInt8] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        let destination: (address: IPv4Address, mac: [UInt8])
        switch route {
        case .hardware(let yiaddr, let mac) where mac.count == 6: destination = (yiaddr, mac)
        case .unicast(let ciaddr, _): destination = (ciaddr, broadcastMAC)
        case .broadcast, .hardware, .relay: destination = (IPv4Address(0xffff_ffff), broadcastMAC)
        }
        let frame = UDPFrame(source: serverAddress.value, destination: destination.address.value, sourcePort: 67,
                             destinationPort: 68, payload: bytes).serialized()
        let error = port.send(frame, to: destination.mac)
        if error == 0 {
            statistics.update { $0.sent(type) }
        } else {
            statistics.update { $0.sendFailed(SendFailure.reason(error)) }
            failureLog.note(error, to: "\(port.name) \(destination.address)")
        }
    }

    func flush() {}

    /// The ports' sockets are closed by their receiving threads.
    func close() {}
}

/// One switch port's AF_PACKET socket: DHCP requests in, framed replies out.
final class PacketPort: Sendable {
    let name: String
    // The descriptor and index never change; reads happen on the port's own thread, writes
    // on the engine's loop and its commit thread, and the socket is closed by the reading
    // thread once stopped.
    private let fd: Int32
    private let index: Int32
    private let stopped = Atomic<Bool>(false)

    init(name: String) throws {
        var index: Int32 = 0
        let fd = zb_packet_open(name, 67, &index)
        guard fd >= 0 else { throw PacketPortError(interface: name, errno: -fd) }
        self.name = name
        self.fd = fd
        self.index = index
    }

    /// 0 when the frame left, else the errno.
    func send(_ packet: [UInt8], to mac: [UInt8]) -> Int32 {
        guard !stopped.load(ordering: .relaxed) else { return EBADF }
        let result = mac.withUnsafeBufferPointer { macPointer in
            packet.withUnsafeBufferPointer { zb_packet_send(fd, index, macPointer.baseAddress, $0.baseAddress, $0.count) }
        }
        return result >= 0 ? 0 : Int32(-result)
    }

    /// Runs on its own thread, handing each packet to `handle`, until `stop()`. A receive
    /// error (ENETDOWN while the port's link is down, ENOBUFS) is reported to `failed` and
    /// the loop goes on after a pause: a port that flaps must not stop answering for good.
    func receiveLoop(_ handle: ([UInt8]) -> Void, failed: (Int32) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var mac = [UInt8](repeating: 0, count: 6)
        while !stopped.load(ordering: .relaxed) {
            let count = buffer.count
            let n = buffer.withUnsafeMutableBufferPointer { zb_packet_receive(fd, $0.baseAddress, count, &mac) }
            if n < 0 {
                failed(Int32(-n))
                usleep(200_000)
                continue
            }
            if n > 0 { handle(Array(buffer[0..<n])) }
        }
        Glibc.close(fd)
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    /// Closes the socket of a port whose `receiveLoop` never ran (a start that failed).
    func closeUnread() { Glibc.close(fd) }
}

struct PacketPortError: Error, CustomStringConvertible {
    var interface: String
    var errno: Int32
    var description: String { "cannot open a packet socket on \(interface): \(String(cString: strerror(errno)))" }
}
