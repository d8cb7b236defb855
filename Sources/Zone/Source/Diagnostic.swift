/// Where something stands in a source file; lines and columns count from 1.
public struct SourcePosition: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// One finding about a zone: what is wrong, where, under which key, and where the
/// other side of a collision stands (notes).
public struct Diagnostic: Sendable, Hashable, Codable {
    public enum Severity: String, Sendable, Codable { case error, warning }

    public struct Note: Sendable, Hashable, Codable {
        public var message: String
        public var at: SourcePosition?
        public init(_ message: String, at: SourcePosition?) {
            self.message = message
            self.at = at
        }
    }

    public var severity: Severity
    /// The key path in the zone document, e.g. `pods[0].switches[1].ports[2].address`.
    public var path: String
    public var message: String
    public var at: SourcePosition?
    public var notes: [Note]

    public init(_ severity: Severity = .error, path: String, _ message: String,
                at: SourcePosition?, notes: [Note] = []) {
        self.severity = severity
        self.path = path
        self.message = message
        self.at = at
        self.notes = notes
    }
}

/// A zone that could not be loaded, with every finding (not just the first) and
/// the texts they point into, so they can be shown with the offending line.
public struct ZoneLoadError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    /// File name → text, for quoting lines in `render`.
    public var sources: [String: String]
    /// The load was stopped from outside (`ZoneLoadBudget.cancel`): nothing is wrong with the zone.
    public var cancelled: Bool

    public init(diagnostics: [Diagnostic], sources: [String: String], cancelled: Bool = false) {
        self.diagnostics = diagnostics
        self.sources = sources
        self.cancelled = cancelled
    }

    public var errorCount: Int { diagnostics.count { $0.severity == .error } }

    public var description: String { DiagnosticRenderer(sources: sources).render(diagnostics) }
}

/// Renders diagnostics the way compilers do: `file:line:col: error: path: message`,
/// the line itself, and a caret under the column.
public struct DiagnosticRenderer: Sendable {
    private let lines: [String: [Substring]]

    public init(sources: [String: String]) {
        lines = sources.mapValues { $0.split(separator: "\n", omittingEmptySubsequences: false) }
    }

    public func render(_ diagnostics: [Diagnostic]) -> String {
        var out = ""
        for diagnostic in diagnostics {
            let label = diagnostic.path.isEmpty ? "" : "\(diagnostic.path): "
            out += header(diagnostic.at, diagnostic.severity.rawValue) + label + diagnostic.message + "\n"
            out += quote(diagnostic.at)
            for note in diagnostic.notes {
                out += header(note.at, "note") + note.message + "\n"
                out += quote(note.at)
            }
        }
        let errors = diagnostics.count { $0.severity == .error }
        let warnings = diagnostics.count - errors
        var summary: [String] = []
        if errors > 0 { summary.append(errors == 1 ? "1 error" : "\(errors) errors") }
        if warnings > 0 { summary.append(warnings == 1 ? "1 warning" : "\(warnings) warnings") }
        if !summary.isEmpty { out += summary.joined(separator: ", ") + ".\n" }
        return out
    }

    private func header(_ at: SourcePosition?, _ kind: String) -> String {
        guard let at else { return "\(kind): " }
        return "\(at): \(kind): "
    }

    private func quote(_ at: SourcePosition?) -> String {
        guard let at, let fileLines = lines[at.file], at.line >= 1, at.line <= fileLines.count else { return "" }
        // Tabs are kept so the caret lines up under them; long lines are cut to keep output readable.
        let text = String(fileLines[at.line - 1].prefix(200))
        let gutter = String(at.line)
        let pad = String(repeating: " ", count: gutter.count)
        let indent = text.prefix(max(0, at.column - 1)).map { $0 == "\t" ? "\t" : " " }.joined()
        return " \(gutter) | \(text)\n \(pad) | \(indent)^\n"
    }
}
