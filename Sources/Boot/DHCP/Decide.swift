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

/// Where a reply goes (RFC 2131 §4.1, RFC 8357).
public enum ReplyRoute: Sendable, Hashable {
    /// To the relay agent at giaddr, on port 67 or the relay's own port.
    case relay(IPv4Address, port: UInt16)
    /// To 255.255.255.255:68 on the ingress interface.
    case broadcast
    /// To a client that has an address (ciaddr), on port 68 or, for a boot server request
    /// (port 4011), the port it came from.
    case unicast(IPv4Address, port: UInt16)
    /// To a client with no address yet: yiaddr at chaddr, without ARP.
    case hardware(IPv4Address, mac: [UInt8])
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
    /// Lease states to make durable before the reply leaves.
    public var leases: [Lease] = []
    public var events: [DHCPEvent] = []
    /// proxyDHCP: where a boot client was seen, so its request to the boot server port
    /// (unicast, past the relay, without Option 82) can be placed.
    public var proxyClient: ProxyClient?
    /// proxyDHCP: a client address (given by another server) now known to be a host's.
    public var proxyBinding: Lease?

    static func drop(_ reason: DropReason) -> Decision { Decision(outcome: .drop(reason)) }
}

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

public enum DHCPPolicy {
    /// All of DHCP policy: a pure function of the request, the zone, the leases and the time.
    public static func decide(_ facts: RequestFacts, revision: ZoneRevision, leases: some LeaseView,
                              settings: DHCPSettings, now: Int64) -> Decision {
        if settings.proxyMode { return proxy(facts, revision: revision, leases: leases, settings: settings, now: now) }
        let placement: Placement
        switch place(facts, revision: revision, leases: leases, settings: settings) {
        case .success(let found): placement = found
        case .failure(let reason): return .drop(reason)
        }
        let decision: Decision
        switch facts.messageType {
        case .discover:
            decision = offer(facts, placement, revision, leases, settings, now)
        case .request:
            decision = request(facts, placement, revision, leases, settings, now)
        case .release:
            decision = release(facts, placement, revision, leases, now)
        case .decline:
            decision = decline(facts, placement, leases, settings, now)
        case .inform:
            decision = inform(facts, placement, revision, settings)
        case .offer, .ack, .nak:
            return .drop(.notAServerMessage)
        }
        return decision
    }

    // MARK: Placement

    static func place(_ facts: RequestFacts, revision: ZoneRevision, leases: some LeaseView,
                      settings: DHCPSettings) -> Result<Placement, DropReason> {
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
            guard let info = facts.relayInformation, let circuit = info.circuitID,
                  let found = revision.switchFor(remoteID: info.remoteID, circuitID: circuit, relayPod: pod) else {
                return .success(Placement(pod: pod))
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

    // MARK: Messages

    /// The address and lease this client gets, known location or discovery pool.
    private struct Binding {
        var address: IPv4Address
        var subnet: IPv4Network
        var gateway: IPv4Address?
        var leaseSeconds: UInt32
        var answer: IdentityAnswer?
        var existing: Lease?
    }

    private static func binding(_ facts: RequestFacts, _ placement: Placement, _ revision: ZoneRevision,
                                _ leases: some LeaseView, _ settings: DHCPSettings, _ now: Int64) -> Result<Binding, DropReason> {
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
        let seconds = UInt32(clamping: discovery.lease?.value.seconds ?? 600)
        func make(_ address: IPv4Address, _ existing: Lease?) -> Binding {
            Binding(address: address, subnet: network.subnet.value, gateway: network.gateway?.value,
                    leaseSeconds: seconds, answer: nil, existing: existing)
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

    private static func offer(_ facts: RequestFacts, _ placement: Placement, _ revision: ZoneRevision,
                              _ leases: some LeaseView, _ settings: DHCPSettings, _ now: Int64) -> Decision {
        let bound: Binding
        switch binding(facts, placement, revision, leases, settings, now) {
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

    private static func request(_ facts: RequestFacts, _ placement: Placement, _ revision: ZoneRevision,
                                _ leases: some LeaseView, _ settings: DHCPSettings, _ now: Int64) -> Decision {
        if let selected = facts.serverIdentifier, selected != settings.serverIdentifier,
           selected != facts.relayInformation?.serverIDOverride.map(IPv4Address.init) {
            // The client chose another server's offer: forget ours.
            return .drop(.otherServerSelected)
        }
        let bound: Binding
        switch binding(facts, placement, revision, leases, settings, now) {
        case .success(let b): bound = b
        case .failure(.poolExhausted), .failure(.unknownLocation):
            return nak(facts, revision, settings, placement)
        case .failure(let reason): return .drop(reason)
        }
        // SELECTING and INIT-REBOOT name the address in option 50; RENEWING and REBINDING in ciaddr.
        let asked = facts.requestedAddress ?? facts.ciaddr
        guard asked == bound.address else { return nak(facts, revision, settings, placement) }
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

    private static func release(_ facts: RequestFacts, _ placement: Placement, _ revision: ZoneRevision,
                                _ leases: some LeaseView, _ now: Int64) -> Decision {
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

    private static func decline(_ facts: RequestFacts, _ placement: Placement, _ leases: some LeaseView,
                                _ settings: DHCPSettings, _ now: Int64) -> Decision {
        guard let address = facts.requestedAddress, let held = leases.lease(address: address),
              held.belongs(toMAC: facts.mac, clientID: facts.clientID) else { return .drop(.noLease) }
        guard held.isHeld(at: placement) else { return .drop(.leaseOfAnotherLocation) }
        var quarantined = held
        quarantined.state = .declined
        quarantined.expiresAt = now + settings.quarantineSeconds
        quarantined.updatedAt = now
        return Decision(outcome: .silent, leases: [quarantined])
    }

    private static func inform(_ facts: RequestFacts, _ placement: Placement, _ revision: ZoneRevision,
                               _ settings: DHCPSettings) -> Decision {
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

    private static func nak(_ facts: RequestFacts, _ revision: ZoneRevision, _ settings: DHCPSettings,
                            _ placement: Placement) -> Decision {
        var message = baseReply(.nak, facts, settings)
        message.options.set(DHCPOptionCode.message, Array("address not valid for this location".utf8))
        appendRelayInformation(&message, facts)
        return Decision(outcome: .reply(message, route(facts, yiaddr: nil, nak: true)))
    }

    // MARK: Building replies

    static func baseReply(_ type: DHCPMessageType, _ facts: RequestFacts, _ settings: DHCPSettings) -> DHCPMessage {
        var options = DHCPOptions()
        options.set(DHCPOptionCode.messageType, [type.rawValue])
        let serverID = facts.relayInformation?.serverIDOverride.map(IPv4Address.init) ?? settings.serverIdentifier
        options.set(DHCPOptionCode.serverIdentifier, serverID.bytes)
        // A relayed NAK goes to the relay with the broadcast bit, so the relay broadcasts it (RFC 2131 §4.3.2).
        let flags = type == .nak && facts.giaddr != nil ? facts.flags | DHCPMessage.broadcastFlag : facts.flags
        return DHCPMessage(op: .reply, htype: facts.htype, hlen: facts.hlen, xid: facts.xid, flags: flags,
                           ciaddr: type == .nak ? 0 : facts.ciaddr?.value ?? 0, giaddr: facts.giaddr?.value ?? 0,
                           chaddr: facts.chaddr, options: options)
    }

    private static func reply(_ type: DHCPMessageType, _ facts: RequestFacts, _ bound: Binding,
                              _ revision: ZoneRevision, _ settings: DHCPSettings) -> DHCPMessage {
        var message = baseReply(type, facts, settings)
        message.yiaddr = bound.address.value
        if let answer = bound.answer {
            for option in answer.options { message.options.set(option.option) }
            if let next = answer.nextServer { message.siaddr = next.value }
            if let target = bootTarget(facts, answer, loaders: settings.loaders) { setBootTarget(target, in: &message) }
        } else {
            // A discovery address: a host's options without a name, the zone's domain and NTP included.
            for option in IdentityAnswer.addressOptions(netmask: bound.subnet.netmask, gateway: bound.gateway, hostName: nil,
                                                        leaseSeconds: bound.leaseSeconds, revision: revision) {
                message.options.set(option.option)
            }
        }
        appendRelayInformation(&message, facts)
        return message
    }

    /// What the machine fetches next: a switch's ZTP file or NOS installer, else a network
    /// boot client's loader or script. A machine whose kind does not fit its port (an iLO
    /// on a host port) gets neither: those files were written for another kind of machine.
    public static func bootTarget(_ facts: RequestFacts, _ answer: IdentityAnswer, loaders: BootLoaders) -> BootTarget? {
        let device = facts.device
        guard device.fits(answer.identity.kind) else { return nil }
        if let ztp = answer.ztpTarget(for: device.kind) { return ztp }
        return BootClient(facts: facts).flatMap { answer.bootTarget(for: $0, loaders: loaders) }
    }

    /// The boot file goes in option 67 and, where it fits, in the BOOTP `file` field that
    /// older ROMs read; a TFTP server is named in siaddr and option 66 alike.
    static func setBootTarget(_ target: BootTarget, in message: inout DHCPMessage) {
        if case .tftp(let server, _) = target { message.siaddr = server.value }
        for option in target.options { message.options.set(option.option) }
        if let file = target.bootFile, file.utf8.count < 128 { message.bootFile = Array(file.utf8) }
    }

    /// RFC 3046: option 82 goes back exactly as received, as the last option.
    static func appendRelayInformation(_ message: inout DHCPMessage, _ facts: RequestFacts) {
        guard facts.giaddr != nil, let info = facts.relayInformation else { return }
        message.options.set(DHCPOptionCode.relayAgentInformation, info.serialized)
    }

    private static func relayPort(_ facts: RequestFacts) -> UInt16 {
        facts.relayInformation?.asksForRelayPort == true ? facts.sourcePort : 67
    }

    /// RFC 2131 §4.1: relay first; then ciaddr; then broadcast if asked (and for NAKs); else chaddr.
    static func route(_ facts: RequestFacts, yiaddr: IPv4Address?, nak: Bool) -> ReplyRoute {
        if let giaddr = facts.giaddr { return .relay(giaddr, port: relayPort(facts)) }
        if nak { return .broadcast }
        if let ciaddr = facts.ciaddr { return .unicast(ciaddr, port: 68) }
        guard let yiaddr, !facts.broadcastFlag else { return .broadcast }
        return .hardware(yiaddr, mac: facts.mac)
    }

    private static func lease(_ facts: RequestFacts, _ placement: Placement, _ bound: Binding, _ state: Lease.State,
                              expires: Int64, _ now: Int64) -> Lease {
        let device = facts.device
        return Lease(address: bound.address, mac: facts.mac, clientID: facts.clientID, pod: placement.pod,
                     location: placement.identity?.location, name: placement.identity?.name, state: state,
                     expiresAt: expires, updatedAt: now, device: device,
                     miscabled: placement.identity.map { !device.fits($0.kind) } ?? false,
                     askedFrom: placement.identity == nil ? placement.location : nil)
    }

    /// The outbox keeps what hooks run on, and every host.* event (rare, and what operators
    /// look for); a lease event no hook of the host's role wants is not even built.
    private static func recorded(_ type: HookEvent, _ placement: Placement, _ revision: ZoneRevision) -> Bool {
        type == .hostReplaced || type == .hostDiscovered || type == .hostMiscabled
            || revision.hooksWant(type, role: placement.identity?.role)
    }

    private static func event(_ type: HookEvent, _ facts: RequestFacts, _ placement: Placement,
                              _ address: IPv4Address, _ now: Int64) -> DHCPEvent {
        var details: [String: String] = [:]
        if let vendor = facts.safeVendorClass { details["vendor_class"] = vendor }
        if let circuit = facts.relayInformation?.circuitID { details["circuit_id"] = circuit }
        if let remote = facts.relayInformation?.remoteID { details["remote_id"] = remote }
        let device = facts.device
        details["device_kind"] = device.kind.rawValue
        if let model = device.model { details["device_model"] = model }
        if let serial = device.serial { details["device_serial"] = serial }
        return DHCPEvent(type: type, address: address, mac: facts.macText, name: placement.identity?.name,
                         pod: placement.pod, location: placement.location, details: details, at: now)
    }
}
