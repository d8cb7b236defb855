import Addressing
import Zone

/// One bootstrap secret of one host, as the store keeps it: its state and times, never the
/// secret (an RSA key is generated when served; a token is kept only as its fingerprint).
public struct BootstrapSecretRecord: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable {
        /// Offered: the host's install config was rendered; the secret waits to be fetched until `expiresAt`.
        case issued
        /// Served once; a second fetch is refused (410).
        case used
    }

    public var host: String
    public var name: String
    public var kind: BootstrapSecretKind
    public var state: State
    /// Counts the issues of this host's secret: a serve must find the issue it decided on
    /// (compare and set), so two fetches at once never both get a secret.
    public var generation: Int
    /// Unix s.
    public var issuedAt: Int64
    public var expiresAt: Int64
    /// The MAC that held the host's lease when issued or served: another machine in its
    /// place (host.replaced) is a new install and may be issued a new secret.
    public var mac: String
    public var servedAt: Int64?
    public var servedTo: IPv4Address?
    /// `sha256:<hex>` of what was served (MintedSecret.fingerprint).
    public var fingerprint: String?

    public init(host: String, name: String, kind: BootstrapSecretKind, state: State, generation: Int, issuedAt: Int64,
                expiresAt: Int64, mac: String, servedAt: Int64? = nil, servedTo: IPv4Address? = nil, fingerprint: String? = nil) {
        self.host = host
        self.name = name
        self.kind = kind
        self.state = state
        self.generation = generation
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.mac = mac
        self.servedAt = servedAt
        self.servedTo = servedTo
        self.fingerprint = fingerprint
    }

    /// What operators see: issued, used, or expired (issued and not fetched in time).
    public func status(at now: Int64) -> String {
        switch state {
        case .used: "used"
        case .issued: expiresAt <= now ? "expired" : "issued"
        }
    }
}

/// What a fetch of `/bootstrap/<host>/<name>` gets.
public enum BootstrapFetch: Sendable, Equatable {
    /// Mint and serve, if the store still holds `expected` (nil: no record yet) when the
    /// served record is written; otherwise another fetch won (410).
    case serve(expected: BootstrapSecretRecord?, spec: Kind)
    case forbidden(String)
    case notFound(String)
    /// Served already, or expired unserved: revoked for good (until a new install).
    case gone(String)

    public struct Kind: Sendable, Equatable {
        public var kind: BootstrapSecretKind
        /// Seconds.
        public var ttl: Int64

        public init(kind: BootstrapSecretKind, ttl: Int64) {
            self.kind = kind
            self.ttl = ttl
        }
    }
}

/// The rules of bootstrap secrets, pure: who may fetch, when one is issued, when it is gone.
///
/// A secret is issued when the host's install config is rendered (any of its files from its
/// own address), not when the zone is applied: only then is a machine known to be
/// installing, and the TTL counts from there. It is minted when fetched and served once.
/// Another issue needs a new install: an expired secret is issued again on the next render,
/// a used one only when another machine (another MAC) holds the host's lease.
public enum BootstrapSecrets {
    /// The host's secrets as its profile declares them; empty for a host without a profile.
    public static func specs(of identity: Identity, in revision: ZoneRevision) -> [BootstrapSecretSpec] {
        identity.profile.flatMap(revision.profile(named:))?.bootstrapSecrets ?? []
    }

    /// Where the host fetches a secret: `bootstrap.<name>.url` in its templates.
    public static func path(host: String, name: String) -> String { "/bootstrap/\(host)/\(name)" }

    /// The `bootstrap` template variable: name → { url, kind }; nil without secrets or without
    /// `defaults.boot-server` (no URL to give).
    public static func templateContext(_ identity: Identity, in revision: ZoneRevision) -> [String: Any]? {
        let specs = specs(of: identity, in: revision)
        guard !specs.isEmpty, let base = HostFiles.baseURL(revision) else { return nil }
        var context: [String: Any] = [:]
        for spec in specs {
            context[spec.name.value] = ["url": base + path(host: identity.name, name: spec.name.value),
                                        "kind": spec.kind.value.rawValue]
        }
        return context
    }

    /// The records to write because the host's install config was rendered for the lease
    /// holder `mac`: a secret never issued, expired unserved, or used by another machine.
    public static func issues(for identity: Identity, in revision: ZoneRevision, mac: String,
                              existing: (String) -> BootstrapSecretRecord?, now: Int64) -> [BootstrapSecretRecord] {
        specs(of: identity, in: revision).compactMap { spec in
            let current = existing(spec.name.value)
            if let current {
                switch current.state {
                case .issued where current.expiresAt > now: return nil
                case .used where current.mac == mac: return nil
                case .issued, .used: break
                }
            }
            return BootstrapSecretRecord(host: identity.name, name: spec.name.value, kind: spec.kind.value, state: .issued,
                                         generation: (current?.generation ?? 0) + 1, issuedAt: now,
                                         expiresAt: now + Int64(spec.ttl.value.seconds), mac: mac)
        }
    }

    /// Whether `client` may have the host's secret `name` now. Only the address holding the
    /// host's lease may (HostFileAccess's rule); then by the record: none yet (issued on
    /// demand), issued and in time, or used by another machine than the one holding the
    /// lease now (a replaced host) are served; used or expired are gone.
    public static func fetch(host: String, name: String, from client: IPv4Address, revision: ZoneRevision, now: Int64,
                             lease: (IPv4Address) -> Lease?, record: BootstrapSecretRecord?) -> BootstrapFetch {
        guard let identity = revision.identity(named: host) else {
            return .notFound("no host \(host) in zone \(revision.zoneName)")
        }
        guard let spec = specs(of: identity, in: revision).first(where: { $0.name.value == name }) else {
            return .notFound("\(host) has no bootstrap secret \(name)")
        }
        let holder: String
        switch HostFileAccess.owner(of: host, from: client, now: now, lease: lease) {
        case .success(let held): holder = MAC.text(held.mac)
        case .failure(let refusal): return .forbidden(refusal.why)
        }
        let kind = BootstrapFetch.Kind(kind: spec.kind.value, ttl: Int64(spec.ttl.value.seconds))
        guard let record else { return .serve(expected: nil, spec: kind) }
        switch record.state {
        case .issued:
            guard record.expiresAt > now else { return .gone("\(host)'s \(name) expired unfetched; render its install config again") }
            return .serve(expected: record, spec: kind)
        case .used:
            guard record.mac != holder else { return .gone("\(host)'s \(name) was served already") }
            return .serve(expected: record, spec: kind)
        }
    }

    /// The record once served: used, by whom, with what fingerprint.
    public static func served(_ expected: BootstrapSecretRecord?, host: String, name: String, spec: BootstrapFetch.Kind,
                              to client: IPv4Address, mac: String, fingerprint: String, now: Int64) -> BootstrapSecretRecord {
        // Issued on demand (no record, or a replaced host's used one): the issue and the serve are one.
        let issue = expected.flatMap { $0.state == .issued ? $0 : nil }
        return BootstrapSecretRecord(host: host, name: name, kind: spec.kind, state: .used,
                                     generation: issue?.generation ?? (expected?.generation ?? 0) + 1,
                                     issuedAt: issue?.issuedAt ?? now, expiresAt: issue?.expiresAt ?? now + spec.ttl,
                                     mac: mac, servedAt: now, servedTo: client, fingerprint: fingerprint)
    }

    /// `bootstrap.issued`: the host, the secret's name and kind, its fingerprint, and the public
    /// key (rsa-key) or the token's SHA-256 (token), never the secret.
    public static func issuedEvent(_ record: BootstrapSecretRecord, minted: MintedSecret, lease: Lease, now: Int64) -> ZoneEvent {
        var details = ["secret": record.name, "kind": record.kind.rawValue, "fingerprint": minted.fingerprint]
        if let publicKey = minted.publicKey { details["public_key"] = publicKey }
        if let digest = minted.tokenSHA256 { details["token_sha256"] = digest }
        return ZoneEvent(type: .bootstrapIssued, address: lease.address, mac: MAC.text(lease.mac), name: record.host,
                         pod: lease.pod, location: lease.location, details: details, at: now)
    }
}
