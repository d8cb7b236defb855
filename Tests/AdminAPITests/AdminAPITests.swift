import AdminAPI
import Boot
import Foundation
import TestSupport
import Testing
import Zone

@Suite struct AdminTokensTests {
    func write(_ text: String, mode: Int) throws -> String {
        let path = NSTemporaryDirectory() + "zoneboot-tokens-\(UUID().uuidString)"
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        #expect(chmod(path, mode_t(mode)) == 0)
        return path
    }

    @Test func aFileOthersCanReadIsRefused() throws {
        for mode in [0o644, 0o640, 0o604, 0o660] {
            let path = try write("ops:0123456789abcdef0123\n", mode: mode)
            defer { unlink(path) }
            #expect(throws: AdminTokens.Problem.tooOpen(path, mode: String(mode, radix: 8))) { try AdminTokens.load(path: path) }
        }
    }

    @Test func anOwnerOnlyFileNamesWhoPresentsEachToken() throws {
        let path = try write("# who:token\nops:0123456789abcdef0123\n\nci:fedcba9876543210fedc:with-colon\n", mode: 0o600)
        defer { unlink(path) }
        let tokens = try AdminTokens.load(path: path)
        #expect(tokens.name(authorization: "Bearer 0123456789abcdef0123") == "ops")
        #expect(tokens.name(authorization: "Bearer fedcba9876543210fedc:with-colon") == "ci")
        #expect(tokens.name(authorization: "Bearer 0123456789abcdef012") == nil)
        #expect(tokens.name(authorization: "Bearer 0123456789abcdef01234") == nil)
        #expect(tokens.name(authorization: "0123456789abcdef0123") == nil)
        #expect(tokens.name(authorization: nil) == nil)
    }

    @Test func crlfLinesMatchAsLFLinesDo() throws {
        let path = try write("# who:token\r\nops:0123456789abcdef0123\r\n\r\nci:fedcba9876543210fedc\r\n", mode: 0o600)
        defer { unlink(path) }
        let tokens = try AdminTokens.load(path: path)
        #expect(tokens.count == 2)
        #expect(tokens.name(authorization: "Bearer 0123456789abcdef0123") == "ops")
        #expect(tokens.name(authorization: "Bearer fedcba9876543210fedc") == "ci")
        #expect(tokens.name(authorization: "Bearer fedcba9876543210fedc\r") == nil)
        #expect(throws: AdminTokens.Problem.badLine("t", line: 3, reason: "expected name:token")) {
            try AdminTokens.parse("ops:0123456789abcdef0123\r\n\r\njusttoken\r\n", path: "t")
        }
        // zonectl's side: a client token file written on Windows.
        #expect(AdminTokens.clientToken(in: "# mine\r\nops:0123456789abcdef0123\r\n") == "0123456789abcdef0123")
        #expect(AdminTokens.clientToken(in: "0123456789abcdef0123\r\n") == "0123456789abcdef0123")
        #expect(AdminTokens.clientToken(in: "# none\r\n\r\n") == nil)
    }

    @Test func theBearerSchemeIsCaseInsensitiveTheTokenIsNot() {
        let tokens = AdminTokens(tokens: ["0123456789abcdef0123": "ops"])
        for scheme in ["Bearer", "bearer", "BEARER", "bEARER"] {
            #expect(tokens.name(authorization: "\(scheme) 0123456789abcdef0123") == "ops")
        }
        #expect(tokens.name(authorization: "bearer  0123456789abcdef0123") == "ops")
        #expect(tokens.name(authorization: "Bearer 0123456789ABCDEF0123") == nil)
        #expect(tokens.name(authorization: "Basic 0123456789abcdef0123") == nil)
        #expect(tokens.name(authorization: "Bearer0123456789abcdef0123") == nil)
        #expect(tokens.name(authorization: "Bearer") == nil)
        #expect(tokens.name(authorization: "") == nil)
    }

    @Test func aSymbolicLinkFIFOOrDirectoryIsRefusedByWhatItIs() throws {
        let target = try write("ops:0123456789abcdef0123\n", mode: 0o600)
        let link = target + ".link", fifo = target + ".fifo", directory = target + ".dir"
        defer { for path in [target, link, fifo] { unlink(path) }; rmdir(directory) }
        #expect(symlink(target, link) == 0)
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(mkdir(directory, 0o700) == 0)
        #expect(throws: AdminTokens.Problem.notRegularFile(link, kind: "a symbolic link")) { try AdminTokens.load(path: link) }
        #expect(throws: AdminTokens.Problem.notRegularFile(fifo, kind: "a FIFO")) { try AdminTokens.load(path: fifo) }
        #expect(throws: AdminTokens.Problem.notRegularFile(directory, kind: "a directory")) {
            try AdminTokens.load(path: directory)
        }
        #expect(throws: AdminTokens.Problem.notRegularFile("/dev/null", kind: "a character device")) {
            try AdminTokens.load(path: "/dev/null")
        }
        #expect(AdminTokens.Problem.notRegularFile(fifo, kind: "a FIFO").description
            == "the token file \(fifo) is a FIFO: it must be a regular file (not a symbolic link, FIFO or device)")
        #expect(try AdminTokens.load(path: target).count == 1)
    }

    /// Only root can give a file to another user.
    @Test(.enabled(if: geteuid() == 0)) func aFileOwnedBySomeoneElseIsRefused() throws {
        let path = try write("ops:0123456789abcdef0123\n", mode: 0o600)
        defer { unlink(path) }
        #expect(chown(path, 4242, 4242) == 0)
        #expect(throws: AdminTokens.Problem.wrongOwner(path, owner: 4242, expected: 0)) { try AdminTokens.load(path: path) }
        #expect(chown(path, 0, 0) == 0)
        #expect(try AdminTokens.load(path: path).count == 1)
    }

    @Test func reloadingDropsARemovedTokenAndABrokenFileKeepsTheOldOnes() throws {
        let path = try write("ops:0123456789abcdef0123\nci:fedcba9876543210fedc\n", mode: 0o600)
        defer { unlink(path) }
        let file = try AdminTokenFile(path: path)
        #expect(file.name(authorization: "Bearer fedcba9876543210fedc") == "ci")
        try "ops:0123456789abcdef0123\n".write(toFile: path, atomically: false, encoding: .utf8)
        try file.reload()
        #expect(file.name(authorization: "Bearer fedcba9876543210fedc") == nil)
        #expect(file.name(authorization: "Bearer 0123456789abcdef0123") == "ops")
        // A typo: refused, and the tokens read before still work.
        try "ops:short\n".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(throws: AdminTokens.Problem.badLine(path, line: 1, reason: "the token of ops is shorter than 16 characters")) {
            try file.reload()
        }
        #expect(file.name(authorization: "Bearer 0123456789abcdef0123") == "ops")
        #expect(chmod(path, 0o644) == 0)
        #expect(throws: AdminTokens.Problem.tooOpen(path, mode: "644")) { try file.reload() }
        #expect(file.name(authorization: "Bearer 0123456789abcdef0123") == "ops")
    }

    @Test func badFilesSayWhichLine() {
        #expect(throws: AdminTokens.Problem.badLine("t", line: 2, reason: "expected name:token")) {
            try AdminTokens.parse("ops:0123456789abcdef0123\njusttoken\n", path: "t")
        }
        #expect(throws: AdminTokens.Problem.badLine("t", line: 1, reason: "the token of ops is shorter than 16 characters")) {
            try AdminTokens.parse("ops:short", path: "t")
        }
        #expect(throws: AdminTokens.Problem.empty("t")) { try AdminTokens.parse("# nothing\n", path: "t") }
    }
}

@Suite struct SavedPlanTests {
    @Test func aSavedPlanReadsBackExactly() throws {
        let revision = try ZoneLoader.load(path: exampleZonePath)
        let plan = ZonePlan(from: nil, fromRevision: nil, to: revision)
        var impact = LiveImpact()
        impact.readdressed.append(.init(location: "p01/tor-a/swp7", mac: "52:54:00:00:00:07", name: "a",
                                        address: revision.identities[0].address, newName: "a",
                                        newAddress: revision.identities[1].address))
        let saved = SavedPlan(baseRevision: 3, against: "revision 3", source: revision.source, plan: plan, impact: impact)
        let data = try JSONEncoder().encode(saved)
        let back = try JSONDecoder().decode(SavedPlan.self, from: data)
        #expect(back == saved)
        #expect(back.source.digest == revision.source.digest)
        // The saved source loads to the same zone: applying it is applying what was planned.
        #expect(try ZoneLoader.load(source: back.source).identities == revision.identities)
    }
}

@Suite struct TerminalTextTests {
    @Test func controlCharactersAreShownNotObeyed() {
        #expect(terminalEscaped("evil\u{1B}[2J\u{1B}]0;title\u{07}\rover\u{00}written")
            == #"evil\x1b[2J\x1b]0;title\x07\x0dover\x00written"#)
        #expect(terminalEscaped("tab\there\nnext\u{7F}") == #"tab\x09here\x0anext\x7f"#)
        // C1 controls (U+009B is a one-character CSI on some terminals) and bidirectional overrides.
        #expect(terminalEscaped("a\u{9B}31mb\u{85}c\u{202E}d\u{2066}") == #"a\u{9b}31mb\u{85}c\u{202e}d\u{2066}"#)
    }

    @Test func printableTextIsKeptAsItIs() {
        for text in ["", "ProLiant DL380 Gen10", "CZ2D1234 \\x1b", "Ünïcödé 服务器 🚀", "a:b/c;d=e[f]"] {
            #expect(terminalEscaped(text) == text)
        }
    }
}
