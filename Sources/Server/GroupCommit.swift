/// Group commit, as a pure state machine: items (a decision's leases, events and reply)
/// queue while one transaction is being written, and the next transaction takes them all,
/// so throughput is not bounded by the disk's fsync rate. An item's reply leaves only after
/// its transaction committed.
///
/// With a commit interval (`spacesWrites`), transactions start at most once per interval
/// unless `batchLimit` items wait: at a steady few thousand requests a second each
/// transaction would otherwise carry two or three leases, and its fsync and the two thread
/// wake-ups around it were most of the CPU a DORA cost. A request that finds the writer idle
/// and the interval passed is written at once, so a quiet server adds no delay.
///
/// It never writes, sends or touches the lease table: events go in (`submit`, `committed`,
/// `reapplied`, `intervalEnded`) and actions come out, which the engine executes in order.
struct GroupCommit<Item> {
    enum Action {
        /// Write these items in one transaction; `committed` reports how it went.
        case write([Item])
        /// Call `intervalEnded` once the commit interval since the last `.write` has passed
        /// (at once if it has): items submitted meanwhile join the next transaction.
        case writeWhenIntervalEnds
        /// These items are durable: their replies may leave.
        case send([Item])
        /// The transaction of `failed` did not commit: withhold its replies and take its
        /// leases back, newest first. `reapply` were decided after it and are still queued:
        /// apply theirs again on top and hand them back through `reapplied`.
        case takeBack(failed: [Item], reapply: [Item])
    }

    private enum Phase {
        case idle
        /// Items wait for the commit interval to end.
        case spacing
        case writing([Item])
        /// A failed batch was handed back; the queued items are out being re-applied.
        case reapplying
    }

    private var phase = Phase.idle
    private var queued: [Item] = []
    /// Whether transactions are spaced by the commit interval.
    private let spacesWrites: Bool
    /// This many waiting items are written without waiting for the interval's end.
    let batchLimit: Int

    init(spacesWrites: Bool = false, batchLimit: Int = DHCPServer.Configuration.commitBatchLimit) {
        self.spacesWrites = spacesWrites
        self.batchLimit = max(1, batchLimit)
    }

    /// Items waiting for the next transaction.
    var queuedCount: Int { queued.count }

    /// Whether a transaction is being written.
    var isWriting: Bool {
        if case .writing = phase { return true }
        return false
    }

    /// A decided item that needs writing.
    mutating func submit(_ item: Item) -> [Action] {
        queued.append(item)
        switch phase {
        case .idle: return writeOrSpace()
        case .spacing where queued.count >= batchLimit:
            phase = .idle
            return writeIfIdle()
        default: return []
        }
    }

    /// The commit interval of the last `writeWhenIntervalEnds` has ended.
    mutating func intervalEnded() -> [Action] {
        guard case .spacing = phase else { return [] }
        phase = .idle
        return writeIfIdle()
    }

    /// The transaction of the last `.write` committed, or failed.
    mutating func committed(_ succeeded: Bool) -> [Action] {
        guard case .writing(let batch) = phase else { return [] }
        if succeeded {
            phase = .idle
            return [.send(batch)] + writeOrSpace()
        }
        guard !queued.isEmpty else {
            phase = .idle
            return [.takeBack(failed: batch, reapply: [])]
        }
        let reapply = queued
        queued = []
        phase = .reapplying
        return [.takeBack(failed: batch, reapply: reapply)]
    }

    /// The items of a `.takeBack`'s `reapply`, applied again: they queue, ahead of any
    /// submitted meanwhile, for the next transaction.
    mutating func reapplied(_ items: [Item]) -> [Action] {
        guard case .reapplying = phase else { return [] }
        phase = .idle
        queued = items + queued
        return writeIfIdle()
    }

    /// Idle: writes what is queued now, or once the interval ends while fewer than `batchLimit` wait.
    private mutating func writeOrSpace() -> [Action] {
        guard spacesWrites, !queued.isEmpty, queued.count < batchLimit else { return writeIfIdle() }
        phase = .spacing
        return [.writeWhenIntervalEnds]
    }

    private mutating func writeIfIdle() -> [Action] {
        guard case .idle = phase, !queued.isEmpty else { return [] }
        let batch = queued
        queued = []
        phase = .writing(batch)
        return [.write(batch)]
    }
}
