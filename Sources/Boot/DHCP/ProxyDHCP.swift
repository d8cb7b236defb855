import Addressing
import DHCPv4
import Zone

/// Where a network boot client was seen by the proxy, for its boot server request.
public struct ProxyClient: Sendable, Hashable {
    public var mac: [UInt8]
    public var pod: String
    public var location: Location
    public var expiresAt: Int64

    public init(mac: [UInt8], pod: String, location: Location, expiresAt: Int64) {
        self.mac = mac
        self.pod = pod
        self.location = location
        self.expiresAt = expiresAt
    }
}

extension DHCPPolicy {
    /// The DHCP port of a PXE boot server (PXE 2.1): clients send it their boot request.
    public static let bootServerPort: UInt16 = 4011
    /// How long a proxy offer's client is remembered for its boot server request.
    static let proxyClientSeconds: Int64 = 300

    /// proxyDHCP (PXE 2.1 §2.2.3): another server gives the address; this one answers
    /// boot clients only, placed by location as always, with `yiaddr` 0 and option 60
    /// `PXEClient` (how a ROM, and iPXE, tell a proxy offer from an address offer).
    ///
    /// - DISCOVER from a boot client at a known location: a proxy OFFER with the boot file.
    /// - REQUEST to the boot server port (ciaddr set, unicast, no Option 82, sent from
    ///   ciaddr): an ACK with the boot file, and the client's address is bound to its host,
    ///   so it may read the host's files.
    /// - Anything else (a REQUEST for the other server's address, clients that do not
    ///   network boot): not ours, dropped and counted.
    static func proxy(_ input: DecisionInput<some LeaseLookup>) -> Decision {
        let (facts, revision, leases, settings, now) = (input.facts, input.revision, input.leases, input.settings, input.now)
        guard let client = BootClient(facts: facts) else { return .drop(.proxyNotABootClient) }
        let placement: Placement
        let bootServerRequest = facts.messageType == .request && facts.giaddr == nil && facts.ciaddr != nil
        if bootServerRequest {
            // It binds its ciaddr to a host, and so opens that host's files to the address:
            // only on the port PXE sends it to, and only from the address it names.
            guard facts.onBootServerPort else { return .drop(.proxyBootRequestOffPort) }
            guard facts.sourceAddress == facts.ciaddr else { return .drop(.sourceNotClientAddress) }
        } else if facts.onBootServerPort {
            return .drop(.proxyNothingToBoot)
        }
        switch facts.messageType {
        case .discover:
            switch place(input) {
            case .success(let found): placement = found
            case .failure(let reason): return .drop(reason)
            }
        case .request where bootServerRequest:
            guard let seen = leases.proxyClient(mac: facts.mac), seen.expiresAt > now else { return .drop(.proxyUnknownClient) }
            placement = Placement(pod: seen.pod, identity: revision.identity(at: seen.location), location: seen.location)
        default:
            return .drop(.proxyNothingToBoot)
        }
        guard let identity = placement.identity, let location = placement.location else { return .drop(.proxyNothingToBoot) }
        let answer = IdentityAnswer(identity: identity, revision: revision)
        guard let target = answer.bootTarget(for: client, loaders: settings.loaders) else { return .drop(.proxyNothingToBoot) }

        var message = baseReply(bootServerRequest ? .ack : .offer, facts, settings)
        if case .url(_, vendorClass: "HTTPClient") = target {} else {
            message.options.set(AnswerOption(.vendorClass, .text("PXEClient")).option)
        }
        setBootTarget(target, in: &message)
        if case .pxe = client {
            // PXE_DISCOVERY_CONTROL (vendor option 43, sub-option 6) = 8: take the boot file
            // from this answer; no boot server discovery by multicast or broadcast.
            message.options.set(DHCPOptionCode.vendorSpecific, [6, 1, 8, 255])
        }
        appendRelayInformation(&message, facts)
        var decision: Decision
        if bootServerRequest, let ciaddr = facts.ciaddr {
            // iPXE accepts a boot server ACK only with next-server and a boot file. Its proxy
            // OFFER carries no next-server, so that iPXE does come here and tell its address.
            message.siaddr = answer.nextServer?.value ?? settings.serverIdentifier.value
            decision = Decision(outcome: .reply(message, .unicast(ciaddr, port: facts.sourcePort)))
            // Not a lease this server gave, and not stored: the address another server gave,
            // known to be this host's until it expires, so the host can read its files.
            decision.proxyBinding = Lease(address: ciaddr, mac: facts.mac, clientID: facts.clientID, pod: placement.pod,
                                          location: location, name: identity.name, state: .bound,
                                          expiresAt: now + Int64(answer.leaseSeconds), updatedAt: now)
        } else {
            // No yiaddr to send it to: a relay must broadcast it on the client's port.
            if facts.giaddr != nil { message.flags |= DHCPMessage.broadcastFlag }
            decision = Decision(outcome: .reply(message, route(facts, yiaddr: nil, nak: false)))
            decision.proxyClient = ProxyClient(mac: facts.mac, pod: placement.pod, location: location,
                                               expiresAt: now + proxyClientSeconds)
        }
        return decision
    }
}
