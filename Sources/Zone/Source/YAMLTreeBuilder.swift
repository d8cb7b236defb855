import CYaml

/// The positioned tree of an ordinary zone file, built from libyaml's events in one pass.
///
/// `YAMLDocument.parse` otherwise reads the text twice (a scan for complex keys and node
/// counts, then Yams' composer) and converts Yams' nodes (a class instance per tag) into
/// `YNode`s: at 100,000 hosts that was most of the parse. This builder gives the same tree
/// as that path, and gives up (`unusual`) wherever the two could differ or an error must be
/// reported, so that path, unchanged, answers: a syntax error, a second document, an
/// explicit tag (Yams' resolver reads those scalars), a key that is not a scalar, a key
/// written twice, an undefined alias, more nodes than the budget. A zone file is none of
/// these, so only broken or unusual files are read twice.
enum YAMLTreeBuilder {
    enum Outcome {
        /// The tree, or nil for an empty stream (as Yams composes it).
        case built(YNode?)
        /// The load budget ran out: the caller reports it.
        case spent
        /// Something only the composing path reports or reads exactly.
        case unusual
    }

    /// One open collection.
    private struct Frame {
        enum Kind { case sequence, mapping }
        var kind: Kind
        var at: SourcePosition
        var anchor: String?
        var items: [YNode] = []
        var entries: [YMapping.Entry] = []
        var pendingKey: YScalar?
        /// The nodes the composing path's converter visits for this collection so far
        /// (aliases expanded; a mapping's key counts one), checked against its budget.
        var size = 1
    }

    static func build(_ text: String, file: String, budget: ZoneLoadBudget) -> Outcome {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return .unusual }
        defer { yaml_parser_delete(&parser) }
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBufferPointer { buffer in
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var builder = Builder(file: file)
            var event = yaml_event_t()
            var events = 0
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else { return .unusual }
                defer { yaml_event_delete(&event) }
                events += 1
                if events % ZoneExpander.budgetInterval == 0, budget.isSpent { return .spent }
                switch builder.take(event) {
                case .more: continue
                case .done(let root): return .built(root)
                case .unusual: return .unusual
                }
            }
        }
    }

    private enum Step {
        case more
        case done(YNode?)
        case unusual
    }

    private struct Builder {
        let file: String
        var frames: [Frame] = []
        var anchors: [String: (node: YNode, size: Int)] = [:]
        var root: YNode?
        var documents = 0

        init(file: String) { self.file = file }

        func position(_ mark: yaml_mark_t) -> SourcePosition {
            SourcePosition(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
        }

        /// A scalar's value (`count` bytes, which may hold NUL), or an anchor's name (NUL-terminated).
        static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?, count: Int? = nil) -> String? {
            guard let pointer else { return nil }
            guard let count else { return String(cString: pointer) }
            return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
        }

        mutating func take(_ event: yaml_event_t) -> Step {
            switch event.type {
            case YAML_STREAM_START_EVENT, YAML_DOCUMENT_END_EVENT:
                return .more
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                return documents == 1 ? .more : .unusual
            case YAML_STREAM_END_EVENT:
                return .done(root)
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                // An explicit tag: Yams' resolver reads the scalar (see YAMLDocument.parse).
                if scalar.tag != nil { return .unusual }
                let text = Self.string(scalar.value, count: scalar.length) ?? ""
                let style = scalar.style
                let kind = style != YAML_PLAIN_SCALAR_STYLE && style != YAML_ANY_SCALAR_STYLE
                    ? YScalar.Kind.string : YAMLCoreSchema.kind(ofPlain: text)
                let node = YScalar(text: text, kind: kind, at: position(event.start_mark))
                if let anchor = Self.string(scalar.anchor) { anchors[anchor] = (.scalar(node), 1) }
                return add(.scalar(node), size: 1, asKey: node)
            case YAML_ALIAS_EVENT:
                guard let name = Self.string(event.data.alias.anchor), let anchored = anchors[name] else { return .unusual }
                return add(anchored.node, size: anchored.size, asKey: nil)
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let isSequence = event.type == YAML_SEQUENCE_START_EVENT
                // A collection where a key goes: refused, with the composing path's message.
                if let top = frames.last, top.kind == .mapping, top.pendingKey == nil { return .unusual }
                let anchor = isSequence ? event.data.sequence_start.anchor : event.data.mapping_start.anchor
                frames.append(Frame(kind: isSequence ? .sequence : .mapping, at: position(event.start_mark),
                                    anchor: Self.string(anchor)))
                return .more
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let frame = frames.popLast() else { return .unusual }
                let node: YNode
                if frame.kind == .sequence {
                    node = .sequence(frame.items, at: frame.at)
                } else {
                    guard frame.pendingKey == nil, !Self.hasDuplicateKeys(frame.entries) else { return .unusual }
                    node = .mapping(YMapping(entries: frame.entries, at: frame.at))
                }
                if let anchor = frame.anchor { anchors[anchor] = (node, frame.size) }
                return add(node, size: frame.size, asKey: nil)
            default:
                return .unusual
            }
        }

        /// A finished node goes into the open collection (as a mapping's key when it is one's turn).
        mutating func add(_ node: YNode, size: Int, asKey key: YScalar?) -> Step {
            guard !frames.isEmpty else {
                guard size <= YAMLDocument.nodeBudget else { return .unusual }
                root = node
                return .more
            }
            let top = frames.count - 1
            switch frames[top].kind {
            case .sequence:
                frames[top].items.append(node)
                frames[top].size += size
            case .mapping:
                if let pending = frames[top].pendingKey {
                    frames[top].entries.append(YMapping.Entry(key: pending, value: node))
                    frames[top].pendingKey = nil
                    frames[top].size += 1 + size
                } else {
                    // Only a scalar written here is a key; an alias as a key is refused.
                    guard let key else { return .unusual }
                    frames[top].pendingKey = key
                }
            }
            // Past the budget: the composing path names the node where it is crossed.
            return frames[top].size > YAMLDocument.nodeBudget ? .unusual : .more
        }

        /// Yams refuses a mapping with a key written twice; a zone's mappings are small.
        static func hasDuplicateKeys(_ entries: [YMapping.Entry]) -> Bool {
            if entries.count <= 16 {
                for i in entries.indices.dropFirst() where entries[..<i].contains(where: { $0.key.text == entries[i].key.text }) {
                    return true
                }
                return false
            }
            var seen = Set<String>(minimumCapacity: entries.count)
            return entries.contains { !seen.insert($0.key.text).inserted }
        }
    }
}
