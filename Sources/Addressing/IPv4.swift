/// An IPv4 address as a value: parsed from and printed as dotted quads.
///
/// Parsing is strict (four decimal octets, no leading zeros, nothing else) because
/// a zone file is an operator's statement of intent: `198.018.0.1` is a typo,
/// not an octal address.
public struct IPv4Address: Sendable, Hashable, Comparable, TextCodable {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Four bytes in network order; nil unless exactly four.
    public init?<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        guard bytes.count == 4 else { return nil }
        value = bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Read byte by byte: a 100,000-host zone file holds tens of thousands of addresses, each
    /// read by the shape check and again by the decoder.
    public init?(_ text: some StringProtocol) {
        var value: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        var leadingZero = false
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                // At most three digits, and no digit after a leading zero (`01` is a typo).
                guard digits < 3, !leadingZero else { return nil }
                leadingZero = digits == 0 && byte == UInt8(ascii: "0")
                octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
            case UInt8(ascii: "."):
                guard digits > 0, octet <= 255, dots < 3 else { return nil }
                value = value << 8 | octet
                (octet, digits, dots, leadingZero) = (0, 0, dots + 1, false)
            default:
                return nil
            }
        }
        guard dots == 3, digits > 0, octet <= 255 else { return nil }
        self.value = value << 8 | octet
    }

    public var bytes: [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    public var description: String {
        var utf8: [UInt8] = []
        utf8.reserveCapacity(15)
        write(to: &utf8)
        return String(decoding: utf8, as: UTF8.self)
    }

    /// Appends the dotted-quad text, digit by digit: inventories print hundreds of thousands
    /// of these, straight into their JSON.
    public func write(to utf8: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) {
            let octet = UInt8(truncatingIfNeeded: value >> UInt32(shift))
            if shift != 24 { utf8.append(UInt8(ascii: ".")) }
            if octet >= 100 { utf8.append(UInt8(ascii: "0") + octet / 100) }
            if octet >= 10 { utf8.append(UInt8(ascii: "0") + octet / 10 % 10) }
            utf8.append(UInt8(ascii: "0") + octet % 10)
        }
    }

    /// The address `n` further on, or nil past 255.255.255.255.
    public func advanced(by n: Int) -> IPv4Address? {
        let next = Int64(value) + Int64(n)
        guard next >= 0, next <= Int64(UInt32.max) else { return nil }
        return IPv4Address(UInt32(next))
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }

    /// What the JSON form is called when it does not parse.
    public static let textKind = "a dotted IPv4 address"
}

/// An IPv4 network in CIDR form, always normalised to its network address.
public struct IPv4Network: Sendable, Hashable, TextCodable {
    public let network: IPv4Address
    public let prefixLength: Int

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(parts[0]),
              parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), (1...2).contains(parts[1].count),
              let length = Int(parts[1]), (0...32).contains(length)
        else { return nil }
        self.init(containing: address, prefixLength: length)
    }

    public init(containing address: IPv4Address, prefixLength: Int) {
        self.prefixLength = prefixLength
        network = IPv4Address(address.value & IPv4Network.mask(prefixLength))
    }

    private static func mask(_ length: Int) -> UInt32 { length == 0 ? 0 : UInt32.max << (32 - length) }

    public var netmask: IPv4Address { IPv4Address(IPv4Network.mask(prefixLength)) }
    public var broadcast: IPv4Address { IPv4Address(network.value | ~IPv4Network.mask(prefixLength)) }

    public func contains(_ address: IPv4Address) -> Bool {
        address.value & IPv4Network.mask(prefixLength) == network.value
    }

    /// Addresses a host may hold: not the network or broadcast address (for /31 and /32, every one).
    public func isUsableHost(_ address: IPv4Address) -> Bool {
        guard contains(address) else { return false }
        return prefixLength >= 31 || (address != network && address != broadcast)
    }

    public var description: String {
        var utf8: [UInt8] = []
        utf8.reserveCapacity(18)
        write(to: &utf8)
        return String(decoding: utf8, as: UTF8.self)
    }

    /// Appends `network/prefix`, as `IPv4Address.write(to:)` does.
    public func write(to utf8: inout [UInt8]) {
        network.write(to: &utf8)
        utf8.append(UInt8(ascii: "/"))
        if prefixLength >= 10 { utf8.append(UInt8(ascii: "0") + UInt8(prefixLength / 10)) }
        utf8.append(UInt8(ascii: "0") + UInt8(prefixLength % 10))
    }

    public static let textKind = "an IPv4 CIDR network"
}

/// An inclusive address range `first-last`, as in a discovery pool.
public struct IPv4Range: Sendable, Hashable, CustomStringConvertible {
    public let first: IPv4Address
    public let last: IPv4Address

    public init?(first: IPv4Address, last: IPv4Address) {
        guard first <= last else { return nil }
        self.first = first
        self.last = last
    }

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPv4Address(parts[0]), let b = IPv4Address(parts[1]) else { return nil }
        self.init(first: a, last: b)
    }

    public var count: Int { Int(last.value - first.value) + 1 }
    public func contains(_ address: IPv4Address) -> Bool { first <= address && address <= last }
    public var description: String { "\(first)-\(last)" }
}

/// A value whose JSON form is its text (`198.18.0.1`, `198.18.16.0/24`), read back with its parser.
public protocol TextCodable: Codable, CustomStringConvertible {
    init?(_ text: some StringProtocol)
    static var textKind: String { get }
}

extension TextCodable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = Self(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not \(Self.textKind): \(text)"))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
