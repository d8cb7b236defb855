import Addressing
import DHCPv4
import Zone

extension DHCPPolicy {
    /// The address and lease this client gets, known location or discovery pool.
    struct Binding {
        var address: IPv4Address
        var subnet: IPv4Network
        var gateway: IPv4Address?
        var leaseSeconds: UInt32
        var answer: IdentityAnswer?
        var existing: Lease?
    }

    static func binding(_ input: DecisionInput<some LeaseLookup>, _ placement: Placement) -> Result<Binding, DropReason> {
        let (facts, revision, leases, settings, now) = (input.facts, input.revision, input.leases, input.settings, input.now)
        if let identity = placement.identity {
            let answer = IdentityAnswer(identity: identity, revision: revision)
            return .success(Binding(address: identity.address, subnet: identity.subnet, gateway: identity.gateway,
                                    leaseSeconds: answer.leaseSeconds, answer: answer,
                                    existing: leases.lease(address: identity.address)))
        }
        guard let pod = revision.pod(named: placement.pod), let discovery = pod.discovery,
              let network = pod.networks.first(where: { $0.name.value == discovery.network.value }) else {
            return .failure(.unknownLocation)
        }
        // A discovery lease is unique across hosts only while this host knows its blocks are its own.
        guard !leases.discoveryUncoordinated(pod: placement.pod) else { return .failure(.discoveryUncoordinated) }
        let seconds = UInt32(clamping: discovery.lease?.value.seconds ?? 600)
        func make(_ address: IPv4Address, _ existing: Lease?) -> Binding {
            // With a discovery profile or hostname, the machine is answered as a declared host is.
            let identity = DiscoveryIdentity.make(pod: placement.pod, mac: facts.mac, address: address,
                                                  askedFrom: placement.location, revision: revision)
            return Binding(address: address, subnet: network.subnet.value, gateway: network.gateway?.value,
                           leaseSeconds: seconds,
                           answer: identity.map { IdentityAnswer(discovery: $0, leaseSeconds: seconds, revision: revision) },
                           existing: existing)
        }
        if let mine = leases.discoveryLease(pod: placement.pod, mac: facts.mac, clientID: facts.clientID),
           mine.state != .declined {
            return .success(make(mine.address, mine))
        }
        if let port = placement.location, settings.discoveryLeasesPerPort > 0,
           leases.discoveryLeases(askedFrom: port, now: now) >= settings.discoveryLeasesPerPort {
            return .failure(.discoveryPortFull)
        }
        guard let address = leases.freeAddress(in: discovery.range.value, pod: placement.pod, now: now) else {
            return .failure(.poolExhausted)
        }
        return .success(make(address, leases.lease(address: address)))
    }

    static func lease(_ facts: RequestFacts, _ placement: Placement, _ bound: Binding, _ state: Lease.State,
                      expires: Int64, _ now: Int64) -> Lease {
        let device = facts.device
        return Lease(address: bound.address, mac: facts.mac, clientID: facts.clientID, pod: placement.pod,
                     location: placement.identity?.location, name: placement.identity?.name, state: state,
                     expiresAt: expires, updatedAt: now, device: device,
                     miscabled: placement.identity.map { !device.fits($0.kind) } ?? false,
                     askedFrom: placement.identity == nil ? placement.location : nil)
    }
}
