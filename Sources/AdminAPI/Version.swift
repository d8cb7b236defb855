import CBuildInfo

/// What `zonectl --version` and `zonebootd --version` print: one version for both binaries,
/// which share the admin API's bodies and must be used together.
public enum ZoneBootVersion {
    /// Raised with each release; `-dev` between releases.
    public static let release = "0.1.0-dev"
    /// The API version the binaries speak (`/v1/...`).
    public static let api = "v1"
    /// The git revision built (`make build`/`release`/`package` pass it), else "unknown".
    public static var gitRevision: String { String(cString: zoneboot_git_revision()) }
    public static var text: String { "\(release) (git \(gitRevision), admin API \(api))" }
}
