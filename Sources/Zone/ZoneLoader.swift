import Foundation

/// Loads a zone file into a revision: read, parse (with positions), check the shape,
/// decode, expand, read and check templates. Every finding is reported at once; any
/// error means no revision.
public enum ZoneLoader {
    /// Files larger than this are refused before parsing: a zone of 10,000 hosts is
    /// well under 1 MiB because port ranges compress it.
    public static let maximumFileSize = 16 << 20

    /// Loads a zone file from disk, with the templates it names (relative to its folder).
    /// `strict` (`--strict`): warnings are errors, and a zone with any does not load.
    public static func load(path: String, strict: Bool = false) throws(ZoneLoadError) -> ZoneRevision {
        let text = try readZoneFile(path)
        let folder = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
        return try load(ZoneSource(zoneFile: path, text: text), files: DiskFiles(folder: folder), strict: strict)
    }

    /// A loaded zone's warnings rendered like errors (file:line:col, key path, the line, a
    /// caret), quoting the zone file and its templates as loaded from `path`.
    public static func describeWarnings(of revision: ZoneRevision) -> String {
        let file = revision.source.zoneFile
        let folder = file.lastIndex(of: "/").map { String(file[..<$0]) } ?? ""
        let files = DiskFiles(folder: folder)
        var sources = [file: revision.source.text]
        for (path, text) in revision.source.files { sources[files.displayName(path)] = text }
        return DiagnosticRenderer(sources: sources).render(revision.warnings)
    }

    /// Loads a stored revision's source again; templates come from `source.files`. Secret
    /// files are read from `secretsFolder` (a server's own zone folder), each checked against
    /// the digest the source recorded (a changed one is an error, or where
    /// `withholdingChangedSecrets`, a warning and no value); without it, only digests are kept.
    /// `budget`: the wall time allowed (a server's plans and applies), and the way to stop it.
    /// `reusing`: a revision loaded before (the server's running one). Pods whose text is the
    /// same in both, under the same naming and roles, take its identities instead of being
    /// placed and named again: a one-host change to 100,000 hosts expands one pod of 250. The
    /// result is the same revision a full load gives; anything the shortened expansion finds
    /// wrong is loaded again in full, to be reported as ever.
    public static func load(source: ZoneSource, secretsFolder: String? = nil, withholdingChangedSecrets: Bool = false,
                            budget: ZoneLoadBudget = .unlimited, reusing running: ZoneRevision? = nil)
        throws(ZoneLoadError) -> ZoneRevision {
        try load(source, files: StoredFiles(files: source.files, secretsFolder: secretsFolder.map(DiskFiles.init(folder:))),
                 withholdingChangedSecrets: withholdingChangedSecrets, budget: budget, reusing: running)
    }

    /// What a client sends a server that validates and expands the zone itself: the zone
    /// file and the templates it names, read from disk; hook programs are checked here,
    /// where they run. Cheaper than `load(path:)` (no expansion). Errors it finds are
    /// reported as `load(path:)` reports them; a zone that does not parse is returned
    /// as it is, for the server to report.
    public static func source(path: String) throws(ZoneLoadError) -> ZoneSource {
        let text = try readZoneFile(path)
        let folder = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
        let files = DiskFiles(folder: folder)
        let (root, syntaxErrors) = YAMLDocument.parse(text, file: path)
        guard syntaxErrors.isEmpty, let root else { return ZoneSource(zoneFile: path, text: text) }
        var templates = TemplateReader(files: files)
        var secrets = SecretReader(files: files, recorded: nil)
        templates.read(secrets.resolve(ZoneDecoder(file: path).decode(root)))
        let diagnostics = templates.diagnostics + secrets.diagnostics
        if diagnostics.contains(where: { $0.severity == .error }) {
            var sources = [path: text]
            for (name, content) in templates.texts { sources[name] = content }
            throw ZoneLoadError(diagnostics: diagnostics, sources: sources)
        }
        return ZoneSource(zoneFile: path, text: text, files: templates.contents,
                          secretDigests: secrets.digests.isEmpty ? nil : secrets.digests)
    }

    // MARK: Steps

    static func readZoneFile(_ path: String) throws(ZoneLoadError) -> String {
        func fail(_ message: String) -> ZoneLoadError {
            ZoneLoadError(diagnostics: [Diagnostic(path: "", message, at: nil)], sources: [:])
        }
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path)) } catch {
            throw fail("cannot open zone file \(path): \(FileError.reason(error))")
        }
        defer { try? handle.close() }
        // Read one byte past the limit instead of trusting a size that may change under us.
        let data: Data
        do { data = try handle.read(upToCount: maximumFileSize + 1) ?? Data() } catch {
            throw fail("cannot read zone file \(path): \(FileError.reason(error))")
        }
        if data.count > maximumFileSize {
            throw fail("\(path) is larger than \(maximumFileSize >> 20) MiB; a zone file this size is not a zone file")
        }
        return try decodeText(data, file: path)
    }

    /// UTF-8 text without NUL bytes, or a diagnostic at the first bad byte.
    static func decodeText(_ data: Data, file: String) throws(ZoneLoadError) -> String {
        // Valid text, as nearly every zone file is, in one pass; the position of a bad byte
        // is looked for below only when there is one.
        if !data.contains(0), let text = String(validating: data, as: UTF8.self) { return text }
        var line = 1, column = 1
        var iterator = data.makeIterator()
        var decoder = UTF8()
        var text = String.UnicodeScalarView()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                if scalar == "\0" {
                    throw ZoneLoadError(diagnostics: [Diagnostic(path: "", "NUL byte: this is a binary file, not a zone file",
                                                                 at: SourcePosition(file: file, line: line, column: column))],
                                        sources: [:])
                }
                text.append(scalar)
                if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
            case .emptyInput:
                return String(text)
            case .error:
                throw ZoneLoadError(diagnostics: [Diagnostic(path: "", "not UTF-8 text: a zone file is YAML in UTF-8",
                                                             at: SourcePosition(file: file, line: line, column: column))],
                                    sources: [:])
            }
        }
    }

    /// Parses, checks the shape of and decodes a zone file's text: its spec, and what the
    /// shape check found.
    private static func decode(_ text: String, file: String,
                               budget: ZoneLoadBudget) throws(ZoneLoadError) -> (ZoneSpec, [Diagnostic]) {
        let (root, syntaxErrors) = YAMLDocument.parse(text, file: file, budget: budget)
        try budget.check(file: file)
        if !syntaxErrors.isEmpty { throw ZoneLoadError(diagnostics: syntaxErrors, sources: [file: text]) }
        guard let root else {
            throw ZoneLoadError(diagnostics: [Diagnostic(path: "", "the zone file is empty",
                                                         at: SourcePosition(file: file, line: 1, column: 1))],
                                sources: [file: text])
        }
        @Sendable func shapeDiagnostics() -> [Diagnostic] {
            var checker = ShapeChecker()
            checker.check(root, against: ZoneShape.document, path: "")
            return checker.diagnostics
        }
        @Sendable func spec() -> ZoneSpec { ZoneDecoder(file: file).decode(root) }
        // Each reads the tree alone: a large zone's (256 KiB is some 17,000 hosts) are done at
        // once, on two cores.
        guard text.utf8.count >= 256 << 10, Parts.cores > 1 else { return (spec(), shapeDiagnostics()) }
        let (decoded, diagnostics) = Parts.both(spec, shapeDiagnostics)
        return (decoded, diagnostics)
    }

    /// The identities of `spec` with those of the pods unchanged since `running` taken from it,
    /// and the expander that placed the others; nil when nothing is reused, or when the
    /// shortened expansion finds an error (the full one then reports it as it would anyway).
    static func expand(_ spec: ZoneSpec, text: String, reusing running: ZoneRevision?, budget: ZoneLoadBudget)
        -> ([Identity], ZoneExpander?) {
        guard let running, PodText.sameNaming(spec, running.spec) else { return ([], nil) }
        let same = PodText.unchangedPods(old: running.spec.pods, oldText: running.source.text, new: spec.pods, newText: text)
        guard !same.isEmpty else { return ([], nil) }
        var expander = ZoneExpander(spec: spec, budget: budget)
        expander.reuse = ZoneExpander.Reuse(pods: same, running: running)
        let placed = expander.expand()
        guard !budget.isSpent, !expander.diagnostics.contains(where: { $0.severity == .error }) else { return ([], nil) }
        return (ZoneRevision.merging(running.identities, ofPods: { same.contains($0) }, with: placed), expander)
    }

    /// A stored revision's spec, decoded as `load(source:)` decodes it but not expanded (a
    /// plan's base, PlanBase); nil when decoding finds an error, for the full load to report.
    static func decodedSpec(of source: ZoneSource) -> ZoneSpec? {
        guard let decoded = try? decode(source.text, file: source.zoneFile, budget: .unlimited),
              !decoded.1.contains(where: { $0.severity == .error }) else { return nil }
        var secrets = SecretReader(files: StoredFiles(files: source.files), recorded: source.secretDigests)
        let spec = secrets.resolve(decoded.0)
        return secrets.diagnostics.contains { $0.severity == .error } ? nil : spec
    }

    static func load(_ source: ZoneSource, files: some ZoneFileAccess, withholdingChangedSecrets: Bool = false,
                     budget: ZoneLoadBudget = .unlimited, strict: Bool = false, reusing running: ZoneRevision? = nil)
        throws(ZoneLoadError) -> ZoneRevision {
        let file = source.zoneFile
        // A posted source never passed `readZoneFile`'s limit.
        if source.text.utf8.count > maximumFileSize {
            throw ZoneLoadError(diagnostics: [Diagnostic(path: "", "the zone file is larger than \(maximumFileSize >> 20) MiB; "
                + "a zone file this size is not a zone file", at: SourcePosition(file: file, line: 1, column: 1))], sources: [:])
        }
        var sources = [file: source.text]
        // The parse tree lives only as long as the decoding: for 100,000 hosts it is tens of
        // megabytes that the expansion's peak need not hold as well.
        let (decoded, shapeDiagnostics) = try decode(source.text, file: file, budget: budget)
        var secrets = SecretReader(files: files, recorded: source.secretDigests)
        secrets.withholdingChanged = withholdingChangedSecrets
        let spec = secrets.resolve(decoded)
        try budget.check(file: file)
        var (identities, expanded) = shapeDiagnostics.contains(where: { $0.severity == .error }) ? ([], nil)
            : expand(spec, text: source.text, reusing: running, budget: budget)
        if expanded == nil {
            var expander = ZoneExpander(spec: spec, budget: budget)
            // A port entry the shape check refused (a unit out of range) is reported there: the BMCs
            // of its pod that miss their hosts because of it are not reported again.
            let refusedEntries = shapeDiagnostics.filter { $0.severity == .error && $0.path.contains(".switches[") }
            expander.podsWithUnresolvedEntries = Set(spec.pods.filter { pod in
                let prefix = String(pod.name.path.prefix { $0 != "." }) + "."
                return refusedEntries.contains { $0.path.hasPrefix(prefix) }
            }.map(\.name.value))
            identities = expander.expand()
            expanded = expander
        }
        guard let expander = expanded else { preconditionFailure("expanded above") }
        try budget.check(file: file)
        var templates = TemplateReader(files: files)
        templates.read(spec)
        for (name, text) in templates.texts { sources[name] = text }
        var diagnostics = (shapeDiagnostics + expander.diagnostics + templates.diagnostics + secrets.diagnostics)
            .sorted { ($0.at?.file ?? "", $0.at?.line ?? 0, $0.at?.column ?? 0) < ($1.at?.file ?? "", $1.at?.line ?? 0, $1.at?.column ?? 0) }
        if strict {
            for i in diagnostics.indices { diagnostics[i].severity = .error }
        }
        if diagnostics.contains(where: { $0.severity == .error }) {
            // A refused zone's report is its errors; its warnings come once it loads.
            throw ZoneLoadError(diagnostics: diagnostics.filter { $0.severity == .error }, sources: sources)
        }
        var stored = source
        stored.files = templates.contents
        stored.secretDigests = secrets.digests.isEmpty ? nil : secrets.digests
        let revision = ZoneRevision(spec: spec, source: stored, identities: identities, templates: templates.compiled,
                                    warnings: diagnostics)
        try budget.check(file: file)
        return revision
    }
}
