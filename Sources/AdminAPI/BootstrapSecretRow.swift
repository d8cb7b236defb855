import Addressing
import Boot

/// `GET /v1/secrets`: one bootstrap secret of one host, as operators see it: its state and
/// fingerprint, never the secret.
public struct BootstrapSecretRow: Sendable, Codable, Equatable {
    public var host: String
    public var name: String
    public var kind: String
    /// `issued`, `used` or `expired`.
    public var status: String
    /// Unix s.
    public var issuedAt: Int64
    public var expiresAt: Int64
    public var servedAt: Int64?
    public var servedTo: IPv4Address?
    /// The lease holder it was issued or served to.
    public var mac: String
    /// `sha256:<hex>` of the public key or the token, once served.
    public var fingerprint: String?

    public init(_ record: BootstrapSecretRecord, now: Int64) {
        host = record.host
        name = record.name
        kind = record.kind.rawValue
        status = record.status(at: now)
        issuedAt = record.issuedAt
        expiresAt = record.expiresAt
        servedAt = record.servedAt
        servedTo = record.servedTo
        mac = record.mac
        fingerprint = record.fingerprint
    }
}
