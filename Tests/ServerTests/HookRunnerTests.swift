import Addressing
import Boot
import Foundation
import Logging
@testable import Server
import Store
import Synchronization
import TestSupport
import Testing
import Zone

/// An outbox that hands out the entries it is given and keeps how their tries ended.
private final class FakeOutbox: EventOutbox {
    let due = Mutex<[OutboxEntry]>([])
    let finished = Mutex<[DeliveryResult]>([])
    /// How many times the runner looked for due events.
    let looks = Mutex(0)

    func releaseClaims() throws -> Int { 0 }

    func claimDue(nowMs: Int64, limit: Int, settling: Set<HookEvent>) throws -> [OutboxEntry] {
        looks.withLock { $0 += 1 }
        return due.withLock { due in
            let claimed = Array(due.prefix(limit))
            due.removeFirst(claimed.count)
            return claimed
        }
    }

    func finish(_ results: [DeliveryResult], nowMs: Int64) throws { finished.withLock { $0 += results } }
    func append(_ events: [ZoneEvent]) throws {}
    func events(_ filter: EventFilter, limit: Int) throws -> [EventRecord] { [] }
    func count(_ filter: EventFilter) throws -> Int { 0 }
    func retry(id: Int64, nowMs: Int64) throws -> Bool { false }
    func pruneDelivered(before cutoff: Int64, limit: Int) throws -> Int { 0 }
}

/// Leases in memory, each expiry reported once, with the events written for them.
private final class FakeLeases: LeaseExpiryReporting {
    let leases: [Lease]
    let reported = Mutex<Set<IPv4Address>>([])
    let written = Mutex<[ZoneEvent]>([])

    init(_ leases: [Lease]) { self.leases = leases }

    func reportExpiredLeases(now: Int64, limit: Int, event: (Lease) -> ZoneEvent?) throws -> Int {
        let due = reported.withLock { reported in
            let due = leases.filter { $0.state == .bound && $0.expiresAt <= now && !reported.contains($0.address) }.prefix(limit)
            reported.formUnion(due.map(\.address))
            return Array(due)
        }
        let events = due.compactMap(event)
        written.withLock { $0 += events }
        return events.count
    }
}

/// One set of webhook clients for every runner here: an `HTTPClient` must be shut down
/// before it goes away, and a global never goes away.
private let hookClients = HookHTTPClients()

private final class FakeInventory: BMCInventory {
    func record(_ bmc: BMCRecord, event: ZoneEvent?) throws {}
    func all() throws -> [BMCRecord] { [] }
    func pinnedCertificate(name: String) throws -> String? { nil }
    func refuse(name: String, presented: String, event: ZoneEvent) throws -> Bool { false }
    func forgetCertificate(name: String) throws -> Bool { false }
}

/// The hook runner with fakes for its store: what it records for a failing hook, and the
/// `lease.expired` events its sweep writes.
@Suite struct HookRunnerTests {
    let bmc = "ams1-p01-r01-u07-lom"
    let bmcAddress = IPv4Address(198, 18, 17, 17)
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("zoneboot-hooks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("hooks"), withIntermediateDirectories: true)
        // The example zone's register-bmc hook (role lom, on lease.acked) fails here.
        let hook = folder.appendingPathComponent("hooks/register-bmc")
        try Data("#!/bin/sh\necho 'BMC not ready' >&2\nexit 3\n".utf8).write(to: hook)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook.path)
    }

    /// The example zone, with its register-bmc hook also subscribed to `lease.expired` when `expiry`.
    private func revision(expiry: Bool = false) throws -> ZoneRevision {
        var source = try ZoneLoader.source(path: exampleZonePath)
        if expiry { source.text = source.text.replacingOccurrences(of: "on: [lease.acked]", with: "on: [lease.acked, lease.expired]") }
        return try ZoneLoader.load(source: source)
    }

    private func runner(_ revision: ZoneRevision, outbox: FakeOutbox = FakeOutbox(), leases: FakeLeases = FakeLeases([]),
                        statistics: Counters<HookCounters> = Counters(HookCounters()), attempts: Int = 3,
                        doorbell: OutboxDoorbell? = nil, idlePollMs: Int = 1000) -> HookRunner {
        HookRunner(configuration: .init(policy: RetryPolicy(maxAttempts: attempts, baseMs: 60_000, capMs: 600_000),
                                        concurrency: 2, idlePollMs: idlePollMs, zoneFolder: folder.path, stateDirectory: folder.path),
                   outbox: outbox, leases: leases, inventory: FakeInventory(), revisions: RevisionHolder(revision),
                   http: hookClients, statistics: statistics, doorbell: doorbell, logger: Logger(label: "test"))
    }

    private func acked(_ id: Int64, attempt: Int) -> OutboxEntry {
        let event = ZoneEvent(type: .leaseAcked, address: bmcAddress, mac: "52:54:00:00:01:07", name: bmc, pod: "p01",
                              location: Location(pod: "p01", switch: "lom-1", port: "swp7"), details: [:], at: 1_800_000_000)
        return OutboxEntry(id: id, event: event, attempt: attempt, doneHooks: [])
    }

    /// Idle, the runner looks at the outbox only when its doorbell rings (here, with a
    /// 10-minute idle poll, nothing else could wake it): an idle server reads no database.
    @Test func anIdleRunnerWaitsForItsDoorbellAndAWrittenEventWakesIt() async throws {
        let outbox = FakeOutbox(), doorbell = OutboxDoorbell()
        let runner = runner(try revision(), outbox: outbox, doorbell: doorbell, idlePollMs: 600_000)
        let running = Task { await runner.run() }
        let deadline = ContinuousClock.now + .seconds(120)
        while outbox.looks.withLock({ $0 }) == 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        // Polling every 20 ms, as before the doorbell, it would have looked a dozen times more.
        try await Task.sleep(for: .milliseconds(300))
        #expect(outbox.looks.withLock { $0 } == 1)
        outbox.due.withLock { $0 = [acked(1, attempt: 1)] }
        doorbell.ring()
        while outbox.finished.withLock({ $0.isEmpty }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        running.cancel()
        await running.value
        #expect(outbox.finished.withLock { $0.map(\.id) } == [1])
    }

    @Test func aFailingHookIsRecordedForARetryWithBackoff() async throws {
        let outbox = FakeOutbox(), statistics = Counters(HookCounters())
        outbox.due.withLock { $0 = [acked(1, attempt: 1)] }
        let runner = runner(try revision(), outbox: outbox, statistics: statistics)
        let before = Int64(Date().timeIntervalSince1970 * 1000)
        let running = Task { await runner.run() }
        // Generous: the loop ends as soon as the try is recorded; a loaded 2-core CI machine running
        // every suite in parallel has been seen to hold this test's tasks back for 20 s.
        let deadline = ContinuousClock.now + .seconds(120)
        while outbox.finished.withLock({ $0.isEmpty }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        running.cancel()
        await running.value
        let results = outbox.finished.withLock { $0 }
        #expect(results.count == 1)
        guard case .retry(let at, let error)? = results.first?.outcome else {
            Issue.record("expected a retry, got \(String(describing: results.first))")
            return
        }
        #expect(results.first?.id == 1 && results.first?.succeeded == [])
        // The policy's first wait: 60 s after the try.
        #expect(at >= before + 60_000 && at <= Int64(Date().timeIntervalSince1970 * 1000) + 60_000)
        #expect(error.hasPrefix("register-bmc: "))
        #expect(statistics.snapshot.failures == 1 && statistics.snapshot.delivered == 0)
    }

    @Test func theLastTryOfAFailingHookIsADeadLetter() async throws {
        let statistics = Counters(HookCounters())
        let runner = runner(try revision(), statistics: statistics, attempts: 3)
        let result = await runner.deliver(acked(2, attempt: 3))
        guard case .dead(let error)? = result?.outcome else {
            Issue.record("expected a dead letter, got \(String(describing: result))")
            return
        }
        #expect(error.hasPrefix("register-bmc: "))
        #expect(statistics.snapshot.deadLetters == 1)
    }

    /// The example zone with register-bmc as the built-in redfish-register; its credentials file
    /// does not exist, so a registration that starts fails before any request.
    private func redfishRevision() throws -> ZoneRevision {
        var source = try ZoneLoader.source(path: exampleZonePath)
        source.text = source.text.replacingOccurrences(
            of: "run: hooks/register-bmc              # gets the event as JSON on stdin",
            with: "builtin: redfish-register\n    credentials: /nonexistent/zoneboot-bmc.json\n    tls: accept-self-signed")
        return try ZoneLoader.load(source: source)
    }

    @Test func redfishRegisterSkipsAMachineThatIsNoRecognizedBMCAndSaysWhy() async throws {
        let statistics = Counters(HookCounters())
        let runner = runner(try redfishRevision(), statistics: statistics)
        for kind in [DeviceKind.unknown, .pxe] {
            var entry = acked(3, attempt: 1)
            entry.event.details["device_kind"] = kind.rawValue
            let result = await runner.deliver(entry)
            // Taken (not retried, not a dead letter), with the reason kept for `zonectl events`.
            #expect(result?.outcome == .delivered && result?.succeeded == ["register-bmc"])
            #expect(result?.note?.hasPrefix("register-bmc skipped: the machine at \(bmc)") == true, "\(String(describing: result))")
        }
        #expect(statistics.snapshot.failures == 0 && statistics.snapshot.runs == 0)
    }

    @Test func redfishRegisterGoesOnForARecognizedBMC() async throws {
        let runner = runner(try redfishRevision())
        var entry = acked(4, attempt: 1)
        entry.event.details["device_kind"] = DeviceKind.hpeILO.rawValue
        let result = await runner.deliver(entry)
        guard case .retry(_, let error)? = result?.outcome else {
            Issue.record("expected the registration to start (and fail on its credentials), got \(String(describing: result))")
            return
        }
        #expect(error.contains("/nonexistent/zoneboot-bmc.json cannot be read"), "\(error)")
        #expect(result?.note == nil)
    }

    @Test func anExpiredLeaseYieldsOneLeaseExpiredEvent() throws {
        let now: Int64 = 1_800_000_000
        func lease(_ address: IPv4Address, _ name: String, expires: Int64, port: String = "swp7",
                   switch sw: String = "lom-1") -> Lease {
            Lease(address: address, mac: [0x52, 0x54, 0, 0, 1, 7], clientID: nil, pod: "p01",
                  location: Location(pod: "p01", switch: sw, port: port), name: name, state: .bound,
                  expiresAt: expires, updatedAt: now - 3600)
        }
        let leases = FakeLeases([
            lease(bmcAddress, bmc, expires: now - 10),
            // Not expired yet.
            lease(IPv4Address(198, 18, 17, 18), "ams1-p01-r01-u08-lom", expires: now + 10, port: "swp8"),
            // Expired, but no hook of its role (hypervisor) wants lease.expired.
            lease(IPv4Address(198, 18, 16, 17), "ams1-p01-r01-u07", expires: now - 10, switch: "tor-a"),
        ])
        let runner = runner(try revision(expiry: true), leases: leases)
        runner.sweepExpiredLeases(now: now)
        runner.sweepExpiredLeases(now: now + 1)
        let written = leases.written.withLock { $0 }
        #expect(written.count == 1)
        #expect(written.first?.type == .leaseExpired)
        #expect(written.first?.name == bmc && written.first?.address == bmcAddress)
        #expect(written.first?.mac == "52:54:00:00:01:07")
        #expect(written.first?.details == ["expired_at": String(now - 10)])
        #expect(written.first?.at == now)
    }
}
