import Boot
import Etcd
import Foundation
import Store
import TestSupport
import Testing
import Zone

private func event(_ n: Int) -> ZoneEvent {
    ZoneEvent.zoneApplied(revision: n, zone: "a", author: "ops", summary: "event \(n)", basedOn: nil, at: 1_000 + Int64(n))
}

/// The shared outbox's claims, takeovers and hand-overs, two hosts on one in-memory keyspace
/// (the real etcd, its leases and kill -9 are met in tests/e2e/test_etcd_outbox.py).
final class EtcdEventOutboxTests {
    let etcd = InMemoryEtcd()
    let keys = EtcdOutboxKeys(EtcdZoneKeys(prefix: "/zoneboot/ams1"))
    var folders: [String] = []

    deinit { for folder in folders { try? FileManager.default.removeItem(atPath: folder) } }

    private func host(_ origin: String) throws -> (outbox: EtcdEventOutbox, local: SQLiteEventOutbox) {
        let folder = NSTemporaryDirectory() + "zoneboot-etcd-outbox-\(UUID().uuidString)"
        folders.append(folder)
        let local = try SQLiteEventOutbox(stateDirectory: folder)
        return (EtcdEventOutbox(local: local, kv: etcd, lease: EtcdHostLease(leasing: etcd, ttlSeconds: 10), keys: keys,
                                origin: origin), local)
    }

    /// The lease a claim key is attached to.
    private func claimLease() async throws -> Int64 {
        try #require(try await etcd.range(.prefix(keys.claims)).kvs.first).lease
    }

    @Test func eventsOfTwoHostsAreHandedOverAndEachIsClaimedByOneHost() async throws {
        let (a, localA) = try host("host-a"), (b, localB) = try host("host-b")
        try localA.append((1...3).map(event))
        try localB.append((4...5).map(event))
        let claimedA = try await a.claimDue(nowMs: 10_000, limit: 10, settling: [])
        let claimedB = try await b.claimDue(nowMs: 10_000, limit: 10, settling: [])
        // A handed over its three and claimed them; B handed over its two and claimed only those.
        #expect(claimedA.map(\.event) == (1...3).map(event) && claimedA.allSatisfy { $0.attempt == 1 })
        #expect(claimedB.map(\.event) == (4...5).map(event))
        #expect(Set(claimedA.map(\.id)).isDisjoint(with: claimedB.map(\.id)))
        #expect(try localA.count(.undelivered) == 0 && localB.count(.undelivered) == 0)
        #expect(try await b.claimDue(nowMs: 20_000, limit: 10, settling: []).isEmpty)

        try await a.finish(claimedA.map { DeliveryResult(id: $0.id, succeeded: ["log"], outcome: .delivered) }, nowMs: 11_000)
        try await b.finish(claimedB.map { DeliveryResult(id: $0.id, succeeded: ["log"], outcome: .delivered) }, nowMs: 11_000)
        // Either host shows the zone's events, with the ids hooks saw.
        let shown = try await b.events(.all, limit: 10)
        #expect(Set(shown.map(\.id)) == Set((claimedA + claimedB).map(\.id)))
        #expect(shown.allSatisfy { $0.state == .delivered && $0.attempts == 1 })
        #expect(try await a.count(.undelivered) == 0)
        #expect(try await etcd.range(.prefix(keys.claims)).kvs.isEmpty)
    }

    @Test func aHostThatDiesMidHookLosesItsClaimAndAnotherDeliversWithTheSameKey() async throws {
        let (a, localA) = try host("host-a"), (b, _) = try host("host-b")
        try localA.append([event(1)])
        let first = try #require(try await a.claimDue(nowMs: 10_000, limit: 10, settling: []).first)
        #expect(try await b.claimDue(nowMs: 10_100, limit: 10, settling: []).isEmpty)
        #expect(try await a.events(.all, limit: 10).map(\.state) == [.delivering])

        // A dies: its lease is not renewed and expires; B takes the event over.
        etcd.expireLease(try await claimLease())
        let again = try #require(try await b.claimDue(nowMs: 10_300, limit: 10, settling: []).first)
        #expect(again.id == first.id && again.event == first.event && again.attempt == 2)

        // A's late outcome is not recorded (its claim is gone); B's is.
        try await a.finish([DeliveryResult(id: first.id, succeeded: ["log"], outcome: .delivered)], nowMs: 10_400)
        #expect(try await a.events(.all, limit: 10).map(\.state) == [.delivering])
        try await b.finish([DeliveryResult(id: again.id, succeeded: ["log"], outcome: .delivered)], nowMs: 10_500)
        let shown = try await a.events(.all, limit: 10)
        #expect(shown.map(\.state) == [.delivered] && shown.map(\.attempts) == [2])
    }

    @Test func aFailedTryIsRetriedByAnyHostWithTheHooksThatTookItRemembered() async throws {
        let (a, localA) = try host("host-a"), (b, _) = try host("host-b")
        try localA.append([event(1)])
        let first = try #require(try await a.claimDue(nowMs: 10_000, limit: 10, settling: []).first)
        try await a.finish([DeliveryResult(id: first.id, succeeded: ["cmdb"], outcome: .retry(atMs: 12_000, error: "hook x: 503"))],
                           nowMs: 10_100)
        #expect(try await b.claimDue(nowMs: 11_000, limit: 10, settling: []).isEmpty)
        let second = try #require(try await b.claimDue(nowMs: 12_000, limit: 10, settling: []).first)
        #expect(second.id == first.id && second.attempt == 2 && second.doneHooks == ["cmdb"])
        try await b.finish([DeliveryResult(id: second.id, succeeded: [], outcome: .dead(error: "hook x: 503"))], nowMs: 12_100)
        let dead = try await a.events(.dead, limit: 10)
        #expect(dead.map(\.id) == [first.id] && dead.first?.lastError == "hook x: 503")
        #expect(try await a.count(.dead) == 1)
        #expect(try await b.claimDue(nowMs: 99_000, limit: 10, settling: []).isEmpty)

        #expect(try await b.retry(id: first.id + 1, nowMs: 13_000) == false)
        #expect(try await b.retry(id: first.id, nowMs: 13_000))
        let third = try #require(try await a.claimDue(nowMs: 13_000, limit: 10, settling: []).first)
        #expect(third.id == first.id && third.attempt == 1)
    }

    @Test func withEtcdOutOfReachEventsWaitLocallyAndNothingIsLost() async throws {
        let (a, localA) = try host("host-a")
        try localA.append([event(1), event(2)])
        etcd.failing(.unreachable(endpoints: etcd.endpointList, lastError: "connection refused"))
        // Reported once, then quiet while it lasts.
        await #expect(throws: EtcdError.self) { try await a.claimDue(nowMs: 10_000, limit: 10, settling: []) }
        #expect(try await a.claimDue(nowMs: 11_000, limit: 10, settling: []).isEmpty)
        #expect(try localA.count(.undelivered) == 2)
        etcd.failing(nil)
        let claimed = try await a.claimDue(nowMs: 12_000, limit: 10, settling: [])
        #expect(claimed.map(\.event) == [event(1), event(2)])
        #expect(try localA.count(.undelivered) == 0)
    }

    @Test func anEventHandedOverTwiceIsOneEvent() async throws {
        let (a, localA) = try host("host-a")
        try localA.append([event(1)])
        // The hand-over commits, its answer is lost: the event stays due locally and is handed over again.
        etcd.loseNextTxnAnswer()
        _ = try? await a.claimDue(nowMs: 10_000, limit: 0, settling: [])
        #expect(try localA.count(.undelivered) == 1)
        _ = try await a.claimDue(nowMs: 11_000, limit: 0, settling: [])
        #expect(try localA.count(.undelivered) == 0)
        #expect(try await etcd.range(.prefix(keys.events)).kvs.count == 1)
    }

    @Test func aClaimWhoseAnswerWasLostIsReleasedAndTheEventClaimedAgain() async throws {
        let (a, localA) = try host("host-a"), (b, _) = try host("host-b")
        try localA.append([event(1)])
        _ = try await a.claimDue(nowMs: 10_000, limit: 0, settling: [])
        etcd.loseNextTxnAnswer()
        await #expect(throws: EtcdError.self) { try await a.claimDue(nowMs: 10_100, limit: 10, settling: []) }
        // Claimed on A's lease without A knowing: B cannot take it, A releases it at its next poll.
        #expect(try await b.claimDue(nowMs: 10_200, limit: 10, settling: []).isEmpty)
        #expect(try await a.claimDue(nowMs: 10_300, limit: 10, settling: []).isEmpty)
        #expect(try await etcd.range(.prefix(keys.claims)).kvs.isEmpty)
        let claimed = try #require(try await b.claimDue(nowMs: 10_400, limit: 10, settling: []).first)
        #expect(claimed.event == event(1))
    }

    @Test func eventsNoHookWantsAreSettledLocallyAndNeverReachEtcd() async throws {
        let (a, localA) = try host("host-a")
        try localA.append([event(1)])
        #expect(try await a.claimDue(nowMs: 10_000, limit: 10, settling: [.zoneApplied]).isEmpty)
        #expect(try localA.count(.undelivered) == 0)
        #expect(try await etcd.range(.prefix(keys.events)).kvs.isEmpty)
    }

    @Test func onlyDueUnclaimedLiveEventsAreClaimableLongestDueFirst() {
        func candidate(_ name: String, next: Int64, dead: Int64? = nil) -> EtcdOutboxPlan.Candidate {
            EtcdOutboxPlan.Candidate(name: name, due: EtcdOutboxDue(nextAttemptMs: next, deadAt: dead), modRevision: 1)
        }
        let all = [candidate("a", next: 5), candidate("b", next: 1), candidate("c", next: 50), candidate("d", next: 1, dead: 9),
                   candidate("e", next: 2)]
        #expect(EtcdOutboxPlan.claimable(all, claimed: ["e"], nowMs: 10, limit: 10).map(\.name) == ["b", "a"])
        #expect(EtcdOutboxPlan.claimable(all, claimed: [], nowMs: 10, limit: 1).map(\.name) == ["b"])
        // Ids: one per event of a transaction, never the same for two revisions.
        #expect(EtcdOutboxPlan.eventID(createRevision: 7, batch: 49) == 749)
        #expect(EtcdOutboxPlan.eventID(createRevision: 8, batch: 0) > EtcdOutboxPlan.eventID(createRevision: 7, batch: 49))
    }

    @Test func theClaimLeaseIsRenewedEveryThirdOfItsTTLAndGrantedAnewWhenItExpired() {
        var schedule = EtcdLeaseSchedule(ttlSeconds: 9)
        #expect(schedule.next(nowMs: 0) == .grant)
        schedule.answered(EtcdLease(id: 7, ttl: 9), nowMs: 0)
        #expect(schedule.next(nowMs: 2_999) == .keep(7))
        #expect(schedule.next(nowMs: 3_000) == .renew(7))
        schedule.failed(nowMs: 8_999)
        #expect(schedule.next(nowMs: 8_999) == .renew(7))
        schedule.failed(nowMs: 9_000)
        #expect(schedule.next(nowMs: 9_000) == .grant)
        schedule.answered(EtcdLease(id: 8, ttl: 9), nowMs: 9_000)
        schedule.answered(EtcdLease(id: 8, ttl: 0), nowMs: 12_000)
        #expect(schedule.next(nowMs: 12_000) == .grant)
    }

    @Test func oneHostLeaseServesEveryUserAndIsGrantedOnceWhenTheyAskTogether() async throws {
        let etcd = InMemoryEtcd()
        let lease = EtcdHostLease(leasing: etcd, ttlSeconds: 9)
        #expect(lease.renewedMs == nil)
        // The discovery claimer and the outbox ask at once, before any lease exists.
        let asked = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<8 { group.addTask { try await lease.current(nowMs: 1_000) } }
            return try await group.reduce(into: Set<Int64>()) { $0.insert($1) }
        }
        #expect(asked.count == 1 && etcd.liveLeaseCount == 1)
        #expect(lease.renewedMs == 1_000)
        // Renewed, not granted again, when a third of the TTL has passed.
        #expect(try await lease.current(nowMs: 4_000) == asked.first)
        #expect(lease.renewedMs == 4_000 && etcd.liveLeaseCount == 1)
        // A clean stop revokes it, and no user gets a new one after.
        await lease.revoke()
        #expect(etcd.liveLeaseCount == 0)
        await #expect(throws: EtcdError.self) { try await lease.current(nowMs: 5_000) }
        #expect(etcd.liveLeaseCount == 0)
    }
}
