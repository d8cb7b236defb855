import Boot
import Foundation
import Store
import Synchronization
import Zone

/// What the zone view shows, computed once for every viewer: the running revision's layout
/// (once per revision) and every location's state (`LocationState.of`, again only when a
/// lease or a boot step changed, or every `maximumAge` for leases running out).
public final class ZoneViewFeed: Sendable {
    /// The states of one moment, with the layout they index.
    struct Frame: Sendable {
        var instance: UInt64
        var revisionID: Int?
        var layout: ZoneViewLayout
        var states: [LocationState]
        var version: Int
        var computedAt: Int64
    }

    let revisions: RevisionHolder
    let leases: CommittedLeases
    let phases: BootPhases
    /// Leases expire without a change being published: states are recomputed at least this often.
    static let maximumAgeSeconds: Int64 = 10
    private let latest = Mutex<Frame?>(nil)

    public init(revisions: RevisionHolder, leases: CommittedLeases, phases: BootPhases) {
        self.revisions = revisions
        self.leases = leases
        self.phases = phases
    }

    /// The states as of now, reused while nothing changed.
    func frame(now: Int64 = Int64(Date().timeIntervalSince1970)) -> Frame {
        let (revision, id) = revisions.currentWithID
        let version = phases.version
        let cached = latest.withLock { $0 }
        if let cached, cached.instance == revision.instance, cached.version == version,
           now - cached.computedAt < Self.maximumAgeSeconds {
            return cached
        }
        let layout = cached.flatMap { $0.instance == revision.instance ? $0.layout : nil } ?? ZoneViewLayout(revision)
        let timelines = phases.timelines
        let states = LocationState.of(revision, leases: leases.all, timelines: { timelines[$0] }, now: now)
        let frame = Frame(instance: revision.instance, revisionID: id, layout: layout, states: states, version: version,
                          computedAt: now)
        latest.withLock { $0 = frame }
        return frame
    }

    /// One host's side panel: its identity, its lease, its state and its boot; nil for a name
    /// the running revision does not have.
    func host(named name: String, now: Int64 = Int64(Date().timeIntervalSince1970)) -> ZoneViewHost? {
        let revision = revisions.current
        guard let identity = revision.identity(named: name) else { return nil }
        let lease = leases.lease(address: identity.address).flatMap { $0.location == identity.location ? $0 : nil }
        let timeline = phases.timeline(of: name)
        let discovering = leases.all.contains { $0.location == nil && $0.askedFrom == identity.location && $0.isActive(at: now) }
        let state = LocationState.of(identity, lease: lease, timeline: timeline, discovering: discovering, now: now)
        return ZoneViewHost(identity: identity, lease: lease, state: state, timeline: timeline)
    }
}

/// `GET /v1/zone-view/hosts/<name>`: what the side panel shows of one location.
struct ZoneViewHost: Codable, Sendable {
    struct Place: Codable, Sendable {
        var name, fqdn, kind, location, address, role, network: String
        var rack, unit: Int?
        var profile, managedHost, device: String?
    }

    struct LeaseFacts: Codable, Sendable {
        var state, mac, address: String
        var expiresAt, updatedAt: Int64
        var deviceKind, model, serial: String?
        var miscabled: Bool
    }

    struct Step: Codable, Sendable {
        var phase: String
        var atMs: Int64
        var detail: String
        /// From the step before it, when there is one.
        var seconds: Double?
    }

    var identity: Place
    var lease: LeaseFacts?
    var state: String
    var mac: String?
    var replacedMac: String?
    var timeline: [Step]
    /// The newest first.
    var events: [Step]

    init(identity: Identity, lease: Lease?, state: LocationState, timeline: BootTimeline?) {
        self.identity = Place(name: identity.name, fqdn: identity.fqdn, kind: identity.kind.rawValue,
                              location: identity.location.description, address: identity.address.description,
                              role: identity.role, network: identity.network, rack: identity.rack, unit: identity.unit,
                              profile: identity.profile, managedHost: identity.managedHost, device: identity.device)
        self.lease = lease.map {
            LeaseFacts(state: $0.state.rawValue, mac: MAC.text($0.mac), address: $0.address.description, expiresAt: $0.expiresAt,
                       updatedAt: $0.updatedAt, deviceKind: $0.device?.kind.rawValue, model: $0.device?.model,
                       serial: $0.device?.serial, miscabled: $0.miscabled)
        }
        self.state = state.rawValue
        mac = timeline?.mac
        replacedMac = timeline?.replacedMAC
        var previous: Int64?
        self.timeline = (timeline?.steps ?? []).map { step in
            defer { previous = step.atMs }
            return Step(phase: step.phase.rawValue, atMs: step.atMs, detail: step.detail,
                        seconds: previous.map { Double(step.atMs - $0) / 1000 })
        }
        events = (timeline?.notes ?? []).map { Step(phase: $0.phase.rawValue, atMs: $0.atMs, detail: $0.detail) }
    }
}
