import Foundation
import Synchronization
import TFTP

/// What the TFTP server has seen and done, by reason: every refusal and every ignored packet is counted.
public struct TFTPCounters: Sendable, Codable, Equatable {
    /// Datagrams on the listening port.
    public var received = 0
    /// Datagrams on the listening port that are not TFTP, by codec reason.
    public var malformed: [String: Int] = [:]
    /// Requests answered with an ERROR, by reason (`write-request`, `not-found`, `parent-component`,
    /// `outside-root`, `busy-client`, ...).
    public var refused: [String: Int] = [:]
    /// Options not granted, as `name:reason` (`blksize:out-of-range`, `other:unknown`): every
    /// name the server does not negotiate counts as `other`, so no client text becomes a key.
    public var ignoredOptions: [String: Int] = [:]
    /// Packets a transfer or the listener did not act on (`duplicate-ack`, `ack-unsent`, `unknown-tid`, ...).
    public var ignored: [String: Int] = [:]
    public var transfersStarted = 0
    public var transfersActive = 0
    /// Ended transfers by outcome (`completed`, `aborted-by-client`, `timed-out`, `stalled`,
    /// `evicted`, `read-failed`).
    public var transfersEnded: [String: Int] = [:]
    /// Never-acknowledged transfers ended to make room for a newcomer (also in `transfersEnded`
    /// as `evicted` once their worker has closed them).
    public var transfersEvicted = 0
    /// Transfers whose window (or block size) was granted smaller than asked to fit the buffer budget.
    public var windowsReducedToBudget = 0
    /// Bytes of the buffer budget the running transfers hold, as of the last admission or end.
    public var bufferBytesInUse = 0
    public var blocksSent = 0
    public var blocksRetransmitted = 0
    public var bytesSent: UInt64 = 0

    public init() {}
}

extension Counters<TFTPCounters> {
    func ignored(_ reason: String) { update { $0.ignored[reason, default: 0] += 1 } }
    func refused(_ reason: String) { update { $0.refused[reason, default: 0] += 1 } }
}

extension TFTPTransfer.Outcome {
    var reason: String {
        switch self {
        case .completed: "completed"
        case .abortedByClient: "aborted-by-client"
        case .timedOut: "timed-out"
        case .stalled: "stalled"
        }
    }
}

/// One admitted transfer's place in the admission table, shared by the listener (which
/// admits and may evict it) and the worker running it (which ends it once evicted).
final class TFTPSlot: Sendable {
    let ticket: UInt64
    private let evictedFlag = Atomic<Bool>(false)

    init(ticket: UInt64) { self.ticket = ticket }

    var isEvicted: Bool { evictedFlag.load(ordering: .acquiring) }
    func evict() { evictedFlag.store(true, ordering: .releasing) }
}

/// Admission (see `TFTPAdmissionTable`) under a lock, with the slots of the transfers it admitted.
final class TFTPAdmission: Sendable {
    private struct State {
        var table: TFTPAdmissionTable
        var slots: [UInt64: TFTPSlot] = [:]
    }

    private let state: Mutex<State>

    init(maximumTotal: Int, maximumPerClient: Int, bufferBudget: Int) {
        state = Mutex(State(table: TFTPAdmissionTable(maximumTransfers: maximumTotal, maximumPerClient: maximumPerClient,
                                                      bufferBudget: bufferBudget)))
    }

    /// Takes a slot for `client` and up to `wantedBytes` of the buffer budget (at least
    /// `minimumBytes`), or names the limit that refuses it. Transfers evicted to make room are
    /// marked (their workers end them) and returned.
    func admit(_ client: UInt32, wantedBytes: Int, minimumBytes: Int) -> Result<(slot: TFTPSlot, bytes: Int, evicted: Int), TFTPAdmissionTable.Refusal> {
        state.withLock { state in
            switch state.table.admit(client: client, wantedBytes: wantedBytes, minimumBytes: minimumBytes) {
            case .failure(let refusal):
                return .failure(refusal)
            case .success(let admission):
                for ticket in admission.evicted { state.slots.removeValue(forKey: ticket)?.evict() }
                let slot = TFTPSlot(ticket: admission.ticket)
                state.slots[admission.ticket] = slot
                return .success((slot, admission.bytes, admission.evicted.count))
            }
        }
    }

    func acknowledged(_ slot: TFTPSlot) { state.withLock { $0.table.acknowledged(slot.ticket) } }
    func shrink(_ slot: TFTPSlot, to bytes: Int) { state.withLock { $0.table.shrink(slot.ticket, to: bytes) } }

    /// Frees the slot; one already evicted was freed then.
    func release(_ slot: TFTPSlot) {
        state.withLock { state in
            state.table.release(slot.ticket)
            state.slots.removeValue(forKey: slot.ticket)
        }
    }

    var bytesInUse: Int { state.withLock { $0.table.bytesInUse } }
}
