import Addressing
import Boot
import CPacketSocket
import DHCPv4
import Foundation
import Glibc
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
@testable import Server
import Store
import Synchronization
import TestSupport
import Testing
import Zone

private struct DiskFull: Error {}

/// A store whose commits fail while `failing` is set, keeping what it did commit.
private final class FlakyStore: DurableLeaseStore {
    let failing = Mutex(false)
    let events = Mutex<[ZoneEvent]>([])
    let leases = Mutex<[Lease]>([])

    func loadLeases() throws -> [Lease] { [] }

    func commit(leases: [Lease], events: [ZoneEvent]) throws {
        if failing.withLock({ $0 }) { throw DiskFull() }
        self.leases.withLock { $0 += leases }
        self.events.withLock { $0 += events }
    }
}

/// What the engine handed a sender: one reply.
private struct SentReply: Sendable, Equatable {
    var type: DHCPMessageType?
    var route: ReplyRoute
    var message: DHCPMessage?
}

/// Keeps the replies the engine sends through one socket, from its loop (offers) and its
/// commit thread (ACKs) alike, in the order they were sent.
private final class RecordingSender: ReplySender, Sendable {
    private let replies = Mutex<[SentReply]>([])
    var sent: [SentReply] { replies.withLock { $0 } }
    func send(_ bytes: [UInt8], type: DHCPMessageType?, route: ReplyRoute, ingress: String?) {
        let reply = SentReply(type: type, route: route, message: try? DHCPMessage(parsing: bytes))
        replies.withLock { $0.append(reply) }
    }
    func flush() {}
    func close() {}
}

private let relay = IPv4Address(198, 18, 16, 1)
private let swp7 = IPv4Address(198, 18, 16, 17)
private let now: Int64 = 1_800_000_000

/// One engine on a testing event loop, with a channel and a recording sender per socket:
/// the channel handler and the engine exactly as a listener runs them, without sockets.
private struct EngineHarness {
    let loop = NIOAsyncTestingEventLoop()
    let writer = NIOThreadPool(numberOfThreads: 1)
    let statistics = Counters(DHCPCounters())
    let channels: [NIOAsyncTestingChannel]
    let senders: NIOLoopBound<[RecordingSender]>

    init(sockets: Int, store: any DurableLeaseStore, directory: CommittedLeases,
         logger: Logger = Logger(label: "test"), commitInterval: Swift.Duration = .zero) async throws {
        writer.start()
        let revision = try ZoneLoader.load(path: exampleZonePath)
        let loop = self.loop, writer = self.writer, statistics = self.statistics
        let channels = (0..<sockets).map { _ in NIOAsyncTestingChannel(loop: loop) }
        senders = try await loop.executeInContext {
            let senders = (0..<sockets).map { _ in RecordingSender() }
            let engine = DHCPEngine(loop: loop, revisions: RevisionHolder(revision), store: store, directory: directory,
                                    leases: InMemoryLeaseTable(directory.all),
                                    settings: DHCPSettings(serverIdentifier: IPv4Address(198, 18, 0, 10)),
                                    rateLimit: RequestRateLimit(), senders: senders,
                                    committedSenders: CommitThreadSenders(senders), writer: writer,
                                    commitInterval: commitInterval, statistics: statistics,
                                    logger: logger, clock: { now })
            // The testing loop serves the queue only when a test runs it, while the gate's
            // ages are wall time: on a loaded machine 500 datagrams written before `settle`
            // stood long enough to count as overload and were shed as stale (seen once in a
            // full parallel `swift test`). The engine is tested here; shedding is tested in
            // AdmissionQueueTests and e2e test_dhcp_overload.
            let gate = AdmissionGate(engine: engine, loop: loop,
                                     limits: .init(overloadedAfterNanoseconds: .max, staleAfterNanoseconds: .max))
            for (index, channel) in channels.enumerated() {
                // No socket behind a testing channel: every datagram counts as just arrived.
                try channel.pipeline.syncOperations.addHandler(AdmittingChannelHandler(gate: gate, socket: index, descriptor: -1))
            }
            return NIOLoopBound(senders, eventLoop: loop)
        }
        self.channels = channels
    }

    /// A datagram arriving on socket `socket` from the relay.
    func receive(_ request: ClientRequest, on socket: Int) async throws {
        let envelope = AddressedEnvelope(remoteAddress: try SocketAddress(ipAddress: "\(relay)", port: 67),
                                         data: ByteBuffer(bytes: request.bytes))
        try await channels[socket].writeInbound(envelope)
    }

    /// Runs the loop (commits complete on the writer thread) until `done` holds, for up to two seconds.
    func settle(until done: @escaping @Sendable (DHCPCounters) -> Bool) async throws {
        for _ in 0..<200 where !done(statistics.snapshot) {
            await loop.run()
            try await Task.sleep(for: .milliseconds(10))
        }
        await loop.run()
        #expect(done(statistics.snapshot))
    }

    /// What each socket's sender was handed, by socket.
    func sent() async throws -> [[SentReply]] {
        let senders = self.senders
        return try await loop.executeInContext { senders.value.map(\.sent) }
    }

    func shutdown() async throws {
        try await writer.shutdownGracefully()
        await loop.shutdownGracefully()
    }
}

/// Keeps every line logged through it, at info and above.
private final class CapturedLog: Sendable {
    let lines = Mutex<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>([])

    var logger: Logger {
        Logger(label: "dhcp") { _ in Handler(log: self) }
    }

    func messages(_ message: String) -> [Logger.Metadata] {
        lines.withLock { $0.filter { $0.message == message }.map(\.metadata) }
    }

    private struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            log.lines.withLock { $0.append((event.level, "\(event.message)", event.metadata ?? [:])) }
        }
    }
}

@Suite struct DHCPEngineLogTests {
    @Test func aLeaseIsLoggedOnceDurableAndSentThenItsRenewalAsSuch() async throws {
        let mac: [UInt8] = [0x52, 0x54, 0, 0, 0, 0xA]
        let store = FlakyStore()
        store.failing.withLock { $0 = true }
        let log = CapturedLog()
        let lab = try await EngineHarness(sockets: 1, store: store, directory: CommittedLeases([]), logger: log.logger)

        // A commit that fails sends nothing and says nothing was granted.
        try await lab.receive(ClientRequest(.request, mac: mac, requested: swp7, serverID: nil), on: 0)
        try await lab.settle { $0.commitFailures == 1 }
        #expect(log.messages("lease granted").isEmpty)

        store.failing.withLock { $0 = false }
        try await lab.receive(ClientRequest(.request, mac: mac, requested: swp7, serverID: nil), on: 0)
        try await lab.settle { $0.commits == 1 }
        let granted = log.messages("lease granted")
        #expect(granted.count == 1)
        #expect(granted.first?["host"] == "ams1-p01-r01-u07" && granted.first?["address"] == "198.18.16.17")
        #expect(granted.first?["mac"] == "52:54:00:00:00:0a" && granted.first?["location"] == "p01/tor-a/swp7")
        #expect(granted.first?["relay"] == "198.18.16.1" && granted.first?["lease"] != nil)

        // The same machine asks again for the address it holds: a renewal, not a second grant.
        try await lab.receive(ClientRequest(.request, mac: mac, requested: swp7, serverID: nil), on: 0)
        try await lab.settle { $0.commits == 2 }
        #expect(log.messages("lease granted").count == 1)
        #expect(log.messages("lease renewed").count == 1)
        try await lab.shutdown()
    }

    /// With a commit interval, a request that finds the writer idle is written at once; those
    /// that come while it writes wait for the interval's end (the testing loop's clock, moved
    /// here by hand) and share one transaction. Each is answered only once durable.
    @Test func requestsWithinACommitIntervalShareOneTransaction() async throws {
        let store = FlakyStore()
        let lab = try await EngineHarness(sockets: 1, store: store, directory: CommittedLeases([]), commitInterval: Swift.Duration.seconds(3600))
        let ports = ["swp7", "swp8", "swp9"]
        for (n, port) in ports.enumerated() {
            try await lab.receive(ClientRequest(.request, mac: [0x52, 0x54, 0, 0, 0, UInt8(n + 1)], circuit: port,
                                                requested: IPv4Address(198, 18, 16, UInt8(17 + n)), serverID: nil), on: 0)
        }
        try await lab.settle { $0.commits == 1 }
        // The first went alone; the other two wait for the interval's end, unanswered.
        #expect(try await lab.sent()[0].compactMap(\.type) == [.ack])
        #expect(store.leases.withLock { $0.map(\.address) } == [IPv4Address(198, 18, 16, 17)])
        await lab.loop.advanceTime(by: .seconds(3600))
        try await lab.settle { $0.commits == 2 }
        #expect(try await lab.sent()[0].compactMap(\.type) == [.ack, .ack, .ack])
        #expect(store.leases.withLock { $0.map(\.address) } == (17...19).map { IPv4Address(198, 18, 16, UInt8($0)) })
        #expect(lab.statistics.snapshot.leasesWritten == 3)
        try await lab.shutdown()
    }

    @Test func aFloodOfMalformedDatagramsIsCountedWholeAndLoggedOnce() async throws {
        let log = CapturedLog()
        let lab = try await EngineHarness(sockets: 1, store: FlakyStore(), directory: CommittedLeases([]), logger: log.logger)
        let truncated = Array(ClientRequest(.discover, mac: [0x52, 0x54, 0, 0, 0, 1], circuit: "swp7").bytes.prefix(100))
        let started = ContinuousClock.now
        for _ in 0..<500 {
            let envelope = AddressedEnvelope(remoteAddress: try SocketAddress(ipAddress: "\(relay)", port: 67),
                                             data: ByteBuffer(bytes: truncated))
            try await lab.channels[0].writeInbound(envelope)
        }
        try await lab.settle { $0.malformed["truncated"] == 500 }
        let took = ContinuousClock.now - started
        let dropped = log.messages("malformed datagram dropped")
        #expect(dropped.first?["reason"] == "truncated" && dropped.first?["from"] == "198.18.16.1:67")
        if took < .seconds(10) {
            #expect(dropped.count == 1)
            // The summary of the other 499 comes 10 s after the first line: not within this flood.
            #expect(log.messages("more dropped").isEmpty)
        } else {
            // A machine so loaded that the flood outlasted the 10 s interval: a line per interval at most.
            #expect(dropped.count >= 1 && dropped.count <= Int(took / .seconds(10)) + 1)
        }
        try await lab.shutdown()
    }
}

@Suite struct DHCPEngineTests {
    @Test func aFailedCommitSendsNothingAndTheRetryIsAnsweredWithItsEventOnceTheStoreRecovers() async throws {
        let macA: [UInt8] = [0x52, 0x54, 0, 0, 0, 0xA], macB: [UInt8] = [0x52, 0x54, 0, 0, 0, 0xB]
        // swp7 is held by machine A; machine B is plugged in instead.
        let held = Lease(address: swp7, mac: macA, clientID: nil, pod: "p01",
                         location: Location(pod: "p01", switch: "tor-a", port: "swp7"), name: "ams1-p01-r01-u07",
                         state: .bound, expiresAt: now + 3600, updatedAt: now)
        let store = FlakyStore()
        store.failing.withLock { $0 = true }
        let directory = CommittedLeases([held])
        let lab = try await EngineHarness(sockets: 1, store: store, directory: directory)

        try await lab.receive(ClientRequest(.request, mac: macB, requested: swp7, serverID: nil), on: 0)
        try await lab.settle { $0.commitFailures == 1 }
        // Nothing sent for what is not durable, nothing stored, and the port is still A's.
        #expect(try await lab.sent() == [[]])
        #expect(store.events.withLock { $0 }.isEmpty)
        #expect(directory.lease(address: swp7)?.mac == macA)

        // The disk has room again; B's retry is decided afresh and keeps its host.replaced.
        store.failing.withLock { $0 = false }
        try await lab.receive(ClientRequest(.request, mac: macB, requested: swp7, serverID: nil), on: 0)
        try await lab.settle { $0.commits == 1 }
        #expect(try await lab.sent().map { $0.map(\.type) } == [[.ack]])
        #expect(store.events.withLock { $0 }.map(\.type).contains(.hostReplaced))
        #expect(directory.lease(address: swp7)?.mac == macB)
        try await lab.shutdown()
    }

    @Test func twoListenersShareOneTableSoADiscoveryAddressIsNeverOfferedTwice() async throws {
        let lab = try await EngineHarness(sockets: 2, store: FlakyStore(), directory: CommittedLeases([]))
        // Two unknown machines on two undeclared ports, each through its own listener.
        let macs: [[UInt8]] = [[0x52, 0x54, 0, 0, 1, 1], [0x52, 0x54, 0, 0, 1, 2]]
        for (index, mac) in macs.enumerated() {
            try await lab.receive(ClientRequest(.discover, mac: mac, circuit: "swp4\(5 + index)"), on: index)
        }
        var sent = try await lab.sent()
        // An offer's event, where a hook wants one, is committed before it leaves.
        for _ in 0..<200 where sent.joined().count < 2 {
            await lab.loop.run()
            try await Task.sleep(for: .milliseconds(10))
            sent = try await lab.sent()
        }
        // Each offer left through the socket its DISCOVER came in on.
        #expect(sent.map { $0.map(\.type) } == [[.offer], [.offer]])
        let offered = sent.compactMap { $0.first?.message.map { IPv4Address($0.yiaddr) } }
        #expect(offered.count == 2)
        #expect(Set(offered).count == 2)
        #expect(offered.allSatisfy { IPv4Range(first: IPv4Address(198, 18, 16, 200), last: IPv4Address(198, 18, 16, 250))?.contains($0) == true })
        try await lab.shutdown()
    }

    @Test func aHostEventFloodFromOnePortIsCappedAndCounted() {
        var budget = HostEventBudget(perPortPerMinute: 2)
        let port = Location(pod: "p01", switch: "tor-a", port: "swp7")
        func replaced(_ n: Int, at location: Location = port) -> ZoneEvent {
            ZoneEvent(type: .hostReplaced, address: swp7, mac: "52:54:00:00:00:0\(n)", name: "x", pod: "p01", location: location,
                      details: [:], at: 0)
        }
        var events = (1...5).map { replaced($0) } + [replaced(6, at: Location(pod: "p01", switch: "tor-a", port: "swp8"))]
        events.append(ZoneEvent(type: .leaseAcked, address: swp7, mac: "m", name: nil, pod: "p01", location: port, details: [:], at: 0))
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
        let statistics = Counters(DHCPCounters())
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
