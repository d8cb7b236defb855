import Foundation
import Testing
@testable import Zone

/// `{ secret-file: path }` values: read from an owner-only file inside the zone's folder,
/// carried as a digest (never the content) by the source and shown redacted by plans.
@Suite struct SecretValueTests {
    static let password = "hunter2-db-s3cret"
    static let reference = "{ secret-file: secrets/db-password }"

    /// A copy of zones/ in a fresh folder with `secrets/db-password` (mode 0600) and a zone
    /// whose storage role's Ansible vars and compute role's Chef attributes use it.
    fileprivate struct Workspace {
        let root = NSTemporaryDirectory() + "zoneboot-secret-values-\(UUID().uuidString)"
        var zoneFile: String { "\(root)/ams1.yaml" }
        var secretFile: String { "\(root)/secrets/db-password" }

        init(secret: String = SecretValueTests.password + "\n", mode: Int = 0o600) throws {
            try FileManager.default.copyItem(atPath: "\(repoRoot)/zones", toPath: root)
            try FileManager.default.createDirectory(atPath: "\(root)/secrets", withIntermediateDirectories: true)
            try write(secret, mode: mode)
            try editedExample([
                ("ceph_cluster: ams1-ceph }", "ceph_cluster: ams1-ceph, db_password: \(SecretValueTests.reference) }"),
                ("compute: { cpu_allocation_ratio: 4.0 }",
                 "compute: { cpu_allocation_ratio: 4.0, db: { password: \(SecretValueTests.reference) } }"),
            ]).write(toFile: zoneFile, atomically: true, encoding: .utf8)
        }

        func write(_ secret: String, mode: Int = 0o600) throws {
            try? FileManager.default.removeItem(atPath: secretFile)
            try secret.write(toFile: secretFile, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: secretFile)
        }

        func remove() { try? FileManager.default.removeItem(atPath: root) }
    }

    fileprivate func storageSecret(_ revision: ZoneRevision) -> SecretValue? {
        let vars = revision.role(named: "storage")?.ansible?.vars ?? []
        guard case .secret(let secret)? = vars.first(where: { $0.name.value == "db_password" })?.value else { return nil }
        return secret
    }

    @Test func theValueIsReadTheSourceKeepsOnlyItsDigest() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let revision = try ZoneLoader.load(path: workspace.zoneFile)
        let secret = try #require(storageSecret(revision))
        // One trailing newline is the file's, not the secret's; the digest is the file's, as sha256sum shows it.
        #expect(secret.value == Self.password)
        #expect(secret.sha256 == SecretValue.sha256(Array((Self.password + "\n").utf8)))
        #expect(revision.source.secretDigests == ["secrets/db-password": secret.sha256])
        let stored = String(decoding: try JSONEncoder().encode(revision.source), as: UTF8.self)
        #expect(!stored.contains(Self.password))
        // Encoded anywhere (admin API, saved plans), a secret is its redacted form.
        let encoded = try JSONDecoder().decode(String.self, from: try JSONEncoder().encode(ZoneValue.secret(secret)))
        #expect(encoded == "(secret secrets/db-password, sha256:\(secret.sha256.prefix(12))…)")
        #expect(ZoneValue.secret(secret).plain as? String == secret.redacted)
        #expect(ZoneValue.secret(secret).plain(revealingSecrets: true) as? String == Self.password)
        // The source a client sends: the same digest, no content.
        let sent = try ZoneLoader.source(path: workspace.zoneFile)
        #expect(sent.secretDigests == revision.source.secretDigests && sent.digest == revision.source.digest)
    }

    @Test func aChangedFileIsAChangeInThePlanAndNeverItsContent() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let before = try ZoneLoader.load(path: workspace.zoneFile)
        try workspace.write("a-new-password\n")
        let after = try ZoneLoader.load(path: workspace.zoneFile)
        #expect(before.source.digest != after.source.digest)
        let plan = ZonePlan(from: before, fromRevision: 1, to: after)
        let roles = plan.changes.filter { $0.kind == "role" }.map(\.name).sorted()
        #expect(roles == ["compute", "storage"])
        let shown = PlanRenderer(color: false).render(plan, source: "ams1.yaml", against: "revision 1")
            + String(decoding: try JSONEncoder().encode(plan), as: UTF8.self)
        #expect(shown.contains("sha256:"))
        #expect(!shown.contains(Self.password) && !shown.contains("a-new-password"))
    }

    @Test func aStoredRevisionKeepsTheDigestAndAServerChecksTheFileAgainstIt() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let source = try ZoneLoader.load(path: workspace.zoneFile).source
        // zonectl on a state directory: no folder, the digest only.
        let offline = try #require(storageSecret(try ZoneLoader.load(source: source)))
        #expect(offline.value == nil && offline.sha256 == source.secretDigests?["secrets/db-password"])
        // A server with the zone's folder: the content, while the file is the one planned.
        let served = try #require(storageSecret(try ZoneLoader.load(source: source, secretsFolder: workspace.root)))
        #expect(served.value == Self.password)
        try workspace.write("changed-behind-the-plan\n")
        do {
            _ = try ZoneLoader.load(source: source, secretsFolder: workspace.root)
            Issue.record("a secret file changed since the plan was served")
        } catch {
            #expect(error.description.contains("changed since this revision was made"))
            #expect(!error.description.contains("changed-behind-the-plan"))
        }
    }

    @Test func aFileOthersCanReadOrOutsideTheFolderIsRefused() throws {
        let open = try Workspace(mode: 0o644)
        defer { open.remove() }
        do {
            _ = try ZoneLoader.load(path: open.zoneFile)
            Issue.record("a 0644 secret file was read")
        } catch {
            #expect(error.description.contains("chmod 600"))
            // Read once, reported once: at the first value that names it.
            #expect(error.errorCount == 1 && error.description.contains("roles.compute.chef.attributes.compute"))
        }
        let escaping = try Workspace()
        defer { escaping.remove() }
        let text = try String(contentsOfFile: escaping.zoneFile, encoding: .utf8)
        try text.replacingOccurrences(of: "secrets/db-password", with: "../db-password")
            .write(toFile: escaping.zoneFile, atomically: true, encoding: .utf8)
        do {
            _ = try ZoneLoader.load(path: escaping.zoneFile)
            Issue.record("a secret outside the zone's folder was read")
        } catch {
            #expect(error.description.contains("'..'"))
        }
    }
}

extension SecretValueTests {
    @Test func aServerStartingWithAChangedFileWithholdsTheValueInsteadOfRefusingToStart() throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let source = try ZoneLoader.load(path: workspace.zoneFile).source
        try workspace.write("changed-while-down\n")
        let revision = try ZoneLoader.load(source: source, secretsFolder: workspace.root, withholdingChangedSecrets: true)
        let secret = try #require(storageSecret(revision))
        #expect(secret.value == nil && secret.sha256 == source.secretDigests?["secrets/db-password"])
        #expect(revision.warnings.contains { $0.severity == .warning && $0.message.contains("withheld") })
        #expect(ZoneValue.secret(secret).plain(revealingSecrets: true) as? String == secret.redacted)
    }
}
