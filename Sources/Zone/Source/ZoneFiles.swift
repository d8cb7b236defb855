import Foundation

/// Where templates and hooks are read from: the zone file's folder, or a stored revision.
protocol ZoneFileAccess {
    func read(_ path: String) -> Result<String, ZoneFileProblem>
    func executable(_ path: String) -> ExecutableStatus
    func displayName(_ path: String) -> String
    /// Why `path`, with its symlinks resolved, is not inside the zone's folder; nil when it
    /// is, or when it does not exist (a missing file is reported by whoever needs it).
    func escape(_ path: String) -> String?
    /// A `secret-file` value's bytes, checked (OwnerOnlyFile); nil where secrets are not
    /// read (a stored revision without the zone's folder).
    func readSecret(_ path: String) -> Result<[UInt8], ZoneFileProblem>?
}

/// A path a zone names: a file inside the zone file's folder, written relative to it.
/// Templates are served to hosts, so a path that leaves the folder (`../tokens`,
/// `/etc/shadow`) would serve whatever it reaches.
enum ZonePath {
    /// Why `text` cannot name a file inside the zone's folder (as written, before any
    /// symlink is followed), or nil when it can.
    static func problem(_ text: String) -> String? {
        if text.isEmpty { return "needs a file path, found an empty string" }
        if text.hasPrefix("/") {
            return "'\(text)' is absolute: write a path relative to the zone file, inside its folder"
        }
        if text.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
            return "'\(text)' has a '..' component: a zone names only files inside its own folder"
        }
        return nil
    }
}

enum ExecutableStatus {
    case executable, notExecutable, missing
    /// A stored revision keeps no executables: their check belongs to the host that runs them.
    case unknown
}

enum ZoneFileProblem: Error {
    case missing(String)
    case unreadable(String)
}

struct DiskFiles: ZoneFileAccess {
    /// The zone file's folder as the operator wrote it ("" for the current one).
    let folder: String

    func url(_ path: String) -> URL { URL(fileURLWithPath: displayName(path)) }

    func displayName(_ path: String) -> String { folder.isEmpty ? path : "\(folder)/\(path)" }

    func read(_ path: String) -> Result<String, ZoneFileProblem> {
        if let escape = escape(path) { return .failure(.unreadable(escape)) }
        let target = url(path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: target.path, isDirectory: &isDirectory) else {
            return .failure(.missing("\(displayName(path)) does not exist"))
        }
        if isDirectory.boolValue { return .failure(.unreadable("\(displayName(path)) is a folder, not a file")) }
        guard let data = FileManager.default.contents(atPath: target.path) else {
            return .failure(.unreadable("\(displayName(path)) cannot be read"))
        }
        if data.count > ZoneLoader.maximumFileSize {
            return .failure(.unreadable("\(displayName(path)) is larger than \(ZoneLoader.maximumFileSize >> 20) MiB"))
        }
        guard let text = String(data: data, encoding: .utf8), !text.contains("\0") else {
            return .failure(.unreadable("\(displayName(path)) is not UTF-8 text"))
        }
        return .success(text)
    }

    func readSecret(_ path: String) -> Result<[UInt8], ZoneFileProblem>? {
        if let escape = escape(path) { return .failure(.unreadable("secret-file \(escape)")) }
        return OwnerOnlyFile.contents(path: displayName(path), maximumSize: SecretValue.maximumSize)
            .mapError { .unreadable($0.message("the secret file", displayName(path))) }
    }

    func executable(_ path: String) -> ExecutableStatus {
        let target = url(path).path
        guard FileManager.default.fileExists(atPath: target) else { return .missing }
        return FileManager.default.isExecutableFile(atPath: target) ? .executable : .notExecutable
    }

    func escape(_ path: String) -> String? {
        // The folder itself may be reached through a symlink (/etc/zoneboot → /srv/zones):
        // what counts is where the file is relative to where the folder really is.
        guard let root = DiskFiles.realPath(folder.isEmpty ? "." : folder),
              let target = DiskFiles.realPath(displayName(path)) else { return nil }
        if target == root { return "\(displayName(path)) is the zone's folder itself, not a file in it" }
        let inside = root == "/" || target.hasPrefix(root + "/")
        return inside ? nil : "\(displayName(path)) resolves to \(target), outside the zone's folder \(root)"
    }

    /// The absolute path without symlinks, `.` or `..`; nil when it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

struct StoredFiles: ZoneFileAccess {
    let files: [String: String]
    /// Where a server reads the secret files of a stored or posted revision: its own zone
    /// folder, never one the source names. Nil: secrets are not read (only their digests kept).
    var secretsFolder: DiskFiles? = nil

    func readSecret(_ path: String) -> Result<[UInt8], ZoneFileProblem>? { secretsFolder?.readSecret(path) }

    func read(_ path: String) -> Result<String, ZoneFileProblem> {
        files[path].map { .success($0) } ?? .failure(.missing("\(path) is not part of this revision"))
    }

    func executable(_ path: String) -> ExecutableStatus { .unknown }
    func displayName(_ path: String) -> String { path }
    /// Stored texts are keyed by the path as written, which the shape check confines; the
    /// symlinks were resolved where the revision was read from disk.
    func escape(_ path: String) -> String? { nil }
}

/// Reads every template a zone names, checks that each parses as Mustache, and
/// that each hook is an executable.
struct TemplateReader<Files: ZoneFileAccess> {
    let files: Files
    private(set) var diagnostics: [Diagnostic] = []
    /// Template path as written → text; what a revision stores.
    private(set) var contents: [String: String] = [:]
    /// Template path as written → compiled template.
    private(set) var compiled: [String: ZoneTemplate] = [:]
    /// Display name → text, for quoting template lines in diagnostics.
    private(set) var texts: [String: String] = [:]

    init(files: Files) { self.files = files }

    mutating func read(_ spec: ZoneSpec) {
        for profile in spec.profiles {
            if let ipxe = profile.ipxe { readTemplate(ipxe) }
            for file in profile.files { readTemplate(file.template) }
        }
        for hook in spec.hooks {
            // A secret, read by zonebootd only when the hook runs: never packed into a revision or
            // served. It may live outside the zone's folder (kept out of the zone's repository),
            // named by an absolute path; a relative one must stay inside like every other path.
            if let credentials = hook.credentials, !credentials.value.hasPrefix("/") {
                if let problem = ZonePath.problem(credentials.value) {
                    diagnostics.append(Diagnostic(path: credentials.path, problem, at: credentials.at))
                } else if let escape = files.escape(credentials.value) {
                    diagnostics.append(Diagnostic(path: credentials.path, "credentials \(escape)", at: credentials.at))
                }
            }
            guard let run = hook.run, ZonePath.problem(run.value) == nil else { continue }
            let name = files.displayName(run.value)
            if let escape = files.escape(run.value) {
                diagnostics.append(Diagnostic(path: run.path, "hook program \(escape)", at: run.at))
                continue
            }
            switch files.executable(run.value) {
            case .missing:
                diagnostics.append(Diagnostic(path: run.path, "hook program \(name) does not exist", at: run.at))
            case .notExecutable:
                diagnostics.append(Diagnostic(path: run.path, "hook program \(name) is not executable (chmod +x)",
                                              at: run.at))
            case .executable, .unknown:
                break
            }
        }
    }

    private mutating func readTemplate(_ path: Located<String>) {
        guard contents[path.value] == nil, ZonePath.problem(path.value) == nil else { return }
        switch files.read(path.value) {
        case .failure(.missing(let why)), .failure(.unreadable(let why)):
            diagnostics.append(Diagnostic(path: path.path, "template \(why)", at: path.at))
        case .success(let text):
            contents[path.value] = text
            let name = files.displayName(path.value)
            texts[name] = text
            do {
                compiled[path.value] = try ZoneTemplate(text: text)
            } catch {
                diagnostics.append(Diagnostic(
                    path: path.path, "template \(name) does not parse: \(error.message)",
                    at: SourcePosition(file: name, line: error.line, column: error.column),
                    notes: [.init("the template is named here", at: path.at)]))
                return
            }
            let namedHere = Diagnostic.Note("the template is named here", at: path.at)
            for unknown in TemplateVariables.unknown(in: text) {
                diagnostics.append(Diagnostic(path: path.path, unknown.message,
                                              at: SourcePosition(file: name, line: unknown.line, column: unknown.column),
                                              notes: [namedHere]))
            }
            if let crlf = Self.firstCarriageReturn(in: text) {
                diagnostics.append(Diagnostic(
                    .warning, path: path.path, "template \(name) has CRLF (Windows) line endings: hosts get them as written, "
                        + "and a kickstart or shell script with a \\r at each line end breaks; convert it (dos2unix)",
                    at: SourcePosition(file: name, line: crlf.line, column: crlf.column), notes: [namedHere]))
            }
        }
    }

    /// Where the first `\r\n` is (the column of the `\r`), or nil.
    static func firstCarriageReturn(in text: String) -> (line: Int, column: Int)? {
        var line = 1, column = 1, previousWasCR = false
        for scalar in text.unicodeScalars {
            if scalar == "\n" {
                if previousWasCR { return (line, column - 1) }
                line += 1
                column = 1
            } else {
                column += 1
            }
            previousWasCR = scalar == "\r"
        }
        return nil
    }
}

enum FileError {
    /// The operating system's words for a failed open, without Foundation's wrapping.
    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSCocoaErrorDomain, ns.code == NSFileReadNoSuchFileError || ns.code == 4 {
            return "no such file"
        }
        return ns.localizedDescription
    }
}
