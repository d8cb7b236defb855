import Store
import Testing

@Suite struct OutboxDoorbellTests {
    @Test func aRingBeforeTheWaitIsKeptForItOnce() async {
        let doorbell = OutboxDoorbell()
        doorbell.ring()
        doorbell.ring()
        #expect(await doorbell.wait(atMost: .seconds(120)))
        #expect(await !doorbell.wait(atMost: .milliseconds(20)))
    }

    @Test func aRingWakesTheWaiter() async {
        let doorbell = OutboxDoorbell()
        // The waiter may start before or after the ring: either way it is woken, long before its timeout.
        async let woken = doorbell.wait(atMost: .seconds(600))
        doorbell.ring()
        #expect(await woken)
    }

    @Test func aCancelledWaitEndsUnrungAndLeavesTheNextRingForTheNextWait() async {
        let doorbell = OutboxDoorbell()
        let waiting = Task { await doorbell.wait(atMost: .seconds(600)) }
        waiting.cancel()
        #expect(await !waiting.value)
        doorbell.ring()
        #expect(await doorbell.wait(atMost: .seconds(120)))
    }
}
