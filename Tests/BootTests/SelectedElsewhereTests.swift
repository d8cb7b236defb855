import Boot
import Testing

@Suite struct SelectedElsewhereTests {
    let mac: [UInt8] = [0x52, 0x55, 0, 0, 0, 1]

    @Test func aDiscoverReceivedBeforeItsRequestForAnotherServerIsOvertaken() {
        var selected = SelectedElsewhere()
        #expect(!selected.overtakes(mac: mac, xid: 7, receivedAt: 100))
        selected.record(mac: mac, xid: 7, receivedAt: 200)
        // The exchange's own DISCOVER, received first and decided after the REQUEST.
        #expect(selected.overtakes(mac: mac, xid: 7, receivedAt: 100))
        // A client starting over afterwards is answered, even with the same xid...
        #expect(!selected.overtakes(mac: mac, xid: 7, receivedAt: 300))
        // ...and another exchange, or another machine, is none of its business.
        #expect(!selected.overtakes(mac: mac, xid: 8, receivedAt: 100))
        #expect(!selected.overtakes(mac: [0x52, 0x55, 0, 0, 0, 2], xid: 7, receivedAt: 100))
    }

    @Test func itForgetsTheOldestPastItsCapacityAndNeverGrowsBeyondIt() {
        var selected = SelectedElsewhere()
        let base = SelectedElsewhere.horizonNs
        for n in 0..<(SelectedElsewhere.capacity + 100) {
            selected.record(mac: mac, xid: UInt32(n), receivedAt: base + Int64(n))
        }
        #expect(selected.count <= SelectedElsewhere.capacity)
        // The newest are kept, the oldest went.
        let newest = UInt32(SelectedElsewhere.capacity + 99)
        #expect(selected.overtakes(mac: mac, xid: newest, receivedAt: base))
        #expect(!selected.overtakes(mac: mac, xid: 0, receivedAt: 0))
        // Entries past the horizon go first when it fills again.
        var aged = SelectedElsewhere()
        for n in 0..<SelectedElsewhere.capacity { aged.record(mac: mac, xid: UInt32(n), receivedAt: Int64(n)) }
        aged.record(mac: mac, xid: 1_000_000, receivedAt: 3 * base)
        #expect(aged.count == 1)
    }
}
