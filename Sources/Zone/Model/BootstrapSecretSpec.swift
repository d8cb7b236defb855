/// What a profile's first boot needs that no other machine may have: a credential minted
/// for one host, served once to the address holding that host's lease, then revoked
/// (docs/zone-format.md, Bootstrap secrets).
public struct BootstrapSecretSpec: Sendable {
    /// The name in the URL (`/bootstrap/<host>/<name>`) and in templates (`bootstrap.<name>.url`).
    public var name: Located<String>
    public var kind: Located<BootstrapSecretKind>
    /// How long an issued secret waits to be fetched before it expires unserved.
    public var ttl: Located<Duration>

    public init(name: Located<String>, kind: Located<BootstrapSecretKind>, ttl: Located<Duration>) {
        self.name = name
        self.kind = kind
        self.ttl = ttl
    }

    /// An install that has not fetched its secret two hours after its install config was
    /// rendered has failed; a longer wait only widens the window for a stolen address.
    public static let defaultTTL = Duration(seconds: 2 * 3600)
}

/// What is minted.
public enum BootstrapSecretKind: String, Sendable, Codable, CaseIterable {
    /// An RSA private key (2048 bits, PEM): the host's own Chef client key. Its public key
    /// goes to hooks in the `bootstrap.issued` event, so a hook registers the client.
    case rsaKey = "rsa-key"
    /// 32 random bytes, base64url: an Ansible pull token or any one-time credential.
    /// Hooks get only its SHA-256.
    case token
}
