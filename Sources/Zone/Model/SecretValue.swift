/// A zone value kept out of the zone file: `{ secret-file: secrets/db-password }` wherever a
/// zone takes a value (Chef attributes, Ansible vars). The file lives in the zone's folder,
/// readable by its owner only; its content reaches only what is served to a host itself
/// (its rendered files, its own node JSON). Everything else (plans, history, the stored
/// source, inventories, `zonectl render`) shows `redacted`: enough to see it changed.
public struct SecretValue: Sendable, Hashable, Codable {
    /// The file, relative to the zone file's folder.
    public var path: String
    /// SHA-256 of the content, lowercase hex; empty until the file is read.
    public var sha256: String
    /// The content (one trailing newline dropped); nil where the file was not read in this
    /// process (a stored revision loaded without the zone's folder).
    public var value: String?

    public init(path: String, sha256: String = "", value: String? = nil) {
        self.path = path
        self.sha256 = sha256
        self.value = value
    }

    /// What is shown instead of the value: `(secret secrets/db-password, sha256:0a1b2c3d4e5f…)`.
    public var redacted: String { "(secret \(path), sha256:\(sha256.prefix(12))…)" }

    /// The key that marks a value as a secret read from a file.
    public static let key = "secret-file"
}
