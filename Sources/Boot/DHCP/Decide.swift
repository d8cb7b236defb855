import Addressing
import DHCPv4
import Zone

/// How this server answers: the settings policy needs beyond the zone.
public struct DHCPSettings: Sendable {
    /// Option 54, and what a client names when it selects this server.
    public var serverIdentifier: IPv4Address
    /// Direct mode: the server runs on this switch, and the ingress interface is the port.
    public var directSwitch: (pod: String, switch: String)?
    /// How long an offered discovery address stays reserved for the client it was offered to.
    public var offerHoldSeconds: Int64 = 60
    /// How long a declined address stays out of the discovery pool.
    public var quarantineSeconds: Int64 = 3600
    /// Discovery addresses machines on one undeclared port may hold at once (0: no cap): a
    /// machine that cycles its MAC must not drain its pod's range.
    public var discoveryLeasesPerPort = 8
    /// The boot loaders installed: a PXE client whose loader is missing gets no boot file.
    public var loaders: BootLoaders = .all
    /// proxyDHCP: another server hands out addresses; this one answers only network boot
    /// clients, with boot information and never an address.
    public var proxyMode = false

    public init(serverIdentifier: IPv4Address, directSwitch: (pod: String, switch: String)? = nil) {
        self.serverIdentifier = serverIdentifier
        self.directSwitch = directSwitch
    }
}

/// Everything a decision depends on: `DHCPPolicy.decide` is a pure function of it.
public struct DecisionInput<Leases: LeaseLookup> {
    public var facts: RequestFacts
    public var revision: ZoneRevision
    /// Every lease in memory, durable or not yet (an offer).
    public var leases: Leases
    public var settings: DHCPSettings
    /// Seconds since the Unix epoch.
    public var now: Int64

    public init(facts: RequestFacts, revision: ZoneRevision, leases: Leases, settings: DHCPSettings, now: Int64) {
        self.facts = facts
        self.revision = revision
        self.leases = leases
        self.settings = settings
        self.now = now
    }
}

/// Why a request got no answer. Each is counted.
public enum DropReason: String, Error, Sendable, CaseIterable {
    /// giaddr is no listed relay.
    case untrustedRelay = "untrusted-relay"
    /// giaddr is a listed relay, but the datagram did not come from its pod's `relay-sources`.
    case untrustedRelaySource = "untrusted-relay-source"
    case unrelayedOption82 = "unrelayed-option-82"
    case malformedOption82 = "malformed-option-82"
    /// Two Option 82 instances, or a sub-option given twice.
    case repeatedOption82 = "repeated-option-82"
    /// Link-selection (RFC 3527) naming a network outside the relay's own pod.
    case linkSelectionOfAnotherPod = "link-selection-of-another-pod"
    /// Direct mode: giaddr or Option 82 on an access port, where the port alone places.
    case relayedOnAccessPort = "relayed-on-access-port"
    /// An unrelayed request that names a client address (ciaddr) it was not sent from.
    case sourceNotClientAddress = "source-not-client-address"
    /// A relayed RELEASE or DECLINE for a lease held at another port.
    case leaseOfAnotherLocation = "lease-of-another-location"
    case remoteIDOfAnotherPod = "remote-id-of-another-pod"
    case notDirect = "unrelayed-not-direct"
    case unknownLocation = "unknown-location-no-discovery"
    case poolExhausted = "discovery-pool-exhausted"
    /// Hosts on etcd: etcd is out of reach (or this host's etcd lease was lost), so this host
    /// cannot prove its discovery blocks are still its own; declared ports are answered still.
    case discoveryUncoordinated = "discovery-store-unreachable"
    /// The undeclared port already holds `discoveryLeasesPerPort` discovery addresses.
    case discoveryPortFull = "discovery-port-full"
    case otherServerSelected = "other-server-selected"
    case noLease = "no-lease"
    case notAServerMessage = "not-a-client-message"
    case proxyNotABootClient = "proxy-not-a-boot-client"
    case proxyNothingToBoot = "proxy-nothing-to-boot"
    case proxyUnknownClient = "proxy-unknown-boot-client"
    /// A boot server request (ciaddr, no giaddr) that did not come to the boot server port.
    case proxyBootRequestOffPort = "proxy-boot-request-off-port"
    /// More requests this second from one MAC than `RequestRateLimit.perMAC`.
    case rateLimitedMAC = "rate-limited-mac"
    /// More requests this second through one relay circuit or port than `RequestRateLimit.perCircuit`.
    case rateLimitedCircuit = "rate-limited-circuit"
    /// Not a policy decision: the receive path shed it unread, older than its client waits
    /// for while the server is overloaded (or pushed out of a full queue); see `AdmissionQueue`.
    case stale
}

/// The answer to one request: what to send, what to store first, what happened.
public struct Decision: Sendable {
    public enum Outcome: Sendable {
        case reply(DHCPMessage, ReplyRoute)
        /// Nothing to send, and nothing wrong (RELEASE, DECLINE).
        case silent
        case drop(DropReason)
    }

    public var outcome: Outcome
    /// Lease states to apply to the table at once, so the next decision sees them (with a
    /// drop, only an offer withdrawn: nothing durable).
    public var leases: [Lease] = []
    public var events: [ZoneEvent] = []
    /// proxyDHCP: where a boot client was seen, so its request to the boot server port
    /// (unicast, past the relay, without Option 82) can be placed.
    public var proxyClient: ProxyClient?
    /// proxyDHCP: a client address (given by another server) now known to be a host's.
    public var proxyBinding: Lease?

    /// The largest reply the client takes, in bytes of DHCP message: its option 57 less
    /// the IP and UDP headers (28 bytes) it also covers; 548 where it names none.
    public var maximumReplySize = 548

    /// The leases to make durable before the reply leaves; taken back from the table if
    /// that fails, so the client's retry is decided afresh, with its events. An offer is a
    /// promise for a moment: it reserves a discovery address in memory and is not worth an
    /// fsync; after a crash the client's REQUEST is NAKed and it starts over.
    public var durableLeases: [Lease] { leases.filter { $0.state != .offered } }

    static func drop(_ reason: DropReason) -> Decision { Decision(outcome: .drop(reason)) }
}

public enum DHCPPolicy {
    /// All of DHCP policy: a pure function of the request, the zone, the leases and the time.
    /// Placement (`place`), then the message's own rule; the address it gets is its
    /// `binding`, its reply is built in Replies.swift and its events in Events.swift.
    public static func decide(_ input: DecisionInput<some LeaseLookup>) -> Decision {
        var decision = input.settings.proxyMode ? proxy(input) : messageDecision(input)
        // A client's option 57 covers the IP and UDP headers (28 bytes) as well.
        decision.maximumReplySize = (input.facts.maximumMessageSize ?? 576) - 28
        return decision
    }

    private static func messageDecision(_ input: DecisionInput<some LeaseLookup>) -> Decision {
        let placement: Placement
        switch place(input) {
        case .success(let found): placement = found
        case .failure(let reason): return .drop(reason)
        }
        switch input.facts.messageType {
        case .discover: return offer(input, placement)
        case .request: return request(input, placement)
        case .release: return release(input, placement)
        case .decline: return decline(input, placement)
        case .inform: return inform(input, placement)
        case .offer, .ack, .nak: return .drop(.notAServerMessage)
        }
    }

    // MARK: Messages

    private static func offer(_ input: DecisionInput<some LeaseLookup>, _ placement: Placement) -> Decision {
        let (facts, revision, settings, now) = (input.facts, input.revision, input.settings, input.now)
        let bound: Binding
        switch binding(input, placement) {
        case .success(let b): bound = b
        case .failure(let reason): return .drop(reason)
        }
        var decision = Decision(outcome: .reply(reply(.offer, facts, bound, revision, settings), route(facts, yiaddr: bound.address, nak: false)))
        // A discovery offer is recorded so its address is not offered twice. A known
        // location's address is the port's own: offering it reserves nothing, and must not
        // overwrite the lease of a machine that is still bound there until the new one is.
        let alreadyBound = bound.existing.map { $0.state == .bound && $0.isActive(at: now) && $0.belongs(toMAC: facts.mac, clientID: facts.clientID) } ?? false
        if placement.identity == nil && !alreadyBound {
            decision.leases.append(lease(facts, placement, bound, .offered, expires: now + settings.offerHoldSeconds, now))
        }
        if recorded(.leaseOffered, placement, revision) {
            decision.events.append(event(.leaseOffered, facts, placement, bound.address, now))
        }
        return decision
    }

    private static func request(_ input: DecisionInput<some LeaseLookup>, _ placement: Placement) -> Decision {
        let (facts, revision, settings, now) = (input.facts, input.revision, input.settings, input.now)
        if let selected = facts.serverIdentifier, selected != settings.serverIdentifier,
           selected != facts.relayInformation?.serverIDOverride.map(IPv4Address.init) {
            // The client chose another server's offer (a ToR pair, each host offered from its
            // own blocks): withdraw ours at once, so its address is free for the next machine.
            var decision = Decision.drop(.otherServerSelected)
            if placement.identity == nil,
               var offered = input.leases.discoveryLease(pod: placement.pod, mac: facts.mac, clientID: facts.clientID),
               offered.state == .offered, offered.isActive(at: now) {
                offered.expiresAt = now
                offered.updatedAt = now
                decision.leases = [offered]
            }
            return decision
        }
        let bound: Binding
        switch binding(input, placement) {
        case .success(let b): bound = b
        case .failure(.poolExhausted), .failure(.unknownLocation):
            return nak(facts, settings)
        case .failure(let reason): return .drop(reason)
        }
        // SELECTING and INIT-REBOOT name the address in option 50; RENEWING and REBINDING in ciaddr.
        let asked = facts.requestedAddress ?? facts.ciaddr
        guard asked == bound.address else { return nak(facts, settings) }
        var decision = Decision(outcome: .reply(reply(.ack, facts, bound, revision, settings), route(facts, yiaddr: bound.address, nak: false)))
        let newLease = lease(facts, placement, bound, .bound, expires: now + Int64(bound.leaseSeconds), now)
        decision.leases.append(newLease)
        if let previous = bound.existing, previous.isActive(at: now), previous.state == .bound,
           !previous.belongs(toMAC: facts.mac, clientID: facts.clientID), placement.identity != nil {
            // Cattle: the port's identity passes to whatever is plugged in now.
            var replaced = event(.hostReplaced, facts, placement, bound.address, now)
            replaced.details["previous_mac"] = MAC.text(previous.mac)
            decision.events.append(replaced)
        }
        // Discovered once: when the machine is first bound here (its own offer does not count).
        let firstTime = !(bound.existing.map { $0.state == .bound && $0.belongs(toMAC: facts.mac, clientID: facts.clientID) } ?? false)
        if firstTime && placement.identity == nil { decision.events.append(event(.hostDiscovered, facts, placement, bound.address, now)) }
        if newLease.miscabled, let identity = placement.identity {
            // Once per machine and kind: a renewal of a known finding is not news.
            let known = bound.existing.map {
                $0.miscabled && $0.state == .bound && $0.device?.kind == newLease.device?.kind
                    && $0.belongs(toMAC: facts.mac, clientID: facts.clientID)
            } ?? false
            if !known {
                var miscabled = event(.hostMiscabled, facts, placement, bound.address, now)
                miscabled.details["expected"] = DeviceCategory(expectedAt: identity.kind).rawValue
                decision.events.append(miscabled)
            }
        }
        if recorded(.leaseAcked, placement, revision) {
            decision.events.append(event(.leaseAcked, facts, placement, bound.address, now))
        }
        return decision
    }

    private static func release(_ input: DecisionInput<some LeaseLookup>, _ placement: Placement) -> Decision {
        let (facts, revision, leases, now) = (input.facts, input.revision, input.leases, input.now)
        guard let address = facts.ciaddr, var held = leases.lease(address: address), held.isActive(at: now),
              held.belongs(toMAC: facts.mac, clientID: facts.clientID) else { return .drop(.noLease) }
        guard held.isHeld(at: placement) else { return .drop(.leaseOfAnotherLocation) }
        held.state = .released
        held.expiresAt = now
        held.updatedAt = now
        var decision = Decision(outcome: .silent, leases: [held])
        if recorded(.leaseReleased, placement, revision) {
            decision.events.append(event(.leaseReleased, facts, placement, address, now))
        }
        return decision
    }

    private static func decline(_ input: DecisionInput<some LeaseLookup>, _ placement: Placement) -> Decision {
        let (facts, leases, settings, now) = (input.facts, input.leases, input.settings, input.now)
        guard let address = facts.requestedAddress, let held = leases.lease(address: address),
              held.belongs(toMAC: facts.mac, clientID: facts.clientID) else { return .drop(.noLease) }
        guard held.isHeld(at: placement) else { return .drop(.leaseOfAnotherLocation) }
        var quarantined = held
        quarantined.state = .declined
        quarantined.expiresAt = now + settings.quarantineSeconds
        quarantined.updatedAt = now
        return Decision(outcome: .silent, leases: [quarantined])
    }

    private static func inform(_ input: DecisionInput<some LeaseLookup>, _ placement: Placement) -> Decision {
        let (facts, revision, settings) = (input.facts, input.revision, input.settings)
        guard let identity = placement.identity, let ciaddr = facts.ciaddr else { return .drop(.unknownLocation) }
        let answer = IdentityAnswer(identity: identity, revision: revision)
        var message = baseReply(.ack, facts, settings)
        // INFORM: configuration only, no address and no lease time (RFC 2131 §3.4).
        for option in answer.options where !DHCPOptionCode.leaseTimes.contains(option.optionCode) {
            message.options.set(option.option)
        }
        appendRelayInformation(&message, facts)
        return Decision(outcome: .reply(message, facts.giaddr.map { .relay($0, port: relayPort(facts)) } ?? .unicast(ciaddr, port: 68)))
    }

    private static func nak(_ facts: RequestFacts, _ settings: DHCPSettings) -> Decision {
        var message = baseReply(.nak, facts, settings)
        message.options.set(DHCPOptionCode.message, Array("address not valid for this location".utf8))
        appendRelayInformation(&message, facts)
        return Decision(outcome: .reply(message, route(facts, yiaddr: nil, nak: true)))
    }

}
