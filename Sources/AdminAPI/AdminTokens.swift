import Foundation

/// The admin API's bearer tokens, read from a file of `name:token` lines (`#` comments
/// and blank lines ignored). The name is who applied, in the history.
///
/// The file must be readable by its owner only (mode 0600 or stricter): a token anyone
/// on the host can read authenticates nobody.
public struct AdminTokens: Sendable, Equatable {
    public enum Problem: Error, Equatable, CustomStringConvertible {
        case unreadable(String, reason: String)
        case tooOpen(String, mode: String)
        case badLine(String, line: Int, reason: String)
        case empty(String)

        public var description: String {
            switch self {
            case .unreadable(let path, let reason): "cannot read the token file \(path): \(reason)"
            case .tooOpen(let path, let mode):
                "the token file \(path) has mode \(mode): group and others must not read it (chmod 600 \(path))"
            case .badLine(let path, let line, let reason): "\(path):\(line): \(reason)"
            case .empty(let path): "the token file \(path) holds no token"
            }
        }
    }

    /// Tokens shorter than this are refused: they are guessable.
    public static let minimumLength = 16

    private let names: [String: String]

    public init(tokens: [String: String]) { names = tokens }

    /// Reads and checks the file: its mode first, then every line.
    public static func load(path: String) throws(Problem) -> AdminTokens {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .unreadable(path, reason: String(cString: strerror(errno))) }
        let permissions = info.st_mode & 0o777
        guard permissions & 0o077 == 0 else { throw .tooOpen(path, mode: String(permissions, radix: 8)) }
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path, reason: "cannot be read") }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    public static func parse(_ text: String, path: String) throws(Problem) -> AdminTokens {
        var tokens: [String: String] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":") else {
                throw .badLine(path, line: index + 1, reason: "expected name:token")
            }
            let name = String(line[..<colon]), token = String(line[line.index(after: colon)...])
            guard !name.isEmpty else { throw .badLine(path, line: index + 1, reason: "the token has no name") }
            guard token.count >= minimumLength else {
                throw .badLine(path, line: index + 1, reason: "the token of \(name) is shorter than \(minimumLength) characters")
            }
            guard tokens[token] == nil else { throw .badLine(path, line: index + 1, reason: "this token is given twice") }
            tokens[token] = name
        }
        guard !tokens.isEmpty else { throw .empty(path) }
        return AdminTokens(tokens: tokens)
    }

    /// The name of whoever presents `Authorization: Bearer <token>`, or nil. Every token
    /// is compared in full, so the time taken does not tell how much of a guess was right.
    public func name(authorization header: String?) -> String? {
        guard let header, header.hasPrefix("Bearer ") else { return nil }
        let offered = Array(header.dropFirst("Bearer ".count).utf8)
        var found: String?
        for (token, name) in names {
            let expected = Array(token.utf8)
            var difference = UInt8(expected.count == offered.count ? 0 : 1)
            for i in 0..<expected.count { difference |= expected[i] ^ (i < offered.count ? offered[i] : 0) }
            if difference == 0 { found = name }
        }
        return found
    }
}
