import Synchronization
import Zone

/// The running zone revision. A swap is one reference exchange: a request reads the
/// revision once and sees it whole, never a mix of two.
public final class RevisionHolder: Sendable {
    private let box: Mutex<(revision: ZoneRevision, id: Int?)>

    /// `id`: the stored revision's number, for log lines (nil: not known).
    public init(_ revision: ZoneRevision, id: Int? = nil) { box = Mutex((revision, id)) }

    public var current: ZoneRevision { box.withLock { $0.revision } }

    /// The running revision and its stored number, read together.
    public var currentWithID: (revision: ZoneRevision, id: Int?) { box.withLock { $0 } }

    public func swap(_ revision: ZoneRevision, id: Int? = nil) {
        var replaced: (revision: ZoneRevision, id: Int?) = (revision, id)
        box.withLock { Swift.swap(&$0, &replaced) }
        // `replaced` now holds the old revision: it is freed here, outside the lock, so
        // freeing 20,000 identities never stalls a request reading `current`.
        _ = replaced
    }
}
