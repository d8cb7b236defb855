/// Reads TFTP fields from a datagram without ever trapping: every read past the end
/// returns nil, so a parser built on it is total. (Like DHCPv4's reader, kept local so the
/// TFTP module has no dependencies.)
struct TFTPByteReader {
    private let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        offset = 0
    }

    var remaining: Int { bytes.count - offset }
    var isAtEnd: Bool { offset >= bytes.count }

    mutating func u16() -> UInt16? {
        guard remaining >= 2 else { return nil }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    /// The bytes up to the next NUL, consuming the NUL; nil when no NUL terminates them.
    mutating func zeroTerminated() -> [UInt8]? {
        guard let end = bytes[offset...].firstIndex(of: 0) else { return nil }
        defer { offset = end + 1 }
        return Array(bytes[offset..<end])
    }

    /// Everything left.
    mutating func rest() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(bytes[offset...])
    }
}

extension Array where Element == UInt8 {
    mutating func appendTFTPU16(_ value: UInt16) { append(contentsOf: [UInt8(value >> 8), UInt8(value & 0xff)]) }
    mutating func appendZeroTerminated(_ text: String) {
        append(contentsOf: text.utf8)
        append(0)
    }
}
