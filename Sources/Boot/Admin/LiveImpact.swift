import Addressing
import Zone

/// What a new revision does to machines that hold leases right now, beyond the plan's
/// field-by-field diff: the part of a change an operator feels first.
///
/// Pure: the running revision, the new one, the leases and the clock in, a report out.
public struct LiveImpact: Sendable, Codable, Equatable {
    /// A machine holding the lease of a declared location that the new revision changes.
    public struct Holder: Sendable, Codable, Equatable {
        /// `p01/tor-a/swp7`.
        public var location: String
        /// The MAC holding the lease, as `52:54:00:00:00:01`.
        public var mac: String
        public var name: String?
        public var address: IPv4Address
        /// The location's name and address in the new revision (nil when it is no longer declared).
        public var newName: String?
        public var newAddress: IPv4Address?

        public init(location: String, mac: String, name: String?, address: IPv4Address, newName: String?,
                    newAddress: IPv4Address?) {
            self.location = location
            self.mac = mac
            self.name = name
            self.address = address
            self.newName = newName
            self.newAddress = newAddress
        }
    }

    /// A discovery lease whose address the new revision gives to a declared location.
    public struct DiscoveryHolder: Sendable, Codable, Equatable {
        public var pod: String
        public var mac: String
        public var address: IPv4Address
        /// The identity the new revision gives that address to.
        public var declaredFor: String

        public init(pod: String, mac: String, address: IPv4Address, declaredFor: String) {
            self.pod = pod
            self.mac = mac
            self.address = address
            self.declaredFor = declaredFor
        }
    }

    /// A discovered machine (a discovery lease) on a port the new revision declares: it
    /// becomes that port's host (its renewal gets a NAK, then the port's identity).
    public struct Discovered: Sendable, Codable, Equatable {
        /// `p01/tor-a/swp47`: where it asked from.
        public var location: String
        public var mac: String
        public var address: IPv4Address
        public var newName: String
        public var newAddress: IPv4Address

        public init(location: String, mac: String, address: IPv4Address, newName: String, newAddress: IPv4Address) {
            self.location = location
            self.mac = mac
            self.address = address
            self.newName = newName
            self.newAddress = newAddress
        }
    }

    /// The address changes: the holder's next renewal gets a NAK, then the new address.
    public var readdressed: [Holder] = []
    /// Same address, new name (hostname, files, inventory follow at the next request).
    public var renamed: [Holder] = []
    /// Ports in use whose location the new revision no longer declares: they lose their
    /// identity (renewal gets a NAK, then a discovery address if the pod has a range).
    public var orphaned: [Holder] = []
    /// Discovery leases whose address becomes a declared host's: renewal gets a NAK and
    /// the machine moves to another discovery address, or to its port's identity.
    public var discoveryDisplaced: [DiscoveryHolder] = []
    /// Discovered machines whose port the new revision declares: they become known hosts.
    public var becomeKnown: [Discovered] = []

    public var isEmpty: Bool {
        readdressed.isEmpty && renamed.isEmpty && orphaned.isEmpty && discoveryDisplaced.isEmpty && becomeKnown.isEmpty
    }
    public var count: Int { readdressed.count + renamed.count + orphaned.count + discoveryDisplaced.count + becomeKnown.count }

    public init() {}

    /// Only leases that hold their address at `now` count: an expired lease's next
    /// request is a fresh DISCOVER, which the new revision simply answers.
    public init(to new: ZoneRevision, leases: [Lease], now: Int64) {
        let declared = Dictionary(new.identities.map { ($0.address, $0.name) }, uniquingKeysWith: { a, _ in a })
        for lease in leases.sorted(by: { $0.address < $1.address }) where lease.isActive(at: now) {
            let mac = lease.macText
            guard let location = lease.location else {
                if let name = declared[lease.address] {
                    discoveryDisplaced.append(.init(pod: lease.pod, mac: mac, address: lease.address, declaredFor: name))
                }
                if let port = lease.askedFrom, let identity = new.identity(at: port) {
                    becomeKnown.append(.init(location: port.description, mac: mac, address: lease.address,
                                             newName: identity.name, newAddress: identity.address))
                }
                continue
            }
            let next = new.identity(at: location)
            let holder = Holder(location: location.description, mac: mac, name: lease.name, address: lease.address,
                                newName: next?.name, newAddress: next?.address)
            switch next {
            case nil: orphaned.append(holder)
            case let identity? where identity.address != lease.address: readdressed.append(holder)
            case let identity? where identity.name != lease.name: renamed.append(holder)
            default: break
            }
        }
    }
}

extension Lease {
    /// `52:54:00:00:00:01`.
    public var macText: String { MAC.text(mac) }
}
