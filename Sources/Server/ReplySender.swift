import Addressing
import Boot
import CPacketSocket
import DHCPv4
import Glibc
import NIOCore
import Synchronization

/// A reply as decided, waiting for its lease to be durable.
struct OutgoingReply {
    var message: DHCPMessage
    var route: ReplyRoute
    /// The client's limit (option 57 less the IP and UDP headers), 548 by default.
    var maximumSize: Int
    /// The interface the request came in on, where that is known (direct mode).
    var ingress: String?
    /// A proxyDHCP boot server request: answered from port 4011, where the client expects it.
    var onBootServerPort = false
}

/// Where the engine's replies leave. Used only on the engine's event loop.
protocol ReplySender: AnyObject {
    func send(_ bytes: [UInt8], type: DHCPMessageType?, route: ReplyRoute, ingress: String?)
    func flush()
}

/// Relayed mode: a UDP socket. Writes are flushed together, so a batch leaves in one sendmmsg.
final class DatagramReplySender: ReplySender {
    private let channel: any Channel
    private let statistics: DHCPStatistics
    private var needsFlush = false

    init(channel: any Channel, statistics: DHCPStatistics) {
        self.channel = channel
        self.statistics = statistics
    }

    func send(_ bytes: [UInt8], type: DHCPMessageType?, route: ReplyRoute, ingress: String?) {
        let target = Self.address(for: route)
        let statistics = self.statistics
        needsFlush = true
        channel.write(AddressedEnvelope(remoteAddress: target, data: channel.allocator.buffer(bytes: bytes))).whenComplete {
            switch $0 {
            case .success: statistics.update { $0.sent(type) }
            case .failure: statistics.update { $0.sendFailures += 1 }
            }
        }
    }

    func flush() {
        guard needsFlush else { return }
        needsFlush = false
        channel.flush()
    }

    /// Where a route's datagram goes. A UDP socket cannot reach a client that has no
    /// address yet except by broadcast; direct mode's packet sockets can.
    static func address(for route: ReplyRoute) -> SocketAddress {
        switch route {
        case .relay(let giaddr, let port): SocketAddress(giaddr, port: port)
        case .unicast(let address, let port): SocketAddress(address, port: port)
        case .broadcast, .hardware: SocketAddress(Addressing.IPv4Address(0xFFFF_FFFF), port: 68)
        }
    }
}

/// Direct mode: each reply is framed (IPv4/UDP) and leaves through the packet socket of
/// the port its request came in on, to the client's MAC where it has no address yet.
final class PacketReplySender: ReplySender {
    private let ports: [String: PacketPort]
    private let serverAddress: IPv4Address
    private let statistics: DHCPStatistics

    init(ports: [String: PacketPort], serverAddress: IPv4Address, statistics: DHCPStatistics) {
        self.ports = ports
        self.serverAddress = serverAddress
        self.statistics = statistics
    }

    func send(_ bytes: [UInt8], type: DHCPMessageType?, route: ReplyRoute, ingress: String?) {
        guard let ingress, let port = ports[ingress] else {
            statistics.update { $0.sendFailures += 1 }
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
        if port.send(frame, to: destination.mac) {
            statistics.update { $0.sent(type) }
        } else {
            statistics.update { $0.sendFailures += 1 }
        }
    }

    func flush() {}
}

/// One switch port's AF_PACKET socket: DHCP requests in, framed replies out.
final class PacketPort: Sendable {
    let name: String
    // The descriptor and index never change; reads happen on the port's own thread, writes
    // on the engine's loop, and the socket is closed by the reading thread once stopped.
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

    func send(_ packet: [UInt8], to mac: [UInt8]) -> Bool {
        guard !stopped.load(ordering: .relaxed) else { return false }
        return mac.withUnsafeBufferPointer { macPointer in
            packet.withUnsafeBufferPointer { zb_packet_send(fd, index, macPointer.baseAddress, $0.baseAddress, $0.count) >= 0 }
        }
    }

    /// Runs on its own thread, handing each packet to `handle`, until `stop()`.
    func receiveLoop(_ handle: ([UInt8]) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var mac = [UInt8](repeating: 0, count: 6)
        while !stopped.load(ordering: .relaxed) {
            let count = buffer.count
            let n = buffer.withUnsafeMutableBufferPointer { zb_packet_receive(fd, $0.baseAddress, count, &mac) }
            if n < 0 { break }
            if n > 0 { handle(Array(buffer[0..<n])) }
        }
        Glibc.close(fd)
    }

    func stop() { stopped.store(true, ordering: .relaxed) }
}

struct PacketPortError: Error, CustomStringConvertible {
    var interface: String
    var errno: Int32
    var description: String { "cannot open a packet socket on \(interface): \(String(cString: strerror(errno)))" }
}
