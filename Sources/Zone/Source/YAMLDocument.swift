// Yams' own C parser: its events show a complex key before Yams composes (and hashes) it.
import CYaml
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
    /// `budget` is looked at every few thousand events and nodes; when it is spent the result
    /// is empty (the caller reports the budget).
    static func parse(_ text: String, file: String, budget: ZoneLoadBudget = .unlimited) -> (root: YNode?, errors: [Diagnostic]) {
        // An ordinary zone file is read once, straight into the tree; anything else (errors
        // included) takes the path below, which reports it.
        switch YAMLTreeBuilder.build(text, file: file, budget: budget) {
        case .built(let root): return (root, [])
        case .spent: return (nil, [])
        case .unusual: break
        }
        return composed(text, file: file, budget: budget)
    }

    /// `parse` through Yams' composer, after a scan for what it must not compose.
    static func composed(_ text: String, file: String, budget: ZoneLoadBudget = .unlimited) -> (root: YNode?, errors: [Diagnostic]) {
        let scan = scanEvents(in: text, file: file, budget: budget)
        if !scan.complexKeys.isEmpty || budget.isSpent { return (nil, scan.complexKeys) }
        let root: Node?
        // Without explicit tags (zone files have none), no resolver rules: Yams' regular
        // expressions are slow, and the converter reads plain scalars with YAMLCoreSchema's
        // matchers instead. A tagged scalar is read as Yams reads it, so such a file is
        // composed with the default rules.
        let readsPlainScalars = !scan.explicitTags
        do {
            root = try Yams.compose(yaml: text, readsPlainScalars ? Resolver.basic : Resolver.default)
        } catch let error as YamlError {
            return (nil, [diagnostic(for: error, file: file, text: text)])
        } catch {
            return (nil, [Diagnostic(path: "", "cannot read YAML: \(error)", at: SourcePosition(file: file, line: 1, column: 1))])
        }
        guard let root else { return (nil, []) }
        var converter = Converter(file: file, budget: budget, readsPlainScalars: readsPlainScalars)
        do throws(BudgetExceeded) {
            return (try converter.convert(root), [])
        } catch {
            return (nil, [error.diagnostic])
        }
    }

    private static func diagnostic(for error: YamlError, file: String, text: String) -> Diagnostic {
        func at(_ mark: Mark?) -> SourcePosition {
            SourcePosition(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let stopped = at(mark)
            // The common mistakes in plain words, at the line that has them; libyaml's words as a note.
            if let hint = YAMLSyntaxHint.explain(problem: problem, context: context.map { ($0.text, at($0.mark).line, at($0.mark).column) },
                                                 line: stopped.line, column: stopped.column, in: text) {
                let parser = "the YAML parser stopped here: \(problem)" + (context.map { " (\($0.text))" } ?? "")
                return Diagnostic(path: "", "YAML syntax: \(hint.message)",
                                  at: SourcePosition(file: file, line: hint.line, column: hint.column),
                                  notes: [Diagnostic.Note(parser, at: stopped)])
            }
            let notes = context.map { [Diagnostic.Note($0.text, at: at($0.mark))] } ?? []
            return Diagnostic(path: "", "YAML syntax: \(problem)", at: stopped, notes: notes)
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

    /// At most this many complex keys are reported: enough to fix a file, few enough that a
    /// file of nothing else stays cheap to answer.
    static let complexKeyReportLimit = 20

    /// Every key that is a mapping, a list or an alias, found in the parser's events.
    ///
    /// They must be refused before Yams composes the document: Yams checks a mapping for
    /// duplicate keys by hashing them, and hashing a key that aliases a tree of aliases
    /// walks the whole expanded tree: 436 bytes took 45 s, eight times longer per level,
    /// before the node budget could apply. A zone's keys are all plain names.
    /// A document that does not parse yields nothing here: Yams reports its syntax error.
    ///
    /// The same walk counts the document's nodes: one past `nodeBudget` is refused here,
    /// which bounds what composing costs (the one step the load budget cannot look inside).
    static func complexKeys(in text: String, file: String, budget: ZoneLoadBudget = .unlimited) -> [Diagnostic] {
        scanEvents(in: text, file: file, budget: budget).complexKeys
    }

    /// `complexKeys`, and whether any scalar carries an explicit tag (`!!str 12`, `! x`).
    static func scanEvents(in text: String, file: String, budget: ZoneLoadBudget = .unlimited)
        -> (complexKeys: [Diagnostic], explicitTags: Bool) {
        /// Per open collection: a list, or a mapping and whether its next node is a key.
        enum Frame { case sequence, mapping(nextIsKey: Bool) }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return ([], true) }
        defer { yaml_parser_delete(&parser) }
        var bytes = Array(text.utf8)
        var found: [Diagnostic] = []
        var explicitTags = false
        bytes.withUnsafeMutableBufferPointer { buffer in
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var frames: [Frame] = []
            /// A node (key or value) ended: in a mapping, a key is followed by a value and a value by a key.
            func nodeEnded() {
                if case .mapping(let nextIsKey)? = frames.last { frames[frames.count - 1] = .mapping(nextIsKey: !nextIsKey) }
            }
            var event = yaml_event_t()
            var nodes = 0
            while found.count < complexKeyReportLimit, yaml_parser_parse(&parser, &event) == 1 {
                defer { yaml_event_delete(&event) }
                let type = event.type
                if type == YAML_STREAM_END_EVENT { break }
                if type == YAML_SCALAR_EVENT, event.data.scalar.tag != nil { explicitTags = true }
                let isNode = type == YAML_SCALAR_EVENT || type == YAML_ALIAS_EVENT
                    || type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT
                if isNode {
                    nodes += 1
                    if nodes > nodeBudget {
                        found = [tooManyNodes(at: SourcePosition(file: file, line: Int(event.start_mark.line) + 1,
                                                                 column: Int(event.start_mark.column) + 1))]
                        break
                    }
                    if nodes % 4096 == 0, budget.isSpent { break }
                }
                if isNode, case .mapping(nextIsKey: true)? = frames.last, type != YAML_SCALAR_EVENT {
                    let kind = type == YAML_ALIAS_EVENT ? "an alias" : type == YAML_SEQUENCE_START_EVENT ? "a list" : "a mapping"
                    let at = SourcePosition(file: file, line: Int(event.start_mark.line) + 1,
                                            column: Int(event.start_mark.column) + 1)
                    found.append(Diagnostic(path: "", "\(kind) used as a key: keys in a zone file are plain names; "
                        + "mappings, lists and aliases as keys are refused", at: at))
                }
                switch type {
                case YAML_SCALAR_EVENT, YAML_ALIAS_EVENT: nodeEnded()
                case YAML_SEQUENCE_START_EVENT: frames.append(.sequence)
                case YAML_MAPPING_START_EVENT: frames.append(.mapping(nextIsKey: true))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    _ = frames.popLast()
                    nodeEnded()
                default: break
                }
            }
        }
        return (found, explicitTags)
    }

    private struct BudgetExceeded: Error {
        var diagnostic: Diagnostic
    }

    static func tooManyNodes(at: SourcePosition) -> Diagnostic {
        Diagnostic(path: "", "the document has more than \(nodeBudget) nodes as written; refusing it "
            + "(several zones in one?)", at: at)
    }

    private struct Converter {
        let file: String
        let budget: ZoneLoadBudget
        /// Yams composed without resolver rules: plain scalars are read here (YAMLCoreSchema).
        let readsPlainScalars: Bool
        var visited = 0

        init(file: String, budget: ZoneLoadBudget, readsPlainScalars: Bool) {
            self.file = file
            self.budget = budget
            self.readsPlainScalars = readsPlainScalars
        }

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
            if visited % 4096 == 0, budget.isSpent {
                throw BudgetExceeded(diagnostic: budget.spentError(file: file).diagnostics[0])
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
            } else if readsPlainScalars {
                kind = YAMLCoreSchema.kind(ofPlain: scalar.string)
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
