import Addressing

/// The shape of a YAML document: which keys a mapping may have, what each holds.
/// One description serves both the structural check (with positions) and the JSON
/// Schema for editors.
indirect enum Shape: Sendable {
    case object([Field])
    /// A mapping whose keys the user chooses (network, role, profile names).
    case dictionary(key: Format, value: Shape)
    case list(Shape)
    case scalar(Format)
    /// Any YAML value (Chef attributes, Ansible vars): handed through as it is.
    case any

    struct Field: Sendable {
        var name: String
        var shape: Shape
        var required: Bool
        var doc: String

        init(_ name: String, _ shape: Shape, required: Bool = false, _ doc: String) {
            self.name = name
            self.shape = shape
            self.required = required
            self.doc = doc
        }
    }
}

/// What a scalar must look like. Each format parses with the same function the
/// decoder uses, so "valid" means the same everywhere.
enum Format: Sendable {
    case text
    /// A lowercase DNS label: zone, pod, switch, role and profile names.
    case label
    case domain
    case ipv4
    case cidr
    case duration
    case portRange
    case addressRange
    case integer(ClosedRange<Int>)
    /// A number or an inclusive range of numbers: `7` or `1-40`.
    case integerOrRange(ClosedRange<Int>)
    case nameTemplate
    case oneOf([String])
    /// An Ansible variable name.
    case variableName
    /// An Ansible group name: a variable name that may be a Python keyword.
    case groupName
    /// A relative path to a file inside the zone file's folder (no `..`).
    case path
    /// A URL ONIE can fetch (http, https, ftp, tftp), or a path under the boot server's `/files/`.
    case installer

    /// Nil when the scalar fits, else why not.
    func problem(with scalar: YScalar) -> String? {
        let text = scalar.text
        if scalar.isNull { return "needs \(expectation), found nothing" }
        switch self {
        case .text:
            return nil
        case .label:
            return Format.isLabel(text) ? nil
                : "'\(text)' is not a valid name: use lowercase letters, digits and '-', starting with a letter or digit (at most 63)"
        case .domain:
            return text.utf8.count <= 253 && Format.isDNSName(text) ? nil
                : "'\(text)' is not a valid domain name"
        case .ipv4:
            return IPv4Address(text) != nil ? nil : "'\(text)' is not a dotted IPv4 address (like 198.18.16.11)"
        case .cidr:
            guard let network = IPv4Network(text) else {
                return "'\(text)' is not an IPv4 network in CIDR form (like 198.18.16.0/24)"
            }
            return network.description == text ? nil
                : "'\(text)' has host bits set: the network is \(network)"
        case .duration:
            return Duration(text) != nil ? nil : "'\(text)' is not a duration: write 90s, 10m, 12h or 7d"
        case .portRange:
            switch PortRange.parse(text) {
            case .success: return nil
            case .failure(let why): return why.message(text)
            }
        case .addressRange:
            return IPv4Range(text) != nil ? nil
                : "'\(text)' is not an address range: write first-last, e.g. 198.18.16.200-198.18.16.250, first ≤ last"
        case .integer(let bounds):
            guard scalar.kind == .int, let n = Int(text) else { return "'\(text)' is not a whole number" }
            return bounds.contains(n) ? nil : "\(n) is out of range \(bounds.lowerBound)…\(bounds.upperBound)"
        case .integerOrRange(let bounds):
            guard let range = Format.integerRange(text) else {
                return "'\(text)' is not a number or a range like 1-40 (first ≤ last)"
            }
            return bounds.contains(range.lowerBound) && bounds.contains(range.upperBound) ? nil
                : "'\(text)' is out of range \(bounds.lowerBound)…\(bounds.upperBound)"
        case .nameTemplate:
            do {
                _ = try NameTemplate(parsing: text)
                return nil
            } catch {
                return error.message
            }
        case .oneOf(let choices):
            return choices.contains(text) ? nil
                : "'\(text)' is not one of: \(choices.joined(separator: ", "))" + Suggest.hint(text, among: choices)
        case .variableName:
            return Format.isVariableName(text) ? nil
                : "'\(text)' is not a valid Ansible variable name (letters, digits and '_', not starting with a digit, "
                    + "not a Python keyword)"
        case .groupName:
            return Format.isGroupName(text) ? nil
                : "'\(text)' is not a valid Ansible group name (letters, digits and '_', not starting with a digit)"
        case .path:
            return ZonePath.problem(text)
        case .installer:
            return InstallerLocation(text) != nil ? nil
                : "'\(text)' is not an installer location: write an http, https, ftp or tftp URL, "
                    + "or a path under the boot server's files directory (no leading '/', no '..')"
        }
    }

    var expectation: String {
        switch self {
        case .text: "a text"
        case .label: "a name"
        case .domain: "a domain name"
        case .ipv4: "an IPv4 address"
        case .cidr: "a CIDR network"
        case .duration: "a duration"
        case .portRange: "a port or port range"
        case .addressRange: "an address range"
        case .integer: "a whole number"
        case .integerOrRange: "a number or range"
        case .nameTemplate: "a naming template"
        case .oneOf(let choices): "one of \(choices.joined(separator: ", "))"
        case .variableName: "a variable name"
        case .groupName: "a group name"
        case .path: "a file path"
        case .installer: "an installer URL or files path"
        }
    }

    /// 1 to 63 of `a-z`, `0-9` and `-`, neither first nor last a `-`. Read as bytes: every
    /// allowed character is one ASCII byte, and a zone has a label per identity to check.
    static func isLabel(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { isLabel($0[...]) }
    }

    /// `isLabel` of UTF-8 bytes (a slice of a longer name).
    static func isLabel(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        guard (1...63).contains(bytes.count), bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else {
            return false
        }
        return bytes.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "-")
        }
    }

    /// Dot-separated labels (`isLabel` each), as host names and FQDNs are made.
    static func isDNSName(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            var start = bytes.startIndex
            for i in bytes.indices where bytes[i] == UInt8(ascii: ".") {
                guard isLabel(bytes[start..<i]) else { return false }
                start = i + 1
            }
            return isLabel(bytes[start...])
        }
    }

    static func isVariableName(_ text: String) -> Bool {
        isGroupName(text) && !HandoffNames.pythonKeywords.contains(text)
    }

    static func isGroupName(_ text: String) -> Bool {
        guard let first = text.first, !(first.isASCII && first.isNumber) else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    /// `7` → 7...7, `1-40` → 1...40; nil for anything else or a descending range.
    static func integerRange(_ text: String) -> ClosedRange<Int>? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        let numbers = parts.compactMap { part -> Int? in
            part.count <= 9 && !part.isEmpty && part.allSatisfy({ $0.isASCII && $0.isNumber }) ? Int(part) : nil
        }
        guard numbers.count == parts.count else { return nil }
        switch numbers.count {
        case 1: return numbers[0]...numbers[0]
        case 2 where numbers[0] <= numbers[1]: return numbers[0]...numbers[1]
        default: return nil
        }
    }
}

/// Walks a document against a shape and reports every mismatch with its position.
struct ShapeChecker {
    private(set) var diagnostics: [Diagnostic] = []

    mutating func check(_ node: YNode, against shape: Shape, path: String) {
        switch shape {
        case .any:
            return
        case .scalar(let format):
            guard let scalar = node.scalar else {
                return report(path, "needs \(format.expectation), found \(node.kindDescription)", node.at)
            }
            if let problem = format.problem(with: scalar) { report(path, problem, scalar.at) }
        case .list(let item):
            guard let items = node.sequence else {
                return report(path, "needs a list, found \(node.kindDescription)", node.at)
            }
            for (i, element) in items.enumerated() { check(element, against: item, path: "\(path)[\(i)]") }
        case .dictionary(let keyFormat, let value):
            guard let mapping = node.mapping else {
                return report(path, "needs a mapping, found \(node.kindDescription)", node.at)
            }
            for entry in mapping.entries {
                let entryPath = Shape.join(path, entry.key.text)
                if let problem = keyFormat.problem(with: entry.key) { report(entryPath, problem, entry.key.at) }
                check(entry.value, against: value, path: entryPath)
            }
        case .object(let fields):
            guard let mapping = node.mapping else {
                return report(path, "needs a mapping, found \(node.kindDescription)", node.at)
            }
            let names = fields.map(\.name)
            for entry in mapping.entries {
                let entryPath = Shape.join(path, entry.key.text)
                guard let field = fields.first(where: { $0.name == entry.key.text }) else {
                    report(entryPath, "unknown key '\(entry.key.text)'" + Suggest.hint(entry.key.text, among: names)
                        + "; allowed here: \(names.joined(separator: ", "))", entry.key.at)
                    continue
                }
                check(entry.value, against: field.shape, path: entryPath)
            }
            for field in fields where field.required && mapping[field.name] == nil {
                report(path, "missing required key '\(field.name)' (\(field.doc))", mapping.at)
            }
        }
    }

    private mutating func report(_ path: String, _ message: String, _ at: SourcePosition) {
        diagnostics.append(Diagnostic(path: path, message, at: at))
    }
}

extension Shape {
    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}
