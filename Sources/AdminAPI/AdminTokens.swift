import Foundation
import Synchronization
import Zone

/// What a token may do. `write` (apply, rollback) implies `read` (plan, hosts, leases, history).
public enum AdminScope: String, Sendable, Equatable, Comparable, CaseIterable {
    case read
    case write

    public static func < (a: AdminScope, b: AdminScope) -> Bool { a == .read && b == .write }
}

/// Who presented a token: its name (recorded as the author in history) and its scope.
public struct TokenHolder: Sendable, Equatable {
    public var name: String
    public var scope: AdminScope

    public init(name: String, scope: AdminScope) {
        self.name = name
        self.scope = scope
    }
}

/// The admin API's bearer tokens, read from a file of lines (`#` comments and blank lines
/// ignored; LF or CRLF endings):
///
/// - `name:token`: a write token (apply, rollback, and every read), as before scopes existed;
/// - `name:read:token` or `name:write:token`: a token of that scope.
///
/// The name is who applied, in the history. A line whose second field is not `read` or
/// `write` is `name:token` with a token that contains colons. The file is an `OwnerOnlyFile`.
public struct AdminTokens: Sendable, Equatable {
    public enum Problem: Error, Equatable, CustomStringConvertible {
        /// The file itself: what it is, its owner, its mode.
        case file(String, OwnerOnlyFile.Problem)
        case badLine(String, line: Int, reason: String)
        case empty(String)

        public static func unreadable(_ path: String, reason: String) -> Problem { .file(path, .unreadable(reason: reason)) }
        public static func notRegularFile(_ path: String, kind: String) -> Problem { .file(path, .notRegularFile(kind: kind)) }
        public static func wrongOwner(_ path: String, owner: UInt32, expected: UInt32) -> Problem {
            .file(path, .wrongOwner(owner: owner, expected: expected))
        }
        public static func tooOpen(_ path: String, mode: String) -> Problem { .file(path, .tooOpen(mode: mode)) }

        public var description: String {
            switch self {
            case .file(let path, let problem): problem.message("the token file", path)
            case .badLine(let path, let line, let reason): "\(path):\(line): \(reason)"
            case .empty(let path): "the token file \(path) holds no token"
            }
        }
    }

    /// Tokens shorter than this are refused: they are guessable.
    public static let minimumLength = 16
    /// A token file is a few lines; anything this large is not one.
    public static let maximumFileSize = 1 << 20

    private let holders: [String: TokenHolder]

    /// Tokens by their text, each with its holder.
    public init(holders: [String: TokenHolder]) { self.holders = holders }

    /// Write tokens (the file's `name:token` lines), by their text.
    public init(tokens: [String: String]) {
        holders = tokens.mapValues { TokenHolder(name: $0, scope: .write) }
    }

    /// How many tokens there are (for the log, never the tokens themselves).
    public var count: Int { holders.count }

    /// How many tokens have this scope.
    public func count(_ scope: AdminScope) -> Int { holders.values.filter { $0.scope == scope }.count }

    /// Reads and checks the file (`OwnerOnlyFile`), then every line.
    public static func load(path: String) throws(Problem) -> AdminTokens {
        switch OwnerOnlyFile.contents(path: path, maximumSize: maximumFileSize) {
        case .success(let bytes): return try parse(String(decoding: bytes, as: UTF8.self), path: path)
        case .failure(let problem): throw .file(path, problem)
        }
    }

    /// The lines of a token file, LF or CRLF (Swift reads "\r\n" as one newline character).
    private static func lines(_ text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
    }

    /// A line's name, scope and token: `name:token` (write) or `name:read|write:token`; nil without a colon.
    private static func fields(_ line: String) -> (name: String, scope: AdminScope, token: String)? {
        guard let colon = line.firstIndex(of: ":") else { return nil }
        let name = String(line[..<colon]), rest = line[line.index(after: colon)...]
        if let second = rest.firstIndex(of: ":"), let scope = AdminScope(rawValue: String(rest[..<second])) {
            return (name, scope, String(rest[rest.index(after: second)...]))
        }
        return (name, .write, String(rest))
    }

    public static func parse(_ text: String, path: String) throws(Problem) -> AdminTokens {
        var holders: [String: TokenHolder] = [:]
        for (index, raw) in lines(text).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let (name, scope, token) = fields(line) else {
                throw .badLine(path, line: index + 1, reason: "expected name:token or name:read:token")
            }
            guard !name.isEmpty else { throw .badLine(path, line: index + 1, reason: "the token has no name") }
            guard token.count >= minimumLength else {
                throw .badLine(path, line: index + 1, reason: "the token of \(name) is shorter than \(minimumLength) characters")
            }
            guard holders[token] == nil else { throw .badLine(path, line: index + 1, reason: "this token is given twice") }
            holders[token] = TokenHolder(name: name, scope: scope)
        }
        guard !holders.isEmpty else { throw .empty(path) }
        return AdminTokens(holders: holders)
    }

    /// The token a client's file holds (zonectl's --token-file): the first line that is not
    /// blank or a comment, as a line of the server's file (`name:token`, `name:read:token`)
    /// or a bare token; nil if none.
    public static func clientToken(in text: String) -> String? {
        guard let line = lines(text).map({ $0.trimmingCharacters(in: .whitespaces) })
            .first(where: { !$0.isEmpty && !$0.hasPrefix("#") }) else { return nil }
        let token = fields(line)?.token ?? line
        return token.isEmpty ? nil : token
    }

    /// Whoever presents `Authorization: Bearer <token>`, or nil. The scheme is
    /// case-insensitive (RFC 9110 section 11.1: `bearer` works too). Every token is compared
    /// in full, so the time taken does not tell how much of a guess was right.
    public func holder(authorization header: String?) -> TokenHolder? {
        guard let header, let space = header.firstIndex(of: " "),
              header[..<space].lowercased() == "bearer" else { return nil }
        let offered = Array(header[space...].drop { $0 == " " }.utf8)
        var found: TokenHolder?
        for (token, holder) in holders {
            let expected = Array(token.utf8)
            var difference = UInt8(expected.count == offered.count ? 0 : 1)
            for i in 0..<expected.count { difference |= expected[i] ^ (i < offered.count ? offered[i] : 0) }
            if difference == 0 { found = holder }
        }
        return found
    }

    /// The name of whoever presents `Authorization: Bearer <token>`, whatever its scope, or nil.
    public func name(authorization header: String?) -> String? { holder(authorization: header)?.name }
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

    /// `AdminTokens.holder(authorization:)` with the tokens read last.
    public func holder(authorization header: String?) -> TokenHolder? { tokens.holder(authorization: header) }
}

/// Who may use an admin API route: the rule, apart from any socket, so that it is tested as a table.
///
/// With a token file, every route but `GET /v1/revision` needs a token: a read token for what
/// discloses the zone, its hosts and leases (plan, hosts, leases, history), a write token for
/// what changes it (apply, rollback). Without a token file nothing can be changed, and reads
/// are answered only to clients on this host (a loopback peer): `make run` on 127.0.0.1 works
/// as before, a listener on another address discloses nothing.
public enum AdminAccess {
    public enum Decision: Sendable, Equatable {
        /// Let through; the holder is nil for a loopback read on a server without a token file.
        case allowed(TokenHolder?)
        /// 401 with `WWW-Authenticate: Bearer`: no token, or one this server does not know.
        case unauthorized(String, why: String)
        /// 403: a token that is known but may not do this.
        case forbidden(String, why: String)
    }

    public static func decide(needs: AdminScope, tokens: AdminTokens?, authorization: String?,
                              loopbackPeer: Bool) -> Decision {
        guard let tokens else {
            switch needs {
            case .write:
                return .unauthorized("this server has no --admin-token-file: changes through the admin API are disabled",
                                     why: "no token file")
            case .read where loopbackPeer:
                return .allowed(nil)
            case .read:
                return .unauthorized("this server has no --admin-token-file: it answers reads only to clients on its "
                                     + "own host (127.0.0.0/8)", why: "no token file, peer not on loopback")
            }
        }
        guard let holder = tokens.holder(authorization: authorization) else {
            let what = needs == .write ? "to change the zone" : "to read the zone, its hosts, leases and history"
            return .unauthorized("a valid 'Authorization: Bearer <token>' is required \(what)",
                                 why: authorization == nil ? "no token" : "unknown token")
        }
        guard holder.scope >= needs else {
            return .forbidden("the token of \(holder.name) may only read: changing the zone needs a write token "
                              + "(a `name:token` or `name:write:token` line of --admin-token-file)",
                              why: "\(holder.scope.rawValue) token of \(holder.name) on a \(needs.rawValue) route")
        }
        return .allowed(holder)
    }
}
