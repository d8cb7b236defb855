/// What `zonectl --version` and `zonebootd --version` print: one version for both binaries,
/// which share the admin API's bodies and must be used together.
public enum ZoneBootVersion {
    /// Raised with each release; `-dev` between releases.
    public static let release = "0.1.0-dev"
    /// The API version the binaries speak (`/v1/...`).
    public static let api = "v1"
    public static var text: String { "\(release) (admin API \(api))" }
}
