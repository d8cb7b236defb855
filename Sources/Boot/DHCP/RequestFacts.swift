import Addressing
import DHCPv4

/// What a DHCP request tells about the machine that sent it and where it is.
///
/// Built from a parsed message and how it arrived; everything policy needs and
/// nothing it does not (no sockets, no clocks).
public struct RequestFacts: Sendable, Hashable {
    public var messageType: DHCPMessageType
    public var xid: UInt32
    public var mac: [UInt8]
    public var clientID: [UInt8]?
    public var giaddr: IPv4Address?
    public var ciaddr: IPv4Address?
    public var requestedAddress: IPv4Address?
    public var serverIdentifier: IPv4Address?
    /// Option 82 as the relay sent it (parsed), nil when absent.
    public var relayInformation: RelayAgentInformation?
    /// Set when option 82 was present but malformed.
    public var relayInformationMalformed: Bool
    /// Set when option 82 came in more than one instance or repeats a sub-option: whose
    /// circuit-id counts would be a guess (a client's own Option 82 behind a relay that appends).
    public var relayInformationRepeated: Bool
    /// The interface the request came in on, where the server runs on the switch itself.
    public var ingressInterface: String?
    public var vendorClass: String?
    public var userClasses: [String]
    public var architectures: [UInt16]
    /// Option 125 (ONIE sends its machine, arch and revision under enterprise 42623).
    public var vendorOptions: VendorIdentifyingOptions?
    /// Option 55: what the client asks for (Cumulus ZTP asks for 239).
    public var parameterRequestList: [UInt8]
    /// iPXE is running: user class `iPXE` or option 175 (some ROMs send only the latter).
    public var isIPXE: Bool
    public var broadcastFlag: Bool
    public var maximumMessageSize: Int?
    /// The BOOTP fields a reply copies back.
    public var htype: UInt8
    public var hlen: UInt8
    public var chaddr: [UInt8]
    public var flags: UInt16
    /// UDP source port of the datagram: where a relay that asks for relay-port (RFC 8357) listens.
    public var sourcePort: UInt16
    /// IP source address of the datagram, where the listener knows it: who really sent it,
    /// whatever giaddr and ciaddr claim.
    public var sourceAddress: IPv4Address?
    /// It came in on the PXE boot server port (4011), not the DHCP port.
    public var onBootServerPort: Bool
    /// How many client-supplied strings (model, serial, vendor class) were not kept because
    /// they are not `ClientText.safe`.
    public private(set) var discardedClientText = 0
    /// What the requester says it is (kind, model, serial), read once from the facts above
    /// for the answer, the lease and the events alike.
    public private(set) var device = RecognizedDevice(kind: .unknown)

    /// Facts of a request; nil when the message is not a client request with a type.
    public init?(message: DHCPMessage, ingressInterface: String? = nil, sourcePort: UInt16 = 68,
                 sourceAddress: IPv4Address? = nil, onBootServerPort: Bool = false) {
        guard message.op == .request, let type = message.messageType else { return nil }
        messageType = type
        xid = message.xid
        mac = message.hardwareAddress
        clientID = message.options.clientIdentifier
        giaddr = message.giaddr == 0 ? nil : IPv4Address(message.giaddr)
        ciaddr = message.ciaddr == 0 ? nil : IPv4Address(message.ciaddr)
        requestedAddress = message.options.requestedAddress.map(IPv4Address.init)
        serverIdentifier = message.options.serverIdentifier.map(IPv4Address.init)
        if let raw = message.options.relayAgentInformation {
            relayInformation = try? RelayAgentInformation(parsing: raw)
            relayInformationMalformed = relayInformation == nil
            relayInformationRepeated = message.options.joinedCodes.contains(DHCPOptionCode.relayAgentInformation.rawValue)
                || relayInformation?.repeatsASubOption == true
        } else {
            relayInformation = nil
            relayInformationMalformed = false
            relayInformationRepeated = false
        }
        self.ingressInterface = ingressInterface
        vendorClass = message.options.vendorClass
        userClasses = message.options.userClasses
        architectures = message.options.clientArchitectures
        vendorOptions = message.options.vendorIdentifyingOptions
        parameterRequestList = message.options.parameterRequestList
        isIPXE = userClasses.contains("iPXE") || message.options.ipxeEncapsulated != nil
        broadcastFlag = message.isBroadcast
        maximumMessageSize = message.options.maximumMessageSize
        htype = message.htype
        hlen = message.hlen
        chaddr = message.chaddr
        flags = message.flags
        self.sourcePort = sourcePort
        self.sourceAddress = sourceAddress
        self.onBootServerPort = onBootServerPort
        // Recognition reads the options as sent; what is kept of them is only safe text.
        let recognized = RecognizedDevice(facts: self)
        device = RecognizedDevice(kind: recognized.kind, model: recognized.model.flatMap(ClientText.safe),
                                  serial: recognized.serial.flatMap(ClientText.safe))
        discardedClientText = [recognized.model, recognized.serial, vendorClass].count {
            $0.map { ClientText.safe($0) == nil } ?? false
        }
    }

    /// Option 60 where it is safe to keep (event details, records); recognition reads `vendorClass`.
    public var safeVendorClass: String? { vendorClass.flatMap(ClientText.safe) }

    /// A DHCPDISCOVER that sends only option 60 (or nothing): what `zonectl render
    /// --vendor-class` asks the policy about.
    public static func discover(vendorClass: String?) -> RequestFacts {
        var options = DHCPOptions()
        options.set(DHCPOptionCode.messageType, [DHCPMessageType.discover.rawValue])
        if let vendorClass { options.set(DHCPOptionCode.vendorClass, Array(vendorClass.utf8)) }
        let message = DHCPMessage(op: .request, xid: 0, chaddr: [0, 0, 0, 0, 0, 0], options: options)
        // A request with a message type always has facts.
        return RequestFacts(message: message)!
    }

    /// The MAC as people write it: `52:54:00:12:34:56`.
    public var macText: String { MAC.text(mac) }
}

public enum MAC {
    /// Written digit by digit: every host file request formats its lease's MAC.
    public static func text(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var utf8: [UInt8] = []
        utf8.reserveCapacity(bytes.count * 3)
        for byte in bytes {
            if !utf8.isEmpty { utf8.append(UInt8(ascii: ":")) }
            utf8.append(digits[Int(byte >> 4)])
            utf8.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: utf8, as: UTF8.self)
    }
}
