import Addressing
import Boot
import Foundation
import Store
import Testing
import Zone

@Suite struct EventOutboxTests {
    private let state = NSTemporaryDirectory() + "zoneboot-outbox-\(UUID().uuidString)"

    private func event(_ type: HookEvent = .leaseAcked, at: Int64 = 100) -> ZoneEvent {
        ZoneEvent(type: type, address: IPv4Address(198, 18, 16, 11), mac: "52:54:00:00:00:01", name: "h1", pod: "p01",
                  location: Location(pod: "p01", switch: "tor-a", port: "swp1"), details: [:], at: at)
    }

    private func open() throws -> (SQLiteLeaseStore, SQLiteEventOutbox, SQLiteBMCInventory) {
        (try SQLiteLeaseStore(stateDirectory: state), try SQLiteEventOutbox(stateDirectory: state),
         try SQLiteBMCInventory(stateDirectory: state))
    }

    /// The hook runner sleeps on this doorbell when idle: every way an event is written through
    /// the database the outbox shares must ring it, and a lease commit without events must not.
    @Test func theDoorbellRingsAfterEveryTransactionThatWritesAnEvent() async throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let database = try ZoneBootDatabase.open(stateDirectory: state)
        let leases = SQLiteLeaseStore(writer: database), outbox = SQLiteEventOutbox(writer: database)
        let lease = Lease(address: IPv4Address(198, 18, 16, 17), mac: [0x52, 0x54, 0, 0, 0, 1], clientID: nil, pod: "p01",
                          location: Location(pod: "p01", switch: "tor-a", port: "swp1"), name: "h1", state: .bound,
                          expiresAt: 2000, updatedAt: 1000)
        try leases.commit(leases: [lease], events: [])
        #expect(await !outbox.writes.wait(atMost: .milliseconds(50)))
        try leases.commit(leases: [lease], events: [event()])
        #expect(await outbox.writes.wait(atMost: .seconds(120)))
        // One ring per write: it was taken by the wait.
        #expect(await !outbox.writes.wait(atMost: .milliseconds(50)))
        try outbox.append([event(.leaseReleased)])
        #expect(await outbox.writes.wait(atMost: .seconds(120)))
        let claimed = try outbox.claimDue(nowMs: 1_000, limit: 10)
        #expect(claimed.count == 2)
        #expect(await outbox.writes.wait(atMost: .seconds(120)))
        // Nothing due: the look reads and writes nothing.
        #expect(try outbox.claimDue(nowMs: 1_000, limit: 10).isEmpty)
        #expect(await !outbox.writes.wait(atMost: .milliseconds(50)))
    }

    @Test func aClaimIsExclusiveAndCountsATry() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let (leases, outbox, _) = try open()
        try leases.commit(leases: [], events: [event(), event(.leaseReleased)])
        let first = try outbox.claimDue(nowMs: 1_000, limit: 1)
        #expect(first.map(\.id) == [1])
        #expect(first.first?.attempt == 1)
        #expect(first.first?.event == event())
        #expect(try outbox.claimDue(nowMs: 1_000, limit: 10).map(\.id) == [2])
        #expect(try outbox.claimDue(nowMs: 1_000, limit: 10).isEmpty)
        try outbox.finish([DeliveryResult(id: 1, succeeded: ["a"], outcome: .delivered)], nowMs: 2_000)
        #expect(try outbox.events(.undelivered, limit: 10).map(\.id) == [2])
        #expect(try outbox.events(.all, limit: 10).map(\.state) == [.delivering, .delivered])
    }

    @Test func dueEventsOfSettlingTypesAreMarkedDeliveredUnreadAndTheRestClaimed() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let (leases, outbox, _) = try open()
        try leases.commit(leases: [], events: [event(.hostReplaced), event(), event(.hostReplaced)])
        // Event 1 fails its first try and waits until 5 s: settling leaves what is not due alone.
        #expect(try outbox.claimDue(nowMs: 0, limit: 1).map(\.id) == [1])
        try outbox.finish([DeliveryResult(id: 1, succeeded: [], outcome: .retry(atMs: 5_000, error: "x"))], nowMs: 0)
        #expect(try outbox.claimDue(nowMs: 1_000, limit: 1, settling: [.hostReplaced]).map(\.id) == [2])
        #expect(try outbox.claimDue(nowMs: 1_000, limit: 10).isEmpty)
        var records = try outbox.events(.all, limit: 10)
        #expect(records.map(\.state) == [.delivered, .delivering, .pending])
        #expect(records.first?.attempts == 1 && records.first?.deliveredAt == 1)
        #expect(try outbox.claimDue(nowMs: 5_000, limit: 10, settling: [.hostReplaced]).isEmpty)
        records = try outbox.events(.all, limit: 10)
        #expect(records.map(\.state) == [.delivered, .delivering, .delivered])
        #expect(records.last?.attempts == 2)
    }

    @Test func aFailedTryWaitsForItsTimeAndSkipsHooksThatTookIt() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let (leases, outbox, _) = try open()
        try leases.commit(leases: [], events: [event()])
        _ = try outbox.claimDue(nowMs: 0, limit: 1)
        try outbox.finish([DeliveryResult(id: 1, succeeded: ["a"], outcome: .retry(atMs: 5_000, error: "b: exited with status 1"))], nowMs: 0)
        #expect(try outbox.claimDue(nowMs: 4_999, limit: 1).isEmpty)
        let again = try #require(try outbox.claimDue(nowMs: 5_000, limit: 1).first)
        #expect(again.attempt == 2)
        #expect(again.doneHooks == ["a"])
        #expect(try outbox.events(.all, limit: 1).first?.lastError == "b: exited with status 1")
    }

    /// A hook that took an event without acting (redfish-register skipping a machine that is no
    /// recognized BMC) leaves why in the delivered event; a plain delivery leaves nothing.
    @Test func aDeliveryKeepsTheNoteOfASkippedHook() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let (leases, outbox, _) = try open()
        try leases.commit(leases: [], events: [event(), event()])
        _ = try outbox.claimDue(nowMs: 0, limit: 2)
        try outbox.finish([DeliveryResult(id: 1, succeeded: ["register-bmc"], outcome: .delivered,
                                          note: "register-bmc skipped: not a BMC"),
                           DeliveryResult(id: 2, succeeded: ["log"], outcome: .delivered)], nowMs: 1_000)
        let events = try outbox.events(.all, limit: 2)
        #expect(events.map(\.state) == [.delivered, .delivered])
        #expect(events.map(\.lastError) == [nil, "register-bmc skipped: not a BMC"])
    }

    @Test func deadLettersAreListedAndRetriedWithFreshTries() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let (leases, outbox, _) = try open()
        try leases.commit(leases: [], events: [event()])
        _ = try outbox.claimDue(nowMs: 0, limit: 1)
        try outbox.finish([DeliveryResult(id: 1, succeeded: [], outcome: .dead(error: "gave up"))], nowMs: 0)
        #expect(try outbox.claimDue(nowMs: .max, limit: 1).isEmpty)
        #expect(try outbox.events(.dead, limit: 10).map(\.id) == [1])
        #expect(try outbox.retry(id: 1, nowMs: 10))
        #expect(try outbox.retry(id: 1, nowMs: 10) == false)
        #expect(try outbox.events(.dead, limit: 10).isEmpty)
        #expect(try outbox.claimDue(nowMs: 10, limit: 1).first?.attempt == 1)
    }

    @Test func claimsLeftByADeadProcessAreReleasedOnStartup() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        do {
            let (leases, outbox, _) = try open()
            try leases.commit(leases: [], events: [event(), event()])
            _ = try outbox.claimDue(nowMs: 0, limit: 2)
            try outbox.finish([DeliveryResult(id: 2, succeeded: [], outcome: .delivered)], nowMs: 0)
        }
        let (_, outbox, _) = try open()
        #expect(try outbox.claimDue(nowMs: 0, limit: 10).isEmpty)
        #expect(try outbox.releaseClaims() == 1)
        let again = try outbox.claimDue(nowMs: 0, limit: 10)
        #expect(again.map(\.id) == [1])
        #expect(again.first?.attempt == 2)
    }

    @Test func anExpiredBoundLeaseIsReportedOncePerExpiry() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let (leases, outbox, _) = try open()
        var lease = Lease(address: IPv4Address(198, 18, 16, 11), mac: [0x52, 0x54, 0, 0, 0, 1], clientID: nil, pod: "p01",
                          location: Location(pod: "p01", switch: "tor-a", port: "swp1"), name: "h1", state: .bound,
                          expiresAt: 100, updatedAt: 50)
        let released = Lease(address: IPv4Address(198, 18, 16, 12), mac: [0x52, 0x54, 0, 0, 0, 2], clientID: nil, pod: "p01",
                             location: nil, name: nil, state: .released, expiresAt: 100, updatedAt: 50)
        try leases.commit(leases: [lease, released], events: [])
        let expired: (Lease) -> ZoneEvent? = { ZoneEvent(type: .leaseExpired, address: $0.address, mac: "m", name: $0.name,
                                                         pod: $0.pod, location: $0.location, details: [:], at: 200) }
        #expect(try leases.reportExpiredLeases(now: 99, event: expired) == 0)
        #expect(try leases.reportExpiredLeases(now: 200, event: expired) == 1)
        #expect(try leases.reportExpiredLeases(now: 300, event: expired) == 0)
        // Renewed, then expired again: reported again.
        lease.expiresAt = 400
        try leases.commit(leases: [lease], events: [])
        #expect(try leases.reportExpiredLeases(now: 500, event: expired) == 1)
        // Where no hook wants it, the expiry is marked but no event is written.
        lease.expiresAt = 600
        try leases.commit(leases: [lease], events: [])
        #expect(try leases.reportExpiredLeases(now: 700) { _ in nil } == 0)
        #expect(try leases.reportExpiredLeases(now: 700, event: expired) == 0)
        #expect(try outbox.events(.all, limit: 10).map(\.type) == ["lease.expired", "lease.expired"])
    }

    /// Retention: delivered events older than the cutoff go, oldest first, in batches; pending,
    /// in-delivery, retrying and dead events stay whatever their age, and ids are never reused.
    @Test func onlyDeliveredEventsPastTheCutoffArePruned() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let (leases, outbox, _) = try open()
        try leases.commit(leases: [], events: (1...7).map { _ in event() })
        _ = try outbox.claimDue(nowMs: 0, limit: 7)
        try outbox.finish([
            DeliveryResult(id: 1, succeeded: ["a"], outcome: .delivered),
            DeliveryResult(id: 2, succeeded: ["a"], outcome: .delivered),
            DeliveryResult(id: 3, succeeded: [], outcome: .dead(error: "gave up")),
            DeliveryResult(id: 4, succeeded: [], outcome: .retry(atMs: 900_000, error: "later")),
        ], nowMs: 10_000)  // delivered at 10 s
        try outbox.finish([DeliveryResult(id: 5, succeeded: ["a"], outcome: .delivered)], nowMs: 500_000)  // at 500 s
        _ = try outbox.releaseClaims()  // 6 and 7 pending again
        _ = try outbox.claimDue(nowMs: 0, limit: 1)  // 6 in delivery
        #expect(try outbox.pruneDelivered(before: 10, limit: 100) == 0)  // strictly before
        #expect(try outbox.pruneDelivered(before: 11, limit: 1) == 1)
        #expect(try outbox.pruneDelivered(before: 11, limit: 100) == 1)
        #expect(try outbox.events(.all, limit: 10).map(\.id) == [7, 6, 5, 4, 3])
        #expect(try outbox.pruneDelivered(before: .max, limit: 100) == 1)
        let left = try outbox.events(.all, limit: 10)
        #expect(left.map(\.id) == [7, 6, 4, 3])
        #expect(left.map(\.state) == [.pending, .delivering, .pending, .dead])
        // Every delivered event is gone, the newest included: the next event still gets a fresh id.
        try leases.commit(leases: [], events: [event()])
        #expect(try outbox.events(.all, limit: 1).first?.id == 8)
    }

    @Test func aRegisteredBMCAndItsEventCommitTogether() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let (_, outbox, inventory) = try open()
        let record = BMCRecord(name: "h1-lom", address: "198.18.17.11", mac: "52:54:00:00:00:01", hostname: "h1-lom",
                               manufacturer: "HPE", model: "ProLiant DL360 Gen10", serial: "CZ1234", biosVersion: "U32",
                               bmcFirmware: "iLO 5 v2.72", registeredAt: 1)
        try inventory.record(record, event: event(.bmcDiscovered))
        #expect(try inventory.all() == [record])
        #expect(try outbox.events(.all, limit: 10).map(\.type) == ["bmc.discovered"])
    }

    /// The pin is kept with the record; a refusal raises its event once per presented certificate,
    /// and `forget` drops both so that the next registration pins afresh.
    @Test func aPinnedCertificateIsRefusedOnceAndForgottenOnRequest() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let (_, outbox, inventory) = try open()
        let pinned = "AA:01", other = "BB:02", third = "CC:03"
        #expect(try inventory.pinnedCertificate(name: "h1-lom") == nil)
        #expect(try !inventory.refuse(name: "h1-lom", presented: other, event: event(.bmcCertificateChanged)))
        #expect(try !inventory.forgetCertificate(name: "h1-lom"))
        let record = BMCRecord(name: "h1-lom", address: "198.18.17.11", mac: "52:54:00:00:00:01", hostname: "h1-lom",
                               manufacturer: nil, model: nil, serial: nil, biosVersion: nil, bmcFirmware: nil,
                               registeredAt: 1, certificateSHA256: pinned)
        try inventory.record(record, event: nil)
        #expect(try inventory.pinnedCertificate(name: "h1-lom") == pinned)
        // Every retry of one registration meets the same certificate: one event, not one per try.
        #expect(try inventory.refuse(name: "h1-lom", presented: other, event: event(.bmcCertificateChanged)))
        #expect(try !inventory.refuse(name: "h1-lom", presented: other, event: event(.bmcCertificateChanged)))
        #expect(try inventory.refuse(name: "h1-lom", presented: third, event: event(.bmcCertificateChanged)))
        #expect(try outbox.events(.all, limit: 10).map(\.type) == ["bmc.certificate-changed", "bmc.certificate-changed"])
        #expect(try inventory.all().first?.refusedSHA256 == third)
        #expect(try inventory.pinnedCertificate(name: "h1-lom") == pinned)
        #expect(try inventory.forgetCertificate(name: "h1-lom"))
        #expect(try inventory.pinnedCertificate(name: "h1-lom") == nil)
        let forgotten = try #require(try inventory.all().first)
        #expect(forgotten.certificateSHA256 == nil && forgotten.refusedSHA256 == nil && forgotten.registeredAt == 1)
    }
}
