import TestSupport
import Testing
@testable import TFTP

/// The data blocks in a list of outgoing packets, as (wire block, index, count).
func dataBlocks(_ send: TFTPTransfer.Sends) -> [(block: UInt16, index: UInt64, count: Int)] {
    send.compactMap {
        if case .data(let block, let index, _, let count) = $0 { return (block, index, count) }
        return nil
    }
}

func transfer(size: UInt64, _ options: [TFTPOption] = [], retries: Int = 5) -> TFTPTransfer {
    TFTPTransfer(fileSize: size, negotiation: TFTPNegotiation(options: options, fileSize: size), maximumRetries: retries)
}

@Suite struct TFTPTransferTests {
    @Test func plainTransferWithoutOptionsSendsDataAtOnceAndEndsOnTheShortBlock() {
        var machine = transfer(size: 1000)
        let first = machine.handle(.start(now: 0))
        #expect(Array(first.send) == [.data(block: 1, index: 1, offset: 0, count: 512)])
        let second = machine.handle(.acknowledgement(block: 1, now: 1))
        #expect(Array(second.send) == [.data(block: 2, index: 2, offset: 512, count: 488)])
        #expect(machine.handle(.acknowledgement(block: 2, now: 2)).outcome == .completed)
        #expect(machine.isFinished)
    }

    @Test func aMultipleOfTheBlockSizeEndsWithAnEmptyBlock() {
        var machine = transfer(size: 1024)
        _ = machine.handle(.start(now: 0))
        _ = machine.handle(.acknowledgement(block: 1, now: 0))
        #expect(Array(machine.handle(.acknowledgement(block: 2, now: 0)).send) == [.data(block: 3, index: 3, offset: 1024, count: 0)])
        #expect(machine.handle(.acknowledgement(block: 3, now: 0)).outcome == .completed)
        var empty = transfer(size: 0)
        #expect(Array(empty.handle(.start(now: 0)).send) == [.data(block: 1, index: 1, offset: 0, count: 0)])
        #expect(empty.handle(.acknowledgement(block: 1, now: 0)).outcome == .completed)
    }

    @Test func optionsGoOutInAnOACKAndDataWaitsForACKZero() {
        var machine = transfer(size: 3000, [TFTPOption("blksize", "1468"), TFTPOption("tsize", "0")])
        #expect(Array(machine.handle(.start(now: 0)).send) == [.optionAcknowledgement([TFTPOption("blksize", "1468"), TFTPOption("tsize", "3000")])])
        #expect(machine.handle(.acknowledgement(block: 1, now: 0)).ignored == .acknowledgementOfUnsentBlock)
        #expect(Array(machine.handle(.acknowledgement(block: 0, now: 0)).send) == [.data(block: 1, index: 1, offset: 0, count: 1468)])
    }

    /// OVMF asks for tsize alone, reads it from the OACK and aborts with error 8, then asks again.
    @Test func tsizeOnlyProbeEndsCleanlyOnTheClientsError() {
        var machine = transfer(size: 1_000_000, [TFTPOption("tsize", "0")])
        #expect(Array(machine.handle(.start(now: 0)).send) == [.optionAcknowledgement([TFTPOption("tsize", "1000000")])])
        let aborted = machine.handle(.clientError(code: 8, message: "User aborted the transfer"))
        #expect(aborted.outcome == .abortedByClient(code: 8, message: "User aborted the transfer"))
        #expect(aborted.send.isEmpty)
        #expect(machine.deadline == nil)
        #expect(machine.handle(.tick(now: 100_000)) == TFTPTransfer.Actions(ignored: .afterEnd))
        #expect(machine.handle(.acknowledgement(block: 0, now: 1)).ignored == .afterEnd)
    }

    @Test func duplicateACKsNeverCauseDuplicateSends() {
        var machine = transfer(size: 5000)
        _ = machine.handle(.start(now: 0))
        #expect(dataBlocks(machine.handle(.acknowledgement(block: 1, now: 1)).send).map(\.block) == [2])
        for _ in 0..<10 {
            let duplicate = machine.handle(.acknowledgement(block: 1, now: 2))
            #expect(duplicate.send.isEmpty)
            #expect(duplicate.ignored == .duplicateAcknowledgement)
        }
        #expect(dataBlocks(machine.handle(.acknowledgement(block: 2, now: 3)).send).map(\.block) == [3])
    }

    @Test func acksForBlocksNeverSentAreIgnored() {
        var machine = transfer(size: 5000)
        _ = machine.handle(.start(now: 0))
        #expect(machine.handle(.acknowledgement(block: 2, now: 0)).ignored == .acknowledgementOfUnsentBlock)
        #expect(machine.handle(.acknowledgement(block: 9000, now: 0)).ignored == .acknowledgementOfUnsentBlock)
        #expect(machine.acknowledgedBlocks == 0)
        _ = machine.handle(.acknowledgement(block: 1, now: 0))
        _ = machine.handle(.acknowledgement(block: 2, now: 0))
        #expect(machine.handle(.acknowledgement(block: 1, now: 0)).ignored == .staleAcknowledgement)
        #expect(machine.acknowledgedBlocks == 2)
    }

    @Test func windowsGoOutWholeAndAGapRestartsTheWindowAfterIt() {
        var machine = transfer(size: 512 * 40, [TFTPOption("windowsize", "16")])
        _ = machine.handle(.start(now: 0))
        #expect(dataBlocks(machine.handle(.acknowledgement(block: 0, now: 0)).send).map(\.block) == Array(1...16))
        // ACKs inside the window are not acted on twice: the client reports a gap after block 10.
        let gap = machine.handle(.acknowledgement(block: 10, now: 1))
        #expect(gap.isRetransmission)
        #expect(dataBlocks(gap.send).map(\.block) == Array(11...26))
        #expect(machine.handle(.acknowledgement(block: 10, now: 1)).ignored == .duplicateAcknowledgement)
        #expect(dataBlocks(machine.handle(.acknowledgement(block: 26, now: 2)).send).map(\.block) == Array(27...41))
        #expect(machine.handle(.acknowledgement(block: 41, now: 3)).outcome == .completed)
    }

    @Test func blockNumbersWrapAfter65535() {
        // 64 MiB at 512: 131,073 blocks, wire numbers 1...65535, 0, 1, ... (tftpd-hpa's rollover to 0).
        let size: UInt64 = 64 << 20
        var machine = transfer(size: size)
        var sent = dataBlocks(machine.handle(.start(now: 0)).send)
        var bytes: UInt64 = 0
        var wires: [UInt16] = []
        while let block = sent.first {
            bytes += UInt64(block.count)
            if block.index >= 65534 && block.index <= 65538 { wires.append(block.block) }
            let actions = machine.handle(.acknowledgement(block: block.block, now: 0))
            if actions.outcome == .completed { break }
            #expect(actions.ignored == nil)
            sent = dataBlocks(actions.send)
        }
        #expect(machine.isFinished)
        #expect(machine.acknowledgedBlocks == 131_073)
        #expect(bytes == size)
        #expect(wires == [65534, 65535, 0, 1, 2])
    }

    @Test func windowsSpanTheWrap() {
        var machine = transfer(size: 512 * 70000, [TFTPOption("windowsize", "64")])
        _ = machine.handle(.start(now: 0))
        var actions = machine.handle(.acknowledgement(block: 0, now: 0))
        while machine.acknowledgedBlocks < 70001 {
            guard let last = dataBlocks(actions.send).last else { Issue.record("nothing sent"); return }
            actions = machine.handle(.acknowledgement(block: last.block, now: 0))
            #expect(actions.ignored == nil)
        }
        #expect(actions.outcome == .completed)
    }

    @Test func retransmitsWithBackoffThenGivesUp() {
        var machine = transfer(size: 5000, retries: 3)
        _ = machine.handle(.start(now: 0))
        #expect(machine.handle(.tick(now: 999)).send.isEmpty)
        let first = machine.handle(.tick(now: 1000))
        #expect(first.isRetransmission)
        #expect(dataBlocks(first.send).map(\.block) == [1])
        #expect(machine.deadline == 3000)  // 2 s after the first retransmission
        #expect(machine.handle(.tick(now: 2999)).send.isEmpty)
        #expect(dataBlocks(machine.handle(.tick(now: 3000)).send).map(\.block) == [1])
        #expect(machine.deadline == 7000)
        #expect(dataBlocks(machine.handle(.tick(now: 7000)).send).map(\.block) == [1])
        #expect(machine.handle(.tick(now: 15000)).outcome == .timedOut)
    }

    @Test func progressResetsTheBackoff() {
        var machine = transfer(size: 5000)
        _ = machine.handle(.start(now: 0))
        _ = machine.handle(.tick(now: 1000))
        _ = machine.handle(.tick(now: 3000))
        #expect(machine.retries == 2)
        _ = machine.handle(.acknowledgement(block: 1, now: 3500))
        #expect(machine.retries == 0)
        #expect(machine.deadline == 4500)
    }

    @Test func aLostOACKIsSentAgain() {
        var machine = transfer(size: 10, [TFTPOption("tsize", "0")], retries: 1)
        _ = machine.handle(.start(now: 0))
        #expect(Array(machine.handle(.tick(now: 1000)).send) == [.optionAcknowledgement([TFTPOption("tsize", "10")])])
        #expect(machine.handle(.tick(now: 3000)).outcome == .timedOut)
    }

    @Test func clientTimeoutOptionSetsTheRetransmissionTimer() {
        var machine = transfer(size: 10, [TFTPOption("timeout", "5")])
        _ = machine.handle(.start(now: 0))
        #expect(machine.deadline == 5000)
    }

    /// Property: whatever order ACKs arrive in (lost, repeated, reordered, bogus), every block
    /// index is sent at most once per window the client asked for, and the file is covered.
    @Test func randomACKStreamsNeverDuplicateSendsWithoutCause() {
        var rng = SplitMix64(state: 5)
        for _ in 0..<200 {
            let size = UInt64.random(in: 0...200_000, using: &rng)
            let window = Int.random(in: 1...8, using: &rng)
            var machine = transfer(size: size, [TFTPOption("windowsize", String(window)), TFTPOption("blksize", "1024")])
            _ = machine.handle(.start(now: 0))
            var actions = machine.handle(.acknowledgement(block: 0, now: 0))
            var steps = 0
            while !machine.isFinished && steps < 100_000 {
                steps += 1
                let sent = dataBlocks(actions.send)
                // Without a timeout or a reported gap, a window holds only new blocks.
                if !actions.isRetransmission, let first = sent.first {
                    #expect(first.index == machine.acknowledgedBlocks + 1)
                }
                let highest = machine.highestSentBlock
                let roll = Int.random(in: 0..<10, using: &rng)
                let ackIndex: UInt64 = switch roll {
                case 0: machine.acknowledgedBlocks  // duplicate
                case 1: UInt64.random(in: machine.acknowledgedBlocks...highest, using: &rng)  // partial
                case 2: highest + UInt64.random(in: 1...100, using: &rng)  // never sent
                default: highest
                }
                let next = machine.handle(.acknowledgement(block: UInt16(truncatingIfNeeded: ackIndex), now: 0))
                if roll == 0 { #expect(next.send.isEmpty) }
                if next.send.isEmpty && next.outcome == nil {
                    // Nothing new was sent: the same window is still the one in flight.
                    continue
                }
                actions = next
            }
            #expect(machine.isFinished)
            #expect(machine.acknowledgedBlocks == machine.blockCount)
        }
    }
}
