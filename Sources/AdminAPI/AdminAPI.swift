import Addressing
import Boot
import Store
import Zone

/// The admin API's JSON bodies, shared by zonebootd (server) and zonectl (client), so
/// the two cannot drift. Field names are the Swift names (camelCase) on the wire.
public enum AdminAPI {
    /// The admin listener's default port; zonectl's default server is http://127.0.0.1:9067.
    public static let defaultPort = 9067
    public static let defaultURL = "http://127.0.0.1:\(defaultPort)"
    /// A zone of 10,000 hosts is well under 1 MiB; a zone file and its templates may not
    /// exceed ZoneLoader's 16 MiB each. Anything beyond this is refused with 413 unread.
    public static let maximumBodySize = 32 << 20
}

/// `GET /v1/revision`: what the server is running.
public struct RunningRevision: Sendable, Codable, Equatable {
    public var revision: RevisionSummary
    public var identities: Int

    public init(revision: RevisionSummary, identities: Int) {
        self.revision = revision
        self.identities = identities
    }
}

/// `POST /v1/plan`.
public struct PlanRequest: Sendable, Codable {
    public var source: ZoneSource
    public init(source: ZoneSource) { self.source = source }
}

/// The answer to a plan, and what `zonectl plan -o FILE` saves: the exact source, the
/// revision it was planned against, the diff and the live impact.
public struct SavedPlan: Sendable, Codable, Equatable {
    public static let currentFormat = 1
    public var format = SavedPlan.currentFormat
    /// The running revision the plan was made against: apply is refused if it moved.
    public var baseRevision: Int
    /// "revision 3 (2026-11-24T12:00:00Z by ops)".
    public var against: String
    public var source: ZoneSource
    public var plan: ZonePlan
    public var impact: LiveImpact
    /// The state directory an offline plan (`zonectl plan -o FILE --state DIR`) was made
    /// against; nil for a server's plan. `baseRevision` 0 there means an empty store.
    public var stateDirectory: String?

    public init(baseRevision: Int, against: String, source: ZoneSource, plan: ZonePlan, impact: LiveImpact,
                stateDirectory: String? = nil) {
        self.stateDirectory = stateDirectory
        self.baseRevision = baseRevision
        self.against = against
        self.source = source
        self.plan = plan
        self.impact = impact
    }
}

/// `POST /v1/apply`: a source and the revision it was planned against.
public struct ApplyRequest: Sendable, Codable {
    public var source: ZoneSource
    public var baseRevision: Int
    public var message: String?

    public init(source: ZoneSource, baseRevision: Int, message: String?) {
        self.source = source
        self.baseRevision = baseRevision
        self.message = message
    }
}

/// `POST /v1/rollback`: make `revision`'s source the running one again, as a new revision.
public struct RollbackRequest: Sendable, Codable {
    public var revision: Int
    public var baseRevision: Int
    public var message: String?

    public init(revision: Int, baseRevision: Int, message: String?) {
        self.revision = revision
        self.baseRevision = baseRevision
        self.message = message
    }
}

/// The answer to apply and rollback. `applied` is nil when the plan had no changes.
public struct ApplyResponse: Sendable, Codable {
    public var plan: SavedPlan
    public var applied: RevisionSummary?

    public init(plan: SavedPlan, applied: RevisionSummary?) {
        self.plan = plan
        self.applied = applied
    }
}

/// `GET /v1/hosts`: every identity of the running revision and the lease its address holds.
public struct HostRow: Sendable, Codable, Equatable {
    public var name: String
    public var kind: String
    public var location: String
    public var address: IPv4Address
    public var role: String
    /// `bound`, `offered`, ... ; nil when no lease is held for the address now.
    public var lease: String?
    public var mac: String?
    /// What the lease holder's request said it is (`hpe-ilo`, `onie`, `pxe`, ...), its model and serial.
    public var device: String?
    public var model: String?
    public var serial: String?
    /// The holder's kind does not fit the port's role (an iLO on a hypervisor port).
    public var miscabled: Bool

    public init(name: String, kind: String, location: String, address: IPv4Address, role: String, lease: String?,
                mac: String?, device: String? = nil, model: String? = nil, serial: String? = nil, miscabled: Bool = false) {
        self.name = name
        self.kind = kind
        self.location = location
        self.address = address
        self.role = role
        self.lease = lease
        self.mac = mac
        self.device = device
        self.model = model
        self.serial = serial
        self.miscabled = miscabled
    }
}

/// `GET /v1/leases`: one durable lease, as operators read it.
public struct LeaseRow: Sendable, Codable, Equatable {
    public var address: IPv4Address
    public var state: String
    public var mac: String
    public var name: String?
    /// `p01/tor-a/swp7`; nil for a discovery lease.
    public var location: String?
    public var pod: String
    /// Seconds since the Unix epoch.
    public var expiresAt: Int64
    /// For a discovery lease, the undeclared port it was asked from where the relay named one:
    /// `switch` is the switch's name, or the relay's address (giaddr) for a switch the zone does
    /// not know, and `port` the relay's circuit-id. Absent for older servers.
    public var askedFrom: Location?

    public init(_ lease: Lease) {
        address = lease.address
        state = lease.state.rawValue
        mac = lease.macText
        name = lease.name
        location = lease.location?.description
        pod = lease.pod
        expiresAt = lease.expiresAt
        askedFrom = lease.location == nil ? lease.askedFrom : nil
    }

    /// LOCATION as `zonectl leases` prints it: the declared port, or where a discovery lease was asked from.
    public var locationText: String {
        if let location { return location }
        guard let asked = askedFrom else { return "(discovery)" }
        let relayed = IPv4Address(asked.switch) != nil
        return relayed ? "(discovery: relay \(asked.switch), circuit \(asked.port))" : "(discovery at \(asked))"
    }
}

/// Every error the admin API returns. `diagnostics` and `rendered` are set for a zone
/// that does not load: `rendered` is exactly what `zonectl validate` prints.
public struct APIError: Sendable, Codable, Error {
    public var error: String
    public var diagnostics: [Diagnostic]?
    public var rendered: String?
    /// For 409: the revision running now.
    public var currentRevision: Int?

    public init(error: String, diagnostics: [Diagnostic]? = nil, rendered: String? = nil, currentRevision: Int? = nil) {
        self.error = error
        self.diagnostics = diagnostics
        self.rendered = rendered
        self.currentRevision = currentRevision
    }
}

extension RevisionSummary {
    /// "revision 3 (2026-11-24T12:00:00Z by ops)": how plans name what they compare with.
    public var label: String { "revision \(id) (\(createdAt) by \(author))" }
}
