@testable import Server
import Testing

/// The group commit's state machine alone: items are plain strings.
@Suite struct GroupCommitTests {
    private typealias Machine = GroupCommit<String>

    /// The actions as comparable text: `write a,b`, `send a`, `takeBack a reapply b`.
    private func describe(_ actions: [Machine.Action]) -> [String] {
        actions.map { action in
            switch action {
            case .write(let items): "write \(items.joined(separator: ","))"
            case .send(let items): "send \(items.joined(separator: ","))"
            case .writeWhenIntervalEnds: "wait"
            case .takeBack(let failed, let reapply):
                "takeBack \(failed.joined(separator: ",")) reapply \(reapply.joined(separator: ","))"
            }
        }
    }

    @Test func itemsQueueWhileAWriteIsInFlightAndTheNextBatchTakesThemAll() {
        var machine = Machine()
        #expect(describe(machine.submit("a")) == ["write a"])
        #expect(machine.isWriting)
        #expect(describe(machine.submit("b")).isEmpty)
        #expect(describe(machine.submit("c")).isEmpty)
        #expect(machine.queuedCount == 2)
        // a's replies leave, then b and c are written together.
        #expect(describe(machine.committed(true)) == ["send a", "write b,c"])
        #expect(describe(machine.committed(true)) == ["send b,c"])
        #expect(!machine.isWriting)
        #expect(describe(machine.submit("d")) == ["write d"])
    }

    @Test func aFailedCommitWithholdsItsRepliesAndLaterItemsKeepTheirs() {
        var machine = Machine()
        _ = machine.submit("a")
        _ = machine.submit("b")
        _ = machine.submit("c")
        // Nothing of a is sent; b and c were decided after it and are handed back to be applied again.
        #expect(describe(machine.committed(false)) == ["takeBack a reapply b,c"])
        #expect(!machine.isWriting)
        // A request decided meanwhile queues behind them.
        #expect(describe(machine.submit("d")).isEmpty)
        #expect(describe(machine.reapplied(["b'", "c'"])) == ["write b',c',d"])
        #expect(describe(machine.committed(true)) == ["send b',c',d"])
    }

    @Test func aFailedCommitWithNothingQueuedLeavesTheMachineIdle() {
        var machine = Machine()
        _ = machine.submit("a")
        #expect(describe(machine.committed(false)) == ["takeBack a reapply "])
        #expect(describe(machine.submit("b")) == ["write b"])
    }

    @Test func eventsOutOfTurnAreIgnored() {
        var machine = Machine()
        #expect(describe(machine.committed(true)).isEmpty)
        #expect(describe(machine.reapplied(["x"])).isEmpty)
        #expect(describe(machine.submit("a")) == ["write a"])
        #expect(describe(machine.reapplied(["x"])).isEmpty)
        #expect(describe(machine.committed(true)) == ["send a"])
    }

    @Test func withACommitIntervalTransactionsStartOncePerIntervalAndCarryWhatCameMeanwhile() {
        var machine = Machine(spacesWrites: true, batchLimit: 3)
        // Idle: the engine writes at once when the interval since the last write has passed.
        #expect(describe(machine.submit("a")) == ["wait"])
        #expect(describe(machine.submit("b")).isEmpty)
        #expect(describe(machine.intervalEnded()) == ["write a,b"])
        #expect(describe(machine.submit("c")).isEmpty)
        // The next transaction waits for the interval, with what came while a,b were written.
        #expect(describe(machine.committed(true)) == ["send a,b", "wait"])
        #expect(describe(machine.submit("d")).isEmpty)
        #expect(describe(machine.intervalEnded()) == ["write c,d"])
        // Nothing queued when it commits: idle, and the next item asks again.
        #expect(describe(machine.committed(true)) == ["send c,d"])
        #expect(describe(machine.submit("e")) == ["wait"])
    }

    @Test func aFullBatchIsWrittenWithoutWaitingForTheInterval() {
        var machine = Machine(spacesWrites: true, batchLimit: 3)
        _ = machine.submit("a")
        _ = machine.submit("b")
        #expect(describe(machine.submit("c")) == ["write a,b,c"])
        // The interval's end comes late: nothing to do.
        #expect(describe(machine.intervalEnded()).isEmpty)
        _ = machine.submit("d")
        _ = machine.submit("e")
        _ = machine.submit("f")
        // Three waited while a,b,c were written: the next transaction starts at once.
        #expect(describe(machine.committed(true)) == ["send a,b,c", "write d,e,f"])
        #expect(describe(machine.committed(true)) == ["send d,e,f"])
    }

    @Test func aFailedSpacedCommitHandsItsLaterItemsBackAsWithoutAnInterval() {
        var machine = Machine(spacesWrites: true, batchLimit: 3)
        _ = machine.submit("a")
        _ = machine.intervalEnded()
        _ = machine.submit("b")
        #expect(describe(machine.committed(false)) == ["takeBack a reapply b"])
        #expect(describe(machine.intervalEnded()).isEmpty)
        #expect(describe(machine.reapplied(["b'"])) == ["write b'"])
    }
}
