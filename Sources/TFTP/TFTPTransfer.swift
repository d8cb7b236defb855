/// The server side of one read transfer (RRQ), as a pure state machine.
///
/// It never reads a file and never touches a socket: events go in (start, ACK, client error,
/// clock tick) and actions come out (what to send, whether the transfer is over, what was
/// ignored). A `.data` action names the block and the byte range of the file it carries; the
/// I/O layer fetches those bytes from its content source. Times are monotonic milliseconds.
public struct TFTPTransfer: Sendable {
    /// What to put on the wire.
    public enum Outgoing: Sendable, Hashable {
        case optionAcknowledgement([TFTPOption])
        /// Block `index` (1-based, 64-bit) goes out as wire block number `block` (16-bit,
        /// wrapping to 0 after 65535 as tftpd-hpa, atftpd, iPXE and EFI clients expect) with
        /// `count` bytes of the file from `offset`.
        case data(block: UInt16, index: UInt64, offset: UInt64, count: Int)
    }

    /// How a transfer ended.
    public enum Outcome: Sendable, Hashable {
        /// The last block was acknowledged.
        case completed
        /// The client sent an ERROR (OVMF's error 8 after a tsize-only OACK ends here, cleanly).
        case abortedByClient(code: UInt16, message: String)
        /// No progress through every retransmission: the peer is gone, the transfer is reaped.
        case timedOut
        /// No progress for `progressLimitMilliseconds`, however long the client's `timeout` asked
        /// the retransmissions to wait: a spoofed request with `timeout 255` would otherwise hold
        /// its slot for hours (255 s doubling to 8x over the retries).
        case stalled
    }

    /// Packets the machine did not act on, each counted by the I/O layer.
    public enum Ignored: String, Sendable, Hashable {
        /// An ACK for the block already acknowledged: answering it would double every later
        /// block (the Sorcerer's Apprentice bug, RFC 1123 4.2.3.1), so it is dropped.
        case duplicateAcknowledgement = "duplicate-ack"
        /// An ACK for a block number this transfer has not sent yet.
        case acknowledgementOfUnsentBlock = "ack-unsent"
        /// An ACK for a block acknowledged long ago (a late or replayed datagram).
        case staleAcknowledgement = "stale-ack"
        /// Anything that arrives after the transfer ended.
        case afterEnd = "after-end"
    }

    /// The packets one event sends: nothing, the OACK, or a window of consecutive blocks.
    /// A collection of `Outgoing` described by its bounds, so that answering an ACK allocates
    /// nothing (an array per block was a sixth of a lock-step transfer's user time).
    public struct Sends: RandomAccessCollection, Sendable, Hashable {
        private enum Packets: Sendable, Hashable {
            case optionAcknowledgement([TFTPOption])
            /// Blocks `first...last` (1-based indexes) of a file of `fileSize` bytes.
            case window(first: UInt64, last: UInt64, blockSize: Int, fileSize: UInt64)
        }

        private let packets: Packets?

        public static let nothing = Sends(packets: nil)

        public static func optionAcknowledgement(_ options: [TFTPOption]) -> Sends {
            Sends(packets: .optionAcknowledgement(options))
        }

        /// Blocks `first...last` of a file of `fileSize` bytes sent `blockSize` at a time.
        public static func window(_ blocks: ClosedRange<UInt64>, blockSize: Int, fileSize: UInt64) -> Sends {
            Sends(packets: .window(first: blocks.lowerBound, last: blocks.upperBound, blockSize: blockSize, fileSize: fileSize))
        }

        private init(packets: Packets?) { self.packets = packets }

        public var startIndex: Int { 0 }

        public var endIndex: Int {
            switch packets {
            case nil: 0
            case .optionAcknowledgement: 1
            case .window(let first, let last, _, _): Int(last - first) + 1
            }
        }

        public subscript(position: Int) -> Outgoing {
            precondition(indices.contains(position), "TFTPTransfer.Sends: index \(position) out of \(indices)")
            switch packets {
            case .optionAcknowledgement(let options)?:
                return .optionAcknowledgement(options)
            case .window(let first, _, let blockSize, let fileSize)?:
                let index = first + UInt64(position)
                let offset = (index - 1) * UInt64(blockSize)
                return .data(block: UInt16(truncatingIfNeeded: index), index: index, offset: offset,
                             count: Int(Swift.min(UInt64(blockSize), fileSize - offset)))
            case nil:
                preconditionFailure("TFTPTransfer.Sends: nothing to send")
            }
        }
    }

    /// What one event asks the I/O layer to do.
    public struct Actions: Sendable, Hashable {
        public var send: Sends = .nothing
        /// Set when the transfer just ended.
        public var outcome: Outcome?
        public var ignored: Ignored?
        /// True when `send` repeats packets already sent once (after a timeout or a client's
        /// report of a gap in its window).
        public var isRetransmission = false

        public init(send: Sends = .nothing, outcome: Outcome? = nil, ignored: Ignored? = nil, isRetransmission: Bool = false) {
            self.send = send
            self.outcome = outcome
            self.ignored = ignored
            self.isRetransmission = isRetransmission
        }
    }

    public enum Event: Sendable, Hashable {
        case start(now: Int64)
        case acknowledgement(block: UInt16, now: Int64)
        case clientError(code: UInt16, message: String)
        case tick(now: Int64)
    }

    public enum Phase: Sendable, Hashable {
        case notStarted
        /// The OACK is out; ACK 0 starts the data.
        case awaitingOptionAcknowledgement
        case sending
        case ended(Outcome)
    }

    public let fileSize: UInt64
    public let negotiation: TFTPNegotiation
    /// Retransmissions of one window before the transfer is given up.
    public let maximumRetries: Int
    /// The longest the transfer lives without progress (the start, ACK 0 of the OACK, or an ACK
    /// that moves the window), whatever the negotiated timeout.
    public let progressLimitMilliseconds: Int64
    /// Blocks in the file: the last is shorter than a block, empty when the size is a multiple.
    public let blockCount: UInt64

    public private(set) var phase: Phase = .notStarted
    /// Blocks acknowledged so far (every block up to this index arrived).
    public private(set) var acknowledgedBlocks: UInt64 = 0
    /// The highest block index sent in the current window.
    public private(set) var highestSentBlock: UInt64 = 0
    public private(set) var retries = 0
    /// When the machine wants a tick, if it waits for anything.
    public private(set) var deadline: Int64?
    /// When the transfer last made progress; nil before the start.
    public private(set) var lastProgress: Int64?
    /// True once the client acknowledged anything (ACK 0 of the OACK, or a block): a real peer
    /// answers, a forged source never does.
    public private(set) var hasProgressed = false
    private var currentTimeout: Int64
    private let longestTimeout: Int64

    /// The default progress limit: a real client ACKs within a second or two, and one that has
    /// made no progress for this long after every retransmission is not coming back.
    public static let defaultProgressLimitMilliseconds: Int64 = 30_000

    public init(fileSize: UInt64, negotiation: TFTPNegotiation, maximumRetries: Int = 5,
                progressLimitMilliseconds: Int64 = TFTPTransfer.defaultProgressLimitMilliseconds) {
        self.fileSize = fileSize
        self.negotiation = negotiation
        self.maximumRetries = max(0, maximumRetries)
        self.progressLimitMilliseconds = max(1, progressLimitMilliseconds)
        blockCount = fileSize / UInt64(negotiation.blockSize) + 1
        currentTimeout = Int64(negotiation.timeoutMilliseconds)
        // Backoff doubles the timeout per retry, up to eight times the first.
        longestTimeout = Int64(negotiation.timeoutMilliseconds) * 8
    }

    public var isFinished: Bool {
        if case .ended = phase { return true }
        return false
    }

    public mutating func handle(_ event: Event) -> Actions {
        if case .ended = phase { return Actions(ignored: .afterEnd) }
        switch event {
        case .start(let now):
            guard phase == .notStarted else { return Actions() }
            lastProgress = now
            if negotiation.acknowledged.isEmpty {
                phase = .sending
                return Actions(send: sendWindow(now: now))
            }
            phase = .awaitingOptionAcknowledgement
            setDeadline(now: now)
            return Actions(send: .optionAcknowledgement(negotiation.acknowledged))

        case .acknowledgement(let block, let now):
            return acknowledge(block, now: now)

        case .clientError(let code, let message):
            return end(.abortedByClient(code: code, message: message))

        case .tick(let now):
            guard let deadline, now >= deadline else { return Actions() }
            if let lastProgress, now - lastProgress >= progressLimitMilliseconds { return end(.stalled) }
            retries += 1
            if retries > maximumRetries { return end(.timedOut) }
            currentTimeout = min(currentTimeout * 2, longestTimeout)
            switch phase {
            case .awaitingOptionAcknowledgement:
                setDeadline(now: now)
                return Actions(send: .optionAcknowledgement(negotiation.acknowledged), isRetransmission: true)
            case .sending:
                return Actions(send: sendWindow(now: now), isRetransmission: true)
            case .notStarted, .ended:
                return Actions()
            }
        }
    }

    private mutating func acknowledge(_ block: UInt16, now: Int64) -> Actions {
        switch phase {
        case .notStarted, .ended:
            return Actions(ignored: .afterEnd)
        case .awaitingOptionAcknowledgement:
            guard block == 0 else { return Actions(ignored: .acknowledgementOfUnsentBlock) }
            phase = .sending
            madeProgress(now: now)
            return Actions(send: sendWindow(now: now))
        case .sending:
            // The 16-bit number names the block at this distance past the last acknowledged one.
            let ahead = UInt64(block &- UInt16(truncatingIfNeeded: acknowledgedBlocks))
            if ahead == 0 { return Actions(ignored: .duplicateAcknowledgement) }
            let index = acknowledgedBlocks + ahead
            guard index <= highestSentBlock else {
                let behind = UInt64(UInt16(truncatingIfNeeded: acknowledgedBlocks) &- block)
                return Actions(ignored: behind <= acknowledgedBlocks ? .staleAcknowledgement : .acknowledgementOfUnsentBlock)
            }
            acknowledgedBlocks = index
            madeProgress(now: now)
            if acknowledgedBlocks == blockCount { return end(.completed) }
            // An ACK inside the window means the client lost what follows it: the window
            // restarts after it (RFC 7440), and repeats of that ACK are duplicates from now on.
            let gap = index < highestSentBlock
            return Actions(send: sendWindow(now: now), isRetransmission: gap)
        }
    }

    private mutating func madeProgress(now: Int64) {
        retries = 0
        currentTimeout = Int64(negotiation.timeoutMilliseconds)
        lastProgress = now
        hasProgressed = true
    }

    /// The next retransmission, or the end of the progress limit if that comes first: the
    /// limit holds even when the client's timeout is longer than it.
    private mutating func setDeadline(now: Int64) {
        let retransmission = now + currentTimeout
        deadline = lastProgress.map { min(retransmission, $0 + progressLimitMilliseconds) } ?? retransmission
    }

    /// The window after the last acknowledged block.
    private mutating func sendWindow(now: Int64) -> Sends {
        let first = acknowledgedBlocks + 1
        let last = min(acknowledgedBlocks + UInt64(negotiation.windowSize), blockCount)
        highestSentBlock = last
        setDeadline(now: now)
        return .window(first...last, blockSize: negotiation.blockSize, fileSize: fileSize)
    }

    private mutating func end(_ outcome: Outcome) -> Actions {
        phase = .ended(outcome)
        deadline = nil
        return Actions(outcome: outcome)
    }
}
