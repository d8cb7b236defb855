import Addressing
import Boot
import DHCPv4
import Foundation
import NIOCore
import Synchronization

/// Direct mode's sockets: zonebootd on the switch itself. Each named port gets a packet
/// socket, so the port a request came in on is its location (even on a bridge, where the
/// IP stack sees only the bridge), and replies leave through that port to the client's
/// MAC, without ARP, as RFC 2131 §4.1 asks for clients that have no address yet.
/// Each port is read on its own thread and handed to the process's one engine.
final class DirectPorts: Sendable {
    private let ports: [PacketPort]
    private let finished = DispatchGroup()
    /// Whether the ports' threads run: each closes its own socket when stopped.
    private let reading = Atomic<Bool>(false)

    /// Opens every port's socket, or none.
    init(interfaces: [String]) throws {
        var opened: [PacketPort] = []
        do {
            for name in interfaces { opened.append(try PacketPort(name: name)) }
        } catch {
            for port in opened { port.closeUnread() }
            throw error
        }
        ports = opened
    }

    /// The engine's sender for these ports: it picks the port by the request's ingress interface.
    func sender(serverAddress: IPv4Address, statistics: Counters<DHCPCounters>, failureLog: SocketFailureLog) -> PacketReplySender {
        PacketReplySender(ports: Dictionary(uniqueKeysWithValues: ports.map { ($0.name, $0) }), serverAddress: serverAddress,
                          statistics: statistics, failureLog: failureLog)
    }

    /// Starts a thread per port handing its requests to the engine through `gate`; the
    /// engine's sender `socket` answers them.
    func startReading(gate: NIOLoopBound<AdmissionGate>, socket: Int, statistics: Counters<DHCPCounters>, failureLog: SocketFailureLog) {
        let loop = gate.eventLoop
        reading.store(true, ordering: .sequentiallyConsistent)
        for port in ports {
            finished.enter()
            let thread = Thread {
                port.receiveLoop({ packet in
                    // Read as it arrives, one at a time: its wait starts here.
                    let receivedAt = AdmissionGate.now()
                    let frame: UDPFrame
                    do {
                        frame = try UDPFrame(parsing: packet)
                    } catch {
                        statistics.update { $0.malformed["bad-ip-frame", default: 0] += 1 }
                        return
                    }
                    let origin = DatagramOrigin(socket: socket, ingressInterface: port.name,
                                                sourceAddress: IPv4Address(frame.source), sourcePort: frame.sourcePort)
                    loop.execute {
                        gate.value.admit(frame.payload, from: origin, receivedAt: receivedAt)
                        gate.value.serve()
                    }
                }, failed: { error in
                    statistics.update { $0.receiveErrors += 1 }
                    failureLog.noteReceive(error, on: port.name)
                })
                self.finished.leave()
            }
            thread.name = "zonebootd-\(port.name)"
            thread.start()
        }
    }

    /// Stops reading; returns once every port's thread has closed its socket.
    func stop() async {
        for port in ports { port.stop() }
        guard reading.load(ordering: .sequentiallyConsistent) else {
            for port in ports { port.closeUnread() }
            return
        }
        // Each port's thread sees the stop within half a second and closes its socket.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            finished.notify(queue: .global()) { done.resume() }
        }
    }
}
