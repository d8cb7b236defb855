import Addressing
import Boot
import DHCPv4
import Foundation
import Logging
import NIOCore
import NIOPosix
import Store
import Zone

/// Direct mode: zonebootd on the switch itself. Each named port gets a packet socket, so
/// the port a request came in on is its location (even on a bridge, where the IP stack
/// sees only the bridge), and replies leave through that port to the client's MAC,
/// without ARP, as RFC 2131 §4.1 asks for clients that have no address yet.
public final class DirectDHCPServer: Sendable {
    public let statistics: DHCPStatistics
    private let ports: [PacketPort]
    private let writer: NIOThreadPool
    private let finished: DispatchGroup

    private init(statistics: DHCPStatistics, ports: [PacketPort], writer: NIOThreadPool, finished: DispatchGroup) {
        self.statistics = statistics
        self.ports = ports
        self.writer = writer
        self.finished = finished
    }

    public static func start(interfaces: [String], settings: DHCPSettings, rateLimit: RequestRateLimit,
                             hostEvents: HostEventBudget = HostEventBudget(),
                             revisions: RevisionHolder, store: any LeaseStore, directory: LeaseDirectory,
                             group: any EventLoopGroup, logger: Logger) async throws -> DirectDHCPServer {
        let leases = LeaseTable(directory.all)
        let ports = try interfaces.map(PacketPort.init)
        let writer = NIOThreadPool(numberOfThreads: 1)
        writer.start()
        let statistics = DHCPStatistics()
        let loop = group.next()
        let byName = Dictionary(uniqueKeysWithValues: ports.map { ($0.name, $0) })
        let failureLog = SocketFailureLog(logger: logger)
        let engine = try await loop.submit {
            let sender = PacketReplySender(ports: byName, serverAddress: settings.serverIdentifier, statistics: statistics,
                                           failureLog: failureLog)
            return NIOLoopBound(DHCPEngine(loop: loop, revisions: revisions, store: store, directory: directory, leases: leases,
                                           settings: settings, rateLimit: rateLimit, hostEvents: hostEvents, sender: sender,
                                           writer: writer,
                                           statistics: statistics, logger: logger,
                                           clock: { Int64(Date().timeIntervalSince1970) }), eventLoop: loop)
        }.get()
        let finished = DispatchGroup()
        for port in ports {
            finished.enter()
            let thread = Thread {
                port.receiveLoop({ packet in
                    let frame: UDPFrame
                    do {
                        frame = try UDPFrame(parsing: packet)
                    } catch {
                        statistics.update { $0.malformed["bad-ip-frame", default: 0] += 1 }
                        return
                    }
                    let name = port.name
                    loop.execute {
                        engine.value.handle(frame.payload, ingressInterface: name, sourceAddress: IPv4Address(frame.source),
                                            sourcePort: frame.sourcePort)
                        engine.value.flush()
                    }
                }, failed: { error in
                    statistics.update { $0.receiveErrors += 1 }
                    failureLog.noteReceive(error, on: port.name)
                })
                finished.leave()
            }
            thread.name = "zonebootd-\(port.name)"
            thread.start()
        }
        logger.info("DHCP direct on \(interfaces.joined(separator: ", ")) as \(settings.directSwitch.map { "\($0.pod)/\($0.switch)" } ?? "?")")
        return DirectDHCPServer(statistics: statistics, ports: ports, writer: writer, finished: finished)
    }

    public func close() async {
        for port in ports { port.stop() }
        // Each port's thread sees the stop within half a second and closes its socket.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            finished.notify(queue: .global()) { done.resume() }
        }
        try? await writer.shutdownGracefully()
    }
}
