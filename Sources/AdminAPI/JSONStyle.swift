import Foundation

/// The one JSON style of ZoneBoot, for the admin API's bodies, `zonectl --json` and saved
/// plans alike: snake_case keys, counts as numbers, times as Unix seconds in integer fields
/// (`at`, `expires_at`, `registered_at`...) or RFC 3339 UTC strings (a revision's `created_at`,
/// `started_at`). Map keys that are data (template paths, secret files) are kept as written:
/// the key strategy converts property names only.
public enum JSONStyle {
    /// Sorted keys, so the same value prints the same; `pretty` for people and files.
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            : [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    /// Reads snake_case, and the camelCase bodies and saved plans of earlier versions (a key
    /// without an underscore is left as it is). A property spelled with an acronym
    /// (`certificateSHA256`) comes back only with a CodingKey spelled `certificateSha256`.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
