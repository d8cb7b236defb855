import Foundation
import Synchronization
import Zone

/// The admin API's bearer tokens, read from a file of `name:token` lines (`#` comments
/// and blank lines ignored; LF or CRLF endings). The name is who applied, in the history.
///
/// The file must be a regular file (not a symbolic link, FIFO or device), owned by the user
/// running zonebootd or by root, and readable by its owner only (mode 0600 or stricter):
/// a token anyone else on the host can read or replace authenticates nobody.
public struct AdminTokens: Sendable, Equatable {
    public enum Problem: Error, Equatable, CustomStringConvertible {
        case unreadable(String, reason: String)
        case notRegularFile(String, kind: String)
        case wrongOwner(String, owner: UInt32, expected: UInt32)
        case tooOpen(String, mode: String)
        case tooLarge(String)
        case badLine(String, line: Int, reason: String)
        case empty(String)

        public var description: String {
            switch self {
            case .unreadable(let path, let reason): "cannot read the token file \(path): \(reason)"
            case .notRegularFile(let path, let kind):
                "the token file \(path) is \(kind): it must be a regular file (not a symbolic link, FIFO or device)"
            case .wrongOwner(let path, let owner, let expected):
                "the token file \(path) is owned by uid \(owner): it must belong to the user running zonebootd "
                    + "(uid \(expected)) or root (chown \(expected) \(path))"
            case .tooOpen(let path, let mode):
                "the token file \(path) has mode \(mode): group and others must not read it (chmod 600 \(path))"
            case .tooLarge(let path): "the token file \(path) is larger than \(AdminTokens.maximumFileSize) bytes"
            case .badLine(let path, let line, let reason): "\(path):\(line): \(reason)"
            case .empty(let path): "the token file \(path) holds no token"
            }
        }
    }

    /// Tokens shorter than this are refused: they are guessable.
    public static let minimumLength = 16
    /// A token file is a few lines; anything this large is not one.
    public static let maximumFileSize = 1 << 20

    private let names: [String: String]

    public init(tokens: [String: String]) { names = tokens }

    /// How many tokens there are (for the log, never the tokens themselves).
    public var count: Int { names.count }

    /// Reads and checks the file: what it is, its owner and mode first (OwnerOnlyFile), then every line.
    public static func load(path: String) throws(Problem) -> AdminTokens {
        switch OwnerOnlyFile.contents(path: path, maximumSize: maximumFileSize) {
        case .success(let bytes): return try parse(String(decoding: bytes, as: UTF8.self), path: path)
        case .failure(.unreadable(let reason)): throw .unreadable(path, reason: reason)
        case .failure(.notRegularFile(let kind)): throw .notRegularFile(path, kind: kind)
        case .failure(.wrongOwner(let owner, let expected)): throw .wrongOwner(path, owner: owner, expected: expected)
        case .failure(.tooOpen(let mode)): throw .tooOpen(path, mode: mode)
        case .failure(.tooLarge): throw .tooLarge(path)
        }
    }

    /// The lines of a token file, LF or CRLF (Swift reads "\r\n" as one newline character).
    private static func lines(_ text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
    }

    public static func parse(_ text: String, path: String) throws(Problem) -> AdminTokens {
        var tokens: [String: String] = [:]
        for (index, raw) in lines(text).enumerated() {
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

    /// The token a client's file holds (zonectl's --token-file): the first line that is not
    /// blank or a comment, as `name:token` like the server's file or a bare token; nil if none.
    public static func clientToken(in text: String) -> String? {
        guard let line = lines(text).map({ $0.trimmingCharacters(in: .whitespaces) })
            .first(where: { !$0.isEmpty && !$0.hasPrefix("#") }) else { return nil }
        let token = line.firstIndex(of: ":").map { String(line[line.index(after: $0)...]) } ?? line
        return token.isEmpty ? nil : token
    }

    /// The name of whoever presents `Authorization: Bearer <token>`, or nil. The scheme is
    /// case-insensitive (RFC 9110 section 11.1: `bearer` works too). Every token is compared
    /// in full, so the time taken does not tell how much of a guess was right.
    public func name(authorization header: String?) -> String? {
        guard let header, let space = header.firstIndex(of: " "),
              header[..<space].lowercased() == "bearer" else { return nil }
        let offered = Array(header[space...].drop { $0 == " " }.utf8)
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

/// The token file zonebootd runs with, read again on SIGHUP so that a token removed from
/// the file stops working without a restart. A file that no longer passes `AdminTokens.load`
/// leaves the tokens as they were: a typo must not lock every operator out (or let anyone in).
public final class AdminTokenFile: Sendable {
    public let path: String
    private let current: Mutex<AdminTokens>

    /// Reads the file; throws what is wrong with it.
    public convenience init(path: String) throws(AdminTokens.Problem) {
        self.init(path: path, tokens: try AdminTokens.load(path: path))
    }

    /// Tokens already read (or made by a test) standing for the file at `path`.
    public init(path: String, tokens: AdminTokens) {
        self.path = path
        current = Mutex(tokens)
    }

    public var tokens: AdminTokens { current.withLock { $0 } }

    /// Reads the file again and uses it from the next request on; on a problem, throws it
    /// and keeps the tokens it had.
    @discardableResult
    public func reload() throws(AdminTokens.Problem) -> AdminTokens {
        let tokens = try AdminTokens.load(path: path)
        current.withLock { $0 = tokens }
        return tokens
    }

    /// `AdminTokens.name(authorization:)` with the tokens read last.
    public func name(authorization header: String?) -> String? { tokens.name(authorization: header) }
}
