import Yams

/// A YAML document as a tree whose every node knows where it was written.
///
/// Built from Yams' composed nodes. Aliases share storage in Yams, so an alias bomb
/// costs little memory but would cost exponential time to walk: the conversion
/// counts nodes and stops at a budget.
indirect enum YNode: Sendable {
    case scalar(YScalar)
    case mapping(YMapping)
    case sequence([YNode], at: SourcePosition)

    var at: SourcePosition {
        switch self {
        case .scalar(let s): s.at
        case .mapping(let m): m.at
        case .sequence(_, let at): at
        }
    }

    /// How a node is named in messages: "a mapping", "a list", "the text 'x'".
    var kindDescription: String {
        switch self {
        case .scalar(let s): s.isNull ? "nothing (null)" : "the value '\(s.text.prefix(40))'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        }
    }

    var mapping: YMapping? { if case .mapping(let m) = self { m } else { nil } }
    var scalar: YScalar? { if case .scalar(let s) = self { s } else { nil } }
    var sequence: [YNode]? { if case .sequence(let items, _) = self { items } else { nil } }
}

struct YScalar: Sendable {
    enum Kind: Sendable { case string, int, float, bool, null }
    var text: String
    /// How YAML's core schema reads the plain scalar; quoted scalars are always strings.
    var kind: Kind
    var at: SourcePosition
    var isNull: Bool { kind == .null }
}

struct YMapping: Sendable {
    struct Entry: Sendable {
        var key: YScalar
        var value: YNode
    }
    var entries: [Entry]
    var at: SourcePosition

    subscript(key: String) -> YNode? { entries.first { $0.key.text == key }?.value }
    func entry(_ key: String) -> Entry? { entries.first { $0.key.text == key } }
}

enum YAMLDocument {
    /// More nodes than any real zone has (a 10,000-host zone written port by port is
    /// about 350,000); past this the document is refused as an alias bomb.
    static let nodeBudget = 1_000_000

    /// Parses text into a positioned tree, or the diagnostics that explain why not.
    static func parse(_ text: String, file: String) -> (root: YNode?, errors: [Diagnostic]) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            return (nil, [diagnostic(for: error, file: file)])
        } catch {
            return (nil, [Diagnostic(path: "", "cannot read YAML: \(error)", at: SourcePosition(file: file, line: 1, column: 1))])
        }
        guard let root else { return (nil, []) }
        var converter = Converter(file: file)
        do throws(BudgetExceeded) {
            return (try converter.convert(root), [])
        } catch {
            return (nil, [error.diagnostic])
        }
    }

    private static func diagnostic(for error: YamlError, file: String) -> Diagnostic {
        func at(_ mark: Mark?) -> SourcePosition {
            SourcePosition(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let notes = context.map { [Diagnostic.Note($0.text, at: at($0.mark))] } ?? []
            return Diagnostic(path: "", "YAML syntax: \(problem)", at: at(mark), notes: notes)
        case .reader(let problem, let offset, _, _):
            return Diagnostic(path: "", "YAML cannot be read: \(problem)" + (offset.map { " at byte \($0)" } ?? ""),
                              at: at(nil))
        case .duplicatedKeysInMapping(let duplicates, let context):
            return Diagnostic(path: "", "key written twice in one mapping: \(duplicates.joined(separator: ", "))",
                              at: at(context.mark))
        default:
            return Diagnostic(path: "", "YAML cannot be read: \(error)", at: at(nil))
        }
    }

    private struct BudgetExceeded: Error {
        var diagnostic: Diagnostic
    }

    private struct Converter {
        let file: String
        var visited = 0

        init(file: String) { self.file = file }

        func position(_ mark: Mark?) -> SourcePosition {
            SourcePosition(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
        }

        mutating func convert(_ node: Node) throws(BudgetExceeded) -> YNode {
            visited += 1
            if visited > YAMLDocument.nodeBudget {
                throw BudgetExceeded(diagnostic: Diagnostic(
                    path: "", "the document expands to more than \(YAMLDocument.nodeBudget) nodes; "
                        + "refusing it (aliases that multiply, a 'billion laughs'?)", at: position(node.mark)))
            }
            switch node {
            case .scalar(let scalar):
                return .scalar(convert(scalar))
            case .alias(let alias):
                return .scalar(YScalar(text: "*\(alias.anchor.rawValue)", kind: .string, at: position(alias.mark)))
            case .sequence(let sequence):
                var items: [YNode] = []
                items.reserveCapacity(sequence.count)
                for item in sequence { items.append(try convert(item)) }
                return .sequence(items, at: position(sequence.mark))
            case .mapping(let mapping):
                var entries: [YMapping.Entry] = []
                entries.reserveCapacity(mapping.count)
                for (key, value) in mapping {
                    visited += 1
                    let keyScalar: YScalar
                    switch key {
                    case .scalar(let s): keyScalar = convert(s)
                    case .mapping:
                        // Complex keys have no place in a zone file; name their kind (never the node
                        // itself: its description is long and holds memory addresses) so the shape
                        // check reports them, the same way on every run.
                        keyScalar = YScalar(text: "<mapping>", kind: .string, at: position(key.mark))
                    case .sequence:
                        keyScalar = YScalar(text: "<sequence>", kind: .string, at: position(key.mark))
                    case .alias:
                        keyScalar = YScalar(text: "<alias>", kind: .string, at: position(key.mark))
                    }
                    entries.append(.init(key: keyScalar, value: try convert(value)))
                }
                return .mapping(YMapping(entries: entries, at: position(mapping.mark)))
            }
        }

        func convert(_ scalar: Node.Scalar) -> YScalar {
            let kind: YScalar.Kind
            if scalar.style != .plain && scalar.style != .any {
                kind = .string
            } else {
                switch Tag.Name(rawValue: Node.scalar(scalar).tag.rawValue) {
                case Tag.Name.null: kind = .null
                case Tag.Name.bool: kind = .bool
                case Tag.Name.int: kind = .int
                case Tag.Name.float: kind = .float
                default: kind = .string
                }
            }
            return YScalar(text: scalar.string, kind: kind, at: position(scalar.mark))
        }
    }
}
