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
/// - once it has, the server is overloaded, and requests older than `staleAfter`, the
///   clients' retransmit wait, are shed (their client has sent them again, and the copy
///   waits behind them, or given up). It stays overloaded until the queue is empty.
/// - overloaded while new exchanges still arrive faster than they are started (in the last
///   `pacingWindow`), the overload is sustained: load beyond the server's capacity that does
///   not stop. It stays so until the queue empties: a server that falls behind reading its
///   sockets, as a collapsing one does, sees fewer arrivals than come, and must not take
///   that for the end of the load. New exchanges are then served newest first, so those
///   answered are answered while their client still waits, and paced (below).
/// - overloaded but not sustained (when the queue had stood for `overloadedAfter`, new
///   exchanges no longer came faster than they were started), the queue is a burst being
///   served: a boot storm of 100,000 machines keeps it standing for about 4 s here, but its
///   machines powered on once, every one still waits, and oldest first answers each as soon
///   as can be. Newest first had kept the first machines waiting to the end, past their
///   retransmit wait.
/// - overloaded or not, once clients completed fewer than `completedShare` of the exchanges
///   started over the last second (more than the pace's floor), offers are being wasted:
///   their clients, or the relays on the way, cannot take them as fast as they go out. New
///   exchanges are then paced the same way, in order, until the queue empties. Seen with
///   perfdhcp at 2.5× the capacity on one core: a server fast enough never to queue it
///   answered at full speed, and a quarter of its replies overflowed perfdhcp's socket. A
///   boot storm's machines complete what they start within the window, so it is never paced.
///
/// Paced, a window starts no more new exchanges than completed in the window before, and
/// `growth` times that while the clients kept up (completed `keptUpShare` of what was
/// started lately): a pace just above what completes, found again every window, so
/// that few offers go out that their clients cannot take. An offer whose REQUEST never
/// comes (its client, or a relay on the way, overflowed with offers, or gave up) is work
/// taken from the exchanges that do complete. A pace of 1.25 times what completed, kept
/// whatever the clients did, settled where a fifth of the offers were lost. And a window's
/// starts are spread over it, `pacedBurst` at a time: its allowance started at once left as
/// one burst of offers, which overflowed a client's receive buffer (perfdhcp's 208 KiB
/// holds about 160) while its CPU was busy sending, and those losses held the pace down.
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
        /// Paced, while clients kept up, a window starts at most this many times the requests
        /// that completed an exchange in the window before: the pace grows by a tenth a
        /// window, doubling in under a second, to follow clients that complete more.
        var growth = 1.1
        /// Clients kept up when, in the last two windows, they completed at least this share of
        /// the exchanges started in the two windows before the last (a REQUEST may come a
        /// window after its offer).
        var keptUpShare = 0.95
        var pacingWindowNanoseconds: Int64 = 100_000_000
        /// Paced, new exchanges started at once; the rest of the window's allowance follows
        /// evenly over the window.
        var pacedBurst = 16
        /// However few complete: a window always starts this many.
        var minimumStartsPerWindow = 64
        /// Offers are wasted when fewer than this share of the exchanges started in the last
        /// `wasteHorizonWindows` windows were completed meanwhile.
        var completedShare = 0.85
        var wasteHorizonWindows = 10
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
    /// New exchanges that arrived in the window.
    private var arrivedInWindow = 0
    /// Whether, in the last window, new exchanges arrived faster than they were started.
    private var growing = true
    /// Overloaded with new exchanges coming faster than they start, until the queue empties
    /// (so never without `overloaded`).
    private(set) var sustained = false
    /// The exchanges started and completed in each of the last windows, oldest first.
    private var recentWindows: [(started: Int, completed: Int)] = []
    /// Whether clients completed too few of the exchanges started over the last windows,
    /// since the queue was last empty.
    private(set) var wasting = false
    /// Whether clients completed `keptUpShare` of what was started lately.
    private var keptUp = true

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
        case .starting:
            starting.append(entry)
            arrivedInWindow += 1
        }
        return pushedOut
    }

    /// The new exchanges a window may start while paced.
    private var startsAllowed: Int {
        max(limits.minimumStartsPerWindow, Int(Double(completedBefore) * (keptUp ? limits.growth : 1)))
    }

    /// Paced, the new exchanges this window may have started by `now`: a burst, then the rest
    /// of its allowance evenly over the window.
    private func startsDue(now: Int64) -> Int {
        let elapsed = min(max(now - windowStart, 0), limits.pacingWindowNanoseconds)
        let allowance = startsAllowed
        return min(allowance, limits.pacedBurst + Int(Int64(allowance) * elapsed / limits.pacingWindowNanoseconds))
    }

    /// Starts a new pacing window at `now` when the current one is over.
    private mutating func rollWindow(now: Int64) {
        let elapsed = now - windowStart
        guard elapsed >= limits.pacingWindowNanoseconds else { return }
        // Per window: after a quiet spell of many windows, what completed is spread over them.
        completedBefore = Int(Int64(completedInWindow) * limits.pacingWindowNanoseconds / max(elapsed, 1))
        growing = arrivedInWindow > startedInWindow
        // After a quiet spell longer than the horizon, what came before it says nothing.
        if elapsed > limits.pacingWindowNanoseconds * Int64(limits.wasteHorizonWindows) { recentWindows.removeAll() }
        recentWindows.append((startedInWindow, completedInWindow))
        if recentWindows.count > limits.wasteHorizonWindows { recentWindows.removeFirst() }
        // A client's REQUEST may come a window after its offer: the completions of every window
        // against the starts of all but the last. Judged once half the horizon is seen.
        let started = recentWindows.dropLast().reduce(0) { $0 + $1.started }
        let completed = recentWindows.reduce(0) { $0 + $1.completed }
        // The same lag: the last two windows' completions against the starts of the two before
        // the last (a pace growing by a tenth a window, its clients a window behind, kept up).
        keptUp = Double(recentWindows.suffix(2).reduce(0) { $0 + $1.completed })
            >= limits.keptUpShare * Double(recentWindows.dropLast().suffix(2).reduce(0) { $0 + $1.started })
        // Kept until the queue empties: pacing makes what it starts complete, and must not
        // take that for the clients' recovery (the pace itself follows them when they do).
        if recentWindows.count * 2 >= limits.wasteHorizonWindows,
           started > limits.minimumStartsPerWindow * (recentWindows.count - 1),
           Double(completed) < limits.completedShare * Double(started) {
            wasting = true
        }
        completedInWindow = 0
        startedInWindow = 0
        arrivedInWindow = 0
        windowStart = now
    }

    /// A new exchange `pop` handed out went unanswered (the engine dropped it: a flooding
    /// port's, a spoofed relay's): it gives back its place in the window's allowance, so that
    /// dropped requests never use up what is left for the others.
    mutating func startWentUnanswered() {
        if startedInWindow > 0 { startedInWindow -= 1 }
    }

    /// Paced (a sustained overload, or offers wasted), with only new exchanges waiting and as
    /// many started at `now` as are due: when the next burst is due, or the next window
    /// begins (monotonic ns). Nil when `pop` would serve.
    func pacedUntil(now: Int64) -> Int64? {
        guard sustained || wasting, completing.isEmpty, !starting.isEmpty, startedInWindow >= startsDue(now: now) else { return nil }
        let allowance = Int64(startsAllowed), window = limits.pacingWindowNanoseconds
        if Int64(startedInWindow) >= allowance { return windowStart + window }
        // The next burst is due once the even spread has caught up with what was started.
        return windowStart + (Int64(startedInWindow) * window + allowance - 1) / allowance
    }

    /// The next request to serve at `now` (monotonic ns), or nil when none is left. Requests
    /// shed on the way are handed to `shed`, oldest first.
    mutating func pop(now: Int64, shed: (Item) -> Void) -> Item? {
        rollWindow(now: now)
        if !overloaded, let busySince, now - busySince >= limits.overloadedAfterNanoseconds {
            overloaded = true
        }
        if overloaded && growing { sustained = true }
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
        } else {
            // Paced: past what the window has due, new exchanges wait.
            if sustained || wasting, startedInWindow >= startsDue(now: now) { return nil }
            // Sustained overload: newest first, and the oldest age out.
            next = sustained ? starting.popLast()?.item : starting.popFirst()?.item
            if next != nil { startedInWindow += 1 }
        }
        if isEmpty {
            overloaded = false
            sustained = false
            wasting = false
            busySince = nil
        }
        return next
    }
}
