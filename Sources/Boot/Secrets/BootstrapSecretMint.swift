import CryptoExtras
import Foundation
import Zone

/// A secret just minted for one host: what the host is sent, and what may be kept or told.
public struct MintedSecret: Sendable {
    /// The response body: the private key in PEM, or the token. Sent once, never stored.
    public var value: String
    /// `sha256:<hex>` of the public key (SubjectPublicKeyInfo DER) or of the token: enough
    /// to tell which secret a host holds, nothing to use as one.
    public var fingerprint: String
    /// An RSA key's public half in PEM (SubjectPublicKeyInfo), for `knife client create --public-key`.
    public var publicKey: String?
    /// A token's SHA-256 in hex, which the receiving side can check a presented token against.
    public var tokenSHA256: String?
}

/// Makes the secret itself, at the moment it is served: a private key that is generated for
/// the response and dropped with it is never in the database, a log or a backup.
public enum BootstrapSecretMint {
    public enum Failure: Error, CustomStringConvertible {
        case keyGeneration(String)
        public var description: String {
            switch self { case .keyGeneration(let why): "cannot generate an RSA key: \(why)" }
        }
    }

    /// RSA keys for Chef clients: what `knife client create` makes.
    public static let rsaKeyBits = 2048
    public static let tokenBytes = 32

    public static func mint(_ kind: BootstrapSecretKind) throws(Failure) -> MintedSecret {
        switch kind {
        case .rsaKey:
            let key: _RSA.Signing.PrivateKey
            do { key = try _RSA.Signing.PrivateKey(keySize: .bits2048) } catch {
                throw .keyGeneration("\(error)")
            }
            let fingerprint = "sha256:" + SecretValue.sha256(key.publicKey.derRepresentation)
            return MintedSecret(value: key.pemRepresentation + "\n", fingerprint: fingerprint,
                                publicKey: key.publicKey.pemRepresentation + "\n", tokenSHA256: nil)
        case .token:
            var generator = SystemRandomNumberGenerator()
            let bytes = (0..<tokenBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let token = base64URL(bytes)
            let digest = sha256Hex(token)
            return MintedSecret(value: token + "\n", fingerprint: "sha256:" + digest, publicKey: nil, tokenSHA256: digest)
        }
    }

    /// SHA-256 of the text's UTF-8 bytes, in lowercase hex.
    public static func sha256Hex(_ text: String) -> String { SecretValue.sha256(Array(text.utf8)) }

    /// Base64url without padding: safe in a URL, a header or a shell word.
    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
