import Addressing
import DHCPv4

/// A DHCP client's request as the server receives it: by default relayed by the example
/// zone's p01 tor-a from port swp7 (giaddr 198.18.16.1, Option 82 circuit-id and
/// remote-id); with `giaddr`, `circuit` and `remoteID` nil, as the client sent it.
/// Every test that needs a request builds it here, and changes only what it tests.
public struct ClientRequest: Sendable {
    public var type: DHCPMessageType
    public var mac: [UInt8]
    public var circuit: String?
    public var remoteID: String?
    public var giaddr: IPv4Address?
    public var ciaddr: IPv4Address?
    /// Option 50.
    public var requested: IPv4Address?
    /// Option 54, sent by a REQUEST that selects an offer (no ciaddr), as RFC 2131 says.
    public var serverID: IPv4Address?
    /// Option 82 sub-options after circuit-id and remote-id.
    public var extraSubOptions: [DHCPOption]
    /// Option 77, one class.
    public var userClass: String?
    public var broadcast: Bool
    /// Any other options the client sends (vendor class, architecture, option 57, ...).
    public var clientOptions: [DHCPOption]
    public var xid: UInt32

    public init(_ type: DHCPMessageType, mac: [UInt8], circuit: String? = "swp7", remoteID: String? = "p01-tor-a",
                giaddr: IPv4Address? = IPv4Address(198, 18, 16, 1), ciaddr: IPv4Address? = nil,
                requested: IPv4Address? = nil, serverID: IPv4Address? = IPv4Address(198, 18, 0, 10),
                extraSubOptions: [DHCPOption] = [], userClass: String? = nil, broadcast: Bool = false,
                clientOptions: [DHCPOption] = [], xid: UInt32 = 0x1234) {
        self.type = type
        self.mac = mac
        self.circuit = circuit
        self.remoteID = remoteID
        self.giaddr = giaddr
        self.ciaddr = ciaddr
        self.requested = requested
        self.serverID = serverID
        self.extraSubOptions = extraSubOptions
        self.userClass = userClass
        self.broadcast = broadcast
        self.clientOptions = clientOptions
        self.xid = xid
    }

    public var message: DHCPMessage {
        var options = DHCPOptions()
        options.set(DHCPOptionCode.messageType, [type.rawValue])
        for option in clientOptions { options.set(option.code, option.data) }
        if let requested { options.set(DHCPOptionCode.requestedAddress, requested.bytes) }
        if type == .request, ciaddr == nil, let serverID { options.set(DHCPOptionCode.serverIdentifier, serverID.bytes) }
        if let userClass { options.set(DHCPOptionCode.userClass, Array(userClass.utf8)) }
        var subOptions: [DHCPOption] = []
        if let circuit { subOptions.append(DHCPOption(1, Array(circuit.utf8))) }
        if let remoteID { subOptions.append(DHCPOption(2, Array(remoteID.utf8))) }
        subOptions += extraSubOptions
        if !subOptions.isEmpty {
            options.set(DHCPOptionCode.relayAgentInformation, RelayAgentInformation(subOptions: subOptions).serialized)
        }
        return DHCPMessage(op: .request, hops: giaddr == nil ? 0 : 1, xid: xid, flags: broadcast ? 0x8000 : 0,
                           ciaddr: ciaddr?.value ?? 0, giaddr: giaddr?.value ?? 0, chaddr: mac, options: options)
    }

    /// The datagram on the wire.
    public var bytes: [UInt8] { message.serialized() }

    /// Where it comes from unless a test says otherwise: the relay, else the client's address.
    public var defaultSource: IPv4Address? { giaddr ?? ciaddr }
}
