import Addressing
import Zone

/// What the zone view colours a location by: the one rule over the revision's identity, the
/// lease its address holds, the discovery leases asked from its port and its host's boot.
public enum LocationState: String, Sendable, Codable, CaseIterable {
    /// No lease was ever committed for the location.
    case neverSeen = "never-seen"
    /// A machine on the port holds a discovery address (the port is declared since, or its
    /// lease is an offer): it is being discovered, not yet the identity's.
    case discovering
    /// Bound, and nothing fetched since the DHCP ACK.
    case leased
    /// Bound, its loader or script fetched, no `booted` marker yet.
    case booting
    /// Its script fetched the `booted` marker (or went on to its hand-off).
    case booted
    /// The machine's kind does not fit the port's role (an iLO on a host port).
    case miscabled
    /// Another machine took the place of an active one; it has not fetched anything yet.
    case replaced
    /// It held a lease once; that lease was released, declined or ran out.
    case lapsed

    /// One character per location in the view's snapshot: 20,500 states are 20 KB.
    public var code: Character {
        switch self {
        case .neverSeen: "n"
        case .discovering: "d"
        case .leased: "l"
        case .booting: "g"
        case .booted: "b"
        case .miscabled: "m"
        case .replaced: "r"
        case .lapsed: "x"
        }
    }

    /// The state of `identity`'s location. `lease`: what its address holds (ignored when it
    /// is another location's); `timeline`: its host's boot (ignored when of another MAC);
    /// `discovering`: an active discovery lease was asked from its port.
    public static func of(_ identity: Identity, lease: Lease?, timeline: BootTimeline?, discovering: Bool,
                          now: Int64) -> LocationState {
        guard let lease, lease.location == identity.location else { return discovering ? .discovering : .neverSeen }
        guard lease.isActive(at: now) else { return discovering ? .discovering : .lapsed }
        if lease.state == .offered { return .discovering }
        if lease.miscabled { return .miscabled }
        guard let timeline, timeline.mac == MAC.text(lease.mac) else { return .leased }
        switch timeline.latest {
        case .booted?, .handoff?: return .booted
        case .loaderFetched?, .scriptFetched?: return .booting
        case .dhcpAck?, nil: return timeline.replacedMAC == nil ? .leased : .replaced
        }
    }

    /// Every identity's state, in the revision's order: what the view's snapshot and deltas
    /// carry. `leases`: every committed lease (one pass builds the lookups).
    public static func of(_ revision: ZoneRevision, leases: [Lease], timelines: (String) -> BootTimeline?,
                          now: Int64) -> [LocationState] {
        var byAddress: [IPv4Address: Lease] = [:]
        byAddress.reserveCapacity(leases.count)
        var discovering: Set<Location> = []
        for lease in leases {
            if lease.location == nil {
                if let port = lease.askedFrom, lease.isActive(at: now) { discovering.insert(port) }
            } else {
                byAddress[lease.address] = lease
            }
        }
        return revision.identities.map { identity in
            of(identity, lease: byAddress[identity.address], timeline: timelines(identity.name),
               discovering: discovering.contains(identity.location), now: now)
        }
    }
}
