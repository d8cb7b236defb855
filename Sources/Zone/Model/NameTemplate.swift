/// A naming pattern such as `{zone}-{pod}-r{rack:02}-u{unit:02}`: literal text and
/// placeholders, each with an optional zero-padding width.
public struct NameTemplate: Sendable, Hashable, CustomStringConvertible {
    public enum Placeholder: String, Sendable, CaseIterable {
        case zone, pod, rack, unit, `switch`, port, host
        /// A discovery machine's MAC, 12 lowercase hex digits (`pods[].discovery.hostname`).
        case mac
    }

    public enum Segment: Sendable, Hashable {
        case literal(String)
        case placeholder(Placeholder, width: Int)
    }

    public enum ParseError: Error, Equatable, Sendable {
        case unknownPlaceholder(String, offset: Int)
        case badWidth(String, offset: Int)
        case unclosedBrace(offset: Int)
        case strayBrace(offset: Int)

        /// Character offset within the template text, for positioning the caret.
        public var offset: Int {
            switch self {
            case .unknownPlaceholder(_, let o), .badWidth(_, let o), .unclosedBrace(let o), .strayBrace(let o): o
            }
        }

        public var message: String {
            switch self {
            case .unknownPlaceholder(let name, _):
                "unknown placeholder {\(name)}; known: "
                    + Placeholder.allCases.map { "{\($0.rawValue)}" }.joined(separator: " ")
            case .badWidth(let spec, _): "bad padding width '\(spec)' (write {rack:02})"
            case .unclosedBrace: "'{' is never closed"
            case .strayBrace: "'}' without '{'"
            }
        }
    }

    public let text: String
    public let segments: [Segment]

    public init(parsing text: String) throws(ParseError) {
        self.text = text
        var segments: [Segment] = []
        var literal = ""
        var chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "}" { throw .strayBrace(offset: i) }
            guard c == "{" else {
                literal.append(c)
                i += 1
                continue
            }
            guard let close = chars[i...].firstIndex(of: "}") else { throw .unclosedBrace(offset: i) }
            let inner = String(chars[(i + 1)..<close])
            let parts = inner.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let placeholder = Placeholder(rawValue: String(parts[0])) else {
                throw .unknownPlaceholder(String(parts[0]), offset: i)
            }
            var width = 0
            if parts.count == 2 {
                let spec = parts[1]
                guard (1...2).contains(spec.count), spec.allSatisfy({ $0.isASCII && $0.isNumber }),
                      let w = Int(spec), (1...9).contains(w) else { throw .badWidth(String(spec), offset: i) }
                width = w
            }
            if !literal.isEmpty { segments.append(.literal(literal)) }
            literal = ""
            segments.append(.placeholder(placeholder, width: width))
            i = close + 1
        }
        chars.removeAll()
        if !literal.isEmpty { segments.append(.literal(literal)) }
        self.segments = segments
    }

    public var placeholders: Set<Placeholder> {
        Set(segments.compactMap { if case .placeholder(let p, _) = $0 { p } else { nil } })
    }

    /// The name for these values; nil names the first placeholder that has no value.
    public func render(_ values: [Placeholder: String]) -> Result<String, MissingValue> { render { values[$0] } }

    /// The name for the values `value` gives (nil: none), without a dictionary per name.
    public func render(_ value: (Placeholder) -> String?) -> Result<String, MissingValue> {
        var out = ""
        for segment in segments {
            switch segment {
            case .literal(let s): out += s
            case .placeholder(let p, let width):
                guard let value = value(p) else { return .failure(MissingValue(placeholder: p)) }
                if width > 0, let n = Int(value) { out += String(paddedTo: width, n) } else { out += value }
            }
        }
        return .success(out)
    }

    public struct MissingValue: Error, Sendable { public var placeholder: Placeholder }

    public var description: String { text }
}
