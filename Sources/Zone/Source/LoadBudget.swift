import Synchronization

/// How long one zone load may take, and a way to stop it from outside (a server that is
/// shutting down).
///
/// The loader looks at it between its steps and every few thousand events, nodes or ports
/// inside them, so a load ends within a few milliseconds of its deadline or `cancel()`
/// (libyaml's composition is the one step it cannot look inside; the node count checked
/// before it bounds that step). The other budgets (file size, nodes, identities) bound
/// what a zone may name; this one bounds what naming it costs on this machine.
public final class ZoneLoadBudget: Sendable {
    /// The wall time allowed, nil for none (the operator's own `zonectl validate`).
    public let limit: Swift.Duration?
    /// Set when the clock starts (nil until then, and for no limit).
    private let deadline: Mutex<ContinuousClock.Instant?>
    private let cancelled = Atomic<Bool>(false)

    /// `startingNow: false` for a load that may wait its turn first: its clock starts with `start()`.
    public init(limit: Swift.Duration?, startingNow: Bool = true) {
        self.limit = limit
        deadline = Mutex(startingNow ? limit.map { ContinuousClock.now + $0 } : nil)
    }

    /// Starts the clock (when the load itself starts).
    public func start() {
        guard let limit else { return }
        deadline.withLock { $0 = ContinuousClock.now + limit }
    }

    /// No deadline, never cancelled: what loads outside a server use.
    public static var unlimited: ZoneLoadBudget { ZoneLoadBudget(limit: nil) }

    /// Stops the load at its next check; it then fails with `ZoneLoadError.cancelled`.
    public func cancel() { cancelled.store(true, ordering: .relaxed) }

    public var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    /// Whether the load must stop now: past its deadline or cancelled.
    public var isSpent: Bool {
        if isCancelled { return true }
        guard let deadline = deadline.withLock({ $0 }) else { return false }
        return ContinuousClock.now >= deadline
    }

    /// The one diagnostic a spent load reports: its partial findings mean nothing.
    public func spentError(file: String) -> ZoneLoadError {
        if isCancelled {
            return ZoneLoadError(diagnostics: [Diagnostic(path: "", "loading the zone was cancelled: the server is stopping",
                                                          at: nil)], sources: [:], cancelled: true)
        }
        return ZoneLoadError(diagnostics: [Diagnostic(path: "", "the zone took longer than \(Self.seconds(limit)) to load; "
            + "refusing it (a zone this large is several zones?)", at: SourcePosition(file: file, line: 1, column: 1))],
            sources: [:])
    }

    /// Throws the spent error when the load must stop.
    func check(file: String) throws(ZoneLoadError) {
        if isSpent { throw spentError(file: file) }
    }

    /// "5 s", "0.5 s".
    static func seconds(_ limit: Swift.Duration?) -> String {
        guard let limit else { return "no limit" }
        let (seconds, attoseconds) = limit.components
        if attoseconds == 0 { return "\(seconds) s" }
        let value = Double(seconds) + Double(attoseconds) / 1e18
        return "\((value * 1000).rounded() / 1000) s"
    }
}
