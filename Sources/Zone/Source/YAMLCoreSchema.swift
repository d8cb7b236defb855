/// How a plain scalar reads under the rules of Yams' default resolver (YAML 1.1 style:
/// `yes`/`on` are booleans, `0o17` and `1:30` are integers), decided on its bytes.
///
/// Yams resolves a tag by trying one regular expression per rule, through Foundation; for
/// a zone of 100,000 hosts (half a million scalars) that was a third of the time a zone
/// took to load. The rules are Yams' own (`Resolver.Rule.bool`, `.int`, `.float`, `.null`,
/// tried in that order; the first that matches wins), written out as matchers; a test
/// checks them against Yams' resolver on many strings.
enum YAMLCoreSchema {
    static func kind(ofPlain text: String) -> YScalar.Kind {
        var text = text
        return text.withUTF8 { bytes in
            if isBool(bytes) { return .bool }
            if isInt(bytes) { return .int }
            if isFloat(bytes) { return .float }
            if isNull(bytes) { return .null }
            return .string
        }
    }

    private typealias Bytes = UnsafeBufferPointer<UInt8>

    private static let bools: Set<String> = [
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF",
    ]
    private static let nulls: Set<String> = ["~", "null", "Null", "NULL", ""]

    private static func isBool(_ bytes: Bytes) -> Bool {
        bytes.count <= 5 && bools.contains(String(decoding: bytes, as: UTF8.self))
    }

    private static func isNull(_ bytes: Bytes) -> Bool {
        bytes.count <= 4 && nulls.contains(String(decoding: bytes, as: UTF8.self))
    }

    /// A cursor over the bytes; each `take` consumes what it matches.
    private struct Cursor {
        let bytes: Bytes
        var at: Int

        init(_ bytes: Bytes) {
            self.bytes = bytes
            at = 0
        }

        var atEnd: Bool { at == bytes.count }
        var next: UInt8? { at < bytes.count ? bytes[at] : nil }

        /// One byte that satisfies `allowed`.
        mutating func take(_ allowed: (UInt8) -> Bool) -> Bool {
            guard let byte = next, allowed(byte) else { return false }
            at += 1
            return true
        }

        mutating func take(_ ascii: Unicode.Scalar) -> Bool { take { $0 == UInt8(ascii: ascii) } }

        /// As many bytes as satisfy `allowed`; how many.
        @discardableResult
        mutating func takeAll(_ allowed: (UInt8) -> Bool) -> Int {
            let start = at
            while take(allowed) {}
            return at - start
        }

        mutating func takeSign() { _ = take { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") } }

        /// The rest is exactly `text`.
        mutating func takeRest(oneOf texts: [String]) -> Bool {
            let rest = String(decoding: UnsafeBufferPointer(rebasing: bytes[at...]), as: UTF8.self)
            guard texts.contains(rest) else { return false }
            at = bytes.count
            return true
        }
    }

    private static func digit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
    private static func digitOrUnderscore(_ b: UInt8) -> Bool { digit(b) || b == UInt8(ascii: "_") }

    /// `(?::[0-5]?[0-9])+`: sexagesimal parts. Two digits are taken where they fit: one
    /// digit followed by another could not end a part.
    private static func takeSexagesimal(_ c: inout Cursor) -> Bool {
        var parts = 0
        while c.next == UInt8(ascii: ":") {
            var probe = c
            probe.at += 1
            if let first = probe.next, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "5"),
               probe.at + 1 < probe.bytes.count, digit(probe.bytes[probe.at + 1]) {
                probe.at += 2
            } else if !probe.take(digit) {
                break
            }
            c = probe
            parts += 1
        }
        return parts > 0
    }

    /// Yams' int rule:
    /// `[-+]?0b[0-1_]+ | [-+]?0o?[0-7_]+ | [-+]?(?:0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+ | [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+`
    private static func isInt(_ bytes: Bytes) -> Bool { matchesWhole(bytes, intAlternatives) }

    private static let intAlternatives: [@Sendable (inout Cursor) -> Bool] = [
        { c in c.takeSign(); return c.take("0") && c.take("b") && c.takeAll { $0 == 0x30 || $0 == 0x31 || $0 == 0x5F } > 0 },
        { c in
            c.takeSign()
            guard c.take("0") else { return false }
            _ = c.take("o")
            return c.takeAll { ($0 >= 0x30 && $0 <= 0x37) || $0 == 0x5F } > 0
        },
        { c in
            c.takeSign()
            if c.take("0") { return true }
            guard c.take({ $0 >= 0x31 && $0 <= 0x39 }) else { return false }
            c.takeAll(digitOrUnderscore)
            return true
        },
        { c in
            c.takeSign()
            return c.take("0") && c.take("x") && c.takeAll { digit($0) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) || $0 == 0x5F } > 0
        },
        { c in
            c.takeSign()
            guard c.take({ $0 >= 0x31 && $0 <= 0x39 }) else { return false }
            c.takeAll(digitOrUnderscore)
            return takeSexagesimal(&c)
        },
    ]

    /// Yams' float rule:
    /// `[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)? | \.[0-9_]+(?:[eE][-+][0-9]+)?
    ///  | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]* | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)`
    private static func isFloat(_ bytes: Bytes) -> Bool { matchesWhole(bytes, floatAlternatives) }

    /// `(?:[eE][-+]?[0-9]+)?` (the sign required where `signRequired`): taken when it matches whole.
    private static func exponent(_ c: inout Cursor, signRequired: Bool) -> Bool {
        var probe = c
        guard probe.take({ $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) else { return true }
        let signed = probe.take { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }
        guard signed || !signRequired, probe.takeAll(digit) > 0 else { return true }  // not part of the match
        c = probe
        return true
    }

    private static let floatAlternatives: [@Sendable (inout Cursor) -> Bool] = [
        { c in
            c.takeSign()
            guard c.take(digit) else { return false }
            c.takeAll(digitOrUnderscore)
            if c.take(".") { c.takeAll(digitOrUnderscore) }
            return exponent(&c, signRequired: false)
        },
        { c in
            guard c.take("."), c.takeAll(digitOrUnderscore) > 0 else { return false }
            return exponent(&c, signRequired: true)
        },
        { c in
            c.takeSign()
            guard c.take(digit) else { return false }
            c.takeAll(digitOrUnderscore)
            guard takeSexagesimal(&c), c.take(".") else { return false }
            c.takeAll(digitOrUnderscore)
            return true
        },
        { c in c.takeSign(); return c.take(".") && c.takeRest(oneOf: ["inf", "Inf", "INF"]) },
        { c in c.take(".") && c.takeRest(oneOf: ["nan", "NaN", "NAN"]) },
    ]

    /// Whether one alternative, matched greedily from the start, ends at the end.
    private static func matchesWhole(_ bytes: Bytes, _ alternatives: [@Sendable (inout Cursor) -> Bool]) -> Bool {
        alternatives.contains { alternative in
            var cursor = Cursor(bytes)
            return alternative(&cursor) && cursor.atEnd
        }
    }
}
