import Zone

/// What the committed leases tell about an identity: which machine holds its address and
/// since when it was last heard from. Shown as host variables next to the identity.
///
/// A committed lease records MAC, state and times; vendor class, client arch and first
/// sighting are not kept per lease, so they are not shown here. Offers are held in memory
/// only, never committed, so a host appears here once it is bound.
public struct HostLiveState: Sendable, Hashable {
    /// `aa:bb:cc:dd:ee:ff`.
    public var mac: String
    /// The lease's state (`bound`, `released`, `declined`), or `expired` for one past its time.
    public var leaseState: String
    /// The lease's last change (offer, request, renewal, release), seconds since the epoch.
    public var lastSeen: Int64
    public var leaseExpires: Int64

    public init(mac: String, leaseState: String, lastSeen: Int64, leaseExpires: Int64) {
        self.mac = mac
        self.leaseState = leaseState
        self.lastSeen = lastSeen
        self.leaseExpires = leaseExpires
    }

    public init(lease: Lease, now: Int64) {
        let expired = (lease.state == .bound || lease.state == .offered) && lease.expiresAt <= now
        self.init(mac: MAC.text(lease.mac), leaseState: expired ? "expired" : lease.state.rawValue,
                  lastSeen: lease.updatedAt, leaseExpires: lease.expiresAt)
    }

    /// Identity name → its state, from the latest lease of each named identity
    /// (discovery leases have no name and are left out). The server passes its
    /// `InMemoryLeaseTable.all`; zonectl the store's `loadLeases()`.
    public static func byName(_ leases: some Sequence<Lease>, now: Int64) -> [String: HostLiveState] {
        var latest: [String: Lease] = [:]
        for lease in leases {
            guard let name = lease.name else { continue }
            if let other = latest[name], other.updatedAt > lease.updatedAt { continue }
            latest[name] = lease
        }
        return latest.mapValues { HostLiveState(lease: $0, now: now) }
    }

    /// As host variables: times in ISO 8601 UTC, which Ansible and people read alike.
    var facts: [ZoneValue.Member] {
        [.init("mac", .string(mac)), .init("lease_state", .string(leaseState)),
         .init("last_seen", .string(Self.iso8601(lastSeen))), .init("lease_expires", .string(Self.iso8601(leaseExpires)))]
    }

    /// `2026-11-29T03:04:05Z`.
    static func iso8601(_ seconds: Int64) -> String {
        let time = CivilTime(secondsSince1970: seconds), two = CivilTime.twoDigits
        return "\(time.year)-\(two(time.month))-\(two(time.day))T\(two(time.hour)):\(two(time.minute)):\(two(time.second))Z"
    }
}
