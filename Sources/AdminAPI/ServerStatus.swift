/// `GET /v1/status` (a read): a running server at a glance, what `zonectl status` prints:
/// which revision runs since when, where it listens, what DHCP, TFTP and the hooks did, how
/// many hook events wait, and the last problems it logged.
public struct ServerStatus: Sendable, Codable, Equatable {
    public struct Listener: Sendable, Codable, Equatable {
        /// `dhcp`, `http`, `admin`, `tftp`, … as in the "ready" log line.
        public var kind: String
        public var endpoint: String

        public init(kind: String, endpoint: String) {
            self.kind = kind
            self.endpoint = endpoint
        }
    }

    public struct DHCP: Sendable, Codable, Equatable {
        public var received: Int
        public var answered: Int
        /// Malformed datagrams and dropped requests together; by reason in `droppedByReason`.
        public var dropped: Int
        public var droppedByReason: [String: Int]
        public var commitFailures: Int

        public init(received: Int, answered: Int, dropped: Int, droppedByReason: [String: Int], commitFailures: Int) {
            self.received = received
            self.answered = answered
            self.dropped = dropped
            self.droppedByReason = droppedByReason
            self.commitFailures = commitFailures
        }
    }

    public struct TFTP: Sendable, Codable, Equatable {
        public var transfersStarted: Int
        public var transfersActive: Int
        public var refused: Int

        public init(transfersStarted: Int, transfersActive: Int, refused: Int) {
            self.transfersStarted = transfersStarted
            self.transfersActive = transfersActive
            self.refused = refused
        }
    }

    public struct Hooks: Sendable, Codable, Equatable {
        public var runs: Int
        public var failures: Int
        /// Events not delivered yet (due now or waiting for a retry): the backlog.
        public var waiting: Int
        /// Events that ran out of tries: `zonectl events --dead`, `events retry ID`.
        public var deadLetters: Int

        public init(runs: Int, failures: Int, waiting: Int, deadLetters: Int) {
            self.runs = runs
            self.failures = failures
            self.waiting = waiting
            self.deadLetters = deadLetters
        }
    }

    /// One warning or error the server logged, as its log line reads.
    public struct Problem: Sendable, Codable, Equatable {
        /// ISO 8601, UTC, milliseconds.
        public var time: String
        public var level: String
        public var component: String
        /// The log line in the text format (message, then keys).
        public var line: String

        public init(time: String, level: String, component: String, line: String) {
            self.time = time
            self.level = level
            self.component = component
            self.line = line
        }
    }

    public var running: RunningRevision
    /// ISO 8601, UTC.
    public var startedAt: String
    public var uptimeSeconds: Int
    /// Empty until every listener is bound.
    public var listeners: [Listener]
    public var dhcp: DHCP
    public var tftp: TFTP
    public var hooks: Hooks
    /// The last warnings and errors, newest first (at most `ServerStatus.problemsKept`).
    public var recentProblems: [Problem]

    public static let problemsKept = 20

    public init(running: RunningRevision, startedAt: String, uptimeSeconds: Int, listeners: [Listener], dhcp: DHCP,
                tftp: TFTP, hooks: Hooks, recentProblems: [Problem]) {
        self.running = running
        self.startedAt = startedAt
        self.uptimeSeconds = uptimeSeconds
        self.listeners = listeners
        self.dhcp = dhcp
        self.tftp = tftp
        self.hooks = hooks
        self.recentProblems = recentProblems
    }
}
