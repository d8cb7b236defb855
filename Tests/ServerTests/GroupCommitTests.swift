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
}
