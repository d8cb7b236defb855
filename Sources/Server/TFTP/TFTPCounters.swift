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
    /// Options not granted, as `name:reason` (`blksize:out-of-range`, `multicast:unknown`).
    public var ignoredOptions: [String: Int] = [:]
    /// Packets a transfer or the listener did not act on (`duplicate-ack`, `ack-unsent`, `unknown-tid`, ...).
    public var ignored: [String: Int] = [:]
    public var transfersStarted = 0
    public var transfersActive = 0
    /// Ended transfers by outcome (`completed`, `aborted-by-client`, `timed-out`, `read-failed`).
    public var transfersEnded: [String: Int] = [:]
    public var blocksSent = 0
    public var blocksRetransmitted = 0
    public var bytesSent: UInt64 = 0

    public init() {}
}

/// Counters shared by the listeners and the transfer threads.
public final class TFTPStatistics: Sendable {
    private let box = Mutex(TFTPCounters())

    public init() {}

    public var snapshot: TFTPCounters { box.withLock { $0 } }

    func update(_ body: (inout TFTPCounters) -> Void) { box.withLock { body(&$0) } }

    func ignored(_ reason: String) { update { $0.ignored[reason, default: 0] += 1 } }
    func refused(_ reason: String) { update { $0.refused[reason, default: 0] += 1 } }

    /// Writes the counters as JSON, atomically replaced (tests and operators read it).
    public func write(to path: String) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(snapshot) else { return }
        try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

extension TFTPTransfer.Outcome {
    var reason: String {
        switch self {
        case .completed: "completed"
        case .abortedByClient: "aborted-by-client"
        case .timedOut: "timed-out"
        }
    }
}

/// Admission: how many transfers run, in total and per client address.
final class TFTPAdmission: Sendable {
    let maximumTotal: Int
    let maximumPerClient: Int
    private let state = Mutex<(total: Int, perClient: [UInt32: Int])>((0, [:]))

    init(maximumTotal: Int, maximumPerClient: Int) {
        self.maximumTotal = maximumTotal
        self.maximumPerClient = maximumPerClient
    }

    /// Takes a slot for `client`, or names the limit that refuses it.
    func admit(_ client: UInt32) -> String? {
        state.withLock { state in
            if state.total >= maximumTotal { return "busy-total" }
            if state.perClient[client, default: 0] >= maximumPerClient { return "busy-client" }
            state.total += 1
            state.perClient[client, default: 0] += 1
            return nil
        }
    }

    func release(_ client: UInt32) {
        state.withLock { state in
            state.total -= 1
            let left = state.perClient[client, default: 1] - 1
            state.perClient[client] = left > 0 ? left : nil
        }
    }
}
