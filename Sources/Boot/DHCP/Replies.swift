import Addressing
import DHCPv4
import Zone

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

extension DHCPPolicy {
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

    static func reply(_ type: DHCPMessageType, _ facts: RequestFacts, _ bound: Binding,
                      _ revision: ZoneRevision, _ settings: DHCPSettings) -> DHCPMessage {
        var message = baseReply(type, facts, settings)
        message.yiaddr = bound.address.value
        if let answer = bound.answer {
            for option in answer.options { message.options.set(option.option) }
            if let next = answer.nextServer { message.siaddr = next.value }
            if let target = bootTarget(facts, answer, loaders: settings.loaders) { setBootTarget(target, in: &message) }
        } else {
            // A discovery address of a pod whose discovery names no profile or hostname: a
            // host's options without a name, the zone's domain and NTP included.
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

    static func relayPort(_ facts: RequestFacts) -> UInt16 {
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
}
