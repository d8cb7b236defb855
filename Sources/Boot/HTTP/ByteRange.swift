/// What a request's `Range` header asks of a file of `size` bytes (RFC 9110 §14), decided
/// for any header text: nothing here traps or answers with a negative length.
///
/// One range is served as 206. A header this server chooses not to honour (another unit, a
/// malformed range set, several ranges) is ignored and the whole file is served, as RFC 9110
/// §14.2 allows; a well-formed range that selects nothing gets 416.
public enum ByteRange: Equatable, Sendable {
    /// 200 with the whole file.
    case whole
    /// 206 with the bytes `first...last` (both inside the file).
    case part(first: Int, last: Int)
    /// 416 with `Content-Range: bytes */<size>`.
    case unsatisfiable

    public init(header: String?, size: Int) {
        guard let header else { self = .whole; return }
        let size = max(size, 0)
        let bytes = Array(header.utf8)
        guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")),
              isBytesUnit(trimmed(bytes[..<equals])) else { self = .whole; return }
        // A list may carry empty elements ("bytes=, 0-1"), which recipients must skip (RFC 9110 §5.6.1).
        let specs = bytes[(equals + 1)...].split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            .map(trimmed).filter { !$0.isEmpty }
        guard specs.count == 1, let spec = specs.first, let dash = spec.firstIndex(of: UInt8(ascii: "-")) else {
            self = .whole
            return
        }
        let firstDigits = spec[..<dash], lastDigits = spec[(dash + 1)...]
        if firstDigits.isEmpty {
            // bytes=-N: the last N bytes; "-0" and any suffix of an empty file select nothing.
            guard let count = decimal(lastDigits) else { self = .whole; return }
            guard count > 0, size > 0 else { self = .unsatisfiable; return }
            self = .part(first: size - min(count, size), last: size - 1)
            return
        }
        guard let first = decimal(firstDigits) else { self = .whole; return }
        let last: Int?
        if lastDigits.isEmpty {
            last = nil
        } else {
            guard let value = decimal(lastDigits) else { self = .whole; return }
            last = value
        }
        // A last position before the first makes the range invalid, not unsatisfiable (§14.1.1).
        if let last, last < first { self = .whole; return }
        guard first < size else { self = .unsatisfiable; return }
        self = .part(first: first, last: min(last ?? (size - 1), size - 1))
    }

    /// The number of bytes served for a file of `size` bytes.
    public func length(size: Int) -> Int {
        switch self {
        case .whole: max(size, 0)
        case .part(let first, let last): last - first + 1
        case .unsatisfiable: 0
        }
    }
}

/// Range units are case-insensitive (RFC 9110 §14.1).
private func isBytesUnit(_ unit: ArraySlice<UInt8>) -> Bool {
    unit.count == 5 && zip(unit, "bytes".utf8).allSatisfy { $0 | 0x20 == $1 }
}

/// Without the optional whitespace (spaces and tabs) around a list element.
private func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
    let isSpace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
    guard let start = bytes.firstIndex(where: { !isSpace($0) }), let end = bytes.lastIndex(where: { !isSpace($0) }) else {
        return bytes[bytes.startIndex..<bytes.startIndex]
    }
    return bytes[start...end]
}

/// A run of ASCII digits; a value past `Int.max` saturates there (it is past any file's end
/// either way), anything else that is not digits is nil.
private func decimal(_ digits: ArraySlice<UInt8>) -> Int? {
    guard !digits.isEmpty else { return nil }
    var value = 0
    for byte in digits {
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
        let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
        value = overflow1 || overflow2 ? Int.max : sum
    }
    return value
}
