import Foundation
import Testing
@testable import Zone

/// Every path a zone names stays inside the zone file's folder once symlinks are
/// followed: templates are served to hosts, so one that reached outside would serve
/// whatever it reached (the admin token file, /etc/shadow).
@Suite struct ConfinedPathTests {
    /// A copy of zones/ in a fresh temporary folder, with a secret file beside (outside) it.
    private struct Workspace {
        let root: String
        var zoneFolder: String { "\(root)/zone" }
        var secret: String { "\(root)/tokens" }

        init() throws {
            root = NSTemporaryDirectory() + "zoneboot-confined-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "\(repoRoot)/zones", toPath: "\(root)/zone")
            try "admin-token-that-must-not-be-served\n".write(toFile: "\(root)/tokens", atomically: true, encoding: .utf8)
        }

        func remove() { try? FileManager.default.removeItem(atPath: root) }

        func write(_ text: String, to relative: String) throws {
            let path = "\(zoneFolder)/\(relative)"
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }

        func link(_ relative: String, to destination: String) throws {
            try FileManager.default.createSymbolicLink(atPath: "\(zoneFolder)/\(relative)", withDestinationPath: destination)
        }

        /// Loads the example zone, edited, from this folder (through `zonePath` if given).
        func load(_ edits: [(String, String)], zonePath: String? = nil) -> Result<ZoneRevision, ZoneLoadError> {
            let path = zonePath ?? "\(zoneFolder)/ams1.yaml"
            do {
                try editedExample(edits).write(toFile: "\(zoneFolder)/ams1.yaml", atomically: true, encoding: .utf8)
                return .success(try ZoneLoader.load(path: path))
            } catch let error as ZoneLoadError {
                return .failure(error)
            } catch {
                Issue.record("cannot set up the zone: \(error)")
                return .failure(ZoneLoadError(diagnostics: [], sources: [:]))
            }
        }
    }

    private func onlyError(_ result: Result<ZoneRevision, ZoneLoadError>,
                           sourceLocation: SourceLocation = #_sourceLocation) -> Diagnostic? {
        guard case .failure(let error) = result else {
            Issue.record("the zone loaded", sourceLocation: sourceLocation)
            return nil
        }
        #expect(error.errorCount == 1, "\(error.description)", sourceLocation: sourceLocation)
        return error.diagnostics.first { $0.severity == .error }
    }

    @Test func aTemplateSymlinkPointingOutsideIsRefusedWhereItIsNamed() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.link("templates/innocent-ks.cfg", to: "../../tokens")
        let result = workspace.load([("ks.cfg: templates/centos7-ks.cfg", "ks.cfg: templates/innocent-ks.cfg")])
        let error = try #require(onlyError(result))
        #expect(error.path == "profiles.centos7-kvm.files.ks.cfg")
        #expect(error.message.contains("resolves to"), "\(error.message)")
        #expect(error.message.contains("outside the zone's folder"), "\(error.message)")
        #expect(error.at?.file == "\(workspace.zoneFolder)/ams1.yaml")
        let line = exampleZoneText.split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.contains("ks.cfg: templates/centos7-ks.cfg") }.map { $0 + 1 }
        #expect(error.at?.line == line)
        #expect(error.at?.column == 15)
        // The secret's text is nowhere in what the operator is shown.
        if case .failure(let failure) = result {
            #expect(!failure.description.contains("admin-token"))
            #expect(!failure.sources.values.contains { $0.contains("admin-token") })
        }
    }

    @Test func aSymlinkedFolderInsidePointingOutsideIsRefused() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        // The link is a folder on the way, not the file itself.
        try workspace.link("shared", to: workspace.root)
        let result = workspace.load([("ipxe: templates/rocky9.ipxe", "ipxe: shared/tokens")])
        let error = try #require(onlyError(result))
        #expect(error.path == "profiles.rocky9.ipxe")
        #expect(error.message.contains("outside the zone's folder"), "\(error.message)")
    }

    @Test func aHookProgramSymlinkPointingOutsideIsRefused() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.link("hooks/shell", to: "/bin/sh")
        let result = workspace.load([("run: hooks/register-bmc", "run: hooks/shell")])
        let error = try #require(onlyError(result))
        #expect(error.path == "hooks.register-bmc.run")
        #expect(error.message.hasPrefix("hook program"), "\(error.message)")
        #expect(error.message.contains("outside the zone's folder"), "\(error.message)")
    }

    @Test func credentialsAreAbsoluteOrInsideTheFolder() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.link("bmc.json", to: workspace.secret)
        let hook = """
            run: hooks/register-bmc              # gets the event as JSON on stdin
            """
        let registration = "builtin: redfish-register\n    credentials: bmc.json"
        let lexical = workspace.load([(hook, registration.replacingOccurrences(of: "bmc.json", with: "../tokens"))])
        let lexicalError = try #require(onlyError(lexical))
        #expect(lexicalError.path == "hooks.register-bmc.credentials")
        #expect(lexicalError.message.contains("'..'"), "\(lexicalError.message)")
        let linked = workspace.load([(hook, registration)])
        let linkedError = try #require(onlyError(linked))
        #expect(linkedError.path == "hooks.register-bmc.credentials")
        #expect(linkedError.message.contains("outside the zone's folder"), "\(linkedError.message)")
        // An absolute path names a secret kept out of the zone's folder on purpose.
        let absolute = workspace.load([(hook, registration.replacingOccurrences(of: "bmc.json", with: "/etc/zoneboot/bmc.json"))])
        if case .failure(let error) = absolute { Issue.record("an absolute credentials path is refused: \(error)") }
    }

    @Test func filesInSubfoldersAndSymlinksThatStayInsideLoad() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("#!ipxe\nchain http://{{boot_server}}/x\n", to: "sub/dir/rocky9.ipxe")
        try workspace.link("templates/current-ks.cfg", to: "rocky9-ks.cfg")
        try workspace.link("linked", to: "sub")
        let revision = try workspace.load([("ipxe: templates/rocky9.ipxe", "ipxe: sub/dir/rocky9.ipxe"),
                                           ("ks.cfg: templates/rocky9-ks.cfg", "ks.cfg: templates/current-ks.cfg"),
                                           ("ipxe: templates/debian12.ipxe", "ipxe: linked/./dir/rocky9.ipxe")]).get()
        #expect(revision.source.files["sub/dir/rocky9.ipxe"]?.hasPrefix("#!ipxe") == true)
        #expect(revision.source.files["linked/./dir/rocky9.ipxe"] == revision.source.files["sub/dir/rocky9.ipxe"])
        let ks = try String(contentsOfFile: "\(workspace.zoneFolder)/templates/rocky9-ks.cfg", encoding: .utf8)
        #expect(revision.source.files["templates/current-ks.cfg"] == ks)
    }

    @Test func aZoneFolderReachedThroughASymlinkLoads() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try FileManager.default.createSymbolicLink(atPath: "\(workspace.root)/current", withDestinationPath: "zone")
        _ = try workspace.load([], zonePath: "\(workspace.root)/current/ams1.yaml").get()
    }

    /// What zonectl sends the server: a path that leaves the folder is never read, so the
    /// secret does not travel in the posted source either.
    @Test func theClientNeverReadsAPathThatLeavesTheFolder() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try editedExample([("ks.cfg: templates/centos7-ks.cfg", "ks.cfg: ../tokens")])
            .write(toFile: "\(workspace.zoneFolder)/ams1.yaml", atomically: true, encoding: .utf8)
        let source = try ZoneLoader.source(path: "\(workspace.zoneFolder)/ams1.yaml")
        #expect(source.files["../tokens"] == nil)
        #expect(!source.files.values.contains { $0.contains("admin-token") })
        // A server that is sent the secret under that name anyway refuses the zone.
        var forged = source
        forged.files["../tokens"] = "admin-token-that-must-not-be-served\n"
        #expect(throws: ZoneLoadError.self) { try ZoneLoader.load(source: forged) }
    }
}
