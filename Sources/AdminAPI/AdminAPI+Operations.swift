import Store
import Zone

/// `POST /v1/events/retry`: make a dead letter due again (a write).
public struct EventRetryRequest: Sendable, Codable, Equatable {
    public var id: Int64
    public init(id: Int64) { self.id = id }
}

/// `POST /v1/bmcs/forget`: drop a BMC's pinned certificate (a write).
public struct BMCForgetRequest: Sendable, Codable, Equatable {
    public var name: String
    public init(name: String) { self.name = name }
}

/// `GET /v1/revision/source`: the running revision and the source it was loaded from, so
/// `zonectl render --server` renders with the same code what the server is running.
public struct RunningSource: Sendable, Codable {
    public var revision: RevisionSummary
    public var source: ZoneSource

    public init(revision: RevisionSummary, source: ZoneSource) {
        self.revision = revision
        self.source = source
    }
}

/// `GET /v1/events?filter=` takes `EventFilter`'s names: all, undelivered, dead.
extension EventFilter {
    public static let queryName = "filter"
}
