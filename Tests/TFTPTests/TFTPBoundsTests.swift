import Testing
@testable import TFTP

/// What a stranger can make the server hold: time, counter keys, options, buffer bytes, slots, cache.
@Suite struct TFTPBoundsTests {
    // MARK: Time without progress

    /// A forged request asking `timeout 255` is never acknowledged: the retransmission timers
    /// alone (255 s doubling to 8x, five tries) would keep it about 2.2 hours.
    @Test func aNeverAcknowledgedTransferEndsAtTheProgressLimitWhateverTimeoutItAsked() {
        var machine = TFTPTransfer(fileSize: 5000, negotiation: TFTPNegotiation(options: [TFTPOption("timeout", "255")], fileSize: 5000),
                                   maximumRetries: 5, progressLimitMilliseconds: 30_000)
        #expect(Array(machine.handle(.start(now: 1_000)).send) == [.optionAcknowledgement([TFTPOption("timeout", "255")])])
        #expect(machine.deadline == 31_000)
        #expect(machine.handle(.tick(now: 30_999)) == TFTPTransfer.Actions())
        #expect(machine.handle(.tick(now: 31_000)).outcome == .stalled)
        #expect(machine.deadline == nil)
        #expect(!machine.hasProgressed)
    }

    @Test func theLimitCountsFromTheLastProgressAndRetransmissionsStillComeFirst() {
        var machine = TFTPTransfer(fileSize: 512 * 10, negotiation: TFTPNegotiation(options: [], fileSize: 512 * 10),
                                   maximumRetries: 20, progressLimitMilliseconds: 10_000)
        _ = machine.handle(.start(now: 0))
        #expect(machine.deadline == 1_000)
        _ = machine.handle(.acknowledgement(block: 1, now: 5_000))
        #expect(machine.hasProgressed)
        #expect(machine.deadline == 6_000)
        // Retransmissions at 6, 8, 12 s; the next would be at 20 s, past the limit of 15 s.
        for now: Int64 in [6_000, 8_000, 12_000] {
            #expect(machine.handle(.tick(now: now)).isRetransmission)
        }
        #expect(machine.deadline == 15_000)
        #expect(machine.handle(.tick(now: 15_000)).outcome == .stalled)
    }

    @Test func duplicateACKsAreNoProgress() {
        var machine = TFTPTransfer(fileSize: 5000, negotiation: TFTPNegotiation(options: [], fileSize: 5000),
                                   maximumRetries: 50, progressLimitMilliseconds: 3_000)
        _ = machine.handle(.start(now: 0))
        _ = machine.handle(.acknowledgement(block: 1, now: 100))
        for now in stride(from: Int64(200), to: 3_100, by: 100) {
            _ = machine.handle(.acknowledgement(block: 1, now: now))
            if let deadline = machine.deadline, now >= deadline { _ = machine.handle(.tick(now: now)) }
        }
        #expect(machine.handle(.tick(now: 3_100)).outcome == .stalled)
    }

    // MARK: Counter keys

    @Test func unknownOptionNamesShareOneCounterKey() {
        var keys: Set<String> = []
        for index in 0..<500 {
            let negotiation = TFTPNegotiation(options: [TFTPOption("x-\(index)", "1"), TFTPOption("BLKSIZE", "one")], fileSize: 1)
            keys.formUnion(negotiation.ignored.map(\.counterKey))
        }
        #expect(keys == ["other:unknown", "blksize:not-a-number"])
        #expect(TFTPIgnoredOption("Timeout", "out-of-range").counterKey == "timeout:out-of-range")
    }

    // MARK: Options per request

    @Test func tooManyOrTooLongOptionsAreRefusedWhole() {
        let limits = TFTPLimits()
        let sixteen = (0..<16).map { TFTPOption("o\($0)", "") }
        #expect(limits.refusal(of: sixteen) == nil)
        #expect(limits.refusal(of: sixteen + [TFTPOption("blksize", "1468")]) == .tooMany)
        #expect(limits.refusal(of: [TFTPOption(String(repeating: "n", count: 64), String(repeating: "7", count: 64))]) == nil)
        #expect(limits.refusal(of: [TFTPOption(String(repeating: "n", count: 65), "1")]) == .tooLong)
        #expect(limits.refusal(of: [TFTPOption("blksize", String(repeating: "1", count: 65))]) == .tooLong)
        // Bytes, not characters: 22 three-byte characters are 66 bytes.
        #expect(limits.refusal(of: [TFTPOption(String(repeating: "€", count: 22), "")]) == .tooLong)
    }

    // MARK: Buffer bytes

    @Test func aWindowShrinksToTheBudgetAndTheOACKSaysSo() {
        let asked = [TFTPOption("blksize", "65464"), TFTPOption("windowsize", "64"), TFTPOption("tsize", "0")]
        let full = TFTPNegotiation(options: asked, fileSize: 9)
        #expect(full.windowBytes == 65468 * 64)
        #expect(!full.reducedToBudget)
        let fitted = TFTPNegotiation(options: asked, fileSize: 9, windowByteBudget: 65468 * 5 + 100)
        #expect(fitted.windowSize == 5 && fitted.blockSize == 65464)
        #expect(fitted.reducedToBudget)
        #expect(fitted.acknowledged == [TFTPOption("blksize", "65464"), TFTPOption("windowsize", "5"), TFTPOption("tsize", "9")])
        // Less than one block of the size asked: one smaller block.
        let small = TFTPNegotiation(options: asked, fileSize: 9, windowByteBudget: 1472)
        #expect(small.windowSize == 1 && small.blockSize == 1468 && small.windowBytes == 1472)
        #expect(small.acknowledged.first == TFTPOption("blksize", "1468"))
        // Without a blksize option the client reads 512-byte blocks: those never change.
        let plain = TFTPNegotiation(options: [TFTPOption("windowsize", "16")], fileSize: 9,
                                    windowByteBudget: TFTPNegotiation.minimumWindowBytes)
        #expect(plain.blockSize == 512 && plain.windowSize == 1 && plain.acknowledged == [TFTPOption("windowsize", "1")])
    }

    // MARK: Slots

    @Test func aFullTableEvictsTheOldestNeverAcknowledgedTransfer() throws {
        var table = TFTPAdmissionTable(maximumTransfers: 3, maximumPerClient: 16, bufferBudget: 1 << 20)
        let first = try table.admit(client: 1, wantedBytes: 1000, minimumBytes: 516).get()
        let second = try table.admit(client: 2, wantedBytes: 1000, minimumBytes: 516).get()
        let third = try table.admit(client: 3, wantedBytes: 1000, minimumBytes: 516).get()
        table.acknowledged(first.ticket)
        let fourth = try table.admit(client: 4, wantedBytes: 1000, minimumBytes: 516).get()
        #expect(fourth.evicted == [second.ticket])
        #expect(!table.isAdmitted(second.ticket) && table.isAdmitted(first.ticket))
        #expect(table.count == 3 && table.bytesInUse == 3000)
        table.acknowledged(third.ticket)
        table.acknowledged(fourth.ticket)
        // Every transfer was acknowledged: nothing to evict, the newcomer is refused.
        #expect(table.admit(client: 5, wantedBytes: 1000, minimumBytes: 516) == .failure(.busyTotal))
        table.release(first.ticket)
        table.release(first.ticket)  // twice: ignored
        #expect(try table.admit(client: 5, wantedBytes: 1000, minimumBytes: 516).get().evicted == [])
        #expect(table.count == 3)
    }

    @Test func aFloodOfForgedRequestsNeverLocksTheTable() throws {
        var table = TFTPAdmissionTable(maximumTransfers: 1024, maximumPerClient: 16, bufferBudget: 1 << 30)
        for index in 0..<100_000 {
            // Each forged source is another address; none ever acknowledges.
            _ = try table.admit(client: UInt32(index), wantedBytes: 70_000, minimumBytes: 516).get()
        }
        #expect(table.count == 1024)
        let real = try table.admit(client: 0xC612_0001, wantedBytes: 70_000, minimumBytes: 516).get()
        table.acknowledged(real.ticket)
        for index in 0..<5_000 {
            _ = try table.admit(client: UInt32(index), wantedBytes: 70_000, minimumBytes: 516).get()
        }
        #expect(table.isAdmitted(real.ticket))
        #expect(table.count == 1024)
    }

    @Test func theByteBudgetGrantsWhatIsLeftAndEvictsOnlyForTheLeast() throws {
        var table = TFTPAdmissionTable(maximumTransfers: 100, maximumPerClient: 100, bufferBudget: 10_000)
        let big = try table.admit(client: 1, wantedBytes: 8_000, minimumBytes: 500).get()
        #expect(big.bytes == 8_000)
        let rest = try table.admit(client: 1, wantedBytes: 8_000, minimumBytes: 500).get()
        #expect(rest.bytes == 2_000 && rest.evicted.isEmpty)
        table.shrink(rest.ticket, to: 1_500)
        #expect(table.bytesInUse == 9_500)
        table.acknowledged(big.ticket)
        // 500 left fits the least; the next one needs room: the unacknowledged `rest` goes.
        #expect(try table.admit(client: 2, wantedBytes: 8_000, minimumBytes: 500).get().bytes == 500)
        let evicting = try table.admit(client: 3, wantedBytes: 8_000, minimumBytes: 500).get()
        #expect(evicting.evicted == [rest.ticket])
        #expect(table.bytesInUse <= 10_000)
        #expect(table.admit(client: 4, wantedBytes: 1, minimumBytes: 20_000) == .failure(.busyMemory))
    }

    /// A budget that holds every slot's least keeps it for them: greedy windows, acknowledged
    /// and never evictable, take only what is beyond those reserves.
    @Test func greedyWindowsNeverTakeTheLeastOfTheFreeSlots() throws {
        var table = TFTPAdmissionTable(maximumTransfers: 4, maximumPerClient: 16, bufferBudget: 1000)
        var granted: [Int] = []
        for client in UInt32(1)...4 {
            let admission = try table.admit(client: client, wantedBytes: 10_000, minimumBytes: 100).get()
            #expect(admission.evicted.isEmpty)
            table.acknowledged(admission.ticket)
            granted.append(admission.bytes)
        }
        #expect(granted == [700, 100, 100, 100])
        #expect(table.bytesInUse == 1000)
        #expect(table.admit(client: 5, wantedBytes: 100, minimumBytes: 100) == .failure(.busyTotal))
    }

    @Test func noSlotShrinksBelowItsLeast() throws {
        var table = TFTPAdmissionTable(maximumTransfers: 2, maximumPerClient: 16, bufferBudget: 1000)
        let admission = try table.admit(client: 1, wantedBytes: 600, minimumBytes: 100).get()
        table.shrink(admission.ticket, to: 12)
        #expect(table.bytesInUse == 100)
    }

    @Test func perClientLimitIsNeverLiftedByEviction() throws {
        var table = TFTPAdmissionTable(maximumTransfers: 10, maximumPerClient: 2, bufferBudget: 1 << 20)
        _ = try table.admit(client: 7, wantedBytes: 1, minimumBytes: 1).get()
        _ = try table.admit(client: 7, wantedBytes: 1, minimumBytes: 1).get()
        #expect(table.admit(client: 7, wantedBytes: 1, minimumBytes: 1) == .failure(.busyClient))
    }

    @Test func theEvictionQueueStaysSmallWhenNothingIsEvicted() throws {
        var table = TFTPAdmissionTable(maximumTransfers: 4, maximumPerClient: 4, bufferBudget: 1 << 20)
        for _ in 0..<100_000 {
            let admission = try table.admit(client: 1, wantedBytes: 10, minimumBytes: 10).get()
            table.acknowledged(admission.ticket)
            table.release(admission.ticket)
        }
        #expect(table.count == 0 && table.bytesInUse == 0)
        #expect(table.queuedTickets < 200)
    }

    // MARK: The upstream cache

    @Test func theCacheEvictsTheLeastRecentlyUsedToStayUnderItsCap() {
        var index = TFTPCacheIndex(capacity: 1000)
        #expect(index.reserve(400, for: "a") == .granted(evict: []))
        index.commit("a", size: 400)
        #expect(index.reserve(400, for: "b") == .granted(evict: []))
        index.commit("b", size: 400)
        index.used("a")
        #expect(index.reserve(400, for: "c") == .granted(evict: ["b"]))
        #expect(index.storedBytes + index.reservedBytes == 800)
        index.commit("c", size: 400)
        #expect(index.paths == ["a", "c"])
        #expect(index.reserve(1001, for: "huge") == .tooLarge)
        #expect(index.paths == ["a", "c"])
    }

    @Test func fillsInProgressHoldTheirRoomAndAreNeverEvicted() {
        var index = TFTPCacheIndex(capacity: 1000)
        #expect(index.reserve(600, for: "x") == .granted(evict: []))
        #expect(index.reserve(600, for: "y") == .full)
        index.cancel("x")
        #expect(index.reservedBytes == 0)
        #expect(index.reserve(600, for: "y") == .granted(evict: []))
        // A revalidation's fill may push out the old copy of its own file.
        index.commit("y", size: 600)
        #expect(index.reserve(700, for: "y") == .granted(evict: ["y"]))
        index.commit("y", size: 700)
        #expect(index.storedBytes == 700 && index.reservedBytes == 0)
    }

    @Test func aLoweredCapEvictsAtStartup() {
        var index = TFTPCacheIndex(capacity: 1000)
        #expect(index.insert("old", size: 600) == [])
        #expect(index.insert("new", size: 600) == ["old"])
        #expect(index.insert("giant", size: 2000) == ["giant"])
        #expect(index.paths == ["new"] && index.storedBytes == 600)
    }
}
