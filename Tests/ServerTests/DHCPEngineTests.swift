import Addressing
import Boot
import CPacketSocket
import DHCPv4
import Foundation
import Glibc
import Logging
import NIOCore
import NIOPosix
@testable import Server
import Store
import Synchronization
import TestSupport
import Testing
import Zone

private struct DiskFull: Error {}

/// A store whose commits fail while `failing` is set, keeping what it did commit.
private final class FlakyStore: LeaseStore {
    let failing = Mutex(false)
    let events = Mutex<[DHCPEvent]>([])
    let leases = Mutex<[Lease]>([])

    func loadLeases() throws -> [Lease] { [] }

    func commit(leases: [Lease], events: [DHCPEvent]) throws {
        if failing.withLock({ $0 }) { throw DiskFull() }
        self.leases.withLock { $0 += leases }
        self.events.withLock { $0 += events }
    }
}

/// Keeps the types of the replies the engine sends.
private final class RecordingSender: ReplySender {
    var sent: [DHCPMessageType?] = []
    func send(_ bytes: [UInt8], type: DHCPMessageType?, route: ReplyRoute, ingress: String?) { sent.append(type) }
    func flush() {}
    func close() {}
}

private let relay = IPv4Address(198, 18, 16, 1)
private let swp7 = IPv4Address(198, 18, 16, 17)

/// A REQUEST for swp7's address from `mac`, as the trusted relay sends it.
private func relayedRequest(mac: [UInt8]) -> [UInt8] {
    var options = DHCPOptions()
    options.set(DHCPOptionCode.messageType, [DHCPMessageType.request.rawValue])
    options.set(DHCPOptionCode.requestedAddress, swp7.bytes)
    options.set(DHCPOptionCode.relayAgentInformation,
                RelayAgentInformation(subOptions: [DHCPOption(1, Array("swp7".utf8)), DHCPOption(2, Array("p01-tor-a".utf8))]).serialized)
    return DHCPMessage(op: .request, hops: 1, xid: 7, giaddr: relay.value, chaddr: mac, options: options).serialized()
}

@Suite struct DHCPEngineTests {
    @Test func aFailedCommitLeavesNoTraceSoTheRetryKeepsItsEvent() async throws {
        let now: Int64 = 1_800_000_000
        let revision = try ZoneLoader.load(path: exampleZonePath)
        let macA: [UInt8] = [0x52, 0x54, 0, 0, 0, 0xA], macB: [UInt8] = [0x52, 0x54, 0, 0, 0, 0xB]
        // swp7 is held by machine A; machine B is plugged in instead.
        let held = Lease(address: swp7, mac: macA, clientID: nil, pod: "p01",
                         location: Location(pod: "p01", switch: "tor-a", port: "swp7"), name: "ams1-p01-r01-u07",
                         state: .bound, expiresAt: now + 3600, updatedAt: now)
        let store = FlakyStore()
        store.failing.withLock { $0 = true }
        let directory = LeaseDirectory([held])
        let statistics = DHCPStatistics()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let writer = NIOThreadPool(numberOfThreads: 1)
        writer.start()
        let loop = group.next()
        let (engine, sender) = try await loop.submit {
            let sender = RecordingSender()
            let engine = DHCPEngine(loop: loop, revisions: RevisionHolder(revision), store: store, directory: directory,
                                    leases: LeaseTable(directory.all), settings: DHCPSettings(serverIdentifier: IPv4Address(198, 18, 0, 10)),
                                    rateLimit: RequestRateLimit(), sender: sender, writer: writer, statistics: statistics,
                                    logger: Logger(label: "test"), clock: { now })
            return (NIOLoopBound(engine, eventLoop: loop), NIOLoopBound(sender, eventLoop: loop))
        }.get()
        func request() async throws {
            try await loop.submit {
                engine.value.handle(relayedRequest(mac: macB), ingressInterface: nil, sourceAddress: relay, sourcePort: 67)
            }.get()
        }
        func settled(_ done: @escaping (DHCPCounters) -> Bool) async throws {
            for _ in 0..<200 where !done(statistics.snapshot) { try await Task.sleep(for: .milliseconds(10)) }
            #expect(done(statistics.snapshot))
        }

        try await request()
        try await settled { $0.commitFailures == 1 }
        // Nothing sent for what is not durable, nothing stored, and the port is still A's.
        #expect(try await loop.submit { sender.value.sent }.get().isEmpty)
        #expect(store.events.withLock { $0 }.isEmpty)
        #expect(directory.lease(address: swp7)?.mac == macA)

        // The disk has room again; B's retry is decided afresh and keeps its host.replaced.
        store.failing.withLock { $0 = false }
        try await request()
        try await settled { $0.commits == 1 }
        #expect(try await loop.submit { sender.value.sent }.get() == [.ack])
        #expect(store.events.withLock { $0 }.map(\.type).contains(.hostReplaced))
        #expect(directory.lease(address: swp7)?.mac == macB)
        try await writer.shutdownGracefully()
        try await group.shutdownGracefully()
    }

    @Test func aHostEventFloodFromOnePortIsCappedAndCounted() {
        var budget = HostEventBudget(perPortPerMinute: 2)
        let port = Location(pod: "p01", switch: "tor-a", port: "swp7")
        func replaced(_ n: Int, at location: Location = port) -> DHCPEvent {
            DHCPEvent(type: .hostReplaced, address: swp7, mac: "52:54:00:00:00:0\(n)", name: "x", pod: "p01", location: location,
                      details: [:], at: 0)
        }
        var events = (1...5).map { replaced($0) } + [replaced(6, at: Location(pod: "p01", switch: "tor-a", port: "swp8"))]
        events.append(DHCPEvent(type: .leaseAcked, address: swp7, mac: "m", name: nil, pod: "p01", location: port, details: [:], at: 0))
        #expect(budget.admit(&events, now: 60) == 3)
        // Two of swp7's, swp8's one, and the lease event, which is not a host.* event.
        #expect(events.map(\.mac) == ["52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:06", "m"])
        // A new minute, a new budget.
        var later = [replaced(7)]
        #expect(budget.admit(&later, now: 120) == 0)
    }
}

@Suite struct DatagramReplySenderTests {
    /// A bound UDP socket on 127.0.0.1 and its port.
    private func socketOnLoopback() throws -> (Int32, UInt16) {
        var forced: Int32 = 0
        let fd = zb_udp_open(IPv4Address(127, 0, 0, 1).value, 0, 1 << 16, &forced)
        try #require(fd >= 0)
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    @Test func aReplyTheKernelRefusesIsCountedAndTheOthersStillLeave() throws {
        let (serverFD, _) = try socketOnLoopback()
        let (clientFD, clientPort) = try socketOnLoopback()
        defer { Glibc.close(clientFD) }
        let statistics = DHCPStatistics()
        let sender = DatagramReplySender(descriptor: serverFD, statistics: statistics,
                                         failureLog: SocketFailureLog(logger: Logger(label: "test")))
        let loopback = IPv4Address(127, 0, 0, 1)
        // Port 0 is what a relay-port request from source port 0 asks for: EINVAL.
        sender.send([1, 2, 3], type: .offer, route: .relay(loopback, port: 0), ingress: nil)
        sender.send([4, 5, 6], type: .ack, route: .relay(loopback, port: clientPort), ingress: nil)
        sender.flush()
        sender.send([7, 8, 9], type: .ack, route: .relay(loopback, port: clientPort), ingress: nil)
        sender.flush()
        var buffer = [UInt8](repeating: 0, count: 16)
        var received: [[UInt8]] = []
        for _ in 0..<2 {
            let n = recv(clientFD, &buffer, buffer.count, 0)
            if n > 0 { received.append(Array(buffer[0..<n])) }
        }
        #expect(received == [[4, 5, 6], [7, 8, 9]])
        let counters = statistics.snapshot
        #expect(counters.sendFailures == 1)
        #expect(counters.sendFailed == ["invalid-argument": 1])
        #expect(counters.sent == ["ack": 2])
        sender.close()
    }
}
