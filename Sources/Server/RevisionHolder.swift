import Synchronization
import Zone

/// The running zone revision. A swap is one reference exchange: a request reads the
/// revision once and sees it whole, never a mix of two.
public final class RevisionHolder: Sendable {
    private let box: Mutex<ZoneRevision>

    public init(_ revision: ZoneRevision) { box = Mutex(revision) }

    public var current: ZoneRevision { box.withLock { $0 } }

    public func swap(_ revision: ZoneRevision) {
        var replaced = revision
        box.withLock { Swift.swap(&$0, &replaced) }
        // `replaced` now holds the old revision: it is freed here, outside the lock, so
        // freeing 20,000 identities never stalls a request reading `current`.
        _ = replaced
    }
}

