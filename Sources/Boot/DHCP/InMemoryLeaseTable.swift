import Addressing
import Zone

/// Every lease in memory, indexed the ways decisions look them up. The server keeps
/// one in front of the durable store: a decision's leases are applied at once, so the
/// next decision sees them, and taken back (`restore`) if the store fails to keep them.
public struct InMemoryLeaseTable: LeaseLookup, Sendable {
    private var byAddress: [IPv4Address: Lease] = [:]
    /// pod → machine key → address of its discovery lease.
    private var discovery: [String: [[UInt8]: IPv4Address]] = [:]
    /// pod → one past the highest discovery address ever leased there. New machines take
    /// the next address in O(1) until the range has been used to its end; only then does
    /// allocation scan for addresses freed since (by release, decline or expiry).
    private var highWater: [String: IPv4Address] = [:]
    /// Undeclared port → the discovery addresses asked for from it.
    private var byAskedFrom: [Location: Set<IPv4Address>] = [:]
    /// proxyDHCP's boot clients by MAC: short-lived, never stored, bounded.
    private var proxyClients: [[UInt8]: ProxyClient] = [:]
    static let proxyClientLimit = 65_536
    /// Hosts sharing the zone through etcd: the blocks of each discovery range this host
    /// holds, the only ones it allocates from (nil: one host, the whole range is its own).
    public var discoveryBlocks: DiscoveryBlocks?

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
        if let previous = byAddress[lease.address] { forgetDiscoveryIndex(previous) }
        byAddress[lease.address] = lease
        if lease.location == nil {
            discovery[lease.pod, default: [:]][Self.key(mac: lease.mac, clientID: lease.clientID)] = lease.address
            if let port = lease.askedFrom { byAskedFrom[port, default: []].insert(lease.address) }
            if let next = lease.address.advanced(by: 1), next > highWater[lease.pod] ?? IPv4Address(0) {
                highWater[lease.pod] = next
            }
        }
    }

    /// Puts back what an address held before (nothing, where `previous` is nil).
    public mutating func restore(_ address: IPv4Address, to previous: Lease?) {
        if let previous {
            apply(previous)
            return
        }
        if let current = byAddress[address] { forgetDiscoveryIndex(current) }
        byAddress[address] = nil
    }

    private mutating func forgetDiscoveryIndex(_ lease: Lease) {
        guard lease.location == nil else { return }
        // Only if the machine's index still names this address: a machine may hold an address
        // another host gave it while this host's withdrawn offer to it passes to someone else.
        let key = Self.key(mac: lease.mac, clientID: lease.clientID)
        if discovery[lease.pod]?[key] == lease.address { discovery[lease.pod]?[key] = nil }
        if let port = lease.askedFrom {
            byAskedFrom[port]?.remove(lease.address)
            if byAskedFrom[port]?.isEmpty == true { byAskedFrom[port] = nil }
        }
    }

    public func discoveryLeases(askedFrom port: Location, now: Int64) -> Int {
        byAskedFrom[port]?.count { byAddress[$0]?.blocksAddress(at: now) ?? false } ?? 0
    }

    public func proxyClient(mac: [UInt8]) -> ProxyClient? { proxyClients[mac] }

    public mutating func remember(_ client: ProxyClient, now: Int64) {
        if proxyClients.count >= Self.proxyClientLimit {
            // A storm of boot clients outgrew the table: forget the expired, then the oldest half.
            proxyClients = proxyClients.filter { $0.value.expiresAt > now }
            if proxyClients.count >= Self.proxyClientLimit {
                let kept = proxyClients.values.sorted { $0.expiresAt > $1.expiresAt }.prefix(Self.proxyClientLimit / 2)
                proxyClients = Dictionary(uniqueKeysWithValues: kept.map { ($0.mac, $0) })
            }
        }
        proxyClients[client.mac] = client
    }

    public func freeAddress(in range: IPv4Range, pod: String, now: Int64) -> IPv4Address? {
        if let discoveryBlocks {
            return freeAddressInHeldBlocks(discoveryBlocks, pod: pod, range: range, from: highWater[pod], now: now)
        }
        if let next = highWater[pod], range.contains(next), !(byAddress[next]?.blocksAddress(at: now) ?? false) {
            return next
        }
        if let next = highWater[pod], next <= range.last {
            return scanForFreeAddress(in: range, from: next, now: now) ?? scanForFreeAddress(in: range, now: now)
        }
        return scanForFreeAddress(in: range, now: now)
    }

    public func discoveryUncoordinated(pod: String) -> Bool { discoveryBlocks.map { !$0.available } ?? false }

    /// Client-id where sent (RFC 2131 prefers it), else the MAC; a leading byte keeps the two apart.
    static func key(mac: [UInt8], clientID: [UInt8]?) -> [UInt8] {
        clientID.map { [1] + $0 } ?? [0] + mac
    }
}
