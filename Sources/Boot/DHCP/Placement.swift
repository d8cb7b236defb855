import Addressing
import DHCPv4
import Zone

/// Where a request comes from, once trust is settled.
struct Placement {
    var pod: String
    /// The declared port, when the location is in the zone.
    var identity: Identity?
    var location: Location?
}

extension Lease {
    /// Whether this lease was granted where the request now comes from: a machine may give
    /// up (RELEASE, DECLINE) only a lease of its own port, whatever MAC it writes.
    func isHeld(at placement: Placement) -> Bool {
        pod == placement.pod && (location ?? askedFrom) == placement.location
    }
}

extension DHCPPolicy {
    static func place(_ input: DecisionInput<some LeaseLookup>) -> Result<Placement, DropReason> {
        let (facts, revision, leases, settings) = (input.facts, input.revision, input.leases, input.settings)
        // Direct mode: the port a frame came in on is the location. A client on it that sets
        // giaddr or Option 82 is claiming to be somewhere else.
        if facts.ingressInterface != nil, facts.giaddr != nil || facts.relayInformation != nil || facts.relayInformationMalformed {
            return .failure(.relayedOnAccessPort)
        }
        if let giaddr = facts.giaddr {
            // Option 82 is believed only from relays the zone lists, and only in datagrams
            // that come from where those relays send: giaddr is a claim anyone can write.
            guard let pod = revision.pod(trustingRelay: giaddr) else { return .failure(.untrustedRelay) }
            guard let source = facts.sourceAddress, revision.pod(pod, trustsRelaySource: source) else {
                return .failure(.untrustedRelaySource)
            }
            if facts.relayInformationMalformed { return .failure(.malformedOption82) }
            if facts.relayInformationRepeated { return .failure(.repeatedOption82) }
            // RFC 3527: a trusted relay may name the client's subnet apart from giaddr, within
            // its own pod: another pod's relay cannot place a client there.
            if let link = facts.relayInformation?.linkSelection.map(IPv4Address.init),
               revision.pod(containing: link) != pod {
                return .failure(.linkSelectionOfAnotherPod)
            }
            guard let info = facts.relayInformation, let circuit = info.circuitID else { return .success(Placement(pod: pod)) }
            guard let found = revision.switchFor(remoteID: info.remoteID, circuitID: circuit, relayPod: pod) else {
                // A switch the zone does not know: the port is still the relay's and the circuit's,
                // named by the relay's address (which no switch name can be), so a discovery
                // lease shows where it was asked from and the per-port cap holds there too. A
                // circuit-id outside ClientText's alphabet (it reaches templates) names no port.
                guard let port = ClientText.safe(circuit) else { return .success(Placement(pod: pod)) }
                return .success(Placement(pod: pod, location: Location(pod: pod, switch: giaddr.description, port: port)))
            }
            guard found.pod == pod else { return .failure(.remoteIDOfAnotherPod) }
            let location = Location(pod: found.pod, switch: found.switch, port: circuit)
            return .success(Placement(pod: pod, identity: revision.identity(at: location), location: location))
        }
        // Unrelayed: a client cannot vouch for its own location.
        if facts.relayInformation != nil || facts.relayInformationMalformed { return .failure(.unrelayedOption82) }
        if let direct = settings.directSwitch, let port = facts.ingressInterface {
            let location = Location(pod: direct.pod, switch: direct.switch, port: port)
            return .success(Placement(pod: direct.pod, identity: revision.identity(at: location), location: location))
        }
        // RENEWING (and RELEASE, INFORM) is unicast from the client's own address, past the
        // relay: its location is the one its lease was granted for. A location whose
        // address has since changed gets a NAK from the address check. Only the holder of
        // that address can send from it (the relay routes it from the client's port), so a
        // datagram from anywhere else naming it is a forgery.
        if let ciaddr = facts.ciaddr, [.request, .release, .inform].contains(facts.messageType) {
            guard facts.sourceAddress == ciaddr else { return .failure(.sourceNotClientAddress) }
        }
        if let ciaddr = facts.ciaddr, [.request, .release, .inform].contains(facts.messageType),
           let lease = leases.lease(address: ciaddr), lease.belongs(toMAC: facts.mac, clientID: facts.clientID) {
            // A discovery lease keeps the unknown port it was asked from.
            guard let location = lease.location else { return .success(Placement(pod: lease.pod, location: lease.askedFrom)) }
            return .success(Placement(pod: lease.pod, identity: revision.identity(at: location), location: location))
        }
        return .failure(.notDirect)
    }
}
