import Addressing
import Zone

/// One address held by one machine. Leases are keyed by address: a location's
/// address belongs to the location, so whoever is plugged in there holds it.
public struct Lease: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Codable {
        /// Offered, not yet requested: reserves a discovery address for a moment.
        case offered
        case bound
        case released
        /// The client found the address in use (DECLINE): quarantined until `expiresAt`.
        case declined
    }

    public var address: IPv4Address
    public var mac: [UInt8]
    public var clientID: [UInt8]?
    public var pod: String
    /// The declared location, for leases of known identities; nil for discovery leases.
    public var location: Location?
    /// The identity's name, for known locations.
    public var name: String?
    public var state: State
    /// Seconds since the Unix epoch.
    public var expiresAt: Int64
    public var updatedAt: Int64
    /// What the holder said it is (kind, model, serial), from its last request.
    public var device: RecognizedDevice?
    /// The holder's kind does not fit its port's role (an iLO on a host port).
    public var miscabled: Bool
    /// For a discovery lease, the undeclared port it was asked from, where the relay said:
    /// a plan can tell which discovered machines a new revision would make known hosts.
    public var askedFrom: Location?

    public init(address: IPv4Address, mac: [UInt8], clientID: [UInt8]?, pod: String, location: Location?,
                name: String?, state: State, expiresAt: Int64, updatedAt: Int64,
                device: RecognizedDevice? = nil, miscabled: Bool = false, askedFrom: Location? = nil) {
        self.address = address
        self.mac = mac
        self.clientID = clientID
        self.pod = pod
        self.location = location
        self.name = name
        self.state = state
        self.expiresAt = expiresAt
        self.updatedAt = updatedAt
        self.device = device
        self.miscabled = miscabled
        self.askedFrom = askedFrom
    }

    /// Holds its address now: offered or bound, and not expired; a declined address is
    /// held by nobody but still not free.
    public func isActive(at now: Int64) -> Bool { (state == .offered || state == .bound) && expiresAt > now }

    public func blocksAddress(at now: Int64) -> Bool { (isActive(at: now) || state == .declined) && expiresAt > now }

    /// The same machine: by client-id where both sent one, else by MAC.
    public func belongs(toMAC mac: [UInt8], clientID: [UInt8]?) -> Bool {
        if let own = self.clientID, let other = clientID { return own == other }
        return self.mac == mac
    }
}

/// Read access to the leases a decision needs; the store's in-memory index provides it.
public protocol LeaseLookup {
    func lease(address: IPv4Address) -> Lease?
    /// The discovery lease a machine already has in a pod, if any.
    func discoveryLease(pod: String, mac: [UInt8], clientID: [UInt8]?) -> Lease?
    /// An address of the pod's discovery range that no lease blocks at `now`, if any.
    func freeAddress(in range: IPv4Range, pod: String, now: Int64) -> IPv4Address?
    /// proxyDHCP: where a boot client was last offered boot information.
    func proxyClient(mac: [UInt8]) -> ProxyClient?
    /// How many discovery addresses machines on this undeclared port hold (offered or
    /// bound) at `now`.
    func discoveryLeases(askedFrom port: Location, now: Int64) -> Int
    /// Hosts sharing the zone through etcd: this host cannot prove it holds its discovery
    /// blocks now (etcd out of reach), so it gives and renews no discovery address.
    func discoveryUncoordinated(pod: String) -> Bool
}

extension LeaseLookup {
    public func proxyClient(mac: [UInt8]) -> ProxyClient? { nil }

    public func discoveryUncoordinated(pod: String) -> Bool { false }

    /// Lowest free address first: a scan of the range, for views that keep no index.
    public func scanForFreeAddress(in range: IPv4Range, from start: IPv4Address? = nil, now: Int64) -> IPv4Address? {
        var candidate: IPv4Address? = start.flatMap { range.contains($0) ? $0 : nil } ?? range.first
        while let address = candidate, address <= range.last {
            if !(lease(address: address)?.blocksAddress(at: now) ?? false) { return address }
            candidate = address == range.last ? nil : address.advanced(by: 1)
        }
        return nil
    }
}

extension ZoneEvent {
    /// A revision became the zone's: an event about the zone, not a host (no address,
    /// MAC or pod); hooks that subscribe to it get it whatever their roles.
    public static func zoneApplied(revision: Int, zone: String, author: String, summary: String, basedOn: Int?,
                                   at: Int64) -> ZoneEvent {
        var details = ["revision": String(revision), "zone": zone, "author": author, "summary": summary]
        if let basedOn { details["based_on"] = String(basedOn) }
        return ZoneEvent(type: .zoneApplied, address: IPv4Address(0), mac: "", name: nil, pod: "", location: nil,
                         details: details, at: at)
    }
}

/// Something that happened in the zone (a lease, a host, a BMC, the zone itself), for hooks
/// and history. Written in the same transaction as the state it describes (the outbox).
public struct ZoneEvent: Sendable, Hashable, Codable {
    public var type: HookEvent
    public var address: IPv4Address
    public var mac: String
    public var name: String?
    public var pod: String
    public var location: Location?
    /// Event-specific details: the MAC replaced, the vendor class, the relay's circuit-id.
    public var details: [String: String]
    public var at: Int64

    public init(type: HookEvent, address: IPv4Address, mac: String, name: String?, pod: String, location: Location?,
                details: [String: String], at: Int64) {
        self.type = type
        self.address = address
        self.mac = mac
        self.name = name
        self.pod = pod
        self.location = location
        self.details = details
        self.at = at
    }
}
