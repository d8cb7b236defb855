import Crypto
import Foundation

extension SecretValue {
    /// A secret is a password, a key, a token: a file this large is not one.
    public static let maximumSize = 1 << 20

    /// SHA-256 of `bytes`, lowercase hex: the digest shown for secrets and bootstrap secrets.
    public static func sha256(_ bytes: some DataProtocol) -> String {
        SHA256.hash(data: bytes).map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }
}

/// Reads the files that `secret-file` values name, with the templates: each inside the
/// zone's folder (ZonePath and the folder's symlink check) and readable by its owner only
/// (OwnerOnlyFile). Records each file's SHA-256 for the stored source, and checks a file
/// read again against the digest a source recorded, so that a revision never serves a
/// secret other than the one its plan showed.
struct SecretReader<Files: ZoneFileAccess> {
    let files: Files
    /// The digests the source carries (a stored or posted revision); nil for a zone read from disk.
    let recorded: [String: String]?
    /// A file changed since its digest was recorded: an error (plan, apply, rollback), or,
    /// where `withholdingChanged` (a server starting), a warning and the value left out:
    /// hosts get the redacted text until the zone is applied again, and DHCP still starts.
    var withholdingChanged = false
    private(set) var diagnostics: [Diagnostic] = []
    /// Path → SHA-256 of every secret file the zone names.
    private(set) var digests: [String: String] = [:]
    private var read: [String: SecretValue] = [:]

    init(files: Files, recorded: [String: String]?) {
        self.files = files
        self.recorded = recorded
    }

    /// The spec with every secret's digest (and, where the file is readable here, content) filled in.
    mutating func resolve(_ spec: ZoneSpec) -> ZoneSpec {
        var spec = spec
        for index in spec.roles.indices {
            let role = spec.roles[index]
            if let chef = role.chef, !chef.attributes.secrets.isEmpty {
                let keys = Dictionary(chef.attributeKeys.map { ($0.value, $0) }, uniquingKeysWith: { a, _ in a })
                if case .object(let members) = chef.attributes {
                    spec.roles[index].chef?.attributes = .object(members.map { member in
                        .init(member.key, resolve(member.value, at: keys[member.key] ?? role.name))
                    })
                }
            }
            if let ansible = role.ansible {
                spec.roles[index].ansible?.vars = ansible.vars.map { ($0.name, resolve($0.value, at: $0.name)) }
            }
        }
        return spec
    }

    private mutating func resolve(_ value: ZoneValue, at place: Located<String>) -> ZoneValue {
        guard !value.secrets.isEmpty else { return value }
        return value.resolvingSecrets { secret(for: $0.path, at: place) }
    }

    private mutating func secret(for path: String, at place: Located<String>) -> SecretValue {
        if let known = read[path] { return known }
        var secret = SecretValue(path: path, sha256: recorded?[path] ?? "")
        defer {
            read[path] = secret
            if !secret.sha256.isEmpty { digests[path] = secret.sha256 }
        }
        func problem(_ message: String) {
            diagnostics.append(Diagnostic(path: place.path, message, at: place.at))
        }
        if let why = ZonePath.problem(path) {
            problem("secret-file \(why)")
            return secret
        }
        switch files.readSecret(path) {
        case nil:
            // A stored revision loaded without the zone's folder (zonectl on a state directory):
            // the digest it recorded is all there is, and all anything here shows.
            break
        case .failure(.missing(let why)), .failure(.unreadable(let why)):
            problem(why)
        case .success(let bytes):
            let digest = SecretValue.sha256(bytes)
            if let planned = recorded?[path], planned != digest {
                let message = "the secret file \(files.displayName(path)) changed since this revision was made "
                    + "(sha256:\(planned.prefix(12))…, now sha256:\(digest.prefix(12))…): plan and apply the zone again"
                if withholdingChanged {
                    diagnostics.append(Diagnostic(.warning, path: place.path, message + "; its value is withheld until then",
                                                  at: place.at))
                } else {
                    problem(message)
                }
                return secret
            }
            guard var text = String(validating: bytes, as: UTF8.self), !text.contains("\0") else {
                problem("the secret file \(files.displayName(path)) is not UTF-8 text")
                return secret
            }
            // A file written by an editor or `echo` ends in a newline that is not part of the secret.
            if text.hasSuffix("\n") { text.removeLast() }
            secret = SecretValue(path: path, sha256: digest, value: text)
        }
        return secret
    }
}
