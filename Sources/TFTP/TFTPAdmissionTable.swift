/// Which transfers may run: slots in total and per client address, and a byte budget for
/// their buffers. Pure bookkeeping (the server holds it under a lock and ends what it evicts).
///
/// When the table is full (or the budget cannot give a new transfer its least), the oldest
/// transfer that was never acknowledged is evicted to make room, rather than the newcomer
/// being refused. Why: a forged source never acknowledges anything (its packets go to
/// someone else), and a transfer's progress limit alone would let 1,024 spoofed requests
/// per limit (about 34 a second at 30 s) keep every real client out. With eviction, a
/// flood must fill the whole table within one round trip of a real client to push out its
/// transfer before its first ACK, and a transfer that was acknowledged once is never
/// evicted: it costs real clients nothing that a stalled one ends by its own limits.
///
/// The byte budget keeps every free slot's least in reserve when it is large enough to (the
/// default, 256 MiB, holds 1,024 least windows of 66 KB about four times): a transfer asking
/// more takes it only from what is left beyond those reserves, so clients that acknowledge
/// huge windows and then stall can slow newcomers to one 512-byte block at a time, never
/// lock them out.
public struct TFTPAdmissionTable: Sendable {
    public let maximumTransfers: Int
    public let maximumPerClient: Int
    /// Bytes all admitted transfers' buffers may hold together.
    public let bufferBudget: Int
    public private(set) var bytesInUse = 0

    /// Why a request gets no slot; `rawValue` names it for counters.
    public enum Refusal: String, Error, Sendable, Hashable {
        case busyTotal = "busy-total"
        case busyClient = "busy-client"
        case busyMemory = "busy-memory"
    }

    /// A slot taken: its ticket, the bytes granted, and the transfers evicted to make room
    /// (the caller ends them; their tickets are already released).
    public struct Admission: Sendable, Hashable {
        public var ticket: UInt64
        public var bytes: Int
        public var evicted: [UInt64]
    }

    private struct Slot {
        var client: UInt32
        var bytes: Int
        /// What it was admitted with at least; it never shrinks below (see `available`).
        var minimum: Int
        var progressed = false
    }

    private var slots: [UInt64: Slot] = [:]
    private var perClient: [UInt32: Int] = [:]
    private var nextTicket: UInt64 = 1
    /// Tickets in admission order, oldest first from `queueHead`, possibly stale (released or
    /// acknowledged since): the eviction candidates, skipped lazily and compacted when mostly stale.
    private var unacknowledged: [UInt64] = []
    private var queueHead = 0

    public init(maximumTransfers: Int, maximumPerClient: Int, bufferBudget: Int) {
        self.maximumTransfers = max(1, maximumTransfers)
        self.maximumPerClient = max(1, maximumPerClient)
        self.bufferBudget = max(0, bufferBudget)
    }

    public var count: Int { slots.count }
    /// Entries of the eviction queue, stale ones included (bounded by `compactIfStale`).
    var queuedTickets: Int { unacknowledged.count - queueHead }
    public func isAdmitted(_ ticket: UInt64) -> Bool { slots[ticket] != nil }

    /// Takes a slot for `client` with up to `wantedBytes` of the budget and at least
    /// `minimumBytes`, evicting never-acknowledged transfers, oldest first, when that is the
    /// only way to fit. Nothing is evicted unless the newcomer then fits.
    public mutating func admit(client: UInt32, wantedBytes: Int, minimumBytes: Int) -> Result<Admission, Refusal> {
        if perClient[client, default: 0] >= maximumPerClient { return .failure(.busyClient) }
        let minimum = max(0, minimumBytes)
        if minimum > bufferBudget { return .failure(.busyMemory) }
        func fits(count: Int, bytes: Int) -> Bool {
            count < maximumTransfers && available(count: count, bytes: bytes, minimum: minimum) >= minimum
        }
        var victims: [UInt64] = []
        if !fits(count: slots.count, bytes: bytesInUse) {
            var count = slots.count, bytes = bytesInUse
            var position = queueHead
            while !fits(count: count, bytes: bytes), position < unacknowledged.count {
                let ticket = unacknowledged[position]
                position += 1
                guard let slot = slots[ticket], !slot.progressed else { continue }
                victims.append(ticket)
                count -= 1
                bytes -= slot.bytes
            }
            guard fits(count: count, bytes: bytes) else {
                return .failure(count >= maximumTransfers ? .busyTotal : .busyMemory)
            }
            queueHead = position
            for victim in victims { release(victim) }
        }
        let granted = min(max(wantedBytes, minimum), available(count: slots.count, bytes: bytesInUse, minimum: minimum))
        let ticket = nextTicket
        nextTicket += 1
        slots[ticket] = Slot(client: client, bytes: granted, minimum: minimum)
        perClient[client, default: 0] += 1
        bytesInUse += granted
        unacknowledged.append(ticket)
        compactIfStale()
        return .success(Admission(ticket: ticket, bytes: granted, evicted: victims))
    }

    /// What a newcomer may take: the budget left, less the least of every other free slot when
    /// the budget can hold the least of all slots. (Then `bytesInUse` plus the least of each
    /// free slot never passes the budget, since no slot shrinks below its least.)
    private func available(count: Int, bytes: Int, minimum: Int) -> Int {
        let reservesFit = bufferBudget / maximumTransfers >= minimum
        return bufferBudget - bytes - (reservesFit ? minimum * max(0, maximumTransfers - count - 1) : 0)
    }

    /// The transfer was acknowledged once: from now on it is never evicted.
    public mutating func acknowledged(_ ticket: UInt64) {
        slots[ticket]?.progressed = true
    }

    /// Gives back what an admitted transfer turned out not to need.
    public mutating func shrink(_ ticket: UInt64, to bytes: Int) {
        guard let slot = slots[ticket] else { return }
        let kept = max(bytes, slot.minimum)
        guard kept < slot.bytes else { return }
        bytesInUse -= slot.bytes - kept
        slots[ticket]?.bytes = kept
    }

    /// Frees a slot; a ticket already released (or evicted) is ignored.
    public mutating func release(_ ticket: UInt64) {
        guard let slot = slots.removeValue(forKey: ticket) else { return }
        bytesInUse -= slot.bytes
        let left = perClient[slot.client, default: 1] - 1
        perClient[slot.client] = left > 0 ? left : nil
    }

    /// Keeps the eviction queue within a few times the live slots, so that a server that runs
    /// for months with nothing ever evicted does not remember every transfer it ran.
    private mutating func compactIfStale() {
        guard unacknowledged.count - queueHead > 2 * slots.count + 64 || queueHead > 1024 else { return }
        unacknowledged = unacknowledged[queueHead...].filter { slots[$0].map { !$0.progressed } ?? false }
        queueHead = 0
    }
}
