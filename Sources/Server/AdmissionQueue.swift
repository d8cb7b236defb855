import NIOCore

/// Which line a DHCP request waits in before the engine sees it.
enum AdmissionKind: Sendable, Equatable {
    /// Completes an exchange the server is already part of: a REQUEST answering an offer
    /// (option 54) or renewing/rebinding a lease (ciaddr), a RELEASE, a DECLINE. Served
    /// first: half the work is done, and one answer leaves the client bound.
    case completing
    /// Everything else: DISCOVER, INIT-REBOOT REQUEST, INFORM, BOOTP, and whatever does not
    /// parse (the engine counts that as malformed when its turn comes).
    case starting

    /// The kind of a datagram, from a glance at its fixed header and options: no parse, no
    /// allocation, total on any bytes (a datagram it cannot read is `.starting`).
    init(datagram bytes: [UInt8]) {
        self = .starting
        // op BOOTREQUEST, the fixed header and the magic cookie.
        guard bytes.count >= 240, bytes[0] == 1,
              bytes[236] == 99, bytes[237] == 130, bytes[238] == 83, bytes[239] == 99 else { return }
        let namesClientAddress = (bytes[12] | bytes[13] | bytes[14] | bytes[15]) != 0
        var messageType: UInt8?
        var namesServer = false
        var index = 240
        while index < bytes.count {
            let code = bytes[index]
            if code == 255 { break }
            if code == 0 {
                index += 1
                continue
            }
            guard index + 1 < bytes.count else { break }
            let length = Int(bytes[index + 1])
            if code == 53, length == 1, index + 2 < bytes.count, messageType == nil { messageType = bytes[index + 2] }
            if code == 54 { namesServer = true }
            index += 2 + length
        }
        switch messageType {
        case 3? where namesServer || namesClientAddress: self = .completing  // REQUEST: SELECTING, RENEWING, REBINDING
        case 4?, 7?: self = .completing  // DECLINE, RELEASE
        default: return
        }
    }
}

/// The requests read from the DHCP sockets and not yet served, and the order they are
/// served in. Pure: the caller says what arrived when, and what time it is.
///
/// The kernel's deep receive buffer is kept for bursts (a boot storm: every machine at
/// once, then quiet), but a queue in front of a server that is slower than its load for
/// longer than a burst only ages: it answers clients after they gave up, and the exchanges
/// they do complete wait behind new ones. So:
/// - requests that complete an exchange go before those that start one;
/// - while the queue has not been busy (never empty) for `overloadedAfter`, it is a burst:
///   requests are served oldest first, and none is shed;
/// - once it has, the server is overloaded: new exchanges are served newest first, so those
///   answered are answered while their client still waits, and requests older than
///   `staleAfter`, the clients' retransmit wait, are shed (their client has sent them again,
///   and the copy waits behind them, or given up). It stays overloaded until the queue is
///   empty. A long storm (100,000 machines take about 4 s here) also keeps the queue busy
///   past `overloadedAfter`: its requests are fresh, their clients still wait, and since
///   shedding goes by age and not by how long the queue has stood, none of them is shed.
/// - overloaded, new exchanges are started (answered) only a little faster than exchanges
///   complete (`startsPerCompletion` times the requests completing one in the last `pacingWindow`):
///   an offer whose REQUEST never comes (its client, or a relay on the way, overflowed with
///   offers, or gave up) is work taken from the exchanges that do complete. Seen with
///   perfdhcp at 2.5× the server's capacity: a quarter of the offers never got a REQUEST,
///   because the generator's own socket overflowed with them. Clients that complete what
///   they start (a boot storm's) are paced by their own completions and never wait for it.
struct AdmissionQueue<Item> {
    struct Limits: Sendable, Equatable {
        /// A queue that has not emptied for this long means more than a burst. A storm of
        /// 10,000 machines is answered within half a second here.
        var overloadedAfterNanoseconds: Int64 = 1_000_000_000
        /// Overloaded, a request older than this is shed: RFC 2131 clients and PXE firmware
        /// send a message again after 4 s, with the same xid, so an answer to the first copy
        /// still serves its client until then. (Shedding at 250 ms shed a 100,000-machine
        /// storm's last DISCOVERs, whose clients were still waiting.) Under sustained
        /// overload the age rarely matters: the newest are served first, and the rest age out.
        var staleAfterNanoseconds: Int64 = 4_000_000_000
        /// The most requests held; past it the oldest starting one is shed. A storm of
        /// 100,000 machines fits whole (about 40 MB of datagrams at most).
        var capacity = 131_072
        /// Overloaded, the new exchanges started in a window are at most this many times the
        /// requests that completed one in the window before: enough to follow clients that
        /// complete more (the pace grows by a quarter a window), little beyond what completes.
        var startsPerCompletion = 1.25
        var pacingWindowNanoseconds: Int64 = 100_000_000
        /// However few complete: a window always starts this many.
        var minimumStartsPerWindow = 64
    }

    private struct Entry {
        var item: Item
        /// Monotonic nanoseconds: when the kernel received it.
        var receivedAt: Int64
    }

    let limits: Limits
    private var completing = CircularBuffer<Entry>()
    private var starting = CircularBuffer<Entry>()
    /// Set when the queue has been busy for `overloadedAfter`; cleared when it empties.
    private(set) var overloaded = false
    /// When the queue last went from empty to busy: its first request's receive time.
    private var busySince: Int64?
    /// The pacing window: when it began, the requests completing an exchange that arrived in
    /// it and in the one before (per window), and the exchanges started in it.
    private var windowStart: Int64 = 0
    private var completedInWindow = 0
    private var completedBefore = 0
    private var startedInWindow = 0

    init(limits: Limits = Limits()) {
        self.limits = limits
    }

    var count: Int { completing.count + starting.count }
    var isEmpty: Bool { completing.isEmpty && starting.isEmpty }

    /// Queues a request received at `receivedAt` (monotonic ns). When the queue is full,
    /// returns the request pushed out to make room (the oldest starting one, else the
    /// oldest completing one), which the caller counts as shed.
    mutating func push(_ item: Item, kind: AdmissionKind, receivedAt: Int64) -> Item? {
        var pushedOut: Item?
        busySince = min(busySince ?? receivedAt, receivedAt)
        if count >= limits.capacity {
            pushedOut = starting.popFirst()?.item ?? completing.popFirst()?.item
        }
        let entry = Entry(item: item, receivedAt: receivedAt)
        switch kind {
        case .completing:
            completing.append(entry)
            completedInWindow += 1
        case .starting: starting.append(entry)
        }
        return pushedOut
    }

    /// The new exchanges a window may start while overloaded.
    private var startsAllowed: Int {
        max(limits.minimumStartsPerWindow, Int(Double(completedBefore) * limits.startsPerCompletion))
    }

    /// Starts a new pacing window at `now` when the current one is over.
    private mutating func rollWindow(now: Int64) {
        let elapsed = now - windowStart
        guard elapsed >= limits.pacingWindowNanoseconds else { return }
        // Per window: after a quiet spell of many windows, what completed is spread over them.
        completedBefore = Int(Int64(completedInWindow) * limits.pacingWindowNanoseconds / max(elapsed, 1))
        completedInWindow = 0
        startedInWindow = 0
        windowStart = now
    }

    /// A new exchange `pop` handed out went unanswered (the engine dropped it: a flooding
    /// port's, a spoofed relay's): it gives back its place in the window's allowance, so that
    /// dropped requests never use up what is left for the others.
    mutating func startWentUnanswered() {
        if startedInWindow > 0 { startedInWindow -= 1 }
    }

    /// Overloaded, with only new exchanges waiting and this window's allowance of them
    /// started: when the next window begins (monotonic ns). Nil when `pop` would serve.
    var pacedUntil: Int64? {
        guard overloaded, completing.isEmpty, !starting.isEmpty, startedInWindow >= startsAllowed else { return nil }
        return windowStart + limits.pacingWindowNanoseconds
    }

    /// The next request to serve at `now` (monotonic ns), or nil when none is left. Requests
    /// shed on the way are handed to `shed`, oldest first.
    mutating func pop(now: Int64, shed: (Item) -> Void) -> Item? {
        rollWindow(now: now)
        if !overloaded, let busySince, now - busySince >= limits.overloadedAfterNanoseconds {
            overloaded = true
        }
        if overloaded {
            // Each line is in arrival order, so its stale requests are at its front.
            while let first = completing.first, now - first.receivedAt > limits.staleAfterNanoseconds {
                shed(completing.removeFirst().item)
            }
            while let first = starting.first, now - first.receivedAt > limits.staleAfterNanoseconds {
                shed(starting.removeFirst().item)
            }
        }
        let next: Item?
        if let entry = completing.popFirst() {
            next = entry.item
        } else if overloaded {
            // Paced: past the window's allowance, new exchanges wait for the next window
            // (newest first then too; the oldest age out).
            guard startedInWindow < startsAllowed else { return nil }
            next = starting.popLast()?.item
            if next != nil { startedInWindow += 1 }
        } else {
            next = starting.popFirst()?.item
        }
        if isEmpty {
            overloaded = false
            busySince = nil
        }
        return next
    }
}
