/// Option 82, the relay agent information (RFC 3046): what the relay says about
/// where a request came from. Sub-options are kept in order, byte for byte, so the
/// option can be echoed exactly as received.
public struct RelayAgentInformation: Sendable, Hashable {
    public enum SubOption {
        public static let circuitID: UInt8 = 1
        public static let remoteID: UInt8 = 2
        public static let linkSelection: UInt8 = 5      // RFC 3527
        public static let subscriberID: UInt8 = 6       // RFC 3993
        public static let flags: UInt8 = 10             // RFC 5010
        public static let serverIDOverride: UInt8 = 11  // RFC 5107
        public static let relayID: UInt8 = 12           // RFC 6925
        public static let relayPort: UInt8 = 19         // RFC 8357
        public static let vssInformation: UInt8 = 151   // RFC 6607
        public static let vssControl: UInt8 = 152       // RFC 6607
    }

    public var subOptions: [DHCPOption]

    public init(subOptions: [DHCPOption]) { self.subOptions = subOptions }

    /// Parses Option 82's data: at least one sub-option, each within the option.
    public init(parsing data: [UInt8]) throws(OptionDataError) {
        guard !data.isEmpty else { throw .empty }
        subOptions = try SubOptions.parse(data)
    }

    /// The option's data, to echo: byte for byte what was parsed. A sub-option built by
    /// hand with more than 255 bytes is cut to 255, the most its length byte can say.
    public var serialized: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(subOptions.reduce(0) { $0 + 2 + min($1.data.count, 255) })
        for (index, option) in subOptions.enumerated() {
            // Cut to 255 bytes, the append cannot refuse it.
            try? LengthFramed.append(header: UInt32(option.code), headerSize: 1, data: option.data.prefix(255), index: index, to: &out)
        }
        return out
    }

    public subscript(code: UInt8) -> [UInt8]? { subOptions.first { $0.code == code }?.data }

    /// A sub-option given twice: which one counts would be a guess, and a guess here is a
    /// location (a client's circuit-id ahead of the relay's). Nothing legitimate sends it.
    public var repeatsASubOption: Bool {
        var seen: Set<UInt8> = []
        return subOptions.contains { !seen.insert($0.code).inserted }
    }

    /// The circuit-id as text: on a Linux switch relay, the ingress port name (`swp7`).
    public var circuitID: String? { self[SubOption.circuitID].map(DHCPOptions.text) }
    /// The remote-id as text: names the relay's switch.
    public var remoteID: String? { self[SubOption.remoteID].map(DHCPOptions.text) }
    /// RFC 3527: the subnet the client is on, when giaddr cannot say it.
    public var linkSelection: UInt32? { self[SubOption.linkSelection].flatMap(DHCPOptions.u32) }
    public var subscriberID: String? { self[SubOption.subscriberID].map(DHCPOptions.text) }
    /// RFC 5107: the address the client must use as server identifier.
    public var serverIDOverride: UInt32? { self[SubOption.serverIDOverride].flatMap(DHCPOptions.u32) }
    public var relayID: [UInt8]? { self[SubOption.relayID] }
    /// RFC 8357: present (empty) when the relay listens on a port other than 67;
    /// replies then go to the relay's source port.
    public var asksForRelayPort: Bool { self[SubOption.relayPort] != nil }
    public var flags: UInt8? { self[SubOption.flags].flatMap { $0.count == 1 ? $0[0] : nil } }
}
