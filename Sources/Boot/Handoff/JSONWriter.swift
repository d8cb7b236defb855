import Addressing
import Zone

/// Writes JSON bytes directly, object keys sorted: the inventory of a 20,000-identity
/// zone is written in one pass without building Foundation dictionaries, and the same
/// zone always gives the same bytes (diffable, cacheable). Strings are escaped as
/// Foundation's `JSONEncoder` escapes them, so that what is written here and what it
/// writes can be joined into one document (a plan answer's changes).
package struct JSONWriter {
    package private(set) var bytes: [UInt8] = []
    /// Secret values' content instead of `SecretValue.redacted`: only for a document
    /// served to the host itself (its node JSON).
    var revealingSecrets = false

    package init(reservingCapacity capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    package mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    package mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        // Most strings (names, addresses) need no escaping: copy them whole.
        var text = text
        let copied = text.withUTF8 { utf8 -> Bool in
            guard !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
            bytes.append(contentsOf: utf8)
            return true
        }
        if !copied { escaped(text) }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func escaped(_ text: String) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x08: raw("\\b")
            case 0x09: raw("\\t")
            case 0x0A: raw("\\n")
            case 0x0C: raw("\\f")
            case 0x0D: raw("\\r")
            case 0..<0x20:
                raw("\\u00")
                bytes.append(Self.hex[Int(byte >> 4)])
                bytes.append(Self.hex[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    mutating func value(_ value: ZoneValue) {
        switch value {
        case .null: raw("null")
        case .bool(let b): b ? raw("true") : raw("false")
        case .int(let i): integer(i)
        // JSON has no infinity or NaN (YAML's .inf, .nan): they are written as null.
        case .double(let d): d.isFinite ? bytes.append(contentsOf: "\(d)".utf8) : raw("null")
        case .string(let s): string(s)
        case .array(let items): array(items) { $0.value($1) }
        case .object(let members): object(members)
        case .secret(let secret): string(revealingSecrets ? secret.value ?? secret.redacted : secret.redacted)
        }
    }

    /// An identity's fact, written as its value would be (`Value.zoneValue`), but with no
    /// text made for it first: an inventory writes 20 of these for each of 200,000 hosts.
    mutating func fact(_ fact: HostFacts.IdentityFact.Value) {
        switch fact {
        case .text(let text): string(text)
        case .address(let address):
            bytes.append(UInt8(ascii: "\""))
            address.write(to: &bytes)
            bytes.append(UInt8(ascii: "\""))
        case .network(let network):
            bytes.append(UInt8(ascii: "\""))
            network.write(to: &bytes)
            bytes.append(UInt8(ascii: "\""))
        case .number(let number): integer(number)
        }
    }

    /// A decimal integer, digit by digit, the most significant first.
    mutating func integer(_ number: Int) {
        if number < 0 { bytes.append(UInt8(ascii: "-")) }
        let magnitude = number.magnitude
        var divisor: UInt = 1
        while magnitude / divisor >= 10 { divisor *= 10 }
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude / divisor % 10))
            divisor /= 10
        } while divisor > 0
    }

    /// An object from members in any order; a key given twice keeps its last value, as
    /// a later `vars` entry overrides an earlier one.
    mutating func object(_ members: [ZoneValue.Member]) {
        sortedObject(Self.sortedUnique(members))
    }

    /// An object from members already sorted by key, each key once.
    mutating func sortedObject(_ sorted: [ZoneValue.Member]) {
        bytes.append(UInt8(ascii: "{"))
        for (i, member) in sorted.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            string(member.key)
            bytes.append(UInt8(ascii: ":"))
            value(member.value)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func array<T>(_ items: [T], _ write: (inout JSONWriter, T) -> Void) {
        bytes.append(UInt8(ascii: "["))
        for (i, item) in items.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            write(&self, item)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Writes `"key":` (after a comma unless it is the object's first key).
    mutating func key(_ key: String, first: Bool) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        string(key)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Bytes already written as JSON (by another writer).
    mutating func raw(_ json: [UInt8]) { bytes.append(contentsOf: json) }

    /// Members sorted by key (code point order, as Python's and Foundation's sorted keys),
    /// the last of equal keys winning.
    static func sortedUnique(_ members: [ZoneValue.Member]) -> [ZoneValue.Member] {
        if zip(members, members.dropFirst()).allSatisfy({ $0.key < $1.key }) { return members }
        let ordered = members.enumerated().sorted { a, b in
            a.element.key != b.element.key ? a.element.key < b.element.key : a.offset < b.offset
        }
        var result: [ZoneValue.Member] = []
        result.reserveCapacity(ordered.count)
        for (_, member) in ordered {
            if let last = result.last, last.key == member.key { result[result.count - 1] = member } else { result.append(member) }
        }
        return result
    }
}

extension ZoneValue {
    /// Members of an object (in order), nothing for any other value.
    var members: [Member] {
        if case .object(let members) = self { return members }
        return []
    }

    /// The value as JSON bytes, object keys sorted.
    public var json: [UInt8] {
        var writer = JSONWriter()
        writer.value(self)
        return writer.bytes
    }
}
