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

    /// `2026-11-29T03:04:05Z`, computed without Foundation (civil-from-days).
    static func iso8601(_ seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secondOfDay = seconds - days * 86400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(year)-\(two(month))-\(two(day))T\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))Z"
    }
}
