/// An IPv4 packet carrying UDP, as a packet socket sees it below the IP stack (direct
/// mode: the server on the switch reads each port's frames itself, so it knows the port
/// and can answer a client that has no address yet without ARP).
///
/// Total and symmetric like the DHCP codec: any bytes give a frame or a typed error;
/// `UDPFrame(parsing: f.serialized()) == f` for frames without IP options.
public struct UDPFrame: Sendable, Hashable {
    public var source: UInt32
    public var destination: UInt32
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var ttl: UInt8
    public var payload: [UInt8]

    public init(source: UInt32, destination: UInt32, sourcePort: UInt16, destinationPort: UInt16, ttl: UInt8 = 64,
                payload: [UInt8]) {
        self.source = source
        self.destination = destination
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.ttl = ttl
        self.payload = payload
    }

    public enum ParseError: Error, Sendable, Hashable {
        case truncated
        case notIPv4
        case notUDP
        case fragmented
        case badLength
        case badChecksum
    }

    public init(parsing bytes: [UInt8]) throws(ParseError) {
        var reader = ByteReader(bytes)
        guard let versionAndLength = reader.u8() else { throw .truncated }
        guard versionAndLength >> 4 == 4 else { throw .notIPv4 }
        let headerLength = Int(versionAndLength & 0x0f) * 4
        guard headerLength >= 20, bytes.count >= headerLength + 8, let _ = reader.u8(), let totalLength = reader.u16(),
              let _ = reader.u16(), let fragment = reader.u16(), let ttl = reader.u8(), let proto = reader.u8(),
              let _ = reader.u16(), let source = reader.u32(), let destination = reader.u32()
        else { throw .truncated }
        guard proto == 17 else { throw .notUDP }
        // A fragment is not a whole DHCP message; DHCP messages fit one datagram.
        guard fragment & 0x3fff == 0 else { throw .fragmented }
        guard Int(totalLength) >= headerLength + 8, Int(totalLength) <= bytes.count else { throw .badLength }
        guard UDPFrame.checksum(bytes[0..<headerLength]) == 0 else { throw .badChecksum }
        var udp = ByteReader(bytes, from: headerLength, to: Int(totalLength))
        guard let sourcePort = udp.u16(), let destinationPort = udp.u16(), let udpLength = udp.u16(), let udpChecksum = udp.u16(),
              Int(udpLength) >= 8, Int(udpLength) <= Int(totalLength) - headerLength,
              let payload = udp.take(Int(udpLength) - 8)
        else { throw .badLength }
        if udpChecksum != 0,
           UDPFrame.udpChecksum(source: source, destination: destination, segment: bytes[headerLength..<headerLength + Int(udpLength)]) != 0 {
            throw .badChecksum
        }
        self.init(source: source, destination: destination, sourcePort: sourcePort, destinationPort: destinationPort,
                  ttl: ttl, payload: payload)
    }

    /// The IPv4 header (no options, don't-fragment clear) and UDP header, both checksummed.
    public func serialized() -> [UInt8] {
        let udpLength = 8 + payload.count
        var out: [UInt8] = []
        out.reserveCapacity(20 + udpLength)
        out += [0x45, 0]
        out.appendU16(UInt16(clamping: 20 + udpLength))
        out += [0, 0, 0, 0, ttl, 17, 0, 0]
        out.appendU32(source)
        out.appendU32(destination)
        let headerSum = UDPFrame.checksum(out[0..<20])
        out[10] = UInt8(headerSum >> 8)
        out[11] = UInt8(headerSum & 0xff)
        out.appendU16(sourcePort)
        out.appendU16(destinationPort)
        out.appendU16(UInt16(clamping: udpLength))
        out += [0, 0]
        out += payload
        var sum = UDPFrame.udpChecksum(source: source, destination: destination, segment: out[20...])
        if sum == 0 { sum = 0xffff }  // RFC 768: a computed zero is sent as all ones
        out[26] = UInt8(sum >> 8)
        out[27] = UInt8(sum & 0xff)
        return out
    }

    /// The Internet checksum (RFC 1071) of some bytes: 0 when they carry a correct one.
    static func checksum(_ bytes: ArraySlice<UInt8>, initial: UInt32 = 0) -> UInt16 {
        var sum = initial
        var index = bytes.startIndex
        while index + 1 < bytes.endIndex {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.endIndex { sum += UInt32(bytes[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    static func udpChecksum(source: UInt32, destination: UInt32, segment: ArraySlice<UInt8>) -> UInt16 {
        let pseudo = (source >> 16) + (source & 0xffff) + (destination >> 16) + (destination & 0xffff) + 17
            + UInt32(segment.count)
        return checksum(segment, initial: pseudo)
    }
}
