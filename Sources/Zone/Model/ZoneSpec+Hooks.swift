/// Hooks: what runs when an event happens, and the events there are.
extension ZoneSpec {
    /// A hook does exactly one thing (checked on expansion): runs an executable next to the
    /// zone file, POSTs the event to a URL, or runs a hook built into zonebootd.
    public struct Hook: Sendable {
        public var name: Located<String>
        public var on: [Located<HookEvent>]
        /// Executable, relative to the zone file's folder; gets the event as JSON on stdin.
        public var run: Located<String>?
        /// Webhook: the event is POSTed as JSON here.
        public var url: Located<String>?
        public var builtin: Located<BuiltinHook>?
        /// How long one run may take before it is killed (or the request abandoned) and counted as failed.
        public var timeout: Located<Duration>?
        /// redfish-register: a JSON file {"username", "password"}, mode 0600, inside the zone file's folder.
        public var credentials: Located<String>?
        /// How the HTTPS peer is trusted; `accept-self-signed` is for redfish-register only (checked on expansion).
        public var tls: Located<HookTLS>?
        /// redfish-register: whether the account's shared (factory) password is replaced by one
        /// generated per BMC (checked on expansion).
        public var password: Located<HookPassword>?

        public init(name: Located<String>, on: [Located<HookEvent>], run: Located<String>? = nil, url: Located<String>? = nil,
                    builtin: Located<BuiltinHook>? = nil, timeout: Located<Duration>? = nil,
                    credentials: Located<String>? = nil, tls: Located<HookTLS>? = nil,
                    password: Located<HookPassword>? = nil) {
            self.name = name
            self.on = on
            self.run = run
            self.url = url
            self.builtin = builtin
            self.timeout = timeout
            self.credentials = credentials
            self.tls = tls
            self.password = password
        }

        /// What the hook does, as written; nil where the zone names none or several (an error).
        public var action: HookAction? {
            switch (run, url, builtin) {
            case (let run?, nil, nil): .run(run.value)
            case (nil, let url?, nil): .post(url.value)
            case (nil, nil, let builtin?): .builtin(builtin.value)
            default: nil
            }
        }

        /// The timeout a run gets where the zone sets none.
        public static let defaultTimeout = Duration(seconds: 30)
    }
}

/// What a hook does with an event.
public enum HookAction: Sendable, Hashable {
    case run(String)
    case post(String)
    case builtin(BuiltinHook)
}

/// Hooks built into zonebootd.
public enum BuiltinHook: String, Sendable, Codable, CaseIterable {
    /// Sets a BMC's hostname over Redfish and records its system's serial, model and firmware.
    case redfishRegister = "redfish-register"
}

/// Whether a hook's HTTPS peer must present a certificate the system trusts.
public enum HookTLS: String, Sendable, Codable, CaseIterable {
    case verify
    /// redfish-register only: BMCs ship with self-signed certificates, so the first one a BMC
    /// presents is pinned (trust on first use) and every later connection must present it again.
    /// Never "no check at all", and never for webhooks, whose peers can have real certificates.
    case acceptSelfSigned = "accept-self-signed"
}

/// What redfish-register does with the password of the account it logs in with.
public enum HookPassword: String, Sendable, Codable, CaseIterable {
    /// Leaves it: every BMC keeps the shared password of the credentials file.
    case keep
    /// Replaces it, at the first registration, with a password generated for that BMC alone
    /// and kept in the state directory (mode 0600): one BMC's password opens no other.
    case rotate
}

/// Events a hook can subscribe to.
public enum HookEvent: String, Sendable, Codable, CaseIterable {
    case leaseOffered = "lease.offered"
    case leaseAcked = "lease.acked"
    case leaseReleased = "lease.released"
    case leaseExpired = "lease.expired"
    case hostDiscovered = "host.discovered"
    case hostReplaced = "host.replaced"
    /// Addition: a machine whose kind does not fit its port's role (an iLO on a host port).
    case hostMiscabled = "host.miscabled"
    case bmcDiscovered = "bmc.discovered"
    /// A BMC presented another certificate than the one pinned at its first registration:
    /// refused before any credential was sent.
    case bmcCertificateChanged = "bmc.certificate-changed"
    case zoneApplied = "zone.applied"
    /// Addition: a host fetched a bootstrap secret (its public key or the token's SHA-256).
    case bootstrapIssued = "bootstrap.issued"
}

extension ZoneSpec.Hook {
    /// A webhook URL as plans, history and logs show it: scheme and host, and a digest of the
    /// whole so a change still shows (`https://hooks.example.net/… (sha256:0a1b2c3d4e5f…)`).
    /// Webhook URLs carry credentials in their user part, path or query (Slack, Teams, tokens):
    /// only the hook runner ever uses one whole.
    public static func redactedURL(_ url: String) -> String {
        let digest = "sha256:\(SecretValue.sha256(Array(url.utf8)).prefix(12))…"
        guard let schemeEnd = url.range(of: "://") else { return "<webhook URL> (\(digest))" }
        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let host = authority.split(separator: "@", omittingEmptySubsequences: false).last ?? ""
        return "\(url[..<schemeEnd.upperBound])\(host)/… (\(digest))"
    }
}
