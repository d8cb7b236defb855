import Boot
import DHCPv4

/// What the DHCP listener has seen and done, by reason: every drop is counted.
public struct DHCPCounters: Sendable, Codable, Equatable {
    public var received = 0
    /// DHCP messages received, by message type (`discover`, `request`, ...): /metrics' `operation`.
    public var receivedByType: [String: Int] = [:]
    /// Datagrams that are not DHCP messages, by codec reason (`truncated`, `bad-cookie`, ...).
    public var malformed: [String: Int] = [:]
    /// Requests answered with nothing, by policy reason (`untrusted-relay`, ...).
    public var dropped: [String: Int] = [:]
    /// Replies sent, by message type (`offer`, `ack`, `nak`).
    public var sent: [String: Int] = [:]
    /// Requests that needed no reply (RELEASE, DECLINE).
    public var silent = 0
    /// Group commits and the leases and events they made durable.
    public var commits = 0
    public var leasesWritten = 0
    public var eventsWritten = 0
    /// Batches whose commit failed: their replies were not sent.
    public var commitFailures = 0
    /// Replies the kernel refused, in all and by reason (`invalid-argument`, `network-unreachable`, ...).
    public var sendFailures = 0
    public var sendFailed: [String: Int] = [:]
    /// Errors reading a socket (the listener went on), and channels reopened on their socket.
    public var receiveErrors = 0
    public var listenerRestarts = 0
    /// Client-supplied strings (model, serial, vendor class) not kept: not `ClientText.safe`.
    public var clientTextDiscarded = 0
    /// host.* events not recorded because their port had used its budget (`HostEventBudget`).
    public var hostEventsSuppressed = 0

    public init() {}

    mutating func malformed(_ error: DHCPParseError) { malformed[error.reason, default: 0] += 1 }
    mutating func dropped(_ reason: DropReason) { dropped[reason.rawValue, default: 0] += 1 }
    mutating func sent(_ type: DHCPMessageType?) { sent[type?.name ?? "unknown", default: 0] += 1 }
    mutating func sendFailed(_ reason: String) {
        sendFailures += 1
        sendFailed[reason, default: 0] += 1
    }
}
