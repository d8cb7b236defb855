import Addressing
import CPacketSocket
import Glibc
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// One DHCP listening socket. NIO reads it through a channel on a duplicate of the
/// descriptor; replies are written to the descriptor itself by the engine's sender. NIO
/// closes a datagram channel on most socket errors; the socket then stays bound and a new
/// channel is put on it at once, so no error ends a listener.
final class DHCPSocket: Sendable {
    /// The bound socket. The engine's sender writes it and closes it, on the engine's loop,
    /// after `stop()`.
    let descriptor: Int32
    let port: Int
    private let logger: Logger
    private struct State {
        var channel: (any Channel)?
        var stopping = false
    }
    private let state = Mutex(State())

    private init(descriptor: Int32, port: Int, logger: Logger) {
        self.descriptor = descriptor
        self.port = port
        self.logger = logger
    }

    static func open(_ address: IPv4Address, port: Int, logger: Logger) throws -> DHCPSocket {
        var forced: Int32 = 0
        let fd = zb_udp_open(address.value, UInt16(clamping: port), Int32(DHCPServer.receiveBuffer), &forced)
        guard fd >= 0 else { throw DHCPListenError.cannotBind("\(address):\(port)", errno: -fd) }
        if forced == 0 { logger.notice("receive buffer capped by net.core.rmem_max: a boot storm may be dropped and retried") }
        return DHCPSocket(descriptor: fd, port: port, logger: logger)
    }

    /// Puts a channel on the socket, and a new one whenever NIO closes it before `stop()`.
    func attach(statistics: Counters<DHCPCounters>, bootstrap: @escaping @Sendable () -> DatagramBootstrap) async throws {
        // Duplicated under the lock, so never after `stop()` let the sender close the descriptor.
        let copy: Int32 = state.withLock { $0.stopping ? -1 : dup(descriptor) }
        guard copy >= 0 else {
            if state.withLock({ $0.stopping }) { return }
            throw DHCPListenError.cannotBind("port \(port)", errno: errno)
        }
        let channel = try await bootstrap().withBoundSocket(copy).get()
        let kept = state.withLock { current -> Bool in
            guard !current.stopping else { return false }
            current.channel = channel
            return true
        }
        guard kept else {
            try? await channel.close()
            return
        }
        channel.closeFuture.whenComplete { _ in
            guard !self.state.withLock({ $0.stopping }) else { return }
            statistics.update { $0.listenerRestarts += 1 }
            self.logger.error("the DHCP channel on port \(self.port) closed; putting a new one on the same socket")
            Task {
                // A pause, so that an error that recurs at once cannot spin.
                try? await Task.sleep(for: .milliseconds(100))
                do {
                    try await self.attach(statistics: statistics, bootstrap: bootstrap)
                } catch {
                    self.logger.critical("cannot reopen the DHCP channel on port \(self.port): \(error)")
                }
            }
        }
    }

    /// Stops reading. The descriptor stays open until the engine's sender closes it.
    func stop() async {
        let channel = state.withLock { current -> (any Channel)? in
            current.stopping = true
            return current.channel
        }
        try? await channel?.close()
    }
}

enum DHCPListenError: Error, CustomStringConvertible {
    case notAnIPv4Address(String)
    case cannotBind(String, errno: Int32)
    case cannotDuplicate(String, errno: Int32)

    var description: String {
        switch self {
        case .notAnIPv4Address(let text): "'\(text)' is not an IPv4 address: DHCP listens on IPv4 addresses (--listen)"
        case .cannotBind(let address, let errno): "cannot listen on \(address): \(String(cString: strerror(errno)))"
        case .cannotDuplicate(let address, let errno):
            "cannot duplicate the socket of \(address) for the commit thread: \(String(cString: strerror(errno)))"
        }
    }
}
