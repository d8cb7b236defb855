/// The variables a zone template may name, and a check of every name a template uses
/// against them. Mustache renders an unknown name as nothing: `{{hostname}}` in a
/// kickstart would ship an empty hostname, so a name outside this set is an error.
///
/// The set is what `HostFiles.templateContext` gives a template (docs/zone-format.md,
/// "Templates"); a variable added there is added here.
enum TemplateVariables {
    /// Names a template sees at its top level.
    static let documented: Set<String> = [
        // the identity (HostFacts.identity)
        "name", "fqdn", "kind", "address", "netmask", "prefix_length", "network", "subnet",
        "pod", "switch", "port", "role", "gateway", "rack", "unit", "profile", "host", "device",
        // the zone (HostFacts.zone)
        "zone", "domain", "dns", "ntp", "boot_server", "boot_url",
        // what the machine said, where it did (HostFileAccess)
        "mac", "serial", "model",
        // a switch's ZTP
        "ztp", "installer_url",
        // the role's handoff data
        "chef", "ansible",
        // the profile's bootstrap secrets: `bootstrap.<name>.url` (BootstrapSecrets.templateContext)
        "bootstrap",
    ]

    /// The fields of the two objects among them.
    static let fields: [String: Set<String>] = [
        "chef": ["run_list", "environment", "attributes"],
        "ansible": ["groups", "vars"],
    ]

    /// The operator's own data (Chef attributes, Ansible vars, the names of a profile's
    /// bootstrap secrets): any name inside it is theirs.
    static let operatorData: Set<String> = ["chef.attributes", "ansible.vars", "bootstrap"]

    /// What a section over a list's item may call (swift-mustache's sequence context).
    static let itemMethods: Set<String> = ["first", "last", "index", "even", "odd"]

    struct Unknown: Equatable {
        var name: String
        var line: Int
        var column: Int
        var message: String
    }

    /// Every variable or section name of `text` that is not a documented one (where it
    /// stands). Reads Mustache tags as swift-mustache does: `{{x}}`, `{{{x}}}`, `{{&x}}`,
    /// sections `{{#x}}`/`{{^x}}`/`{{/x}}`, transforms `{{f(x)}}`, delimiter changes;
    /// comments, pragmas and partials name no variable.
    static func unknown(in text: String) -> [Unknown] {
        var scanner = TagScanner(text: Array(text.unicodeScalars))
        /// Open sections, innermost last: the known path each names, or nil when whatever is
        /// inside is not ours to check (operator data, or a section already reported).
        var sections: [String?] = []
        var found: [Unknown] = []
        while let tag = scanner.next() {
            switch tag.kind {
            case .close:
                _ = sections.popLast()
            case .section, .variable:
                var name = tag.content
                var isMethod = false
                if let open = name.firstIndex(of: "(") {
                    // `f(g(x))`: the variable is x; `last()` is the item's own method.
                    let inner = name[name.index(after: open)...].split(separator: "(").last.map(String.init) ?? ""
                    let argument = String(inner.prefix { $0 != ")" })
                    isMethod = argument.isEmpty
                    name = isMethod ? String(name[..<open]) : argument
                }
                let resolved = isMethod ? (itemMethods.contains(name) ? "." : nil) : resolve(name, in: sections)
                if resolved == nil, sections.allSatisfy({ $0 != nil }) {
                    found.append(Unknown(name: tag.content, line: tag.line, column: tag.column,
                                         message: message(for: name, isMethod: isMethod, in: sections)))
                }
                if tag.kind == .section { sections.append(resolved.flatMap { opaque($0) ? nil : $0 }) }
            }
        }
        return found
    }

    /// The known path a name stands for where it is used, or nil when it is none.
    private static func resolve(_ name: String, in sections: [String?]) -> String? {
        if name == "." { return "." }
        if sections.contains(where: { $0 == nil }) { return "." }  // inside data we do not check
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        // Mustache looks a name's first part up from the innermost section outwards.
        var base: String?
        for section in sections.reversed() {
            guard let section else { continue }
            if let object = fields[section], object.contains(parts[0]) { base = "\(section).\(parts[0])"; break }
        }
        if base == nil, documented.contains(parts[0]) { base = parts[0] }
        guard var path = base else { return nil }
        for part in parts.dropFirst() {
            if opaque(path) { return path }
            guard let object = fields[path], object.contains(part) else { return nil }
            path += ".\(part)"
        }
        return path
    }

    /// Whether names inside this path are the operator's (not checked).
    private static func opaque(_ path: String) -> Bool {
        operatorData.contains(where: { path == $0 || path.hasPrefix($0 + ".") })
    }

    private static func message(for name: String, isMethod: Bool, in sections: [String?]) -> String {
        if isMethod {
            return "'\(name)()' is not a method of a list item; Mustache would render nothing (a list item has "
                + itemMethods.sorted().map { "\($0)()" }.joined(separator: ", ") + ")"
        }
        let candidates = Array(documented) + sections.compactMap { $0.flatMap { fields[$0] } }.flatMap { $0 }
        return "template variable '\(name)' is not one ZoneBoot sets: it would render as nothing"
            + Suggest.hint(name, among: candidates.sorted())
            + " (the variables are listed in docs/zone-format.md, \"Templates\")"
    }
}

/// Mustache tags in order, with where each starts (1-based line and column of its name).
private struct TagScanner {
    enum Kind { case variable, section, close }
    struct Tag {
        var kind: Kind
        var content: String
        var line: Int
        var column: Int
    }

    let text: [Unicode.Scalar]
    var offset = 0
    var line = 1
    var column = 1
    var open: [Unicode.Scalar] = ["{", "{"]
    var close: [Unicode.Scalar] = ["}", "}"]

    init(text: [Unicode.Scalar]) { self.text = text }

    private func starts(with delimiter: [Unicode.Scalar], at index: Int) -> Bool {
        index + delimiter.count <= text.count && Array(text[index..<index + delimiter.count]) == delimiter
    }

    private mutating func advance(_ count: Int) {
        for _ in 0..<count where offset < text.count {
            if text[offset] == "\n" { line += 1; column = 1 } else { column += 1 }
            offset += 1
        }
    }

    mutating func next() -> Tag? {
        while offset < text.count {
            guard starts(with: open, at: offset) else { advance(1); continue }
            advance(open.count)
            var triple = false
            if open == ["{", "{"], offset < text.count, text[offset] == "{" { triple = true; advance(1) }
            let end = triple ? close + ["}"] : close
            // Where the tag's content starts, past blanks and its sigil.
            var start = offset
            while start < text.count, text[start] == " " || text[start] == "\t" { start += 1 }
            let (contentLine, contentColumn) = position(of: start)
            var stop = start
            while stop < text.count, !starts(with: end, at: stop) { stop += 1 }
            guard stop < text.count else { return nil }  // unterminated: the parser reported it
            let raw = String(String.UnicodeScalarView(text[start..<stop])).trimmingBlanks
            advance(stop + end.count - offset)
            guard let sigil = raw.unicodeScalars.first else { continue }
            let rest = String(raw.unicodeScalars.dropFirst()).trimmingBlanks
            let column = contentColumn + 1
            switch triple ? "&" : sigil {
            case "#", "^": return Tag(kind: .section, content: rest, line: contentLine, column: column)
            case "/": return Tag(kind: .close, content: rest, line: contentLine, column: column)
            case "&":
                return Tag(kind: .variable, content: triple ? raw : rest, line: contentLine, column: triple ? contentColumn : column)
            case "=":
                // `{{=<% %>=}}`: new delimiters from here on.
                let parts = rest.dropLast(rest.hasSuffix("=") ? 1 : 0).split(whereSeparator: { $0 == " " || $0 == "\t" })
                if parts.count == 2 {
                    open = Array(parts[0].unicodeScalars)
                    close = Array(parts[1].unicodeScalars)
                }
                continue
            case "!", "%", ">", "<", "$": continue
            default: return Tag(kind: .variable, content: raw, line: contentLine, column: contentColumn)
            }
        }
        return nil
    }

    private func position(of index: Int) -> (line: Int, column: Int) {
        var line = self.line, column = self.column
        for i in offset..<index { if text[i] == "\n" { line += 1; column = 1 } else { column += 1 } }
        return (line, column)
    }
}

private extension String {
    var trimmingBlanks: String {
        let scalars = unicodeScalars.drop { $0 == " " || $0 == "\t" }
        return String(String.UnicodeScalarView(scalars.reversed().drop { $0 == " " || $0 == "\t" }.reversed()))
    }
}
