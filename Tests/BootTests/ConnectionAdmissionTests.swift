import Boot
import Testing

/// Which connections an HTTP listener keeps when strangers hold many open.
@Suite struct ConnectionAdmissionTests {
    typealias Admission = ConnectionAdmission<Int, String>

    @Test func oneAddressGetsOnlyItsShare() {
        var admission = Admission(maxConnections: 100, maxPerSource: 3)
        for connection in 0..<3 { #expect(admission.admit(connection, from: "stranger", now: 1) == .admitted) }
        #expect(admission.admit(3, from: "stranger", now: 2) == .refusedSourceFull)
        #expect(admission.admit(4, from: "host", now: 2) == .admitted)
        #expect(admission.connections(from: "stranger") == 3)
        // A closed connection gives its source's slot back.
        admission.closed(0)
        #expect(admission.admit(5, from: "stranger", now: 3) == .admitted)
    }

    @Test func atTheCapANewConnectionReplacesTheLongestIdle() {
        var admission = Admission(maxConnections: 3, maxPerSource: 10)
        #expect(admission.admit(1, from: "a", now: 10) == .admitted)
        #expect(admission.admit(2, from: "b", now: 20) == .admitted)
        #expect(admission.admit(3, from: "c", now: 30) == .admitted)
        #expect(admission.admit(4, from: "d", now: 40) == .admittedEvicting(1))
        #expect(admission.count == 3)
        #expect(admission.connections(from: "a") == 0)
        // The evicted connection's own close later changes nothing.
        admission.closed(1)
        #expect(admission.count == 3)
    }

    @Test func busyConnectionsAreNeverEvictedAndWhenAllAreBusyNewOnesAreRefused() {
        var admission = Admission(maxConnections: 2, maxPerSource: 10)
        _ = admission.admit(1, from: "a", now: 10)
        _ = admission.admit(2, from: "b", now: 20)
        admission.busy(1)
        #expect(admission.admit(3, from: "c", now: 30) == .admittedEvicting(2))
        admission.busy(3)
        #expect(admission.admit(4, from: "d", now: 40) == .refusedFull)
        // Idle again after its answer: idle since then, so the longest idle is decided by that time.
        admission.idle(3, now: 50)
        admission.idle(1, now: 60)
        #expect(admission.admit(5, from: "e", now: 70) == .admittedEvicting(3))
    }

    @Test func anIdleMarkDoesNotRestartAnIdleConnectionsClock() {
        var admission = Admission(maxConnections: 2, maxPerSource: 10)
        _ = admission.admit(1, from: "a", now: 10)
        _ = admission.admit(2, from: "b", now: 20)
        admission.idle(1, now: 30)  // still idle since 10
        #expect(admission.admit(3, from: "c", now: 40) == .admittedEvicting(1))
    }

    @Test func limitsBelowOneAreOneAndUnknownConnectionsAreIgnored() {
        var admission = Admission(maxConnections: 0, maxPerSource: -5)
        #expect(admission.maxConnections == 1 && admission.maxPerSource == 1)
        admission.busy(42)
        admission.idle(42, now: 1)
        admission.closed(42)
        #expect(admission.admit(1, from: "a", now: 1) == .admitted)
        #expect(admission.admit(1, from: "a", now: 2) == .admitted)
        #expect(admission.count == 1)
    }

    @Test func aStrangerWithManyAddressesCannotKeepAHostOut() {
        // 2,000 idle connections from 40 addresses against a cap of 1,024, then a host connects.
        var admission = Admission(maxConnections: 1024, maxPerSource: 64)
        var refused = 0
        for connection in 0..<2000 {
            switch admission.admit(connection, from: "stranger-\(connection % 40)", now: UInt64(connection)) {
            case .refusedFull, .refusedSourceFull: refused += 1
            case .admitted, .admittedEvicting: break
            }
        }
        #expect(refused == 0)
        #expect(admission.count == 1024)
        #expect(admission.admit(9999, from: "host", now: 5000) == .admittedEvicting(976))
    }
}
