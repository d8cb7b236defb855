import Addressing

/// Every lease in memory, indexed the ways decisions look them up. The server keeps
/// one in front of the durable store; applying a decision's leases here happens after
/// the store has them.
public struct LeaseTable: LeaseView, Sendable {
    private var byAddress: [IPv4Address: Lease] = [:]
    /// pod → machine key → address of its discovery lease.
    private var discovery: [String: [String: IPv4Address]] = [:]

    public init(_ leases: some Sequence<Lease> = []) {
        for lease in leases { apply(lease) }
    }

    public var count: Int { byAddress.count }
    public var all: some Collection<Lease> { byAddress.values }

    public func lease(address: IPv4Address) -> Lease? { byAddress[address] }

    public func discoveryLease(pod: String, mac: [UInt8], clientID: [UInt8]?) -> Lease? {
        guard let address = discovery[pod]?[Self.key(mac: mac, clientID: clientID)] else { return nil }
        return byAddress[address]
    }

    public mutating func apply(_ lease: Lease) {
        if let previous = byAddress[lease.address], previous.location == nil {
            discovery[previous.pod]?[Self.key(mac: previous.mac, clientID: previous.clientID)] = nil
        }
        byAddress[lease.address] = lease
        if lease.location == nil {
            discovery[lease.pod, default: [:]][Self.key(mac: lease.mac, clientID: lease.clientID)] = lease.address
        }
    }

    /// Client-id where sent (RFC 2131 prefers it), else the MAC.
    static func key(mac: [UInt8], clientID: [UInt8]?) -> String {
        clientID.map { "id:" + MAC.text($0) } ?? "mac:" + MAC.text(mac)
    }
}
