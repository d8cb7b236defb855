import Addressing
import Boot
@testable import Server
import Synchronization
import Testing
import Zone

@Suite struct CommittedLeasesTests {
    /// The observer is called once per published batch, with what each address held before,
    /// however many batches came before: 100,000 batches, a day of group commits on a busy
    /// pod. (Held as a `Mutex`'s value itself, the closure grew by two thunks per batch, and
    /// calling it soon overflowed the stack.)
    @Test func theObserverSeesEveryBatchAndItsCostDoesNotGrow() {
        let leases = CommittedLeases([])
        let seen = Mutex((batches: 0, renewals: 0))
        leases.observe { changes in
            seen.withLock { seen in
                seen.batches += 1
                seen.renewals += changes.filter { $0.previous != nil }.count
            }
        }
        var lease = Lease(address: IPv4Address(198, 18, 16, 17), mac: [2, 0, 0, 0, 0, 7], clientID: nil, pod: "p01",
                          location: Location(pod: "p01", switch: "tor-a", port: "swp7"), name: "h",
                          state: .bound, expiresAt: 2_000_000_000, updatedAt: 1_900_000_000)
        for second in 0..<100_000 {
            lease.updatedAt = 1_900_000_000 + Int64(second)
            leases.record([lease])
        }
        #expect(seen.withLock { $0.batches } == 100_000)
        #expect(seen.withLock { $0.renewals } == 99_999)
        #expect(leases.lease(address: lease.address)?.updatedAt == 1_900_099_999)
    }
}
